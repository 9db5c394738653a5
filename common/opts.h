/* opts: command-line flags, each optionally also read from the environment.
 *
 * With an environment prefix (the servers use "CHAT_"), every flag
 * --some-name may also be given as CHAT_SOME_NAME; the command line wins.
 * The value in the target before opts_parse() is the default, and --help
 * prints it. */
#ifndef CHAT_OPTS_H
#define CHAT_OPTS_H

enum opt_kind {
    OPT_STR,    /* const char ** */
    OPT_SECRET, /* const char **, like OPT_STR, but --help never prints its value */
    OPT_INT,    /* long long *, within [min, max] */
    OPT_DBL,    /* double *, within [min, max] */
    OPT_FLAG    /* int *, set to 1 by the bare flag; takes no value */
};

struct opt {
    const char *name; /* without the leading "--" */
    enum opt_kind kind;
    void *target;
    double min, max;
    const char *help;
    const char *arg; /* name of the value in --help ("PATH"); NULL: N or VALUE */
};

struct opts_spec {
    const char *prog;
    const char *summary;    /* printed after the usage line */
    const char *epilog;     /* printed after the options, or NULL */
    const char *env_prefix; /* "CHAT_", or NULL for no environment */
};

/* Parses argv (and the environment) into the targets of opts[] (terminated
 * by an entry with name NULL). Returns 0 to go on, 1 when --help was printed
 * (exit 0), -1 on a bad flag or value (a message was printed; exit 2). */
int opts_parse(const struct opts_spec *spec, const struct opt *opts, int argc, char **argv);

#endif
