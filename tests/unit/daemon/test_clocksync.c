/*
 * Unit tests of clocksync with synthetic round trips: a simulated board clock (offset, skew,
 * rate changes, jumps, resets) sampled through a simulated line (RTT jitter, outliers); the
 * truth is known, so every mapped board time must lie within the bound the module reports.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clocksync.h"

/* The simulated board clock: board(h) = b_seg + (h - h_seg) * rate, in us. */
typedef struct sim {
    double h_seg, b_seg, rate;
    uint64_t rng;
    clocksync_t cs;
    int64_t last_board;
    int64_t h_last_send;
    int64_t worst_err;  /* largest reported bound of the checks */
    double worst_ratio; /* largest |true error| / bound */
} sim_t;

static uint32_t rnd(sim_t *s)
{
    /* xorshift64: deterministic */
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (uint32_t)(s->rng >> 16);
}

static double board_at(const sim_t *s, double h)
{
    return s->b_seg + (h - s->h_seg) * s->rate;
}

static void set_rate(sim_t *s, double h, double rate)
{
    s->b_seg = board_at(s, h);
    s->h_seg = h;
    s->rate = rate;
}

static void sim_start(sim_t *s, double ppm, double board_offset)
{
    memset(s, 0, sizeof(*s));
    s->rng = 0x9E3779B97F4A7C15ull;
    s->h_seg = 1e9; /* host monotonic 1000 s when the board booted... */
    s->b_seg = board_offset;
    s->rate = 1.0 + ppm * 1e-6;
    clocksync_init(&s->cs);
}

/* One heartbeat at host time h: request leg d1, answer leg d2 (us). Returns clocksync_add. */
static int round_trip(sim_t *s, double h, double d1, double d2, uint32_t res)
{
    double b = board_at(s, h + d1);
    clocksync_sample_t smp = {(int64_t)h, (int64_t)ceil(h + d1 + d2),
                              (int64_t)(floor(b / res) * res), res};
    s->h_last_send = (int64_t)h;
    return clocksync_add(&s->cs, &smp);
}

/* A jittery line: 80..400 us round trips, asymmetric. */
static int jitter_trip(sim_t *s, double h, uint32_t res)
{
    double d1 = 30 + rnd(s) % 200, d2 = 50 + rnd(s) % 150;
    return round_trip(s, h, d1, d2, res);
}

/* An event the board stamps at host time h (the truth), arriving lat us later. */
static void check_event(sim_t *s, double h, double lat, uint32_t res)
{
    int64_t board = (int64_t)(floor(board_at(s, h) / res) * res), host, err;
    assert_int_equal(clocksync_map_event(&s->cs, board, res, (int64_t)(h + lat), &host, &err), 0);
    double miss = fabs((double)host - h);
    if (miss > (double)err)
        fail_msg("event at %.0f: mapped %lld, off by %.1f us, bound %lld", h, (long long)host, miss,
                 (long long)err);
    if (err > s->worst_err)
        s->worst_err = err;
    if (miss / (double)err > s->worst_ratio)
        s->worst_ratio = miss / (double)err;
}

/* Heartbeats every second for n s from h0, events in between; returns the host time after.
 * skip: no events checked in the first second (a rate change no sample has seen yet is
 * beyond any bound: the documented assumption). */
static double run_ex(sim_t *s, double h0, int n, uint32_t res, bool skip)
{
    double h = h0;
    for (int i = 0; i < n; i++, h += 1e6) {
        jitter_trip(s, h, res);
        if (s->cs.samples >= 2 && !(skip && i == 0))
            for (int k = 0; k < 5; k++)
                check_event(s, h + 1000 + (rnd(s) % 998000), 100 + rnd(s) % 2000, res);
    }
    return h;
}

static double run(sim_t *s, double h0, int n, uint32_t res)
{
    return run_ex(s, h0, n, res, false);
}

static void check_drift(const sim_t *s, double ppm, double tol)
{
    clocksync_info_t in;
    clocksync_get_info(&s->cs, &in);
    assert_true(in.synced);
    if (fabs(in.drift_ppm - ppm) > tol)
        fail_msg("drift %.3f ppm, truth %.3f", in.drift_ppm, ppm);
}

static void test_skew_plus_200(void **state)
{
    (void)state;
    sim_t s;
    sim_start(&s, 200, 12345);
    run(&s, 1e9 + 5e6, 120, 1);
    check_drift(&s, 200, 0.5);
    /* Honest and useful: tight to a few hundred us on a jittery line. */
    assert_true(s.worst_err < 1000);
    clocksync_info_t in;
    clocksync_get_info(&s.cs, &in);
    assert_int_equal(in.samples, 120);
    /* offset: host time of board time 0 = 1e9 - 12345 / rate */
    assert_true(fabs(in.offset_us - (1e9 - 12345 / (1 + 200e-6))) < 300);
}

static void test_skew_minus_200(void **state)
{
    (void)state;
    sim_t s;
    sim_start(&s, -200, 0);
    run(&s, 1e9 + 2e6, 120, 1);
    check_drift(&s, -200, 0.5);
    assert_true(s.worst_err < 1000);
}

/* Before two samples there is no model: map says so; map_event gives the causal bound only
 * once a sample precedes the event. */
static void test_not_yet(void **state)
{
    (void)state;
    sim_t s;
    int64_t h, e, b;
    sim_start(&s, 50, 0);
    assert_int_equal(clocksync_map(&s.cs, 1000, 1, &h, &e), -EAGAIN);
    assert_int_equal(clocksync_map_event(&s.cs, 1000, 1, 1000, &h, &e), -EAGAIN);
    assert_int_equal(clocksync_unwrap(&s.cs, 5, 32, 1, 0, &b), -EAGAIN);
    jitter_trip(&s, 1e9 + 1e6, 1);
    assert_int_equal(clocksync_map(&s.cs, 1000, 1, &h, &e), -EAGAIN);
    check_event(&s, 1e9 + 1.5e6, 700, 1); /* causal: after the sample, before arrival */
}

/* Long round trips (a loaded host, a retry) are rejected; the bound still holds. */
static void test_outliers(void **state)
{
    (void)state;
    sim_t s;
    double h = 1e9 + 1e6;
    sim_start(&s, 150, 777);
    for (int i = 0; i < 100; i++, h += 1e6) {
        if (i > 10 && i % 7 == 0)
            round_trip(&s, h, 20000 + rnd(&s) % 5000, 80, 1); /* late, one-sided */
        else
            jitter_trip(&s, h, 1);
        if (s.cs.samples >= 2)
            check_event(&s, h + 500000, 300, 1);
    }
    assert_true(s.cs.rejected >= 10);
    check_drift(&s, 150, 1);
    assert_true(s.worst_err < 1000);
}

/* A reset: the board clock starts again from 0. A new epoch; the bound holds after it. */
static void test_reset_restarts(void **state)
{
    (void)state;
    sim_t s;
    int64_t host, err;
    sim_start(&s, 200, 5e6);
    double h = run(&s, 1e9 + 1e6, 40, 1);
    assert_int_equal(s.cs.restarts, 0);
    /* reset at h: board time 0, then -120 ppm (another board, say) */
    s.h_seg = h;
    s.b_seg = 0;
    s.rate = 1 - 120e-6;
    h += 300000;
    assert_int_equal(jitter_trip(&s, h, 1), 2);
    assert_int_equal(s.cs.restarts, 1);
    assert_int_equal(s.cs.samples, 1);
    assert_int_equal(clocksync_map(&s.cs, 400000, 1, &host, &err), -EAGAIN);
    run(&s, h + 1e6, 60, 1);
    check_drift(&s, -120, 0.5);
}

/* The owner says the board reset (it saw a new HELLO): a new epoch at once. */
static void test_restart_by_owner(void **state)
{
    (void)state;
    sim_t s;
    int64_t host, err;
    sim_start(&s, 10, 0);
    run(&s, 1e9 + 1e6, 10, 1);
    clocksync_restart(&s.cs);
    assert_int_equal(clocksync_map(&s.cs, 1, 1, &host, &err), -EAGAIN);
    assert_int_equal(s.cs.restarts, 1);
}

/* A forward jump of the board clock (10 s) without going backwards: a new epoch too. */
static void test_jump_forward(void **state)
{
    (void)state;
    sim_t s;
    sim_start(&s, -200, 0);
    double h = run(&s, 1e9 + 1e6, 30, 1);
    s.b_seg = board_at(&s, h) + 10e6;
    s.h_seg = h;
    assert_int_equal(jitter_trip(&s, h + 1e6, 1), 2);
    run(&s, h + 2e6, 30, 1);
    check_drift(&s, -200, 1);
}

/* The board clock leaps forward 1 s just before an event, before any heartbeat saw it: the
 * model maps the stamp into the future, after the event's arrival. Causality catches it (a
 * "miss") and bounds the event by the last heartbeat's send and the arrival. */
static void test_unseen_jump_caught_by_causality(void **state)
{
    (void)state;
    sim_t s;
    sim_start(&s, 100, 0);
    double h = run(&s, 1e9 + 1e6, 20, 1);
    s.b_seg = board_at(&s, h) + 1e6;
    s.h_seg = h;
    assert_int_equal(s.cs.misses, 0);
    check_event(&s, h - 1e6 + 400000, 300, 1); /* after the last heartbeat (at h - 1 s) */
    assert_int_equal(s.cs.misses, 1);
    assert_true(s.worst_err < 1e6);
}

/* A 1.1 board: only uptime_ms (1 ms resolution). Still honest, drift still good. */
static void test_ms_resolution(void **state)
{
    (void)state;
    sim_t s;
    sim_start(&s, 200, 0);
    run(&s, 1e9 + 1e6, 120, 1000);
    check_drift(&s, 200, 20);
    assert_true(s.worst_err < 3000);
}

/* The rate changes by 5 % (an emulator under load): the model is wrong for a while, the
 * causal interval keeps the answer honest. */
static void test_rate_change(void **state)
{
    (void)state;
    sim_t s;
    sim_start(&s, 0, 0);
    double h = run(&s, 1e9 + 1e6, 30, 1);
    set_rate(&s, h, 0.95);
    h = run_ex(&s, h, 30, 1, true);
    set_rate(&s, h, 0.40); /* and a big one: a new epoch, never a lie */
    h = run_ex(&s, h, 30, 1, true);
    assert_true(s.cs.restarts >= 1);
    /* A rate that keeps changing a little (+-0.5 % around its mean, every second), like
     * rp2040js under load: once the window has seen it vary, the bound covers it. */
    clocksync_restart(&s.cs);
    for (int i = 0; i < 90; i++) {
        set_rate(&s, h, 0.4 * (1 + 0.005 * ((int)(rnd(&s) % 3) - 1)));
        h = run_ex(&s, h, 1, 1, i < 5);
    }
}

/* 32-bit us stamps and ms stamps widen to the epoch's board time, across a wrap. */
static void test_unwrap(void **state)
{
    (void)state;
    sim_t s;
    int64_t b;
    sim_start(&s, 200, 4294967296.0 - 3e6); /* 3 s before the 32-bit us counter wraps */
    double h = run(&s, 1e9 + 1e6, 10, 1);   /* now 7 s after it */
    int64_t truth = (int64_t)board_at(&s, h - 500000);
    assert_int_equal(clocksync_unwrap(&s.cs, (uint32_t)truth, 32, 1, (int64_t)h, &b), 0);
    assert_true(b == truth);
    int64_t before = (int64_t)board_at(&s, h - 8e6); /* before the wrap */
    assert_int_equal(clocksync_unwrap(&s.cs, (uint32_t)before, 32, 1, (int64_t)h, &b), 0);
    assert_true(b == before);
    assert_int_equal(clocksync_unwrap(&s.cs, (uint32_t)(truth / 1000), 32, 1000, (int64_t)h, &b),
                     0);
    assert_true(b == truth / 1000 * 1000);
}

static void test_bad_sample(void **state)
{
    (void)state;
    clocksync_t c;
    clocksync_sample_t back = {1000, 900, 5, 1}, neg = {1000, 1100, -5, 1};
    clocksync_init(&c);
    assert_int_equal(clocksync_add(&c, &back), -EINVAL);
    assert_int_equal(clocksync_add(&c, &neg), -EINVAL);
    assert_int_equal(c.samples, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skew_plus_200),
        cmocka_unit_test(test_skew_minus_200),
        cmocka_unit_test(test_not_yet),
        cmocka_unit_test(test_outliers),
        cmocka_unit_test(test_reset_restarts),
        cmocka_unit_test(test_restart_by_owner),
        cmocka_unit_test(test_jump_forward),
        cmocka_unit_test(test_unseen_jump_caught_by_causality),
        cmocka_unit_test(test_ms_resolution),
        cmocka_unit_test(test_rate_change),
        cmocka_unit_test(test_unwrap),
        cmocka_unit_test(test_bad_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
