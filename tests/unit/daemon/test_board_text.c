/* Unit tests of board_text_clean: what a hostile board's text becomes before JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "board_text.h"

static const char *clean(const char *in, size_t n, char *out, size_t cap)
{
    board_text_clean((const uint8_t *)in, n, out, cap);
    return out;
}

static void test_valid_utf8_is_kept(void **state)
{
    char out[64];

    (void)state;
    assert_string_equal(clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\xb1", 14, out, sizeof(out)),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\xb1");
}

static void test_invalid_utf8_is_replaced(void **state)
{
    char out[64];

    (void)state;
    /* a lone continuation byte, an overlong '/', a surrogate, a truncated sequence */
    assert_string_equal(clean("a\x80"
                              "b\xc0\xaf"
                              "c\xed\xa0\x80"
                              "d\xe2\x82",
                              13, out, sizeof(out)),
                        "a\xef\xbf\xbd"
                        "b\xef\xbf\xbd\xef\xbf\xbd"
                        "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "d\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_controls_are_escaped(void **state)
{
    char out[64];

    (void)state;
    /* ESC [2J (clear screen), BEL, DEL, C1 CSI (U+009B) */
    assert_string_equal(clean("\x1b[2J\a\x7f\xc2\x9bz", 9, out, sizeof(out)),
                        "\\x1b[2J\\x07\\x7f\\x9bz");
}

static void test_stops_at_nul_and_bounds(void **state)
{
    char out[8];

    (void)state;
    assert_string_equal(clean("ab\0cd", 5, out, sizeof(out)), "ab");
    /* Never a cut escape or character: "\x1b" does not fit after "abcd" in 8 bytes. */
    assert_string_equal(clean("abcd\x1b", 5, out, sizeof(out)), "abcd");
    assert_string_equal(clean("abcdef\xc3\xa9", 8, out, sizeof(out)), "abcdef");
    assert_int_equal(board_text_clean((const uint8_t *)"\x01\x02", 2, out, 1), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_utf8_is_kept),
        cmocka_unit_test(test_invalid_utf8_is_replaced),
        cmocka_unit_test(test_controls_are_escaped),
        cmocka_unit_test(test_stops_at_nul_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
