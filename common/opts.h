/* opts: command-line flags with an environment variable each.
 *
 * Every flag --some-name may also be given as CHAT_SOME_NAME in the
 * environment; the command line wins. The value in the target before
 * opts_parse() is the default, and --help prints it. */
#ifndef CHAT_OPTS_H
#define CHAT_OPTS_H

enum opt_kind { OPT_STR, OPT_INT };

struct opt {
    const char *name; /* without the leading "--" */
    enum opt_kind kind;
    void *target; /* const char ** for OPT_STR, long long * for OPT_INT */
    long long min, max;
    const char *help;
};

/* Parses argv and the environment into the targets of opts[] (terminated by
 * an entry with name NULL). Returns 0 to go on, 1 when --help was printed
 * (exit 0), -1 on a bad flag or value (a message was printed; exit 2). */
int opts_parse(const char *prog, const char *summary, const struct opt *opts, int argc,
               char **argv);

#endif
