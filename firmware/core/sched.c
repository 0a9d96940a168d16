/*
 * sched.c - dispatcher, timer list, events and queues of the cooperative scheduler.
 *
 * Data structures (all static, no heap):
 *  - registry[]: every task, indexed by id; used for stats and the shared-event scan.
 *  - ready FIFO (head/tail through task->next): round-robin among ready tasks; a task that
 *    yields or is woken goes to the tail, so no ready task waits more than one round.
 *  - timer list (through task->next, and task->pprev for O(1) unlinking), sorted by deadline
 *    with wrap-safe comparison; equal deadlines keep insertion order. A task is in at most one
 *    of the two lists at a time. A task run from the ready FIFO is in neither while it runs;
 *    one run from the timer list's head stays there while it runs (nothing else files a task
 *    meanwhile) and is moved only if its next deadline is not before the second timer's.
 *  - events are flags with a waiter record: every wait makes its task the event's waiter
 *    (a task's own wait is keyed on t->wait, sched_wait_own_: one compare, no store, when the
 *    same task waits on the same event again). A set marks that
 *    task in pend[] (byte stores, ISR-safe) and raises work.wake; the dispatcher looks only at
 *    the marked tasks, so an interrupt's event reaches its task in O(1), whatever the number of
 *    tasks. An event that two tasks wait on at once becomes "shared" for good (its waiter
 *    record is the feeder, whose pend slot means "look at every task"): correct for any number
 *    of waiters, and as cheap as before for the usual one.
 *  - the watchdog feeder and the far sentinel, internal tasks (below): the timer list holds
 *    at least two tasks while the ready FIFO is empty.
 *
 * The hot path - one timer-driven task switch: wake from idle, run the timer list's head,
 * file it again, go back to sleep - is what the RP2040 benchmark measures (docs/PERFORMANCE.md)
 * and is written for it:
 *  - one clock read per switch (the end of the run); the wake-up's clock read is the idle
 *    path's and becomes the next run's start;
 *  - everything the loop touches lives in sched_core_ (one base register); "is anything other
 *    than a timer to be done" is one halfword load (work.any);
 *  - the head is run directly; its lateness is the difference the "is it due" test computed
 *    anyway; a timer-woken task's waits count from the deadline that woke it (drift-free, and
 *    no store); a task that asks for a deadline before the second timer's stays in place;
 *  - after a run the loop goes straight to idle(), whose masked check and deadline are the
 *    only "anything to do?" test (no second pass through the loop);
 *  - the instrumentation costs two adds and two compares: a run needs a closer look (new
 *    maximum, overrun) only if it is longer than min(max run, budget) (t->watch_us); it is
 *    24 of the 78 cycles, and CONFIG_SCHED_RUN_STATS=0 leaves it out (config.h);
 *  - no watchdog check: a feeder task feeds it;
 *  - the common waits (timed await, sleep) are inline in sched.h and write constants.
 */
#include "sched.h"

#include <string.h>

#include "hal.h"
#include "hal_attrs.h"
#include "proto.h"

#if UINTPTR_MAX == 0xffffffffu
_Static_assert(sizeof(sched_task_t) <= 32, "scheduler overhead per task must be <= 32 bytes");
#endif
_Static_assert(CONFIG_MAX_TASKS < 0xff, "task ids are bytes, 0xff is 'no task'");
_Static_assert(offsetof(struct sched_core_, stats) + CONFIG_MAX_TASKS * sizeof(sched_task_stats_t) <
                   0xff,
               "stat_off is a byte, 0xff is 'no task'");

/* A port may give inline versions of the HAL calls on the dispatch path (hal_port_inline.h in
 * its include path, PICOD_HAL_PORT_INLINE defined); they behave exactly like hal.h's. */
#if defined(PICOD_HAL_PORT_INLINE)
#include "hal_port_inline.h"
#endif
#ifndef HAL_TIME_US_INLINE
#define HAL_TIME_US_INLINE() hal_time_us()
#endif
#ifndef HAL_IRQ_SAVE_INLINE
#define HAL_IRQ_SAVE_INLINE()         hal_irq_save()
#define HAL_IRQ_RESTORE_INLINE(state) hal_irq_restore(state)
#endif

/* Placement of the dispatch loop (sched_run, idle, the ready path): from RAM where the port
 * runs hot code from RAM (hal_attrs.h: SRAM on the RP2040, where an XIP cache miss costs ~3 us;
 * nothing on the host). */
#ifndef SCHED_DISPATCH_PLACEMENT
#define SCHED_DISPATCH_PLACEMENT HAL_TIME_CRITICAL
#endif

/* In .noinit on the RP2040 (all of it is set by sched_init): when the watchdog resets a hung
 * board, the port's boot code reads sched_running_id, the task that was running. */
CONFIG_NOINIT struct sched_core_ sched_core_;
#define S sched_core_

static sched_task_t *registry[CONFIG_MAX_TASKS];
static uint16_t budget_us[CONFIG_MAX_TASKS]; /* 0: CONFIG_TASK_BUDGET_US */
static sched_global_stats_t gstats;
static uint8_t task_count;
static sched_fault_cb_t fault_cb;

/* The watchdog is fed by a task of the scheduler's own (not in the registry, id
 * CONFIG_MAX_TASKS): it runs only if the loop keeps dispatching due timers, so a task that
 * hangs or hogs the CPU starves it, and the dispatch path has no feed check at all. Four feeds
 * per period leave a healthy loop three quarters of the period of slack. It also keeps the
 * timer list never empty, so neither the loop nor idle() tests for an empty list. It never
 * waits on an event, so it doubles as the "shared" waiter record: its pend slot means "look
 * at every waiting task". */
#define FEED_INTERVAL_US ((uint32_t)CONFIG_WATCHDOG_MS * 250u)
#define FEEDER_ID        CONFIG_MAX_TASKS
#define SHARED           (&feeder)
static sched_task_t feeder;

/* A second internal timer, the far sentinel: it sleeps SCHED_MAX_WAIT_US at a time and does
 * nothing else (it shares the feeder's id, stats slot and "never waits on an event"). With the
 * feeder it keeps at least two tasks in the timer list whenever the ready FIFO is empty, so
 * the head that the loop runs always has a second timer to compare its next deadline with
 * (no NULL test on the hot path). */
static sched_task_t far_timer;

static sched_ret_t sched_far_fn(sched_task_t *t)
{
    return sched_sleep_lc_(t, SCHED_MAX_WAIT_US, 0);
}

#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define COLD          static __attribute__((noinline, cold))
#define HOT           static __attribute__((noinline)) SCHED_DISPATCH_PLACEMENT
#define LIKELY(x)     __builtin_expect(!!(x), 1)
#define UNLIKELY(x)   __builtin_expect(!!(x), 0)
/* An empty asm that "may change" p: the compiler keeps p in a register instead of
 * recomputing it from a reloaded index after the task's call. */
#define OPAQUE(p) __asm__("" : "+r"(p))
/* work.any with only .wake set */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WORK_WAKE_ONLY 0x0100u
#else
#define WORK_WAKE_ONLY 0x0001u
#endif

static sched_ret_t sched_feed_fn(sched_task_t *t)
{
    hal_watchdog_feed();
    return sched_sleep_lc_(t, FEED_INTERVAL_US, 0);
}

void sched_init(void)
{
    memset(registry, 0, sizeof(registry));
    memset(budget_us, 0, sizeof(budget_us));
    memset(&S, 0, sizeof(S));
    memset(&gstats, 0, sizeof(gstats));
    task_count = 0;
    fault_cb = NULL;
    S.running_off = 0xff;
    sched_event_init(&sched_exit_event_, false);
    hal_watchdog_feed();
    memset(&feeder, 0, sizeof(feeder));
    feeder.fn = sched_feed_fn;
    feeder.name = "wdog";
    feeder.id = FEEDER_ID;
    feeder.stat_off = SCHED_STAT_OFF_(FEEDER_ID);
    sched_sleep_until_(&feeder, hal_time_us() + FEED_INTERVAL_US);
    feeder.pprev = &S.timers;
    S.timers = &feeder;
    memset(&far_timer, 0, sizeof(far_timer));
    far_timer.fn = sched_far_fn;
    far_timer.name = "far";
    far_timer.id = FEEDER_ID;
    far_timer.stat_off = SCHED_STAT_OFF_(FEEDER_ID);
    sched_sleep_until_(&far_timer, feeder.deadline + (SCHED_MAX_WAIT_US - FEED_INTERVAL_US));
    far_timer.pprev = &feeder.next;
    feeder.next = &far_timer;
    S.pend_task = &feeder; /* (never NULL: its mark is looked at without a test) */
}

/* ---- ready FIFO and timer list ----------------------------------------------------------------
 */

ALWAYS_INLINE void ready_push(sched_task_t *t)
{
    t->state = SCHED_READY;
    t->next = NULL;
    if (S.ready_tail)
        S.ready_tail->next = t;
    else
        S.ready_head = t;
    S.ready_tail = t;
    S.work.b.ready = 1;
}

static __attribute__((noinline)) void ready_push_call(sched_task_t *t)
{
    ready_push(t);
}

/* Link t in at *pp (a list link: &S.timers or a task's next). */
ALWAYS_INLINE void timer_link(sched_task_t **pp, sched_task_t *t)
{
    sched_task_t *n = *pp;
    t->next = n;
    t->pprev = pp;
    if (n)
        n->pprev = &t->next;
    *pp = t;
}

/* Insert behind every timer due at or before t's deadline, starting the walk at *pp. */
static void timer_insert_from(sched_task_t **pp, sched_task_t *t)
{
    while (*pp && !sched_time_before(t->deadline, (*pp)->deadline))
        pp = &(*pp)->next;
    timer_link(pp, t);
}

/* A periodic task that is the next to wake files itself at the head: no walk. */
ALWAYS_INLINE void timer_insert(sched_task_t *t)
{
    sched_task_t *h = S.timers;
    if (!h || sched_time_before(t->deadline, h->deadline))
        timer_link(&S.timers, t);
    else
        timer_insert_from(&h->next, t);
}

/* (t->next is left: whoever files t next sets it) */
ALWAYS_INLINE void timer_unlink(sched_task_t *t)
{
    sched_task_t *n = t->next;
    *t->pprev = n;
    if (n)
        n->pprev = t->pprev;
}

/* Remove the head (the list's first task; the list may run empty: only while the feeder itself
 * is queued). */
ALWAYS_INLINE void timer_pop_head(sched_task_t *t)
{
    sched_task_t *n = t->next;
    S.timers = n;
    if (n)
        n->pprev = &S.timers;
}

/* ---- tasks ------------------------------------------------------------------------------------
 */

int sched_task_add(sched_task_t *t, sched_fn_t fn, const char *name)
{
    int id = -1;
    for (uint8_t i = 0; i < task_count; i++) {
        if (registry[i] == t)
            id = i;
    }
    if (id >= 0 && t->state != SCHED_DONE)
        return id; /* already running: adding twice is harmless */
    if (id < 0) {
        if (task_count >= CONFIG_MAX_TASKS)
            return -1;
        id = task_count++;
        registry[id] = t;
    }
    t->fn = fn;
    t->name = name;
    t->wait = NULL;
    t->lc = 0;
    t->flags = 0;
    t->id = (uint8_t)id;
    t->stat_off = SCHED_STAT_OFF_(id);
    t->watch_us = 0; /* the first run takes a closer look (and reads the budget) */
    ready_push_call(t);
    return id;
}

void sched_task_set_budget(sched_task_t *t, uint16_t us)
{
    if (t->id < CONFIG_MAX_TASKS)
        budget_us[t->id] = us;
    t->watch_us = 0;
}

sched_event_t sched_exit_event_; /* level: set by every task that finishes (TASK_GATHER) */

void sched_exit_(sched_task_t *t)
{
    t->state = SCHED_DONE;
    t->lc = 0;
    sched_event_set(&sched_exit_event_);
}

uint32_t sched_now(void)
{
    uint8_t id = sched_running_decode_(S.running_off);
    if (id == FEEDER_ID)
        return feeder.deadline;
    /* (running_id names the last task between runs too: only a running one's time counts) */
    if (id < task_count && registry[id]->state == SCHED_RUNNING)
        return registry[id]->deadline;
    return hal_time_us();
}

/* The waits sched_await_lc_ does not file inline: a first wait on ev (or after the waiter
 * record went to another task), an event that is set, a timeout of 0 (just test), none, or
 * too long. true: no need to wait; false: filed (the caller sets the resume point). */
bool sched_await_slow_(sched_task_t *t, sched_event_t *ev, uint32_t timeout_us)
{
    sched_wait_own_(t, ev);
    if (ev->set) {
        if (ev->auto_clear)
            ev->set = 0;
        t->flags = 0;
        return true;
    }
    if (timeout_us == 0) {
        t->flags = SCHED_F_TIMEDOUT;
        return true;
    }
    t->state = SCHED_WAITING;
    if (timeout_us == SCHED_FOREVER) {
        t->flags = 0;
    } else {
        if (timeout_us > SCHED_MAX_WAIT_US)
            timeout_us = SCHED_MAX_WAIT_US;
        t->deadline += timeout_us; /* counted from when the run was due, see sched_now() */
        t->flags = SCHED_F_TIMED;
    }
    return false;
}

void sched_task_wake(sched_task_t *t)
{
    if (t->state != SCHED_SLEEPING)
        return;
    timer_unlink(t); /* (a sleeping task is always TIMED) */
    t->flags = 0;
    ready_push(t);
}

void sched_cancel(sched_task_t *t)
{
    if (t->state == SCHED_DONE)
        return;
    t->lc = SCHED_LC_CANCEL;
    t->wait = NULL;
    if (t->state == SCHED_SLEEPING || t->state == SCHED_WAITING) {
        if (t->flags & SCHED_F_TIMED)
            timer_unlink(t);
        t->flags = 0;
        ready_push(t);
    }
    /* READY: already queued; RUNNING (cancels itself): filed as ready after it returns. */
}

/* ---- events -----------------------------------------------------------------------------------
 */

void sched_event_init(sched_event_t *ev, bool auto_clear)
{
    ev->set = 0;
    ev->auto_clear = auto_clear ? 1 : 0;
    ev->reserved_ = 0;
    ev->waiter = NULL;
    /* no task keeps ev as its t->wait: their next wait on ev registers (sched_wait_own_); one
     * still waiting on it (re-initialised under it) is found by every set */
    for (uint8_t i = 0; i < task_count; i++) {
        sched_task_t *t = registry[i];
        if (t->wait == ev) {
            if (t->state == SCHED_WAITING)
                ev->waiter = SHARED;
            else
                t->wait = NULL;
        }
    }
}

void sched_event_clear(sched_event_t *ev)
{
    ev->set = 0;
}

/* t starts waiting on ev, whose waiter record names another task (or none). If that one may
 * still be waiting on ev (directly, or through an any-of group: conservative), ev is shared
 * from now on: every set of it looks at every task. */
void sched_register_(sched_event_t *ev, sched_task_t *t)
{
    sched_task_t *w = ev->waiter;
    if (w == SHARED)
        return;
    if (w && w->state == SCHED_WAITING &&
        (w->wait == ev || (w->wait && w->wait->auto_clear == SCHED_EV_ANY)))
        t = SHARED; /* an ISR's set in between still marks w */
    else if (w && w != t && w->wait == ev)
        w->wait = NULL; /* w no longer holds the record: its next wait on ev registers */
    ev->waiter = t;
}

/* Make a waiting task ready: its wait ended by an event (not timed out). */
ALWAYS_INLINE void wake_task(sched_task_t *t)
{
    if (t->flags & SCHED_F_TIMED)
        timer_unlink(t);
    t->flags = 0;
    ready_push(t);
}

/* An any-of group's member is set: the group's which. */
static __attribute__((noinline)) bool take_any(sched_event_t *ev)
{
    sched_any_t *a = (sched_any_t *)ev; /* head is its first member */
    int m = sched_any_poll(a);
    if (m < 0)
        return false;
    a->which = (int8_t)m;
    return true;
}

/* If t waits on an event that is set (or on an any-of group with a member set), consume it,
 * take t out of the timer list and return true; the caller makes t ready or runs it, and
 * clears its flags (not timed out). t->wait is left: it means something only while WAITING. */
ALWAYS_INLINE bool take_event(sched_task_t *t)
{
    if (t->state != SCHED_WAITING)
        return false;
    sched_event_t *ev = (sched_event_t *)(uintptr_t)t->wait;
    if (UNLIKELY(!ev->set)) {
        /* (a group's header is never set: its members are looked at) */
        if (ev->auto_clear != SCHED_EV_ANY || !take_any(ev))
            return false;
    } else {
        if (ev->auto_clear) /* consumed; a level event stays set */
            ev->set = 0;
    }
    if (t->flags & SCHED_F_TIMED)
        timer_unlink(t);
    return true;
}

ALWAYS_INLINE void deliver(sched_task_t *t)
{
    if (take_event(t)) {
        t->flags = 0;
        ready_push(t);
    }
}

static __attribute__((noinline)) void deliver_call(sched_task_t *t)
{
    deliver(t);
}

/* Every mark (registry order); the feeder's slot: every task. */
static __attribute__((noinline)) void deliver_rest(void)
{
    bool scan = false;
    for (size_t i = 0; i < sizeof(S.pend.b); i++) {
        if (S.pend.b[i]) {
            S.pend.b[i] = 0;
            if (i == FEEDER_ID)
                scan = true;
            else if (i < task_count) /* (else a mark from before sched_init) */
                deliver_call(registry[i]);
        }
    }
    if (scan) {
        for (uint8_t i = 0; i < task_count; i++)
            deliver_call(registry[i]);
    }
}

ALWAYS_INLINE bool marks_left(void)
{
    uint32_t any = 0;
    for (unsigned w = 0; w < SCHED_PEND_WORDS_; w++)
        any |= S.pend.w[w];
    return any != 0;
}

/* t's stats: one byte load and an add from the base register */
ALWAYS_INLINE sched_task_stats_t *stats_of(const sched_task_t *t)
{
    return (sched_task_stats_t *)(void *)((uint8_t *)&S + t->stat_off);
}

/* ---- dispatch ---------------------------------------------------------------------------------
 */

ALWAYS_INLINE void note_lateness(sched_task_stats_t *st, int32_t late)
{
#if CONFIG_SCHED_RUN_STATS
    if (UNLIKELY(late > (int32_t)st->max_late_us))
        st->max_late_us = (uint32_t)late;
#else
    (void)st;
    (void)late;
#endif
}

#if CONFIG_SCHED_RUN_STATS

/* A run longer than min(max run, budget): update the maximum, report an overrun, and set
 * the next threshold. Rare, so out of line. */
COLD void account_slow(sched_task_t *t, sched_task_stats_t *st, uint32_t dur)
{
    if (dur > st->max_us)
        st->max_us = dur;
    uint32_t b = t->id < CONFIG_MAX_TASKS ? budget_us[t->id] : 0u;
    uint32_t budget = b ? b : (uint32_t)CONFIG_TASK_BUDGET_US;
    if (dur > budget) {
        gstats.overruns++;
        if (fault_cb)
            fault_cb(PROTO_FAULT_TASK_OVERRUN, t->id, dur);
    }
    t->watch_us = (uint16_t)(st->max_us < budget ? st->max_us : budget);
}
#endif

/* Call t's function (its state is already RUNNING) and account for the run, which started at
 * start. Returns the clock at the end of the run; *req: the task's wait request. */
ALWAYS_INLINE uint32_t call(sched_task_t *t, sched_task_stats_t *st, uint32_t start,
                            sched_ret_t *req)
{
    S.running_off = t->stat_off; /* cleared by idle(), see sched.h */
    *req = t->fn(t);
    uint32_t end = HAL_TIME_US_INLINE();
#if !CONFIG_SCHED_RUN_STATS
    (void)st;
    (void)start;
#else
    uint32_t dur = end - start;
    st->runs++;
    st->total_us += dur;
    if (UNLIKELY(dur > t->watch_us)) {
        account_slow(t, st, dur);
        end = HAL_TIME_US_INLINE(); /* (so that end need not survive the call) */
    }
#endif
    return end;
}

/* The deadline a wait request asks for: req us from when the run was due (a sleep longer than
 * SCHED_MAX_WAIT_US is clamped here, not in the task's inline code); 0: the TCB's. */
ALWAYS_INLINE uint32_t requested_deadline(const sched_task_t *t, sched_ret_t req)
{
    if (UNLIKELY(req > SCHED_MAX_WAIT_US))
        req = SCHED_MAX_WAIT_US;
    return t->deadline + req;
}

/* File t after a run that did not start at the timer list's head; req: its wait request. */
ALWAYS_INLINE void file_after_run(sched_task_t *t, sched_ret_t req)
{
    t->deadline = requested_deadline(t, req);
    if (t->flags & SCHED_F_TIMED)
        timer_insert(t);
    else if (t->state == SCHED_RUNNING) /* yielded, or cancelled itself */
        ready_push(t);
}

static __attribute__((noinline)) void file_after_run_call(sched_task_t *t, sched_ret_t req)
{
    file_after_run(t, req);
}

/* The ISR -> task path: nothing is ready and the task marked last has its event (taken): run
 * it at once (no trip through the ready FIFO), then deliver whatever else was marked meanwhile
 * (so a task that an interrupt keeps waking cannot keep others waiting: they are queued before
 * it can run again). Returns the clock after the run. */
ALWAYS_INLINE uint32_t run_marked(sched_task_t *t, uint32_t now)
{
    t->deadline = now; /* its waits count from the run's start */
    t->state = SCHED_RUNNING;
    t->flags = 0;
    sched_ret_t req;
    now = call(t, stats_of(t), now, &req);
    file_after_run_call(t, req);
    if (UNLIKELY(marks_left()))
        deliver_rest();
    return now;
}

/* Run the ready FIFO's head, with every due timer queued behind the tasks already ready
 * (round-robin), and file it. Returns the clock after the run, or now if nothing was ready. */
HOT uint32_t run_fifo(uint32_t now)
{
    sched_task_t *t = S.ready_head;
    if (!t)
        return now;
    /* (The list can run empty here: the feeder itself may be queued.) */
    sched_task_t *d;
    while ((d = S.timers) != NULL && !sched_time_before(now, d->deadline)) {
        timer_pop_head(d);
        ready_push(d);
        d->flags = SCHED_F_TIMEDOUT | SCHED_F_TIMER; /* a wait that ends here timed out */
    }
    S.ready_head = t->next;
    if (!S.ready_head) {
        S.ready_tail = NULL;
        S.work.b.ready = 0;
    }
    sched_task_stats_t *st = stats_of(t);
    if (t->flags & SCHED_F_TIMER) {
        t->flags = SCHED_F_TIMEDOUT;
        note_lateness(st, (int32_t)(now - t->deadline));
    } else {
        t->deadline = now; /* not due by a timer: its waits count from the run's start */
    }
    t->state = SCHED_RUNNING;
    sched_ret_t req;
    now = call(t, st, now, &req);
    file_after_run(t, req);
    return now;
}

/* Deliver the events set since the last look. The task marked last is looked at first: if
 * nothing is ready and its event is there, it is returned to be run at once (one task looked
 * at, whatever the number of tasks). Otherwise every mark is delivered (registry order) and
 * NULL returned. A mark stays until its task has been looked at, so a set that lands meanwhile
 * is not lost; the wake flag is cleared before the marks are read. */
ALWAYS_INLINE sched_task_t *take_marked(bool none_ready)
{
    S.work.b.wake = 0;
    sched_task_t *w = S.pend_task;
    uint8_t id = w->id;
    /* (the feeder is never WAITING: its mark, "shared", goes to deliver_rest) */
    if (S.pend.b[id] && LIKELY(none_ready) && take_event(w)) {
        S.pend.b[id] = 0;
        return w;
    }
    if (marks_left())
        deliver_rest();
    return NULL;
}

/* run_head's filing for every request but a plain timed one: 0 (the TCB says: filed by the
 * task itself, a yield, done, an untimed wait) or a sleep beyond SCHED_MAX_WAIT_US. */
COLD void file_head_slow(sched_task_t *t, sched_ret_t req)
{
    t->deadline = requested_deadline(t, req);
    sched_task_t *n = t->next;
    if (t->flags & SCHED_F_TIMED) {
        if (!sched_time_before(t->deadline, n->deadline)) {
            timer_pop_head(t);
            timer_insert_from(&n->next, t);
        }
    } else {
        timer_pop_head(t);
        if (t->state == SCHED_RUNNING) /* yielded, or cancelled itself */
            ready_push(t);
    }
}

/* Run the timer list's head t, due since late us, and file it. t stays at the head while it
 * runs (nothing else files a task meanwhile): a periodic task that asks for a deadline
 * before the next timer's is already in place, so the common case neither unlinks nor walks.
 * Its deadline is not touched either: a timer-woken task's waits count from the deadline that
 * woke it (drift-free periods), see sched.h. */
ALWAYS_INLINE uint32_t run_head(sched_task_t *t, uint32_t now, int32_t late)
{
    sched_task_stats_t *st = stats_of(t);
    OPAQUE(st); /* keep the pointer across the call rather than recompute it */
    note_lateness(st, late);
    t->state = SCHED_RUNNING;
    t->flags = SCHED_F_TIMEDOUT; /* a wait that ends here timed out (a sleep ignores it) */
    sched_ret_t req;
    now = call(t, st, now, &req);
    sched_task_t *n = t->next; /* (never NULL: the feeder and the far sentinel, see above) */
    /* req in 1..SCHED_MAX_WAIT_US: a sleep or a timed wait's fast path, req us from when this
     * run was due (one sign test); anything else is file_head_slow's */
    if (LIKELY((int32_t)req > 0)) {
        uint32_t d = t->deadline + req;
        t->deadline = d;
        if (UNLIKELY(!sched_time_before(d, n->deadline))) {
            timer_pop_head(t);
            timer_insert_from(&n->next, t);
        }
    } else {
        file_head_slow(t, req);
    }
    return now;
}

bool sched_poll(void)
{
    uint32_t now = hal_time_us();
    if (S.work.any) {
        if (S.work.b.wake) {
            sched_task_t *w = take_marked(!S.work.b.ready);
            if (w) {
                (void)run_marked(w, now);
                return true;
            }
        }
        if (S.ready_head) {
            (void)run_fifo(now);
            return true;
        }
    }
    sched_task_t *t = S.timers;
    int32_t late = (int32_t)(now - t->deadline);
    if (late < 0)
        return false;
    (void)run_head(t, now, late);
    return true;
}

bool sched_next_deadline(uint32_t *deadline)
{
    if (!S.timers) /* only while the feeder waits in the ready FIFO */
        return false;
    *deadline = S.timers->deadline;
    return true;
}

bool sched_has_work(void)
{
    return S.work.any != 0;
}

/* The idle path: with interrupts masked, sleep until the next deadline if there is still
 * nothing to do. Returns the clock after waking (or now, refreshed, if it did not sleep).
 * Kept out of line so benchmarks can tell the dispatch cost from the cost of sleeping. */
HOT uint32_t idle(uint32_t now)
{
    /* Decide to sleep with interrupts masked: an event set by an ISR after this check
     * leaves its interrupt pending, which ends the port's WFI at once (hal.h contract);
     * the handler itself runs when the mask is restored. Unmasked, an ISR landing between
     * the check and the WFI would sleep until the next timer. The feeder's deadline is at
     * most FEED_INTERVAL_US away, so an idle board still wakes to feed the watchdog. */
    S.running_off = 0xff;
    uint32_t irq = HAL_IRQ_SAVE_INLINE();
    if (!S.work.any) {
        uint32_t deadline = S.timers->deadline;
        if (sched_time_before(now, deadline)) {
            /* the accounting before the sleep: the wake-up (ISR -> task) path only reads
             * the clock and adds it */
            S.idle_us -= now;
            S.idle_calls++;
            hal_idle_until(deadline, true);
            uint32_t woke = HAL_TIME_US_INLINE();
            S.idle_us += woke;
            HAL_IRQ_RESTORE_INLINE(irq);
            return woke;
        }
    }
    HAL_IRQ_RESTORE_INLINE(irq);
    return HAL_TIME_US_INLINE();
}

/* The loop. With the ready FIFO empty the timer list is not (the feeder is in it); the "is the
 * head due" difference is the run's lateness. After a timer-driven run the loop goes straight
 * to idle(), whose masked check and deadline computation are the only "anything to do?" test
 * between two timer-driven runs (no second pass through the loop). */
__attribute__((noreturn)) SCHED_DISPATCH_PLACEMENT void sched_run(void)
{
    uint32_t now = hal_time_us();
    for (;;) {
        if (UNLIKELY(S.work.any)) {
            uint32_t work = S.work.any;
            /* an event and nothing ready: the ISR -> task path (one compare for both) */
            sched_task_t *w;
            if (work == WORK_WAKE_ONLY && (w = take_marked(true)) != NULL) {
                now = run_marked(w, now);
                continue;
            }
            if (S.work.b.wake)
                (void)take_marked(false);
            now = run_fifo(now);
            if (S.work.b.ready)
                continue;
        }
        sched_task_t *t = S.timers;
        int32_t late = (int32_t)(now - t->deadline);
        if (LIKELY(late >= 0))
            now = run_head(t, now, late);
        now = idle(now);
    }
}

/* ---- any of several events ---------------------------------------------------------------- */

void sched_any_init(sched_any_t *a, sched_event_t *const *evs, uint8_t n)
{
    sched_event_init(&a->head, false);
    a->head.auto_clear = SCHED_EV_ANY;
    a->n = n;
    a->which = -1;
    a->evs = evs;
}

/* TASK_AWAIT_ANY: t becomes every member's waiter (the group's header is what it waits on),
 * then the members are polled. */
int sched_any_arm_(sched_any_t *a, sched_task_t *t)
{
    for (uint8_t i = 0; i < a->n; i++)
        sched_wait_on_(t, a->evs[i]);
    return sched_any_poll(a);
}

int sched_any_poll(sched_any_t *a)
{
    for (uint8_t i = 0; i < a->n; i++) {
        sched_event_t *ev = a->evs[i];
        if (ev->set) {
            if (ev->auto_clear)
                ev->set = 0;
            return i;
        }
    }
    return -1;
}

/* ---- lock ------------------------------------------------------------------------------------ */

void sched_lock_init(sched_lock_t *l)
{
    l->owner = NULL;
    sched_event_init(&l->released, true);
}

bool sched_lock_try(sched_lock_t *l, sched_task_t *t)
{
    if (l->owner && l->owner != t)
        return false;
    l->owner = t;
    return true;
}

/* A release hands the lock straight to the next waiter, looking from the releasing task's
 * id on (round-robin among waiters, as uasyncio's Lock is FIFO), and wakes just that one: a
 * holder that takes it again at once (the seeds' loop) cannot starve the others. */
void sched_lock_release(sched_lock_t *l)
{
    sched_task_t *next = NULL;
    uint8_t from = l->owner ? (uint8_t)(l->owner->id + 1u) : 0u;
    for (uint8_t k = 0; k < task_count && !next; k++) {
        sched_task_t *t = registry[(uint8_t)(from + k) % task_count];
        if (t->state == SCHED_WAITING && t->wait == &l->released)
            next = t;
    }
    l->owner = next;
    if (next)
        wake_task(next);
}

/* ---- gather ---------------------------------------------------------------------------------- */

bool sched_all_done(sched_task_t *const *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state != SCHED_DONE)
            return false;
    }
    return true;
}

/* ---- retriggerable delay ----------------------------------------------------------------------
 * The delay's task waits on its kick event with the time left as timeout; a trigger or a stop
 * kicks it to look again. The task is the first member of sched_delay_t. */

static sched_ret_t delay_fn(sched_task_t *t)
{
    sched_delay_t *d = (sched_delay_t *)(void *)t;
    TASK_BEGIN(t);
    for (;;) {
        TASK_AWAIT(t, &d->kick, d->running ? d->deadline - sched_now() : SCHED_FOREVER);
        if (!d->running || sched_time_before(sched_now(), d->deadline))
            continue; /* stopped, or triggered again: wait for the new deadline */
        d->running = 0;
        d->expiries++;
        sched_event_set(&d->expired);
        if (d->cb)
            d->cb(d);
    }
    TASK_END(t);
}

int sched_delay_init(sched_delay_t *d, const char *name, void (*cb)(sched_delay_t *d))
{
    memset(d, 0, sizeof(*d));
    d->cb = cb;
    sched_event_init(&d->kick, true);
    sched_event_init(&d->expired, true);
    return sched_task_add(&d->task, delay_fn, name);
}

void sched_delay_trigger(sched_delay_t *d, uint32_t us)
{
    if (us > SCHED_MAX_WAIT_US)
        us = SCHED_MAX_WAIT_US;
    d->deadline = sched_now() + us;
    d->running = 1;
    sched_event_set(&d->kick);
}

void sched_delay_stop(sched_delay_t *d)
{
    d->running = 0;
    sched_event_set(&d->kick);
}

void sched_queue_init(sched_queue_t *q, void *storage, uint16_t elem_size, uint8_t cap)
{
    q->buf = storage;
    q->elem_size = elem_size;
    q->cap = cap;
    q->head = 0;
    q->count = 0;
    sched_event_init(&q->not_empty, false);
    sched_event_init(&q->not_full, false);
    sched_event_set(&q->not_full);
}

bool sched_queue_put(sched_queue_t *q, const void *elem)
{
    if (q->count >= q->cap)
        return false;
    uint8_t slot = (uint8_t)((q->head + q->count) % q->cap);
    memcpy(q->buf + (size_t)slot * q->elem_size, elem, q->elem_size);
    q->count++;
    sched_event_set(&q->not_empty);
    if (q->count == q->cap)
        sched_event_clear(&q->not_full);
    return true;
}

bool sched_queue_get(sched_queue_t *q, void *out)
{
    if (q->count == 0)
        return false;
    memcpy(out, q->buf + (size_t)q->head * q->elem_size, q->elem_size);
    q->head = (uint8_t)((q->head + 1) % q->cap);
    q->count--;
    sched_event_set(&q->not_full);
    if (q->count == 0)
        sched_event_clear(&q->not_empty);
    return true;
}

void sched_set_fault_cb(sched_fault_cb_t cb)
{
    fault_cb = cb;
}

uint8_t sched_task_count(void)
{
    return task_count;
}

sched_task_t *sched_task_at(uint8_t id)
{
    return id < task_count ? registry[id] : NULL;
}

const sched_task_stats_t *sched_task_stats(uint8_t id)
{
    return id < task_count ? &S.stats[id] : NULL;
}

const sched_global_stats_t *sched_global_stats(void)
{
    gstats.idle_us = S.idle_us;
    gstats.idle_calls = S.idle_calls;
    return &gstats;
}
