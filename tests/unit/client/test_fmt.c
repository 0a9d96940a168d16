/* Unit tests of picoctl's formatters: what a person reads, byte for byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_i2c.h"
#include "ctl_ping.h"
#include "ctl_plot.h"
#include "ctl_select.h"
#include "ctl_table.h"

/* What fn wrote, as a string (caller frees). */
typedef struct out {
    char *buf;
    size_t len;
    FILE *f;
} out_t;

static FILE *out_open(out_t *o)
{
    o->buf = NULL;
    o->len = 0;
    o->f = open_memstream(&o->buf, &o->len);
    assert_non_null(o->f);
    return o->f;
}

static char *out_close(out_t *o)
{
    fclose(o->f);
    return o->buf;
}

static void test_table_aligns_columns_by_display_width(void **state)
{
    ctl_table_t t;
    out_t o;
    char *s;

    (void)state;
    ctl_table_init(&t, 3);
    ctl_table_row(&t, (const char *const[]){"NAME", "TEMP", "N"});
    ctl_table_row(&t, (const char *const[]){"a", "21.50 °C", "7"});
    ctl_table_cellf(&t, "%s", "longer");
    ctl_table_cellf(&t, "%d °C", 3);
    ctl_table_cellf(&t, "%d", 123);
    t.right = 1u << 2;
    ctl_table_print(&t, out_open(&o));
    s = out_close(&o);
    /* "°" is one column; no trailing blanks; the last column right-aligned. */
    assert_string_equal(s, "NAME    TEMP        N\n"
                           "a       21.50 °C    7\n"
                           "longer  3 °C      123\n");
    free(s);
    ctl_table_free(&t);
}

static void test_display_width_skips_colour(void **state)
{
    (void)state;
    assert_int_equal(ctl_display_width("\033[32monline\033[0m"), 6);
    assert_int_equal(ctl_display_width("▁▂█"), 3);
    assert_int_equal(ctl_display_width(""), 0);
}

static void test_colour_only_when_on(void **state)
{
    char buf[64];

    (void)state;
    ctl_colour_set(false);
    assert_string_equal(ctl_paint(buf, sizeof(buf), CTL_GOOD, "online"), "online");
    ctl_colour_set(true);
    assert_string_equal(ctl_paint(buf, sizeof(buf), CTL_GOOD, "online"), "\033[32monline\033[0m");
    ctl_colour_set(false);
    setenv("NO_COLOR", "1", 1);
    ctl_colour_init(false);
    assert_false(ctl_colour_is_on());
    assert_int_equal(ctl_state_tone("offline"), CTL_BAD);
    assert_int_equal(ctl_state_tone("stale"), CTL_WARN);
}

static void test_sparkline_scales_between_min_and_max(void **state)
{
    const double v[] = {1, 2, 3, 4, 5, 6, 7, 8}, flat[] = {5, 5, 5};
    char buf[64];

    (void)state;
    assert_int_equal(ctl_sparkline(buf, sizeof(buf), v, 8), 8);
    assert_string_equal(buf, "▁▂▃▄▅▆▇█");
    ctl_sparkline(buf, sizeof(buf), flat, 3);
    assert_string_equal(buf, "▄▄▄");
    /* Too small a buffer: cut at a whole character. */
    assert_int_equal(ctl_sparkline(buf, 7, v, 8), 2);
    assert_string_equal(buf, "▁▂");
}

/* Read a golden file next to this source (GOLDEN_DIR). */
static char *golden(const char *name)
{
    char path[512];
    FILE *f;
    char *s;
    long n;

    snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    s = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

/* got must equal the golden file name; PICOD_GOLDEN_UPDATE=1 rewrites it (then review the
 * diff). */
static void check_golden(const char *name, const char *got)
{
    char *want;

    if (getenv("PICOD_GOLDEN_UPDATE")) {
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
        f = fopen(path, "wb");
        assert_non_null(f);
        fputs(got, f);
        fclose(f);
    }
    want = golden(name);
    assert_string_equal(got, want);
    free(want);
}

static void test_chart_golden(void **state)
{
    /* A rise and fall over 10 minutes from 2026-12-01 12:00:00 UTC, with a gap. */
    int64_t t[12];
    double v[12] = {20.0, 20.5, 21.0, 21.8, 22.5, 23.0, 22.4, 21.9, 21.0, 20.2, 20.0, 20.1};
    ctl_series_t s = {.t_ms = t, .v = v, .n = 12, .unit = "°C", .title = "bench sensor 0"};
    out_t o;
    char *got;

    (void)state;
    for (int i = 0; i < 12; i++)
        t[i] = 1796126400000LL + (i < 8 ? i : i + 3) * 40000LL;
    s.since_ms = t[0];
    s.until_ms = t[0] + 600000;
    s.gap_ms = 60000;
    assert_int_equal(ctl_plot_chart(out_open(&o), &s, 40, 6), 0);
    got = out_close(&o);
    check_golden("chart.txt", got);
    free(got);
    s.n = 0;
    assert_int_equal(ctl_plot_chart(out_open(&o), &s, 40, 6), 0);
    got = out_close(&o);
    assert_string_equal(got, "bench sensor 0\nno readings in that time\n");
    free(got);
    assert_int_equal(ctl_plot_chart(stdout, &s, 2, 6), -EINVAL);
}

static void test_i2c_grid_golden(void **state)
{
    json_t *a = json_pack("[i,i,i]", 0x44, 0x76, 0x08);
    out_t o;
    char *got;

    (void)state;
    ctl_i2c_grid(out_open(&o), a);
    got = out_close(&o);
    check_golden("i2c_grid.txt", got);
    free(got);
    json_decref(a);
}

static void test_i2c_hex(void **state)
{
    out_t o;
    char *got;

    (void)state;
    ctl_i2c_hex(out_open(&o), "60a1");
    got = out_close(&o);
    assert_string_equal(got, "60 a1\n");
    free(got);
    ctl_i2c_hex(out_open(&o), "000102030405060708090a0b0c0d0e0f1011");
    got = out_close(&o);
    assert_string_equal(got, "00: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n10: 10 11\n");
    free(got);
}

static void test_ping_summary(void **state)
{
    ctl_ping_stats_t p = {.sent = 4};
    out_t o;
    char *got;
    json_t *j;

    (void)state;
    ctl_ping_add(&p, 1.0);
    ctl_ping_add(&p, 2.0);
    ctl_ping_add(&p, 3.0);
    ctl_ping_summary(out_open(&o), "bench", &p, 3012.4);
    got = out_close(&o);
    /* mdev as ping(8): sqrt(mean(x^2) - mean(x)^2) = sqrt(14/3 - 4). */
    assert_string_equal(got, "\n--- bench ping statistics ---\n"
                             "4 requests, 3 replies, 25% loss, time 3012ms\n"
                             "rtt min/avg/max/mdev = 1.000/2.000/3.000/0.816 ms\n");
    free(got);
    j = ctl_ping_json(&p, 3012.4);
    assert_int_equal(json_integer_value(json_object_get(j, "received")), 3);
    assert_true(json_real_value(json_object_get(j, "loss_pct")) == 25.0);
    assert_true(json_real_value(json_object_get(json_object_get(j, "rtt_ms"), "max")) == 3.0);
    json_decref(j);
    p = (ctl_ping_stats_t){.sent = 2};
    ctl_ping_summary(out_open(&o), "picod", &p, 10);
    got = out_close(&o);
    assert_string_equal(got, "\n--- picod ping statistics ---\n"
                             "2 requests, 0 replies, 100% loss, time 10ms\n");
    free(got);
}

static void test_select_board(void **state)
{
    json_t *b = json_loads("[{\"board\":\"aaaa000000000001\",\"name\":\"bench\",\"device\":"
                           "\"/dev/ttyACM0\"},{\"board\":\"aaaa000000000002\",\"name\":null,"
                           "\"device\":\"/dev/ttyACM1\"},{\"board\":null,\"name\":null,"
                           "\"device\":\"/tmp/x.tty\"}]",
                           0, NULL);
    char why[512];

    (void)state;
    assert_int_equal(ctl_select_board(b, "aaaa000000000002", why, sizeof(why)), 1);
    assert_int_equal(ctl_select_board(b, "AAAA000000000002", why, sizeof(why)), 1);
    assert_int_equal(ctl_select_board(b, "bench", why, sizeof(why)), 0);
    assert_int_equal(ctl_select_board(b, "/dev/ttyACM1", why, sizeof(why)), 1);
    assert_int_equal(ctl_select_board(b, "aaaa000000000001", why, sizeof(why)), 0);
    assert_int_equal(ctl_select_board(b, "/tmp/x.tty", why, sizeof(why)), 2);
    assert_string_equal(ctl_select_key(json_array_get(b, 2)), "/tmp/x.tty");
    assert_int_equal(ctl_select_board(b, "aaaa", why, sizeof(why)), -EEXIST);
    assert_string_equal(why, "'aaaa' is ambiguous: it matches aaaa000000000001 (bench, "
                             "/dev/ttyACM0), aaaa000000000002 (/dev/ttyACM1)");
    assert_int_equal(ctl_select_board(b, "ffff", why, sizeof(why)), -ENOENT);
    assert_string_equal(why, "no board matches 'ffff'; boards: aaaa000000000001 (bench, "
                             "/dev/ttyACM0), aaaa000000000002 (/dev/ttyACM1), no id yet "
                             "(/tmp/x.tty)");
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_aligns_columns_by_display_width),
        cmocka_unit_test(test_display_width_skips_colour),
        cmocka_unit_test(test_colour_only_when_on),
        cmocka_unit_test(test_sparkline_scales_between_min_and_max),
        cmocka_unit_test(test_chart_golden),
        cmocka_unit_test(test_i2c_grid_golden),
        cmocka_unit_test(test_i2c_hex),
        cmocka_unit_test(test_ping_summary),
        cmocka_unit_test(test_select_board),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
