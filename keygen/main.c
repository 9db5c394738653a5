/* chat-keygen: makes a CURVE key pair for a broker or a gateway. */
#include <stdio.h>

#include "curve.h"
#include "log.h"
#include "opts.h"

int main(int argc, char **argv)
{
    const char *out = "";
    int force = 0;
    const struct opt opts[] = {
        {"out", OPT_STR, &out, 0, 0,
         "writes the public key to PATH and the key pair to PATH_secret (mode 0600)", "PATH"},
        {"force", OPT_FLAG, &force, 0, 0, "replace existing files", NULL},
        {0},
    };
    const struct opts_spec spec = {
        "chat-keygen", "Makes a ZeroMQ CURVE key pair in CZMQ's certificate format.",
        "The broker takes its PATH_secret with --curve-secret-file and the gateways' PATH files\n"
        "in its --curve-clients folder; a gateway takes its own PATH_secret with\n"
        "--curve-secret-file and the broker's PATH with --curve-broker-public.\n"
        "See docs/auth.md.\n",
        NULL};
    int rc = opts_parse(&spec, opts, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    if (!out[0]) {
        fprintf(stderr, "chat-keygen: --out PATH is required (try --help)\n");
        return 2;
    }
    return curve_keygen(out, force) < 0 ? 1 : 0;
}
