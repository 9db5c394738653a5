/* log: one line per event on stderr, "TIME level=L event=NAME key=value ...".
 * Lines below the level set with log_set_level() are dropped. */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* "debug", "info", "warn" or "error"; returns -1 for anything else. */
int log_set_level_name(const char *name);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/* event: a short snake_case name; fmt: the key=value fields (may be ""). */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG)) log_event(LOG_DEBUG, ev, __VA_ARGS__);                         \
    } while (0)
#define log_info(ev, ...) log_event(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_ERROR, ev, __VA_ARGS__)

#endif
