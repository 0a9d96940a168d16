/* Unit tests of history: the event ring's wrap, gap computation, reading rings and their
 * budget, downsampling, and the watch filters (changes_only thresholds). */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"

static void add(history_t *h, const char *kind, const char *board)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "{\"seq\":%llu}\n", (unsigned long long)h->last_seq + 1);
    hist_event_t e = {.seq = h->last_seq + 1};

    e.line = hist_line_new(text, (size_t)n);
    assert_non_null(e.line);
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.board, sizeof(e.board), "%s", board);
    assert_int_equal(history_add_event(h, &e), 0);
    hist_line_unref(e.line); /* the ring keeps its own reference */
}

static void test_ring_wraps_and_keeps_the_last(void **state)
{
    history_t h;
    uint64_t from = 0, to = 0;

    (void)state;
    assert_int_equal(history_init(&h, 5, 4, 1 << 20), 0);
    assert_false(history_gap(&h, 0, &from, &to)); /* nothing emitted: nothing missing */
    assert_null(history_event(&h, 1));
    for (int i = 0; i < 3; i++)
        add(&h, "button", "b1");
    assert_int_equal(history_first_seq(&h), 1);
    assert_false(history_gap(&h, 0, &from, &to));
    for (int i = 0; i < 9; i++)
        add(&h, "button", "b1");
    /* 12 emitted, 5 held: 8..12 */
    assert_int_equal(h.last_seq, 12);
    assert_int_equal(h.n_events, 5);
    assert_int_equal(history_first_seq(&h), 8);
    assert_null(history_event(&h, 7));
    assert_null(history_event(&h, 13));
    for (uint64_t s = 8; s <= 12; s++) {
        char want[32];
        const hist_event_t *e = history_event(&h, s);

        assert_non_null(e);
        assert_int_equal(e->seq, s);
        snprintf(want, sizeof(want), "{\"seq\":%llu}\n", (unsigned long long)s);
        assert_int_equal(e->line->len, strlen(want));
        assert_memory_equal(e->line->data, want, strlen(want));
    }
    /* since 0: 1..7 gone; since 6: 7 gone; since 7 and later: nothing missing. */
    assert_true(history_gap(&h, 0, &from, &to));
    assert_int_equal(from, 1);
    assert_int_equal(to, 7);
    assert_true(history_gap(&h, 6, &from, &to));
    assert_int_equal(from, 7);
    assert_int_equal(to, 7);
    assert_false(history_gap(&h, 7, &from, &to));
    assert_false(history_gap(&h, 12, &from, &to));
    history_free(&h);
}

static void test_seq_must_follow(void **state)
{
    history_t h;
    hist_event_t e = {.seq = 2};

    (void)state;
    assert_int_equal(history_init(&h, 3, 1, 0), 0);
    e.line = hist_line_new("x\n", 2);
    assert_int_equal(history_add_event(&h, &e), -22);
    e.seq = 1;
    assert_int_equal(history_add_event(&h, &e), 0);
    assert_int_equal(e.line->refs, 2);
    hist_line_unref(e.line);
    assert_int_equal(history_event_mem(&h) >= 3 * sizeof(hist_event_t) + 2, 1);
    history_free(&h);
}

static void reading(history_t *h, const char *board, int64_t t, int32_t temp)
{
    hist_values_t v = {.flags = HIST_HAS_TEMP | HIST_HAS_PRESSURE,
                       .temp_centi_c = temp,
                       .pressure_pa = (uint32_t)(100000 + temp)};

    assert_int_equal(history_add_reading(h, board, 0, t, &v), 0);
}

static void test_reading_ring_wraps(void **state)
{
    history_t h;
    const hist_series_t *s;

    (void)state;
    assert_int_equal(history_init(&h, 1, 4, 1 << 20), 0);
    for (int i = 0; i < 10; i++)
        reading(&h, "b1", 1000 + i * 10, i);
    s = history_series(&h, "b1", 0);
    assert_non_null(s);
    assert_null(history_series(&h, "b1", 1));
    assert_int_equal(s->count, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(history_sample(s, 4, i)->temp_centi_c, 6 + (int)i);
    history_free(&h);
}

static void test_budget_refuses_a_series(void **state)
{
    history_t h;
    hist_values_t v = {.flags = HIST_HAS_TEMP};
    size_t one = 100 * sizeof(hist_sample_t);

    (void)state;
    /* Room for two rings (and the series table), not three. */
    assert_int_equal(history_init(&h, 1, 100, 2 * one + 16 * sizeof(hist_series_t)), 0);
    assert_int_equal(history_add_reading(&h, "a", 0, 1, &v), 0);
    assert_int_equal(history_add_reading(&h, "a", 1, 1, &v), 0);
    assert_int_equal(history_add_reading(&h, "b", 0, 1, &v), -ENOSPC);
    assert_int_equal(h.readings_refused, 1);
    assert_true(history_reading_mem(&h) <= h.budget_bytes);
    /* The series kept still take samples. */
    assert_int_equal(history_add_reading(&h, "a", 0, 2, &v), 0);
    history_free(&h);
}

static void test_downsample_buckets(void **state)
{
    history_t h;
    hist_point_t pts[8];
    int64_t width;
    size_t n, in;
    const hist_series_t *s;

    (void)state;
    assert_int_equal(history_init(&h, 1, 1000, 1 << 20), 0);
    /* One sample every 100 ms from t=0 to 990, temp = i (0.01 degC units). */
    for (int i = 0; i < 100; i++)
        reading(&h, "b1", i * 10, i);
    s = history_series(&h, "b1", 0);
    n = history_downsample(&h, s, 0, 999, 4, pts, &width, &in);
    assert_int_equal(width, 250);
    assert_int_equal(n, 4);
    assert_int_equal(in, 100);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(pts[i].t_ms, (int64_t)i * 250);
        assert_int_equal(pts[i].n, 25);
        assert_int_equal(pts[i].temp.n, 25);
        assert_true(pts[i].temp.min == 25.0 * (double)i);
        assert_true(pts[i].temp.max == 25.0 * (double)i + 24);
        assert_true(pts[i].temp.sum / pts[i].temp.n == 25.0 * (double)i + 12);
        assert_int_equal(pts[i].humidity.n, 0); /* no humidity in these readings */
    }
    /* Bounds are inclusive: [100, 199] holds t=100..190 (10 samples), into 3 buckets. */
    n = history_downsample(&h, s, 100, 199, 3, pts, &width, &in);
    assert_int_equal(width, 34);
    assert_int_equal(in, 10);
    assert_true(n <= 3);
    assert_int_equal(pts[0].t_ms, 100);
    assert_int_equal(pts[0].n + pts[1].n + (n > 2 ? pts[2].n : 0), 10);
    /* Empty buckets are left out: [2000, 5000] has no samples. */
    assert_int_equal(history_downsample(&h, s, 2000, 5000, 8, pts, &width, &in), 0);
    assert_int_equal(in, 0);
    /* More points than samples: one sample per point. */
    n = history_downsample(&h, s, 0, 7, 8, pts, &width, &in);
    assert_int_equal(width, 1);
    assert_int_equal(n, 1);
    assert_int_equal(pts[0].t_ms, 0);
    /* A backwards sample is ignored. */
    reading(&h, "b1", 5, 1234);
    assert_int_equal(s->count, 100);
    history_free(&h);
}

static hist_event_t sensor_ev(const char *board, int32_t temp, uint32_t hum, uint32_t pa)
{
    hist_event_t e = {.is_sensor = true, .sensor = 0};

    snprintf(e.kind, sizeof(e.kind), "sensor");
    snprintf(e.board, sizeof(e.board), "%s", board);
    e.v.flags = HIST_HAS_TEMP | HIST_HAS_HUMIDITY | HIST_HAS_PRESSURE;
    e.v.temp_centi_c = temp;
    e.v.humidity_mpc = hum;
    e.v.pressure_pa = pa;
    return e;
}

static void test_filters(void **state)
{
    hist_filter_t *f = calloc(1, sizeof(*f));
    hist_event_t e = {0};

    (void)state;
    assert_true(hist_filter_pass(NULL, &e));
    f->n_boards = 1;
    snprintf(f->boards[0], sizeof(f->boards[0]), "b1");
    f->n_kinds = 2;
    snprintf(f->kinds[0], sizeof(f->kinds[0]), "button");
    snprintf(f->kinds[1], sizeof(f->kinds[1]), "sensor");
    snprintf(e.kind, sizeof(e.kind), "button");
    snprintf(e.board, sizeof(e.board), "b1");
    assert_true(hist_filter_pass(f, &e));
    snprintf(e.board, sizeof(e.board), "b2");
    assert_false(hist_filter_pass(f, &e));
    snprintf(e.board, sizeof(e.board), "b1");
    snprintf(e.kind, sizeof(e.kind), "log");
    assert_false(hist_filter_pass(f, &e));

    /* changes_only: more than 0.1 degC, 0.5 %RH or 10 Pa since the last one sent. */
    f->changes_only = true;
    e = sensor_ev("b1", 2000, 40000, 100000);
    assert_true(hist_filter_pass(f, &e)); /* the first is always sent */
    e = sensor_ev("b1", 2010, 40500, 100010);
    assert_false(hist_filter_pass(f, &e)); /* at the thresholds: not more */
    e = sensor_ev("b1", 2011, 40000, 100000);
    assert_true(hist_filter_pass(f, &e));
    e = sensor_ev("b1", 2011, 40501, 100000);
    assert_true(hist_filter_pass(f, &e));
    e = sensor_ev("b1", 2011, 40501, 99990);
    assert_false(hist_filter_pass(f, &e));
    e = sensor_ev("b1", 2011, 40501, 99989);
    assert_true(hist_filter_pass(f, &e));
    /* Slow drift: compared with the last one sent, not the last one seen. */
    e = sensor_ev("b1", 2017, 40501, 99989);
    assert_false(hist_filter_pass(f, &e));
    e = sensor_ev("b1", 2022, 40501, 99989);
    assert_true(hist_filter_pass(f, &e));
    /* Per sensor: sensor 1's first reading is sent. */
    e.sensor = 1;
    assert_true(hist_filter_pass(f, &e));
    /* A reading that turns into an error is a change. */
    e.v.status = 3;
    e.v.flags = 0;
    assert_true(hist_filter_pass(f, &e));
    hist_filter_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_wraps_and_keeps_the_last),
        cmocka_unit_test(test_seq_must_follow),
        cmocka_unit_test(test_reading_ring_wraps),
        cmocka_unit_test(test_budget_refuses_a_series),
        cmocka_unit_test(test_downsample_buckets),
        cmocka_unit_test(test_filters),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
