/*
 * sched.h - a cooperative scheduler of stackless coroutines, with zero heap.
 *
 * A task is a static sched_task_t plus a function that the scheduler calls every time the
 * task is resumed. The function is written as a coroutine with the TASK_* macros: each
 * TASK_SLEEP_US / TASK_AWAIT / TASK_YIELD records where the task stopped (a line number in
 * t->lc) and returns to the scheduler; the next call jumps back there through a switch. There
 * is no per-task stack, so local variables do NOT survive a wait: keep anything that must
 * live across a wait in the task's own static context struct.
 *
 *     static struct { sched_task_t task; int n; } blink;   // state that survives waits
 *     static sched_ret_t blink_fn(sched_task_t *t)
 *     {
 *         TASK_BEGIN(t);
 *         for (blink.n = 0;; blink.n++) {
 *             hal_led_set(blink.n & 1);
 *             TASK_SLEEP_MS(t, 250);           // like `await asyncio.sleep_ms(250)`
 *         }
 *         TASK_END(t);
 *     }
 *     sched_task_add(&blink.task, blink_fn, "blink");
 *
 * Rules: every macro use must be on its own source line (the line number is the resume
 * point); TASK_* macros may only be used in the task function itself (not inside a nested
 * switch); a helper that needs to wait is a sub-coroutine (SUB_* macros, its own resume
 * point) called with TASK_CALL/SUB_CALL. The macros contain `return`: this is the price of a
 * stackless coroutine and is why they are spelled in capitals.
 *
 * A task function returns its wait request (sched_ret_t): the macros return it, a task never
 * returns otherwise (TASK_END finishes it). A timed wait's fast path returns its timeout and
 * the dispatcher files the task with it: the task's own code stores only its resume point and
 * state; 0 means "as the task control block says" (every other wait, yield, exit).
 *
 * Time is the HAL's wrapping 32-bit microsecond counter; every comparison is a signed
 * difference, so a deadline is valid as long as it is less than 2^31 us (~35 min) away.
 * Interrupt handlers may only call sched_event_set().
 */
#ifndef PICOD_CORE_SCHED_H
#define PICOD_CORE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sched_task;
/* What a task function returns: 1..SCHED_MAX_WAIT_US = "file me in the timer list, due that many
 * us after this run was due" (TASK_SLEEP_US, TASK_AWAIT's fast path); 0 = "as my TCB says". Only
 * the TASK_* macros produce it. */
typedef uint32_t sched_ret_t;
typedef sched_ret_t (*sched_fn_t)(struct sched_task *t);

enum sched_state {
    SCHED_READY = 0,    /* in the ready queue */
    SCHED_RUNNING = 1,  /* its function is executing */
    SCHED_SLEEPING = 2, /* in the timer list */
    SCHED_WAITING = 3,  /* waiting on an event (also in the timer list if it has a timeout) */
    SCHED_DONE = 4,     /* finished or cancelled; never runs again unless re-added */
};

/* Task control block. 32 bytes on a 32-bit target (static_assert'ed in sched.c); the
 * optional instrumentation lives in a separate table (sched_task_stats). Fields are private
 * to the scheduler except where the macros touch them. */
typedef struct sched_task {
    struct sched_task *next; /* ready FIFO or timer list */
    sched_fn_t fn;
    const struct sched_event *wait; /* event waited on while SCHED_WAITING */
    const char *name;
    uint32_t deadline; /* wake-up time while sleeping / waiting with a timeout; while the
                        * task runs: when the run was due (sched_now()) */
    /* state, flags and lc share an aligned word: a wait's constant stores merge into one */
    uint8_t state;     /* enum sched_state */
    uint8_t flags;     /* SCHED_F_* */
    uint16_t lc;       /* resume point: 0 = start, else a __LINE__ */
    uint8_t id;        /* index in the registry */
    uint8_t stat_off;  /* offset of its stats in sched_core_ (also its sched_running_id code) */
    uint16_t watch_us; /* min(max run, budget): only a longer run needs a closer look */
    /* while in the timer list: the link that points at this task (&S.timers or the previous
     * task's next), so that an event wake-up unlinks it in O(1) */
    struct sched_task **pprev;
} sched_task_t;

/* Task flags. During a run only SCHED_F_TIMEDOUT can be set, so the hot path writes the whole
 * byte with a constant instead of read-modify-write. */
#define SCHED_F_TIMEDOUT 0x01u /* the last wait ended by its timeout */
#define SCHED_F_TIMED    0x02u /* filed in the timer list (sleeping, or waiting with a timeout) */
#define SCHED_F_TIMER    0x04u /* a due timer queued behind ready tasks: lateness is measured */

#define SCHED_LC_CANCEL   0xfffeu     /* resume point that TASK_CLEANUP labels */
#define SCHED_FOREVER     0xffffffffu /* timeout meaning "no timeout" */
#define SCHED_MAX_WAIT_US 0x7fffffffu
#define SCHED_PENDING     1 /* a sub-coroutine is still running (results are <= 0) */

/* An event (flag) a task can wait on. Set from task or interrupt context.
 * auto_clear = true: like uasyncio's ThreadSafeFlag: a set wakes ONE waiter and is consumed
 *   (if nobody waits it stays set until the next wait consumes it).
 * auto_clear = false: like uasyncio's Event: a set wakes ALL waiters and stays set until
 *   sched_event_clear(). */
typedef struct sched_event {
    volatile uint8_t set;
    uint8_t auto_clear;
    /* private: the waiter record that makes a set O(1). waiter is the last task that waited on
     * the event, or a marker for "shared" (for good) once a task started waiting while another
     * still waited on it. A set of a non-shared event marks only its waiter for the dispatcher
     * (no scan of the tasks): nobody else can be waiting on it. */
    uint16_t reserved_;
    struct sched_task *volatile waiter; /* (the watchdog feeder's task: shared, see sched.c) */
} sched_event_t;

/* Marks a sched_any_t's header event (sched_event_t.auto_clear): not a flag of its own. */
#define SCHED_EV_ANY 2u

/* Wait for any of several events (asyncio.wait(..., return_when=FIRST_COMPLETED) over
 * events): a task waits on the group's header; the dispatcher looks at the members when an
 * event is set. The member array is borrowed (static). which: the index of the member that
 * ended the last TASK_AWAIT_ANY (consumed if it is auto-clear), -1 if it timed out. */
typedef struct sched_any {
    sched_event_t head; /* private */
    uint8_t n;
    int8_t which;
    sched_event_t *const *evs;
} sched_any_t;

/* Mutual exclusion between tasks (asyncio.Lock). Task context only. A holder that can be
 * cancelled releases it in its TASK_CLEANUP. A release hands the lock to a waiter directly
 * (round-robin in task-id order from the releasing task's), so that a holder which asks for
 * it again at once queues behind them. */
typedef struct sched_lock {
    sched_task_t *owner;    /* NULL: free */
    sched_event_t released; /* private: what waiters wait on (never set: a release wakes one) */
} sched_lock_t;

/* A retriggerable delay (micropython-async's Delay_ms): a software watchdog or a timeout that
 * every trigger pushes back. It is a task of its own (one registry slot) that sleeps until the
 * deadline; on expiry it sets `expired` (auto-clear) and calls cb, if any, from its task. */
typedef struct sched_delay {
    sched_task_t task; /* private */
    uint32_t deadline; /* while running */
    uint8_t running;
    sched_event_t kick;    /* private: wakes the delay's task to look at its deadline again */
    sched_event_t expired; /* set on each expiry: TASK_AWAIT it, or poll sched_event_is_set */
    void (*cb)(struct sched_delay *d);
    uint32_t expiries; /* how many times it expired */
} sched_delay_t;

/* Bounded queue of fixed-size elements, copied in and out (no pointers kept). The storage
 * is the caller's static array of cap * elem_size bytes. Task context only. */
typedef struct sched_queue {
    uint8_t *buf;
    uint16_t elem_size;
    uint8_t cap, head, count;
    sched_event_t not_empty, not_full; /* level events mirroring the fill state */
} sched_queue_t;

/* Instrumentation per task (all times in us). */
typedef struct sched_task_stats {
    uint32_t runs;
    uint32_t total_us;
    uint32_t max_us;
    uint32_t max_late_us; /* worst delay between a deadline and the start of the run */
} sched_task_stats_t;

/* Scheduler-wide counters. */
typedef struct sched_global_stats {
    uint32_t idle_us;    /* time spent in hal_idle_until */
    uint32_t idle_calls; /* number of times the core went to sleep */
    uint32_t overruns;   /* task runs longer than their budget */
} sched_global_stats_t;

/* Called (from the scheduler, never from an ISR) when a task overruns its budget.
 * kind is a PROTO_FAULT_* value. */
typedef void (*sched_fault_cb_t)(uint8_t kind, uint8_t task, uint32_t detail);

/* Index of the task whose function is executing - or, between two runs, of the task that ran
 * last (the dispatcher is still handling its state) - and 0xff once the scheduler goes idle:
 * for crash records. Kept across a watchdog reset where the port has a .noinit section
 * (CONFIG_NOINIT), so the boot code can name the task that starved the watchdog. (A member of the
 * scheduler's state, which lives in .noinit: the dispatch loop writes it relative to the same base
 * register.) */
#define sched_running_id (sched_running_decode_(sched_core_.running_off))

/* Forget all tasks and timers. Call once before adding tasks (tests call it per test). */
void sched_init(void);

/* Register a static task and make it ready. name is borrowed (a string literal). Returns
 * the task's id (>= 0), or -1 if CONFIG_MAX_TASKS tasks already exist. A task that is
 * SCHED_DONE may be added again (it restarts from TASK_BEGIN). */
int sched_task_add(sched_task_t *t, sched_fn_t fn, const char *name);

/* Request cancellation. The task is woken (if waiting or sleeping) and resumed at its
 * TASK_CLEANUP point, or finishes at once if it has none. Cancelling a DONE task does
 * nothing. Task context only. */
void sched_cancel(sched_task_t *t);

/* End t's sleep now (TASK_SLEEP_*): it becomes ready and goes on after its sleep, as if the
 * time had come (sched_now() in that run is its start). Nothing happens to a task that is not
 * SCHED_SLEEPING. Task context only. For a periodic task that must also react to a change at
 * once: it sleeps (a repeating sleep is the cheapest wait) and whoever changes its input wakes
 * it, instead of its waiting on an event with a timeout. */
void sched_task_wake(sched_task_t *t);

/* Set or clear an event. sched_event_set is ISR-safe (two byte stores); waiters run later
 * from the scheduler loop. */
void sched_event_init(sched_event_t *ev, bool auto_clear);
static inline void sched_event_set(sched_event_t *ev);
void sched_event_clear(sched_event_t *ev);
static inline bool sched_event_is_set(const sched_event_t *ev)
{
    return ev->set != 0;
}

/* ---- any / lock / gather / delay (task context only) ---- */

/* evs: n (1..255) borrowed event pointers. */
void sched_any_init(sched_any_t *a, sched_event_t *const *evs, uint8_t n);
/* The index of the first member that is set (consuming it if auto-clear), or -1. */
int sched_any_poll(sched_any_t *a);

void sched_lock_init(sched_lock_t *l);
/* Take l for t if it is free. Returns true if t holds it now (also if it held it already). */
bool sched_lock_try(sched_lock_t *l, sched_task_t *t);
/* Give l up (only its holder may). */
void sched_lock_release(sched_lock_t *l);
static inline bool sched_lock_is_held(const sched_lock_t *l)
{
    return l->owner != NULL;
}

/* True if every task of tasks[0..n) is SCHED_DONE (finished, or cancelled). */
bool sched_all_done(sched_task_t *const *tasks, size_t n);
/* Set whenever a task finishes (level: TASK_GATHER clears it before it looks). Private. */
extern sched_event_t sched_exit_event_;

/* Register d's task (a registry slot; name borrowed) and leave it stopped. cb may be NULL.
 * Returns the task id or -1 (registry full). */
int sched_delay_init(sched_delay_t *d, const char *name, void (*cb)(sched_delay_t *d));
/* (Re)start: expire us microseconds from now (from when the current run was due, in a task),
 * whatever was left of a running delay. */
void sched_delay_trigger(sched_delay_t *d, uint32_t us);
void sched_delay_stop(sched_delay_t *d);
static inline bool sched_delay_running(const sched_delay_t *d)
{
    return d->running != 0;
}

void sched_queue_init(sched_queue_t *q, void *storage, uint16_t elem_size, uint8_t cap);
/* Copy elem in / the oldest element out. Return false if full / empty. Never block. */
bool sched_queue_put(sched_queue_t *q, const void *elem);
bool sched_queue_get(sched_queue_t *q, void *out);
static inline uint8_t sched_queue_count(const sched_queue_t *q)
{
    return q->count;
}

/* One scheduler step: wake timers and event waiters, feed the watchdog, run at most one
 * ready task. Returns true if a task ran. Used by sched_run() and by tests with fake time. */
bool sched_poll(void);
/* When the current task run was due (cheap: no clock read): for a run that a timer woke,
 * the deadline that woke it; for any other run (event, yield, first run), its start. Sleeps
 * and timeouts count from it, so neither the run's own work nor the lateness of its wake-up
 * stretches a period: a periodic task keeps its grid (drift-free). Task context only. */
uint32_t sched_now(void);
/* Earliest timer deadline; false if no task has a deadline. */
bool sched_next_deadline(uint32_t *deadline);
/* True if a task is ready or an event is waiting to be delivered. */
bool sched_has_work(void);
/* Run forever: sched_poll() while there is work, else hal_idle_until(next deadline). */
void sched_run(void) __attribute__((noreturn));

void sched_set_fault_cb(sched_fault_cb_t cb);
/* Report runs of t (added: sched_task_add gave it its id) longer than us microseconds
 * (0: CONFIG_TASK_BUDGET_US). */
void sched_task_set_budget(sched_task_t *t, uint16_t us);
uint8_t sched_task_count(void);
sched_task_t *sched_task_at(uint8_t id);
const sched_task_stats_t *sched_task_stats(uint8_t id);
const sched_global_stats_t *sched_global_stats(void);
static inline bool sched_timed_out(const sched_task_t *t)
{
    return (t->flags & SCHED_F_TIMEDOUT) != 0;
}
static inline bool sched_time_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* ---- internals used by the macros ------------------------------------------------------------ */

/* Words of pend marks: one byte per registry slot and one for the feeder ("shared"). */
#define SCHED_PEND_WORDS_ ((CONFIG_MAX_TASKS + 4) / 4)

/* The scheduler's state that a task switch touches, in one object so that the dispatch loop
 * addresses all of it from one base register. Private: only sched.c and the inline helpers
 * below use it. */
struct sched_core_ {
    sched_task_t *ready_head, *ready_tail; /* ready FIFO */
    sched_task_t *timers;                  /* timer list, sorted by deadline */
    /* "Anything but timers to do?" in one halfword load: .wake is set by sched_event_set (from
     * ISRs too), .ready while the ready FIFO is not empty. Each byte has one writer context
     * per store (byte stores are atomic), so no read-modify-write races with an ISR. */
    union {
        volatile uint16_t any;
        struct {
            volatile uint8_t wake;
            volatile uint8_t ready;
        } b;
    } work;
    /* sched_running_id, as the running task's stat_off (the dispatcher stores the byte it
     * loads for the stats address anyway); 0xff: none */
    volatile uint8_t running_off;
    uint8_t reserved_;
    /* pend.b[id] = 1: an event that task id waits on (or waited on) was set; the feeder's slot
     * (CONFIG_MAX_TASKS) means a shared event was set: look at every task. Written 1 by
     * sched_event_set, cleared by the dispatcher before it looks at the task: byte stores,
     * no read-modify-write. Read a word at a time. */
    union {
        volatile uint8_t b[SCHED_PEND_WORDS_ * 4];
        volatile uint32_t w[SCHED_PEND_WORDS_];
    } pend;
    struct sched_task *volatile pend_task;          /* the task sched_event_set marked last */
    uint32_t idle_us, idle_calls;                   /* sched_global_stats_t's, kept here */
    sched_task_stats_t stats[CONFIG_MAX_TASKS + 1]; /* + the watchdog feeder's */
};
extern struct sched_core_ sched_core_;

#define SCHED_STAT_OFF_(id)                                                                        \
    ((uint8_t)(offsetof(struct sched_core_, stats) + (size_t)(id) * sizeof(sched_task_stats_t)))
static inline uint8_t sched_running_decode_(uint8_t off)
{
    if (off == 0xffu || off < SCHED_STAT_OFF_(0))
        return 0xffu;
    return (uint8_t)((off - SCHED_STAT_OFF_(0)) / sizeof(sched_task_stats_t));
}

/* ISR-safe: byte and word stores only, each location has one writer per store (see
 * sched_core_). The order matters: the flag first (a wait that registered before this looks
 * at it afterwards), the task's mark before the wake flag (the dispatcher clears the wake flag
 * before it reads the marks). Inline: an interrupt handler's set costs no call. */
static inline void sched_event_set(sched_event_t *ev)
{
    ev->set = 1;
    struct sched_task *w = ev->waiter;
    if (w) {
        sched_core_.pend.b[w->id] = 1;
        sched_core_.pend_task = w;
    }
    sched_core_.work.b.wake = 1;
}

bool sched_await_slow_(sched_task_t *t, sched_event_t *ev, uint32_t timeout_us);
void sched_register_(sched_event_t *ev, sched_task_t *t);
int sched_any_arm_(sched_any_t *a, sched_task_t *t);

/* t is about to wait on ev: make it ev's waiter (a task that waits on the same event again,
 * the common case, costs a load and a compare). Before the wait looks at ev->set, so that a
 * set from an ISR in between either is seen by that look or finds t as the waiter. */
static inline void sched_wait_on_(sched_task_t *t, sched_event_t *ev)
{
    if (__builtin_expect(ev->waiter != t, 0))
        sched_register_(ev, t);
}

/* The same for a task's own wait, keyed on t->wait: t->wait == ev implies that ev's waiter
 * record is t or "shared" (sched_register_ and sched_event_init clear a task's t->wait when
 * they take the record away from it), so a task that waits on the same event again neither
 * registers nor stores t->wait. */
static inline void sched_wait_own_(sched_task_t *t, sched_event_t *ev)
{
    if (t->wait != ev) {
        sched_register_(ev, t);
        t->wait = ev;
    }
}
void sched_exit_(sched_task_t *t);

/* The common waits are inline: the task's own code files its deadline with a few stores
 * (state, flags and resume point merge into one word store) and the dispatcher does the rest
 * after the task returns: no call, no read-modify-write. Deadlines count from t->deadline,
 * which while the task runs is when the run was due (see sched_now()). The *_lc_ forms also
 * set the task's resume point (TASK_* macros); the plain ones leave it (SUB_* macros, whose
 * resume point is the sub-coroutine's). */
static inline void sched_sleep_word_(sched_task_t *t, uint16_t lc)
{
    t->state = SCHED_SLEEPING;
    t->flags = SCHED_F_TIMED;
    t->lc = lc;
}

static inline void sched_sleep_until_lc_(sched_task_t *t, uint32_t deadline, uint16_t lc)
{
    t->deadline = deadline;
    sched_sleep_word_(t, lc);
}

/* Returns the task's wait request: the dispatcher adds it to t->deadline (0: the deadline is
 * already right, a sleep of 0; more than SCHED_MAX_WAIT_US: the dispatcher clamps it). */
static inline sched_ret_t sched_sleep_lc_(sched_task_t *t, uint32_t us, uint16_t lc)
{
    sched_sleep_word_(t, lc);
    return us;
}

/* sched_await_lc_'s "no need to wait: go on in this run" (never a wait request) */
#define SCHED_GO_ON_ 0xffffffffu

/* SCHED_GO_ON_: no need to wait (the event was set: consumed if auto-clear; or timeout 0: timed
 * out). Else the task is filed as waiting (resume point lc) and must return the value to the
 * scheduler: the timeout (the dispatcher adds it to the deadline) or 0 (all filed).
 * The straight path is a task that waits on the same event again (t->wait == ev: ev's waiter
 * record is t or "shared", see sched_register_), not set, with a timeout in 1..2^31-1: one
 * test for the first two (no branch to lay out badly at -Os) and one word store (state, flags
 * and resume point); everything else is out of line. */
static inline sched_ret_t sched_await_lc_(sched_task_t *t, sched_event_t *ev, uint32_t timeout_us,
                                          uint16_t lc)
{
    uintptr_t other = ((uintptr_t)t->wait ^ (uintptr_t)ev) | ev->set;
    if (__builtin_expect(other != 0 || timeout_us - 1u >= SCHED_MAX_WAIT_US, 0)) {
        if (sched_await_slow_(t, ev, timeout_us))
            return SCHED_GO_ON_;
        t->lc = lc;
        return 0;
    }
    t->state = SCHED_WAITING;
    t->flags = SCHED_F_TIMED;
    t->lc = lc;
    return timeout_us;
}

/* The forms for sub-coroutines (SUB_* macros), whose wait request does not reach the
 * dispatcher: they file the deadline themselves. */
static inline void sched_sleep_until_(sched_task_t *t, uint32_t deadline)
{
    sched_sleep_until_lc_(t, deadline, t->lc);
}

static inline void sched_sleep_(sched_task_t *t, uint32_t us)
{
    if (us > SCHED_MAX_WAIT_US)
        us = SCHED_MAX_WAIT_US;
    t->deadline += sched_sleep_lc_(t, us, t->lc);
}

static inline bool sched_await_(sched_task_t *t, sched_event_t *ev, uint32_t timeout_us)
{
    sched_ret_t r = sched_await_lc_(t, ev, timeout_us, t->lc);
    if (r == SCHED_GO_ON_)
        return true;
    t->deadline += r;
    return false;
}

#if defined(__GNUC__)
#define SCHED_FALLTHROUGH __attribute__((fallthrough))
#else
#define SCHED_FALLTHROUGH ((void)0)
#endif

/* ---- task macros --------------------------------------------------------------------------- */

#define TASK_BEGIN(t)                                                                              \
    switch ((t)->lc) {                                                                             \
    case 0:

/* Let every other ready task run once, then continue (asyncio.sleep(0)). */
#define TASK_YIELD(t)                                                                              \
    do {                                                                                           \
        (t)->lc = (uint16_t)__LINE__;                                                              \
        return 0;                                                                                  \
    case __LINE__:;                                                                                \
    } while (0)

/* Sleep us microseconds counted from when this run was due (sched_now()), i.e. at least us
 * minus the time this run has taken so far and its wake-up's lateness (asyncio.sleep_ms /
 * sleep_us, but drift-free). */
#define TASK_SLEEP_US(t, us)                                                                       \
    do {                                                                                           \
        return sched_sleep_lc_((t), (us), (uint16_t)__LINE__);                                     \
    case __LINE__:;                                                                                \
    } while (0)
#define TASK_SLEEP_MS(t, ms) TASK_SLEEP_US(t, (uint32_t)(ms)*1000u)

/* Sleep until an absolute time (drift-free periodic loops). */
#define TASK_SLEEP_UNTIL(t, when)                                                                  \
    do {                                                                                           \
        sched_sleep_until_lc_((t), (when), (uint16_t)__LINE__);                                    \
        return 0;                                                                                  \
    case __LINE__:;                                                                                \
    } while (0)

/* Wait until ev is set or timeout_us passes (SCHED_FOREVER: no timeout; 0: just test).
 * Afterwards sched_timed_out(t) tells which (asyncio.wait_for(ev.wait(), timeout)). */
#define TASK_AWAIT(t, ev, timeout_us)                                                              \
    do {                                                                                           \
        TASK_AWAIT_LINE_(t, ev, timeout_us);                                                       \
    } while (0)

/* Take the oldest element of q into *out, waiting up to timeout_us for one to arrive.
 * sched_timed_out(t) afterwards means nothing was taken. The timeout restarts if another
 * consumer took the element first. */
#define TASK_QUEUE_GET(t, q, out, timeout_us)                                                      \
    do {                                                                                           \
        (t)->flags &= (uint8_t)~SCHED_F_TIMEDOUT;                                                  \
        while (!sched_queue_get((q), (out))) {                                                     \
            TASK_AWAIT_LINE_((t), &(q)->not_empty, (timeout_us));                                  \
            if (sched_timed_out(t))                                                                \
                break;                                                                             \
        }                                                                                          \
    } while (0)

/* Put *elem into q, waiting up to timeout_us for space. sched_timed_out(t): not queued. */
#define TASK_QUEUE_PUT(t, q, elem, timeout_us)                                                     \
    do {                                                                                           \
        (t)->flags &= (uint8_t)~SCHED_F_TIMEDOUT;                                                  \
        while (!sched_queue_put((q), (elem))) {                                                    \
            TASK_AWAIT_LINE_((t), &(q)->not_full, (timeout_us));                                   \
            if (sched_timed_out(t))                                                                \
                break;                                                                             \
        }                                                                                          \
    } while (0)

/* Wait until one of the group's events is set, or timeout_us passes (the timeout restarts if
 * another task consumed the event first). Afterwards (a)->which is the member's index, or -1
 * after a timeout (sched_timed_out(t) too). */
#define TASK_AWAIT_ANY(t, a, timeout_us)                                                           \
    do {                                                                                           \
        (t)->flags &= (uint8_t)~SCHED_F_TIMEDOUT;                                                  \
        while (((a)->which = (int8_t)sched_any_arm_((a), (t))) < 0) {                              \
            TASK_AWAIT_LINE_((t), &(a)->head, (timeout_us));                                       \
            if (sched_timed_out(t) || (a)->which >= 0)                                             \
                break;                                                                             \
        }                                                                                          \
    } while (0)

/* Take the lock, waiting up to timeout_us (`async with lock`); sched_timed_out(t): not taken.
 * Release it with sched_lock_release(). */
#define TASK_LOCK(t, l, timeout_us)                                                                \
    do {                                                                                           \
        (t)->flags &= (uint8_t)~SCHED_F_TIMEDOUT;                                                  \
        while (!sched_lock_try((l), (t))) {                                                        \
            TASK_AWAIT_LINE_((t), &(l)->released, (timeout_us));                                   \
            if (sched_timed_out(t))                                                                \
                break;                                                                             \
        }                                                                                          \
    } while (0)

/* Wait until every task of tasks[0..n) has finished (asyncio.gather over tasks, without
 * results: keep those in the tasks' contexts), or timeout_us passes (restarted by each task
 * that finishes); sched_timed_out(t): some still run. */
#define TASK_GATHER(t, tasks, n, timeout_us)                                                       \
    do {                                                                                           \
        (t)->flags &= (uint8_t)~SCHED_F_TIMEDOUT;                                                  \
        for (;;) {                                                                                 \
            sched_event_clear(&sched_exit_event_);                                                 \
            if (sched_all_done((tasks), (n)))                                                      \
                break;                                                                             \
            TASK_AWAIT_LINE_((t), &sched_exit_event_, (timeout_us));                               \
            if (sched_timed_out(t))                                                                \
                break;                                                                             \
        }                                                                                          \
    } while (0)

/* Same as TASK_AWAIT; used inside other macros (one resume point per source line). */
#define TASK_AWAIT_LINE_(t, ev, timeout_us)                                                        \
    {                                                                                              \
        sched_ret_t sched_r_ = sched_await_lc_((t), (ev), (timeout_us), (uint16_t)__LINE__);       \
        if (sched_r_ != SCHED_GO_ON_)                                                              \
            return sched_r_;                                                                       \
    }                                                                                              \
    SCHED_FALLTHROUGH;                                                                             \
    case __LINE__:

/* Run a sub-coroutine: call expr (which returns SCHED_PENDING or a result <= 0) until it
 * stops returning SCHED_PENDING; its result lands in res. */
#define TASK_CALL(t, res, expr)                                                                    \
    do {                                                                                           \
        (t)->lc = (uint16_t)__LINE__;                                                              \
        SCHED_FALLTHROUGH;                                                                         \
    case __LINE__:                                                                                 \
        (res) = (expr);                                                                            \
        if ((res) == SCHED_PENDING)                                                                \
            return 0;                                                                              \
    } while (0)

/* The defined cleanup point: after sched_cancel() the task resumes here (instead of where
 * it waited). Normal control flow reaching this line also runs it, like `finally`. Code after
 * it may wait again. Reset sub-coroutine state here if the task can be cancelled inside one. */
#define TASK_CLEANUP(t)                                                                            \
    SCHED_FALLTHROUGH;                                                                             \
    case SCHED_LC_CANCEL:

/* Finish now, from anywhere in the task function (`return` from an async def): SCHED_DONE;
 * TASK_GATHER waiters see it. Its TASK_CLEANUP does not run. */
#define TASK_EXIT(t)                                                                               \
    do {                                                                                           \
        sched_exit_(t);                                                                            \
        return 0;                                                                                  \
    } while (0)

/* End of the task function: the task becomes SCHED_DONE. */
#define TASK_END(t)                                                                                \
    }                                                                                              \
    sched_exit_(t);                                                                                \
    return 0

/* ---- sub-coroutine macros: a helper with its own resume point *lcp (a uint16_t in the
 * helper's context, zero to start) that waits on behalf of task t. Returns SCHED_PENDING while
 * waiting, then its result (<= 0). ---- */
#define SUB_BEGIN(lcp)                                                                             \
    switch (*(lcp)) {                                                                              \
    case 0:

#define SUB_SLEEP_US(t, lcp, us)                                                                   \
    do {                                                                                           \
        sched_sleep_((t), (us));                                                                   \
        *(lcp) = (uint16_t)__LINE__;                                                               \
        return SCHED_PENDING;                                                                      \
    case __LINE__:;                                                                                \
    } while (0)

#define SUB_AWAIT(t, lcp, ev, timeout_us)                                                          \
    do {                                                                                           \
        if (!sched_await_((t), (ev), (timeout_us))) {                                              \
            *(lcp) = (uint16_t)__LINE__;                                                           \
            return SCHED_PENDING;                                                                  \
        case __LINE__:;                                                                            \
        }                                                                                          \
    } while (0)

#define SUB_YIELD(t, lcp)                                                                          \
    do {                                                                                           \
        *(lcp) = (uint16_t)__LINE__;                                                               \
        return SCHED_PENDING;                                                                      \
    case __LINE__:;                                                                                \
    } while (0)

#define SUB_CALL(lcp, res, expr)                                                                   \
    do {                                                                                           \
        *(lcp) = (uint16_t)__LINE__;                                                               \
        SCHED_FALLTHROUGH;                                                                         \
    case __LINE__:                                                                                 \
        (res) = (expr);                                                                            \
        if ((res) == SCHED_PENDING)                                                                \
            return SCHED_PENDING;                                                                  \
    } while (0)

/* Finish with a result (<= 0); the next call starts from SUB_BEGIN again. */
#define SUB_RETURN(lcp, val)                                                                       \
    do {                                                                                           \
        *(lcp) = 0;                                                                                \
        return (val);                                                                              \
    } while (0)

#define SUB_END(lcp)                                                                               \
    }                                                                                              \
    *(lcp) = 0;                                                                                    \
    return 0

#ifdef __cplusplus
}
#endif
#endif /* PICOD_CORE_SCHED_H */
