/* Shared helpers of the gateway/codec.c tests (test_codec_errors.c and
 * test_codec_commands.c). Header-only: each test is one source file. */
#ifndef CHAT_TEST_CODEC_HELPERS_H
#define CHAT_TEST_CODEC_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

static const struct codec_limits LIM = CODEC_LIMITS_DEFAULT;

/* The command under test, cleared by each decode (one per test program). */
static struct codec_cmd g;

/* Decodes the first len bytes of frame into g. */
static inline enum codec_result dec_len(const char *frame, size_t len, enum conn_state st,
                                        const char *self, const struct codec_limits *lim)
{
    codec_cmd_clear(&g);
    return codec_decode(frame, len, st, self, lim, &g);
}

static inline enum codec_result dec_lim(const char *json, enum conn_state st, const char *self,
                                        const struct codec_limits *lim)
{
    return dec_len(json, strlen(json), st, self, lim);
}

static inline enum codec_result dec(const char *json, enum conn_state st, const char *self)
{
    return dec_lim(json, st, self, &LIM);
}

/* An identified connection whose nick is alice. */
static inline enum codec_result dec_id(const char *json)
{
    return dec(json, CONN_IDENTIFIED, "alice");
}

static inline int teardown(void **state)
{
    (void)state;
    codec_cmd_clear(&g);
    return 0;
}

/* Decoding json in state st gives want: as alice when identified, with no
 * nick of its own before. */
static inline void check_ok_lim(const char *json, enum conn_state st,
                                const struct codec_limits *lim, enum codec_result want)
{
    enum codec_result r = dec_lim(json, st, st == CONN_IDENTIFIED ? "alice" : NULL, lim);
    if (r != want)
        fail_msg("%s: expected result %d, got %d code %s (%s)", json, want, r,
                 g.err_code ? g.err_code : "-", g.err_msg);
}

static inline void check_ok(const char *json, enum conn_state st, enum codec_result want)
{
    check_ok_lim(json, st, &LIM, want);
}

/* Forwarded when alice sends it. */
static inline void check_fwd(const char *json)
{
    check_ok(json, CONN_IDENTIFIED, CODEC_FORWARD);
}

/* The message is printable ASCII (so always valid UTF-8) and not empty. */
static inline void check_msg_printable(void)
{
    assert_true(strlen(g.err_msg) > 0);
    for (const char *p = g.err_msg; *p; p++) assert_true(*p >= 0x20 && *p <= 0x7E);
}

/* Decoding json in state st fails with code; id is the echoed id or NULL;
 * the message mentions what. */
static inline void check_err_lim(const char *json, enum conn_state st, const char *self,
                                 const struct codec_limits *lim, const char *code, const char *id,
                                 const char *what)
{
    enum codec_result r = dec_lim(json, st, self, lim);
    if (r != CODEC_ERROR || strcmp(g.err_code, code) != 0)
        fail_msg("%s: expected %s, got result %d code %s (%s)", json, code, r,
                 g.err_code ? g.err_code : "-", g.err_msg);
    if (id) {
        assert_non_null(g.id);
        assert_string_equal(g.id, id);
    } else {
        assert_null(g.id);
    }
    check_msg_printable();
    if (what && !strstr(g.err_msg, what))
        fail_msg("%s: message \"%s\" does not mention \"%s\"", json, g.err_msg, what);
}

static inline void check_err(const char *json, enum conn_state st, const char *code, const char *id,
                             const char *what)
{
    check_err_lim(json, st, "alice", &LIM, code, id, what);
}

/* The forwarded command survives a protobuf round trip (all required fields
 * are set) and is of the given case. Caller frees with
 * chat__command__free_unpacked. */
static inline Chat__Command *roundtrip(Chat__Command__CmdCase expect)
{
    assert_int_equal(g.cmd.cmd_case, expect);
    g.cmd.conn = 7;
    size_t n = chat__command__get_packed_size(&g.cmd);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(chat__command__pack(&g.cmd, buf), n);
    Chat__Command *c = chat__command__unpack(NULL, n, buf);
    free(buf);
    assert_non_null(c);
    assert_int_equal(c->conn, 7);
    assert_int_equal(c->cmd_case, expect);
    return c;
}

/* json, decoded in state st (see check_ok), is forwarded as a command of the
 * given case: its round trip, which the caller frees. */
static inline Chat__Command *forwarded(const char *json, enum conn_state st,
                                       Chat__Command__CmdCase expect)
{
    check_ok(json, st, CODEC_FORWARD);
    return roundtrip(expect);
}

/* fmt with its one %s replaced by arg, in a buffer the next call reuses. */
static inline const char *fmt_frame(const char *fmt, const char *arg)
{
    static char buf[1024];
    int n = snprintf(buf, sizeof buf, fmt, arg);
    assert_true(n >= 0 && (size_t)n < sizeof buf);
    return buf;
}

/* n copies of c. Caller frees. */
static inline char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

#endif
