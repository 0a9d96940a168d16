/* Unit tests of linebuf: chunking, the length limit, recovery after a long line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "linebuf.h"

typedef struct seen {
    int lines, too_long;
    char last[128];
    int stop_after;
} seen_t;

static bool line_cb(void *ctx, const char *line, size_t len, bool too_long)
{
    seen_t *s = ctx;

    if (too_long) {
        s->too_long++;
    } else {
        s->lines++;
        snprintf(s->last, sizeof(s->last), "%.*s", (int)len, line);
    }
    return !(s->stop_after && s->lines + s->too_long >= s->stop_after);
}

static void test_lines_in_any_chunking(void **state)
{
    const char *in = "{\"a\":1}\n{\"b\":2}\n\n{\"c\"";
    linebuf_t lb;
    seen_t s = {0};

    (void)state;
    linebuf_init(&lb, 64);
    for (size_t i = 0; i < strlen(in); i++)
        assert_int_equal(linebuf_feed(&lb, in + i, 1, line_cb, &s), 0);
    assert_int_equal(s.lines, 3); /* the empty line is reported too */
    assert_string_equal(s.last, "");
    linebuf_feed(&lb, ":3}\n", 4, line_cb, &s);
    assert_string_equal(s.last, "{\"c\":3}");
    linebuf_free(&lb);
}

static void test_too_long_once_then_recovers(void **state)
{
    size_t big = 100000;
    char *data = malloc(big + 16);
    linebuf_t lb;
    seen_t s = {0};

    (void)state;
    memset(data, 'x', big);
    memcpy(data + big, "\nok\n", 4);
    linebuf_init(&lb, 1024);
    /* Feed in pieces so the overflow happens mid-stream. */
    for (size_t off = 0; off < big + 4; off += 4000) {
        size_t n = big + 4 - off < 4000 ? big + 4 - off : 4000;
        linebuf_feed(&lb, data + off, n, line_cb, &s);
    }
    assert_int_equal(s.too_long, 1);
    assert_int_equal(s.lines, 1);
    assert_string_equal(s.last, "ok");
    assert_true(lb.cap <= 1024);
    linebuf_free(&lb);
    free(data);
}

static void test_exactly_max_is_fine(void **state)
{
    char data[17];
    linebuf_t lb;
    seen_t s = {0};

    (void)state;
    memset(data, 'y', 16);
    data[16] = '\n';
    linebuf_init(&lb, 16);
    linebuf_feed(&lb, data, 17, line_cb, &s);
    assert_int_equal(s.lines, 1);
    assert_int_equal(s.too_long, 0);
    linebuf_free(&lb);
}

static void test_stop_requested(void **state)
{
    linebuf_t lb;
    seen_t s = {.stop_after = 1};

    (void)state;
    linebuf_init(&lb, 64);
    assert_int_equal(linebuf_feed(&lb, "a\nb\n", 4, line_cb, &s), 1);
    assert_int_equal(s.lines, 1);
    linebuf_free(&lb);
}

/* A paused reader: feed_part says how much it consumed; the rest, fed again, loses nothing. */
static void test_feed_part_and_finish(void **state)
{
    linebuf_t lb;
    seen_t s = {.stop_after = 1};
    const char *in = "ab\ncd\nef";
    size_t used;

    (void)state;
    linebuf_init(&lb, 64);
    assert_int_equal(linebuf_feed_part(&lb, in, strlen(in), line_cb, &s, &used), 1);
    assert_int_equal(used, 3);
    assert_string_equal(s.last, "ab");
    s.stop_after = 0;
    assert_int_equal(linebuf_feed_part(&lb, in + used, strlen(in) - used, line_cb, &s, &used), 0);
    assert_int_equal(used, strlen(in) - 3);
    assert_int_equal(s.lines, 2);
    assert_string_equal(s.last, "cd");
    assert_true(linebuf_finish(&lb, line_cb, &s)); /* "ef" had no newline: EOF delivers it */
    assert_int_equal(s.lines, 3);
    assert_string_equal(s.last, "ef");
    assert_true(linebuf_finish(&lb, line_cb, &s)); /* nothing left */
    assert_int_equal(s.lines, 3);
    linebuf_free(&lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_in_any_chunking),
        cmocka_unit_test(test_too_long_once_then_recovers),
        cmocka_unit_test(test_exactly_max_is_fine),
        cmocka_unit_test(test_stop_requested),
        cmocka_unit_test(test_feed_part_and_finish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
