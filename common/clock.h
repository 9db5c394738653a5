/* clock: the two clocks the processes use. Wall time stamps messages (ts);
 * monotonic time drives timers and expiries. */
#ifndef CHAT_CLOCK_H
#define CHAT_CLOCK_H

#include <stdint.h>

uint64_t clock_wall_ms(void); /* ms since the Unix epoch */
uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);

#endif
