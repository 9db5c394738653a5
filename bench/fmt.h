/* fmt: number formatting the load tools' tables share. */
#ifndef CHAT_BENCH_FMT_H
#define CHAT_BENCH_FMT_H

#include <stddef.h>

/* v rounded to a whole number with thousands separators: 1234567 ->
 * "1,234,567" (negative values print as 0). Writes into buf, returns it. */
const char *fmt_grouped(double v, char *buf, size_t len);

#endif
