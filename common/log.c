#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_set_level_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            min_level = (enum log_level)i;
            return 0;
        }
    return -1;
}

int log_enabled(enum log_level level)
{
    return level >= min_level;
}

void log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    if (level < min_level) return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - n, ".%03dZ level=%s event=%s", (int)(tv.tv_usec / 1000),
                  names[level], event);
    if (fmt && *fmt && n + 1 < sizeof line) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
        n = k < 0 ? n : n + (size_t)k;
    }
    if (n > sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, n, stderr); /* one write per line: lines never interleave */
}
