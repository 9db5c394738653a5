#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void env_name(const char *name, char *out, size_t size)
{
    size_t n = snprintf(out, size, "CHAT_");
    for (const char *p = name; *p && n + 1 < size; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static int set_value(const char *prog, const struct opt *o, const char *value, const char *from)
{
    if (o->kind == OPT_STR) {
        *(const char **)o->target = value;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < o->min || v > o->max) {
        fprintf(stderr, "%s: %s: '%s' is not an integer in [%lld, %lld]\n", prog, from, value,
                o->min, o->max);
        return -1;
    }
    *(long long *)o->target = v;
    return 0;
}

static void usage(const char *prog, const char *summary, const struct opt *opts)
{
    printf("Usage: %s [options]\n%s\n\nOptions (each also read from the environment "
           "variable shown):\n",
           prog, summary);
    for (const struct opt *o = opts; o->name; o++) {
        char env[96];
        env_name(o->name, env, sizeof env);
        char flag[96];
        snprintf(flag, sizeof flag, "--%s %s", o->name, o->kind == OPT_INT ? "N" : "VALUE");
        printf("  %-26s %s\n  %-26s env %s, default ", flag, o->help, "", env);
        if (o->kind == OPT_INT)
            printf("%lld\n", *(long long *)o->target);
        else {
            const char *s = *(const char **)o->target;
            printf("%s\n", s && *s ? s : "(none)");
        }
    }
    printf("  %-26s show this help and exit\n", "--help");
}

int opts_parse(const char *prog, const char *summary, const struct opt *opts, int argc, char **argv)
{
    for (const struct opt *o = opts; o->name; o++) {
        char env[96];
        env_name(o->name, env, sizeof env);
        const char *v = getenv(env);
        if (v && set_value(prog, o, v, env) < 0) return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(prog, summary, opts);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", prog, arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o;
        for (o = opts; o->name; o++)
            if (strlen(o->name) == len && !strncmp(o->name, name, len)) break;
        if (!o->name) {
            fprintf(stderr, "%s: unknown option '%s' (try --help)\n", prog, arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: option '--%s' needs a value\n", prog, o->name);
                return -1;
            }
            value = argv[++i];
        }
        if (set_value(prog, o, value, arg) < 0) return -1;
    }
    return 0;
}
