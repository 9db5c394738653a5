#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void env_name(const char *prefix, const char *name, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "%s", prefix);
    for (const char *p = name; *p && n + 1 < size; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static int set_value(const char *prog, const struct opt *o, const char *value, const char *from)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_STR:
    case OPT_SECRET:
        *(const char **)o->target = value;
        return 0;
    case OPT_FLAG:
        if (strcmp(value, "1") && strcmp(value, "0")) break;
        *(int *)o->target = value[0] == '1';
        return 0;
    case OPT_INT: {
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) break;
        *(long long *)o->target = v;
        return 0;
    }
    case OPT_DBL: {
        double v = strtod(value, &end);
        if (errno || end == value || *end || v < o->min || v > o->max) break;
        *(double *)o->target = v;
        return 0;
    }
    }
    if (o->kind == OPT_FLAG)
        fprintf(stderr, "%s: %s: '%s' must be 0 or 1\n", prog, from, value);
    else
        fprintf(stderr, "%s: %s: '%s' is not a%s number in [%g, %g]\n", prog, from, value,
                o->kind == OPT_INT ? "n integer" : "", o->min, o->max);
    return -1;
}

static void usage(const struct opts_spec *spec, const struct opt *opts)
{
    printf("Usage: %s [options]\n%s\n\nOptions", spec->prog, spec->summary);
    printf(spec->env_prefix ? " (each also read from the environment variable shown):\n" : ":\n");
    for (const struct opt *o = opts; o->name; o++) {
        char flag[96];
        const char *arg = o->arg                                        ? o->arg
                          : o->kind == OPT_FLAG                         ? ""
                          : o->kind == OPT_STR || o->kind == OPT_SECRET ? "VALUE"
                                                                        : "N";
        snprintf(flag, sizeof flag, "--%s%s%s", o->name, *arg ? " " : "", arg);
        printf("  %-26s %s\n  %-26s ", flag, o->help, "");
        if (spec->env_prefix) {
            char env[96];
            env_name(spec->env_prefix, o->name, env, sizeof env);
            printf("env %s, ", env);
        }
        switch (o->kind) {
        case OPT_STR: {
            const char *s = *(const char **)o->target;
            printf("default %s\n", s && *s ? s : "(none)");
            break;
        }
        case OPT_SECRET: {
            const char *s = *(const char **)o->target;
            printf("default (none)%s\n", s && *s ? "; set now, not shown" : "");
            break;
        }
        case OPT_INT:
            printf("default %lld\n", *(long long *)o->target);
            break;
        case OPT_DBL:
            printf("default %g\n", *(double *)o->target);
            break;
        case OPT_FLAG:
            printf("default %s\n", *(int *)o->target ? "on" : "off");
            break;
        }
    }
    printf("  %-26s show this help and exit\n", "--help");
    if (spec->epilog) printf("\n%s", spec->epilog);
}

int opts_parse(const struct opts_spec *spec, const struct opt *opts, int argc, char **argv)
{
    const char *prog = spec->prog;
    for (const struct opt *o = opts; spec->env_prefix && o->name; o++) {
        char env[96];
        env_name(spec->env_prefix, o->name, env, sizeof env);
        const char *v = getenv(env);
        if (v && set_value(prog, o, v, env) < 0) return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(spec, opts);
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
        if (o->kind == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "%s: --%s takes no value\n", prog, o->name);
                return -1;
            }
            *(int *)o->target = 1;
            continue;
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
