/* signals: how the load tools hear that they should stop. */
#ifndef CHAT_BENCH_SIGNALS_H
#define CHAT_BENCH_SIGNALS_H

/* on_signal handles SIGINT, SIGTERM and SIGALRM (the run's time bound);
 * SIGPIPE is ignored (a peer that went away is seen in the write's result). */
void signals_install(void (*on_signal)(int));

#endif
