/* Tests of gateway/origins.c: parsing --allowed-origins and matching Origin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "origins.h"

static int allowed(const struct origins *o, const char *origin)
{
    return origins_allowed(o, origin, strlen(origin));
}

static void test_blank_allows_all(void **state)
{
    (void)state;
    static const char *const blanks[] = {"", " ", ",", " , ,"};
    for (size_t i = 0; i < sizeof blanks / sizeof blanks[0]; i++) {
        struct origins *o = (struct origins *)1;
        char err[256] = "";
        assert_int_equal(origins_parse(blanks[i], &o, err, sizeof err), 0);
        assert_null(o);
        assert_true(allowed(o, "https://evil.example"));
    }
}

static void test_exact_match(void **state)
{
    (void)state;
    struct origins *o = NULL;
    char err[256] = "";
    assert_int_equal(origins_parse(" https://chat.example.com , http://localhost:8080,,"
                                   "HTTPS://Upper.Example.org,http://[::1]:9000",
                                   &o, err, sizeof err),
                     0);
    assert_non_null(o);
    assert_true(allowed(o, "https://chat.example.com"));
    assert_true(allowed(o, "HTTPS://CHAT.example.COM")); /* scheme and host: any case */
    assert_true(allowed(o, "http://localhost:8080"));
    assert_true(allowed(o, "https://upper.example.org"));
    assert_true(allowed(o, "http://[::1]:9000"));

    assert_false(allowed(o, "http://chat.example.com"));      /* other scheme */
    assert_false(allowed(o, "https://chat.example.com:443")); /* not the serialized form */
    assert_false(allowed(o, "https://chat.example.com/"));
    assert_false(allowed(o, "https://chat.example.com.evil.net"));
    assert_false(allowed(o, "https://evil.chat.example.com"));
    assert_false(allowed(o, "https://chat.example.co"));
    assert_false(allowed(o, "http://localhost:8081"));
    assert_false(allowed(o, "http://localhost"));
    assert_false(allowed(o, "null"));
    assert_false(allowed(o, ""));
    assert_false(origins_allowed(o, "http://localhost:80800", 22));
    assert_true(origins_allowed(o, "http://localhost:8080/x", 21));
    origins_destroy(&o);
    assert_null(o);
    origins_destroy(&o); /* twice is safe */
}

static void test_bad_entries(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "chat.example.com",
        "https://chat.example.com/",
        "https://chat.example.com/path",
        "ftp://chat.example.com",
        "https://",
        "https://:443",
        "https://x:0",
        "https://x:65536",
        "https://x:123456",
        "https://x:",
        "https://x:8o",
        "https://exa mple.com",
        "https://user@example.com",
        "https://[::1",
        "https://[]",
        "*",
        "null",
        "https://ok.example, nope",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct origins *o = (struct origins *)1;
        char err[256] = "";
        assert_int_equal(origins_parse(bad[i], &o, err, sizeof err), -1);
        assert_null(o);
        assert_non_null(strstr(err, "is not an origin"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blank_allows_all),
        cmocka_unit_test(test_exact_match),
        cmocka_unit_test(test_bad_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
