/*
 * test_sched.c - the scheduler with fake time: ordering, fairness, timeouts, cancellation,
 * queues, time-base wrap-around, events set from "interrupts", overrun reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_hal.h"
#include "sched.h"

/* Built twice: as the product builds the scheduler, and with CONFIG_SCHED_RUN_STATS=0
 * (unit.core.sched_nostats), where every statistic reads 0 and nothing is an overrun.
 * STAT(x, y): x with the statistics, y without them. */
#if CONFIG_SCHED_RUN_STATS
#define STAT(with, without) (with)
#else
#define STAT(with, without) (without)
#endif

static char trace[256];
static size_t trace_len;

static void mark(char c)
{
    if (trace_len + 1 < sizeof(trace)) {
        trace[trace_len++] = c;
        trace[trace_len] = '\0';
    }
}

static int setup(void **state)
{
    (void)state;
    fake_hal_reset(1000);
    sched_init();
    trace_len = 0;
    trace[0] = '\0';
    return 0;
}

/* ---- sleepers: wake in deadline order, not creation order ---- */
static sched_task_t ta, tb, tc;
static sched_ret_t sleeper_a(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_SLEEP_US(t, 300);
    mark('a');
    TASK_END(t);
}
static sched_ret_t sleeper_b(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_SLEEP_US(t, 100);
    mark('b');
    TASK_END(t);
}
static sched_ret_t sleeper_c(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_SLEEP_US(t, 200);
    mark('c');
    TASK_END(t);
}

static void test_sleep_order(void **state)
{
    (void)state;
    sched_task_add(&ta, sleeper_a, "a");
    sched_task_add(&tb, sleeper_b, "b");
    sched_task_add(&tc, sleeper_c, "c");
    fake_run_for(1000);
    assert_string_equal(trace, "bca");
    assert_int_equal(ta.state, SCHED_DONE);
    /* each woke exactly at its deadline: no lateness with fake time */
    assert_int_equal(sched_task_stats(tb.id)->max_late_us, 0);
    assert_int_equal(sched_task_stats(tb.id)->runs, STAT(2u, 0u));
}

/* ---- fairness: yielding tasks alternate round-robin ---- */
static int count_x, count_y;
static sched_ret_t yielder_x(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (count_x = 0; count_x < 5; count_x++) {
        mark('x');
        TASK_YIELD(t);
    }
    TASK_END(t);
}
static sched_ret_t yielder_y(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (count_y = 0; count_y < 5; count_y++) {
        mark('y');
        TASK_YIELD(t);
    }
    TASK_END(t);
}

static void test_round_robin(void **state)
{
    (void)state;
    sched_task_add(&ta, yielder_x, "x");
    sched_task_add(&tb, yielder_y, "y");
    fake_run_for(10);
    assert_string_equal(trace, "xyxyxyxyxy");
}

/* ---- events: wait with timeout, ISR set, auto-clear wakes one ---- */
static sched_event_t ev;
static int woke_timeout;
static sched_ret_t waiter(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_AWAIT(t, &ev, 5000);
    woke_timeout = sched_timed_out(t) ? 1 : 0;
    mark(woke_timeout ? 'T' : 'E');
    TASK_END(t);
}

static void test_event_timeout(void **state)
{
    (void)state;
    sched_event_init(&ev, true);
    sched_task_add(&ta, waiter, "w");
    fake_run_for(4999);
    assert_string_equal(trace, "");
    fake_run_for(1);
    assert_string_equal(trace, "T");
}

static void test_event_from_isr(void **state)
{
    (void)state;
    sched_event_init(&ev, true);
    sched_task_add(&ta, waiter, "w");
    fake_run_for(100);
    sched_event_set(&ev); /* what an interrupt handler does */
    assert_true(sched_has_work());
    fake_run_for(1);
    assert_string_equal(trace, "E");
    assert_false(sched_event_is_set(&ev)); /* consumed */
    /* the task left the timer list: nothing fires later */
    fake_run_for(10000);
    assert_string_equal(trace, "E");
}

static void test_auto_clear_wakes_one_level_wakes_all(void **state)
{
    (void)state;
    sched_event_init(&ev, true);
    sched_task_add(&ta, waiter, "w1");
    sched_task_add(&tb, waiter, "w2");
    fake_run_for(10);
    sched_event_set(&ev);
    fake_run_for(10);
    assert_string_equal(trace, "E");
    fake_run_for(6000);
    assert_string_equal(trace, "ET");

    setup(NULL);
    sched_event_init(&ev, false);
    sched_task_add(&ta, waiter, "w1");
    sched_task_add(&tb, waiter, "w2");
    fake_run_for(10);
    sched_event_set(&ev);
    fake_run_for(10);
    assert_string_equal(trace, "EE");
    assert_true(sched_event_is_set(&ev));
}

/* ---- wrap-around: deadlines across 2^32 keep their order ---- */
static void test_wraparound(void **state)
{
    (void)state;
    fake_hal_reset(0xffffff00u);         /* 256 us before the wrap */
    sched_task_add(&ta, sleeper_a, "a"); /* wakes at 0x0000002c, after the wrap */
    sched_task_add(&tb, sleeper_b, "b"); /* 0xffffff64, before */
    sched_task_add(&tc, sleeper_c, "c"); /* 0xffffffc8, before */
    fake_run_for(1000);
    assert_string_equal(trace, "bca");
    assert_true(fake_now < 0x1000u);
}

/* ---- cancellation: the task resumes at its cleanup point ---- */
static sched_ret_t cancellable(sched_task_t *t)
{
    TASK_BEGIN(t);
    mark('s');
    TASK_SLEEP_MS(t, 1000);
    mark('!'); /* never reached when cancelled */
    TASK_CLEANUP(t);
    mark('c');
    TASK_END(t);
}

static void test_cancel(void **state)
{
    (void)state;
    sched_task_add(&ta, cancellable, "k");
    fake_run_for(100);
    assert_string_equal(trace, "s");
    sched_cancel(&ta);
    fake_run_for(1);
    assert_string_equal(trace, "sc");
    assert_int_equal(ta.state, SCHED_DONE);
    fake_run_for(2000000);
    assert_string_equal(trace, "sc");
    /* cancelling a finished task is harmless; re-adding restarts it */
    sched_cancel(&ta);
    sched_task_add(&ta, cancellable, "k");
    fake_run_for(1);
    assert_string_equal(trace, "scs");
}

static void test_cancel_waiting_task(void **state)
{
    (void)state;
    sched_event_init(&ev, true);
    sched_task_add(&ta, waiter, "w"); /* no cleanup point: finishes at once */
    fake_run_for(10);
    sched_cancel(&ta);
    fake_run_for(1);
    assert_int_equal(ta.state, SCHED_DONE);
    assert_string_equal(trace, "");
    fake_run_for(10000); /* its timeout no longer fires */
    assert_string_equal(trace, "");
}

/* ---- queues: copy semantics, full/empty, blocking get with timeout ---- */
static uint32_t qstore[3];
static sched_queue_t q;
static uint32_t got[8];
static int ngot;
static sched_ret_t consumer(sched_task_t *t)
{
    static uint32_t v;
    TASK_BEGIN(t);
    for (;;) {
        TASK_QUEUE_GET(t, &q, &v, 10000);
        if (sched_timed_out(t)) {
            mark('T');
            break;
        }
        got[ngot++] = v;
    }
    TASK_END(t);
}

static void test_queue_full_empty(void **state)
{
    (void)state;
    sched_queue_init(&q, qstore, sizeof(uint32_t), 3);
    uint32_t v = 1, out;
    assert_false(sched_queue_get(&q, &out));
    for (v = 1; v <= 3; v++)
        assert_true(sched_queue_put(&q, &v));
    assert_false(sched_queue_put(&q, &v)); /* full */
    v = 99;                                /* the queue holds copies */
    assert_true(sched_queue_get(&q, &out));
    assert_int_equal(out, 1);
    assert_true(sched_queue_put(&q, &v));
    assert_true(sched_queue_get(&q, &out));
    assert_int_equal(out, 2);
    assert_true(sched_queue_get(&q, &out));
    assert_int_equal(out, 3);
    assert_true(sched_queue_get(&q, &out));
    assert_int_equal(out, 99);
    assert_false(sched_queue_get(&q, &out));
}

static void test_queue_blocking_get(void **state)
{
    (void)state;
    ngot = 0;
    sched_queue_init(&q, qstore, sizeof(uint32_t), 3);
    sched_task_add(&ta, consumer, "c");
    fake_run_for(100);
    uint32_t v = 7;
    sched_queue_put(&q, &v);
    v = 8;
    sched_queue_put(&q, &v);
    fake_run_for(100);
    assert_int_equal(ngot, 2);
    assert_int_equal(got[0], 7);
    assert_int_equal(got[1], 8);
    fake_run_for(9800); /* 10 ms after the last element arrived: not yet */
    assert_string_equal(trace, "");
    fake_run_for(200);
    assert_string_equal(trace, "T");
}

/* ---- overrun: a task that runs past its budget is reported ---- */
static int faults;
static uint8_t fault_kind, fault_task;
static void on_fault(uint8_t kind, uint8_t task, uint32_t detail)
{
    (void)detail;
    faults++;
    fault_kind = kind;
    fault_task = task;
}
static sched_ret_t hog(sched_task_t *t)
{
    TASK_BEGIN(t);
    fake_now += 5000; /* "runs" 5 ms without yielding */
    TASK_YIELD(t);
    TASK_END(t);
}

static void test_overrun_reported(void **state)
{
    (void)state;
    faults = 0;
    sched_set_fault_cb(on_fault);
    sched_task_add(&ta, sleeper_a, "a");
    sched_task_add(&tb, hog, "hog");
    sched_task_set_budget(&tb, 1000);
    fake_run_for(10);
    assert_int_equal(faults, STAT(1, 0));
    if (STAT(1, 0)) {
        assert_int_equal(fault_kind, PROTO_FAULT_TASK_OVERRUN);
        assert_int_equal(fault_task, tb.id);
    }
    assert_int_equal(sched_global_stats()->overruns, STAT(1u, 0u));
    assert_int_equal(sched_task_stats(tb.id)->max_us, STAT(5000u, 0u));
    /* the sleeper, due at +300 us, ran ~4.7 ms late because of the hog: measured */
    fake_run_for(10000);
    uint32_t late = sched_task_stats(ta.id)->max_late_us;
    assert_true(STAT(late >= 4700u && late <= 5000u, late == 0u));
}

static sched_ret_t ticker(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;)
        TASK_SLEEP_MS(t, 10);
    TASK_END(t);
}

/* The loop feeds the watchdog on a time basis (every quarter period), not on every step:
 * 2 s of a 10 ms ticker (200 runs) is 8 feeds of a 1 s watchdog, not 200. */
static void test_watchdog_fed_by_loop(void **state)
{
    (void)state;
    sched_task_add(&ta, ticker, "tick");
    fake_feeds = 0;
    fake_run_for(2000000);
    uint32_t runs = sched_task_stats(ta.id)->runs;
    assert_true(STAT(runs >= 200u, runs == 0u));
    assert_true(sched_task_stats(ta.id)->total_us <= STAT(1000u, 0u));
    assert_true(fake_feeds >= 2000u / (CONFIG_WATCHDOG_MS / 4u) - 1u);
    assert_true(fake_feeds <= 2000u / (CONFIG_WATCHDOG_MS / 4u) + 1u);
}

/* The budget check rides on the max-run update (sched_task_t.watch_us): every run over the
 * budget is still reported, not only the ones that set a new maximum. */
static int hog_runs;
static sched_ret_t steady_hog(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (hog_runs = 0; hog_runs < 3; hog_runs++) {
        fake_now += 1500; /* the same 1.5 ms every time */
        TASK_SLEEP_MS(t, 10);
    }
    TASK_END(t);
}

static void test_every_overrun_reported(void **state)
{
    (void)state;
    faults = 0;
    sched_set_fault_cb(on_fault);
    sched_task_add(&ta, steady_hog, "hog");
    sched_task_set_budget(&ta, 1000);
    fake_run_for(100000);
    assert_int_equal(faults, STAT(3, 0));
    assert_int_equal(sched_task_stats(ta.id)->max_us, STAT(1500u, 0u));
    assert_int_equal(sched_task_stats(ta.id)->runs, STAT(4u, 0u)); /* 3 overruns + the end */
    assert_int_equal(sched_task_stats(ta.id)->total_us, STAT(4500u, 0u));
    assert_int_equal(hog_runs, 3); /* (and the task ran as it does with them) */
}

/* Lowering the budget after runs took place takes effect at once. */
static sched_ret_t short_runs(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        fake_now += 300;
        TASK_SLEEP_MS(t, 10);
    }
    TASK_END(t);
}

static void test_budget_lowered_later(void **state)
{
    (void)state;
    faults = 0;
    sched_set_fault_cb(on_fault);
    sched_task_add(&ta, short_runs, "short");
    fake_run_for(50000);
    assert_int_equal(faults, 0);
    sched_task_set_budget(&ta, 200);
    fake_run_for(30000);
    assert_int_equal(faults, STAT(3, 0));
}

/* A timer-woken task's waits count from the deadline that woke it: a periodic task delayed
 * by another task's long run keeps its grid (no drift), and its lateness is measured. */
static uint32_t tick_at[8];
static int nticks;
static sched_ret_t grid_ticker(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (nticks = 0; nticks < 8; nticks++) {
        tick_at[nticks] = fake_now;
        TASK_SLEEP_MS(t, 10);
    }
    TASK_END(t);
}
static sched_ret_t late_hog(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_SLEEP_US(t, 19000);
    fake_now += 3000; /* runs 19..22 ms: the 20 ms tick is 2 ms late */
    TASK_END(t);
}

static void test_periodic_keeps_grid(void **state)
{
    (void)state;
    sched_task_add(&ta, grid_ticker, "tick");
    sched_task_add(&tb, late_hog, "hog");
    fake_run_for(100000);
    assert_int_equal(nticks, 8);
    uint32_t t0 = tick_at[0];
    assert_int_equal(tick_at[1] - t0, 10000);
    assert_int_equal(tick_at[2] - t0, 22000); /* late */
    assert_int_equal(tick_at[3] - t0, 30000); /* back on the grid */
    assert_int_equal(tick_at[7] - t0, 70000);
    assert_int_equal(sched_task_stats(ta.id)->max_late_us, STAT(2000u, 0u));
}

static void test_registry_full(void **state)
{
    (void)state;
    static sched_task_t many[CONFIG_MAX_TASKS + 1];
    for (int i = 0; i < CONFIG_MAX_TASKS; i++)
        assert_int_equal(sched_task_add(&many[i], sleeper_a, "m"), i);
    assert_int_equal(sched_task_add(&many[CONFIG_MAX_TASKS], sleeper_a, "m"), -1);
}

/* ---- gather: wait for several tasks to finish (asyncio.gather) ---- */
static sched_task_t tg;
static sched_task_t *const workers[3] = {&ta, &tb, &tc};
static uint32_t gathered_at;
static bool gather_timed_out;
static uint32_t gather_timeout_us;
static sched_ret_t gatherer(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_GATHER(t, workers, 3, gather_timeout_us);
    gather_timed_out = sched_timed_out(t);
    gathered_at = fake_now;
    mark('G');
    TASK_END(t);
}

static void test_gather(void **state)
{
    (void)state;
    gather_timeout_us = SCHED_FOREVER;
    sched_task_add(&ta, sleeper_a, "a"); /* done at +300 */
    sched_task_add(&tb, sleeper_b, "b"); /* +100 */
    sched_task_add(&tc, sleeper_c, "c"); /* +200 */
    sched_task_add(&tg, gatherer, "g");
    fake_run_for(1000);
    assert_string_equal(trace, "bcaG");
    assert_false(gather_timed_out);
    assert_int_equal(gathered_at, 1000 + 300);

    /* with a timeout shorter than the slowest: timed out, the others still run */
    setup(NULL);
    gather_timeout_us = 80;
    sched_task_add(&ta, sleeper_a, "a");
    sched_task_add(&tb, sleeper_b, "b");
    sched_task_add(&tc, sleeper_c, "c");
    sched_task_add(&tg, gatherer, "g");
    fake_run_for(1000);
    assert_true(gather_timed_out);
    assert_int_equal(gathered_at, 1000 + 80);
    assert_string_equal(trace, "Gbca");

    /* the timeout restarts whenever one of them finishes: 150 is enough for gaps of 100 */
    setup(NULL);
    gather_timeout_us = 150;
    sched_task_add(&ta, sleeper_a, "a");
    sched_task_add(&tb, sleeper_b, "b");
    sched_task_add(&tc, sleeper_c, "c");
    sched_task_add(&tg, gatherer, "g");
    fake_run_for(1000);
    assert_false(gather_timed_out);
    assert_string_equal(trace, "bcaG");

    /* a cancelled task counts as finished */
    setup(NULL);
    gather_timeout_us = SCHED_FOREVER;
    sched_task_add(&ta, cancellable, "a"); /* sleeps 1 s */
    sched_task_add(&tb, sleeper_b, "b");
    sched_task_add(&tc, sleeper_c, "c");
    sched_task_add(&tg, gatherer, "g");
    fake_run_for(500);
    assert_string_equal(trace, "sbc");
    sched_cancel(&ta);
    fake_run_for(1);
    assert_string_equal(trace, "sbccG"); /* a's cleanup ('c'), then the gather */
}

/* ---- Lock: the seeds' shared resource (three tasks, one at a time) ---- */
static sched_lock_t lock;
static int holders, max_holders;
static struct locker {
    sched_task_t task;
    char id;
    int rounds;
} lk1 = {.id = '1'}, lk2 = {.id = '2'}, lk3 = {.id = '3'};
static sched_ret_t locker_fn(sched_task_t *t)
{
    struct locker *me = (struct locker *)(void *)t;
    TASK_BEGIN(t);
    for (me->rounds = 0; me->rounds < 3; me->rounds++) {
        TASK_LOCK(t, &lock, SCHED_FOREVER);
        holders++;
        max_holders = holders > max_holders ? holders : max_holders;
        mark(me->id);
        TASK_SLEEP_US(t, 500); /* holds it across a wait */
        holders--;
        sched_lock_release(&lock);
        TASK_YIELD(t);
    }
    TASK_END(t);
}
static bool lock_timed_out;
static sched_ret_t impatient(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_LOCK(t, &lock, 200);
    lock_timed_out = sched_timed_out(t);
    mark(lock_timed_out ? 'T' : 'L');
    TASK_END(t);
}

static void test_lock(void **state)
{
    (void)state;
    holders = max_holders = 0;
    sched_lock_init(&lock);
    sched_task_add(&lk1.task, locker_fn, "l1");
    sched_task_add(&lk2.task, locker_fn, "l2");
    sched_task_add(&lk3.task, locker_fn, "l3");
    fake_run_for(100000);
    assert_int_equal(max_holders, 1);
    assert_string_equal(trace, "123123123");
    assert_false(sched_lock_is_held(&lock));

    /* a waiter with a timeout gives up while another holds it */
    setup(NULL);
    sched_lock_init(&lock);
    assert_true(sched_lock_try(&lock, &ta)); /* held by "someone else" */
    sched_task_add(&tb, impatient, "i");
    fake_run_for(199);
    assert_string_equal(trace, "");
    fake_run_for(1);
    assert_string_equal(trace, "T");
    /* and gets it at once when it is free */
    sched_lock_release(&lock);
    sched_task_add(&tb, impatient, "i");
    fake_run_for(1);
    assert_string_equal(trace, "TL");
}

/* ---- wait for any of several events ---- */
static sched_event_t ev_a, ev_b;
static sched_event_t *const any_members[2] = {&ev_a, &ev_b};
static sched_any_t any;
static int which_seen[8];
static uint32_t which_at[8];
static int nwhich;
static sched_ret_t any_waiter(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (nwhich = 0; nwhich < 4; nwhich++) {
        TASK_AWAIT_ANY(t, &any, 1000);
        which_seen[nwhich] = sched_timed_out(t) ? -1 : any.which;
        which_at[nwhich] = fake_now;
        if (any.which == 1)
            sched_event_clear(&ev_b); /* a level event (asyncio.Event): the waiter clears it */
    }
    TASK_END(t);
}

static void test_await_any(void **state)
{
    (void)state;
    sched_event_init(&ev_a, true);  /* auto-clear */
    sched_event_init(&ev_b, false); /* level */
    sched_any_init(&any, any_members, 2);
    sched_task_add(&ta, any_waiter, "any");
    fake_run_for(100);
    sched_event_set(&ev_b); /* from an "interrupt" */
    fake_run_for(1);
    assert_int_equal(nwhich, 1);
    assert_int_equal(which_seen[0], 1);
    fake_run_for(100);
    sched_event_set(&ev_a);
    fake_run_for(1);
    assert_int_equal(which_seen[1], 0);
    assert_false(sched_event_is_set(&ev_a)); /* auto-clear: consumed */
    uint32_t t0 = fake_now;
    fake_run_for(1500); /* nothing: times out after 1000 */
    assert_int_equal(which_seen[2], -1);
    assert_int_equal(which_at[2] - t0, 1000 - 1);
    /* already set before the wait: no waiting at all */
    sched_event_set(&ev_a);
    fake_run_for(1000);
    assert_int_equal(nwhich, 4);
    assert_int_equal(which_seen[3], 0);
}

/* ---- retriggerable delay / software watchdog (Delay_ms) ---- */
static sched_delay_t dly;
static int dly_cbs;
static uint32_t dly_cb_at;
static void on_expiry(sched_delay_t *d)
{
    (void)d;
    dly_cbs++;
    dly_cb_at = fake_now;
}

static void test_delay_retrigger(void **state)
{
    (void)state;
    dly_cbs = 0;
    assert_true(sched_delay_init(&dly, "dly", on_expiry) >= 0);
    fake_run_for(10);
    assert_false(sched_delay_running(&dly));
    uint32_t t0 = fake_now;
    sched_delay_trigger(&dly, 1000);
    fake_run_for(500);
    assert_true(sched_delay_running(&dly));
    sched_delay_trigger(&dly, 1000); /* "kicked" at +500: now expires at +1500 */
    fake_run_for(999);
    assert_int_equal(dly_cbs, 0);
    assert_true(sched_delay_running(&dly));
    fake_run_for(1);
    assert_int_equal(dly_cbs, 1);
    assert_int_equal(dly_cb_at - t0, 1500);
    assert_false(sched_delay_running(&dly));
    assert_true(sched_event_is_set(&dly.expired));
    assert_int_equal(dly.expiries, 1);
    /* stopped before it expires: no callback, not running */
    sched_delay_trigger(&dly, 300);
    fake_run_for(100);
    sched_delay_stop(&dly);
    fake_run_for(1000);
    assert_int_equal(dly_cbs, 1);
    assert_false(sched_delay_running(&dly));
    /* a software watchdog: kicked every 400 us for 4 ms never expires, then it does */
    for (int i = 0; i < 10; i++) {
        sched_delay_trigger(&dly, 500);
        fake_run_for(400);
    }
    assert_int_equal(dly_cbs, 1);
    fake_run_for(100);
    assert_int_equal(dly_cbs, 2);
}

/* ---- the event's waiter record (O(1) set -> task) ----
 * A set marks only the event's last waiter; an event that two tasks wait on at once is
 * "shared" and every set of it looks at every task. These cases are what the record must not
 * get wrong: a record overwritten while its first waiter still waits, a record left by a task
 * that now waits on something else, several marks at once, and a task that its interrupt
 * keeps waking next to another marked one. */
static sched_event_t ev2;
static int got_a, got_b;
static sched_ret_t ev_waiter_a(sched_task_t *t) /* waits on ev once */
{
    TASK_BEGIN(t);
    TASK_AWAIT(t, &ev, SCHED_FOREVER);
    got_a++;
    TASK_END(t);
}
static sched_ret_t ev_waiter_b_timed(sched_task_t *t) /* waits on ev with a timeout, for good */
{
    TASK_BEGIN(t);
    for (;;) {
        TASK_AWAIT(t, &ev, 300);
        if (!sched_timed_out(t))
            got_b++;
    }
    TASK_END(t);
}

/* B's wait overwrote A's record while A still waits: the event is shared, both get their
 * sets (before the record, every set scanned; without the shared mark, A would never wake). */
static void test_waiter_record_overwritten(void **state)
{
    (void)state;
    got_a = got_b = 0;
    sched_event_init(&ev, true);
    sched_task_add(&ta, ev_waiter_a, "a");
    sched_task_add(&tb, ev_waiter_b_timed, "b");
    fake_run_for(10); /* both wait on ev; b's record is the last */
    for (int i = 0; i < 6; i++) {
        sched_event_set(&ev); /* an "interrupt": one waiter per set */
        fake_run_for(5);
    }
    assert_int_equal(got_a, 1); /* the first set: the scan is in registry order */
    assert_int_equal(got_b, 5);
}

/* A's record on ev stays after A moved on to ev2; B then waits on ev: ev is not shared (A is
 * not waiting on it) and B gets ev's set; A still gets ev2's. */
static sched_ret_t moves_on(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_AWAIT(t, &ev, 0); /* only looks: the record says a */
    for (;;) {
        TASK_AWAIT(t, &ev2, SCHED_FOREVER);
        mark('2');
    }
    TASK_END(t);
}
static sched_ret_t ev_once(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_AWAIT(t, &ev, SCHED_FOREVER);
    mark('1');
    TASK_END(t);
}

static void test_waiter_record_stale(void **state)
{
    (void)state;
    sched_event_init(&ev, true);
    sched_event_init(&ev2, true);
    sched_task_add(&ta, moves_on, "a");
    fake_run_for(10);
    sched_task_add(&tb, ev_once, "b");
    fake_run_for(10);
    sched_event_set(&ev);
    fake_run_for(5);
    assert_string_equal(trace, "1");
    sched_event_set(&ev2);
    fake_run_for(5);
    assert_string_equal(trace, "12");
    assert_false(sched_event_is_set(&ev));
}

/* A task that waits on the same event again skips the registration (t->wait == ev). That is
 * only right while the record is still its own: here B takes ev's record while A sleeps (A is
 * not waiting on ev, so ev does not become shared), then A waits on ev again and must get the
 * next set at once, not at its timeout. Likewise after ev is initialised again. */
static uint32_t a_woke_at;
static sched_ret_t waits_sleeps_waits(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_AWAIT(t, &ev, 100); /* times out at +100 */
    TASK_SLEEP_US(t, 50);
    TASK_AWAIT(t, &ev, 10000);
    a_woke_at = fake_now;
    mark(sched_timed_out(t) ? 't' : 'A');
    TASK_END(t);
}
static sched_ret_t takes_record(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_SLEEP_US(t, 120); /* while A sleeps */
    TASK_AWAIT(t, &ev, 0); /* only looks: the record is B's now */
    mark('B');
    TASK_END(t);
}

static void test_waiter_record_taken_back(void **state)
{
    (void)state;
    sched_event_init(&ev, true);
    sched_task_add(&ta, waits_sleeps_waits, "a");
    sched_task_add(&tb, takes_record, "b");
    uint32_t t0 = fake_now;
    fake_run_for(200);
    assert_string_equal(trace, "B");
    sched_event_set(&ev); /* an "interrupt" */
    fake_run_for(5);
    assert_string_equal(trace, "BA");
    assert_true(a_woke_at - t0 < 300);
}

static void test_waiter_record_after_event_init(void **state)
{
    (void)state;
    sched_event_init(&ev, true);
    sched_task_add(&ta, waits_sleeps_waits, "a");
    uint32_t t0 = fake_now;
    fake_run_for(120);           /* A timed out once and sleeps */
    sched_event_init(&ev, true); /* the record is gone */
    fake_run_for(80);
    sched_event_set(&ev);
    fake_run_for(5);
    assert_string_equal(trace, "A");
    assert_true(a_woke_at - t0 < 300);
}

/* Three tasks marked by one "interrupt", a fourth already ready: all run, each once. */
static sched_event_t evs3[3];
static sched_ret_t own_event(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        TASK_AWAIT(t, &evs3[t == &ta ? 0 : t == &tb ? 1 : 2], SCHED_FOREVER);
        mark(t == &ta ? 'a' : t == &tb ? 'b' : 'c');
    }
    TASK_END(t);
}

static void test_several_marks(void **state)
{
    (void)state;
    static sched_task_t td;
    for (int i = 0; i < 3; i++)
        sched_event_init(&evs3[i], true);
    sched_task_add(&ta, own_event, "a");
    sched_task_add(&tb, own_event, "b");
    sched_task_add(&tc, own_event, "c");
    fake_run_for(10);
    sched_event_set(&evs3[2]);
    sched_event_set(&evs3[0]);
    sched_event_set(&evs3[1]);
    fake_run_for(5);
    assert_int_equal(strlen(trace), 3);
    assert_non_null(strchr(trace, 'a'));
    assert_non_null(strchr(trace, 'b'));
    assert_non_null(strchr(trace, 'c'));
    /* with a task ready (the FIFO path) */
    sched_task_add(&td, sleeper_b, "d");
    sched_event_set(&evs3[1]);
    fake_run_for(5);
    assert_string_equal(trace + 3, "b");
    fake_run_for(200);
    assert_string_equal(trace + 3, "bb"); /* then d, the sleeper, marks b too */
}

/* A task whose interrupt fires again after each of its runs must not keep another marked task
 * from running: the other is queued before the first can run again. */
static int self_runs;
static sched_ret_t rewoken(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        TASK_AWAIT(t, &ev, SCHED_FOREVER);
        self_runs++;
        mark('s');
    }
    TASK_END(t);
}
static sched_ret_t ev2_waiter(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_AWAIT(t, &ev2, SCHED_FOREVER);
    mark('2');
    TASK_END(t);
}

static void test_rewoken_task_does_not_starve(void **state)
{
    (void)state;
    self_runs = 0;
    sched_event_init(&ev, true);
    sched_event_init(&ev2, true);
    sched_task_add(&ta, rewoken, "s");
    sched_task_add(&tb, ev2_waiter, "2");
    fake_run_for(10);
    sched_event_set(&ev2);
    for (int i = 0; i < 5 && !strchr(trace, '2'); i++) {
        sched_event_set(&ev); /* its interrupt, again and again; marked last: looked at first */
        (void)sched_poll();
    }
    assert_string_equal(trace, "s2");
    assert_int_equal(self_runs, 1);
}

/* ---- sched_task_wake ends a sleep early; a sleep's request is clamped by the dispatcher ---- */
static uint32_t woke_at;
static sched_ret_t long_sleeper(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_SLEEP_MS(t, 1000);
    woke_at = fake_now;
    TASK_SLEEP_US(t, 0xfffffff0u); /* more than SCHED_MAX_WAIT_US: clamped, not "in the past" */
    woke_at = fake_now;
    TASK_END(t);
}
static sched_ret_t waker(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_SLEEP_US(t, 100);
    sched_task_wake(&tb); /* waits on an event: not a sleeper, nothing happens */
    sched_task_wake(&ta);
    TASK_END(t);
}

static void test_task_wake(void **state)
{
    (void)state;
    woke_at = 0;
    sched_event_init(&ev2, true); /* never set: tb waits for good */
    sched_task_add(&ta, long_sleeper, "sleep");
    sched_task_add(&tb, ev2_waiter, "ev");
    sched_task_add(&tc, waker, "waker");
    uint32_t t0 = fake_now;
    fake_run_for(5000);
    assert_int_equal(woke_at - t0, 100); /* not 1 s */
    assert_int_equal(tb.state, SCHED_WAITING);
    assert_string_equal(trace, "");
    uint32_t t1 = woke_at;
    fake_run_for(1000000);
    assert_int_equal(woke_at, t1); /* still asleep: its second sleep did not end at once */
    assert_int_equal(ta.state, SCHED_SLEEPING);
    assert_true(ta.deadline - t1 == SCHED_MAX_WAIT_US);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_sleep_order, setup),
        cmocka_unit_test_setup(test_round_robin, setup),
        cmocka_unit_test_setup(test_event_timeout, setup),
        cmocka_unit_test_setup(test_event_from_isr, setup),
        cmocka_unit_test_setup(test_auto_clear_wakes_one_level_wakes_all, setup),
        cmocka_unit_test_setup(test_wraparound, setup),
        cmocka_unit_test_setup(test_cancel, setup),
        cmocka_unit_test_setup(test_cancel_waiting_task, setup),
        cmocka_unit_test_setup(test_queue_full_empty, setup),
        cmocka_unit_test_setup(test_queue_blocking_get, setup),
        cmocka_unit_test_setup(test_overrun_reported, setup),
        cmocka_unit_test_setup(test_watchdog_fed_by_loop, setup),
        cmocka_unit_test_setup(test_every_overrun_reported, setup),
        cmocka_unit_test_setup(test_budget_lowered_later, setup),
        cmocka_unit_test_setup(test_periodic_keeps_grid, setup),
        cmocka_unit_test_setup(test_registry_full, setup),
        cmocka_unit_test_setup(test_gather, setup),
        cmocka_unit_test_setup(test_lock, setup),
        cmocka_unit_test_setup(test_await_any, setup),
        cmocka_unit_test_setup(test_delay_retrigger, setup),
        cmocka_unit_test_setup(test_waiter_record_overwritten, setup),
        cmocka_unit_test_setup(test_waiter_record_stale, setup),
        cmocka_unit_test_setup(test_waiter_record_taken_back, setup),
        cmocka_unit_test_setup(test_waiter_record_after_event_init, setup),
        cmocka_unit_test_setup(test_several_marks, setup),
        cmocka_unit_test_setup(test_rewoken_task_does_not_starve, setup),
        cmocka_unit_test_setup(test_task_wake, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
