/* Tests for common/text.c: code points, blankness, the nick and room
 * patterns, and case folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

#define S(lit) lit, sizeof lit - 1 /* a literal and its length in bytes */

static void test_codepoints(void **state)
{
    (void)state;
    assert_int_equal(text_codepoints(S("")), 0);
    assert_int_equal(text_codepoints(S("abc")), 3);
    assert_int_equal(text_codepoints(S("\xc3\xa9")), 1);         /* é */
    assert_int_equal(text_codepoints(S("\xe2\x82\xac")), 1);     /* € */
    assert_int_equal(text_codepoints(S("\xf0\x9f\x98\x80")), 1); /* 😀 */
    assert_int_equal(text_codepoints(S("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z")), 5);
    assert_int_equal(text_codepoints(S("a\0b")), 3); /* NUL is a code point */
    /* Only len bytes count. */
    assert_int_equal(text_codepoints("abcdef", 2), 2);
    assert_int_equal(text_codepoints("\xc3\xa9\xc3\xa9", 2), 1);
}

static void test_is_blank(void **state)
{
    (void)state;
    assert_true(text_is_blank(S("")));
    assert_true(text_is_blank(S(" ")));
    assert_true(text_is_blank(S(" \t\n\v\f\r ")));
    assert_true(text_is_blank(S("\xc2\x85")));                 /* NEL */
    assert_true(text_is_blank(S("\xc2\xa0")));                 /* no-break space */
    assert_true(text_is_blank(S("\xe1\x9a\x80")));             /* ogham space mark */
    assert_true(text_is_blank(S("\xe2\x80\x80\xe2\x80\x8a"))); /* en quad, hair space */
    assert_true(text_is_blank(S("\xe2\x80\x8b")));             /* zero width space */
    assert_true(text_is_blank(S("\xe2\x80\xa8\xe2\x80\xa9"))); /* line, paragraph sep */
    assert_true(text_is_blank(S("\xe2\x80\xaf\xe2\x81\x9f"))); /* narrow nbsp, math space */
    assert_true(text_is_blank(S("\xe3\x80\x80")));             /* ideographic space */
    assert_true(text_is_blank(S("\xef\xbb\xbf")));             /* BOM */
    assert_true(text_is_blank(S(" \xe3\x80\x80\t\xc2\xa0 ")));

    assert_false(text_is_blank(S("a")));
    assert_false(text_is_blank(S("  a  ")));
    assert_false(text_is_blank(S(".")));
    assert_false(text_is_blank(S("\xc3\xa9")));
    assert_false(text_is_blank(S("\xf0\x9f\x98\x80")));
    assert_false(text_is_blank(S("\xe2\x80\x8c"))); /* ZWNJ is not space */
    assert_false(text_is_blank(S("\xe2\x80\x8c")));
    assert_false(text_is_blank(S("\x1f")));
    assert_false(text_is_blank(S("\x7f")));
    assert_false(text_is_blank(S(" \xe3\x80\x80x")));
    /* Only len bytes count. */
    assert_true(text_is_blank("  x", 2));
    assert_true(text_is_blank("x", 0));
}

static void test_valid_nick(void **state)
{
    (void)state;
    assert_true(text_valid_nick(S("alice"), 32));
    assert_true(text_valid_nick(S("A"), 32));
    assert_true(text_valid_nick(S("Alice_B.c-9"), 32));
    assert_true(text_valid_nick(S("ZZ..--__09"), 32));
    assert_true(text_valid_nick(S("abcdefghijklmnopqrstuvwxyzABCDEF"), 32));   /* 32 */
    assert_false(text_valid_nick(S("abcdefghijklmnopqrstuvwxyzABCDEFG"), 32)); /* 33 */
    assert_true(text_valid_nick(S("abc"), 3));
    assert_false(text_valid_nick(S("abcd"), 3));

    assert_false(text_valid_nick(S(""), 32));
    assert_false(text_valid_nick(S("al ice"), 32));
    assert_false(text_valid_nick(S("al#ice"), 32));
    assert_false(text_valid_nick(S("al@ice"), 32));
    assert_false(text_valid_nick(S("al/ice"), 32));
    assert_false(text_valid_nick(S("alice\n"), 32));
    assert_false(text_valid_nick(S("a\0b"), 32));
    assert_false(text_valid_nick(S("\xc3\xa9"), 32));
    assert_false(text_valid_nick(S("caf\xc3\xa9"), 32));
    assert_false(text_valid_nick(S("a`"), 32));
    assert_false(text_valid_nick(S("a["), 32));
    assert_false(text_valid_nick(S("a{"), 32));
    /* Only len bytes count. */
    assert_true(text_valid_nick("ab cd", 2, 32));
}

static void test_valid_room(void **state)
{
    (void)state;
    assert_true(text_valid_room(S("general"), 64));
    assert_true(text_valid_room(S("#a-b_c.9"), 64));
    assert_true(text_valid_room(S("#"), 64));
    assert_true(
        text_valid_room(S("0123456789012345678901234567890123456789012345678901234567890123"), 64));
    assert_false(text_valid_room(
        S("01234567890123456789012345678901234567890123456789012345678901234"), 64));

    assert_false(text_valid_room(S(""), 64));
    assert_false(text_valid_room(S("General"), 64));
    assert_false(text_valid_room(S("A"), 64));
    assert_false(text_valid_room(S("a b"), 64));
    assert_false(text_valid_room(S("a!"), 64));
    assert_false(text_valid_room(S("a\0"), 64));
    assert_false(text_valid_room(S("caf\xc3\xa9"), 64));
    assert_false(text_valid_room(S("\xe3\x80\x80"), 64));
    assert_true(text_valid_room("abC", 2, 64));
}

static void test_fold(void **state)
{
    (void)state;
    char out[64];
    text_fold(S("AbC-Z_z09.#"), out);
    assert_string_equal(out, "abc-z_z09.#");
    text_fold(S(""), out);
    assert_string_equal(out, "");
    /* Non-ASCII bytes are left alone. */
    text_fold(S("\xc3\x89X"), out);
    assert_string_equal(out, "\xc3\x89x");
    /* Only len bytes, then a terminating NUL. */
    memset(out, '!', sizeof out);
    text_fold("ABCD", 2, out);
    assert_string_equal(out, "ab");
    /* Characters next to the letter ranges are unchanged. */
    text_fold(S("@[`{"), out);
    assert_string_equal(out, "@[`{");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codepoints), cmocka_unit_test(test_is_blank),
        cmocka_unit_test(test_valid_nick), cmocka_unit_test(test_valid_room),
        cmocka_unit_test(test_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
