/*
 * sched.c - dispatcher, timer list, events and queues of the cooperative scheduler.
 *
 * Data structures (all static, no heap):
 *  - registry[]: every task, indexed by id; used for stats and the event scan.
 *  - ready FIFO (head/tail through task->next): round-robin among ready tasks; a task that
 *    yields or is woken goes to the tail, so no ready task waits more than one round.
 *  - timer list (through task->next), sorted by deadline with wrap-safe comparison; equal
 *    deadlines keep insertion order. A task is in at most one of the two lists at a time:
 *    a running task is in neither, and the dispatcher files it after its function returns.
 *  - events are plain flags. Setting one raises wake_pending; the dispatcher then scans the
 *    (few) waiting tasks. This keeps the ISR side to two byte stores and the dispatch path
 *    free of any per-event bookkeeping: with nothing set, no task is looked at.
 *
 * The hot path (one timer-driven task switch) is kept to: one clock read per loop (the end of
 * the previous run, or the wake-up from idle, is the next loop's "now"), the timer list's head
 * only, no divisions, the watchdog fed on a time basis, and the instrumentation reduced to the
 * run's start (that same "now") and one clock read at its end. Timeouts and sleeps count from
 * the start of the task's current run (run_start), which needs no clock read and keeps a
 * periodic task's period independent of its own run time.
 */
#include "sched.h"

#include <string.h>

#include "hal.h"
#include "proto.h"

#if UINTPTR_MAX == 0xffffffffu
_Static_assert(sizeof(sched_task_t) <= 32, "scheduler overhead per task must be <= 32 bytes");
#endif

/* In .noinit on the RP2040: when the watchdog resets a hung board, the port's boot code
 * reads which task was running (sched_init sets it to 0xff afterwards). */
CONFIG_NOINIT volatile uint8_t sched_running_id;

static sched_task_t *registry[CONFIG_MAX_TASKS];
static sched_task_stats_t stats[CONFIG_MAX_TASKS];
static sched_global_stats_t gstats;
static uint8_t task_count;
static sched_task_t *ready_head, *ready_tail;
static sched_task_t *timers;
static volatile uint8_t wake_pending;
static sched_fault_cb_t fault_cb;
static uint32_t run_start; /* clock at the start of the current run (the loop's "now") */
static uint32_t last_feed; /* when the watchdog was last fed */

/* Feed the hardware watchdog this often: four times per period leaves a healthy loop three
 * quarters of the period of slack. */
#define FEED_INTERVAL_US ((uint32_t)CONFIG_WATCHDOG_MS * 250u)

void sched_init(void)
{
    memset(registry, 0, sizeof(registry));
    memset(stats, 0, sizeof(stats));
    memset(&gstats, 0, sizeof(gstats));
    task_count = 0;
    ready_head = ready_tail = NULL;
    timers = NULL;
    wake_pending = 0;
    fault_cb = NULL;
    sched_running_id = 0xff;
    run_start = hal_time_us();
    last_feed = run_start;
    hal_watchdog_feed();
}

static void ready_push(sched_task_t *t)
{
    t->state = SCHED_READY;
    t->next = NULL;
    if (ready_tail)
        ready_tail->next = t;
    else
        ready_head = t;
    ready_tail = t;
}

static void timer_insert(sched_task_t *t)
{
    sched_task_t **pp = &timers;
    while (*pp && !sched_time_before(t->deadline, (*pp)->deadline))
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
}

static void timer_remove(sched_task_t *t)
{
    for (sched_task_t **pp = &timers; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            t->next = NULL;
            return;
        }
    }
}

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
    ready_push(t);
    return id;
}

void sched_exit_(sched_task_t *t)
{
    t->state = SCHED_DONE;
    t->lc = 0;
}

void sched_sleep_until_(sched_task_t *t, uint32_t deadline)
{
    t->deadline = deadline;
    t->state = SCHED_SLEEPING;
}

void sched_sleep_(sched_task_t *t, uint32_t us)
{
    if (us > SCHED_MAX_WAIT_US)
        us = SCHED_MAX_WAIT_US;
    sched_sleep_until_(t, run_start + us);
}

uint32_t sched_now(void)
{
    return run_start;
}

bool sched_await_(sched_task_t *t, sched_event_t *ev, uint32_t timeout_us)
{
    t->flags &= (uint8_t) ~(SCHED_F_TIMEDOUT | SCHED_F_TIMED);
    if (ev->set) {
        if (ev->auto_clear)
            ev->set = 0;
        return true;
    }
    if (timeout_us == 0) {
        t->flags |= SCHED_F_TIMEDOUT;
        return true;
    }
    t->wait = ev;
    t->state = SCHED_WAITING;
    if (timeout_us != SCHED_FOREVER) {
        if (timeout_us > SCHED_MAX_WAIT_US)
            timeout_us = SCHED_MAX_WAIT_US;
        t->deadline = run_start + timeout_us;
        t->flags |= SCHED_F_TIMED;
    }
    return false;
}

void sched_cancel(sched_task_t *t)
{
    if (t->state == SCHED_DONE)
        return;
    t->flags |= SCHED_F_CANCELED;
    t->lc = SCHED_LC_CANCEL;
    t->wait = NULL;
    if (t->state == SCHED_SLEEPING || (t->state == SCHED_WAITING && (t->flags & SCHED_F_TIMED)))
        timer_remove(t);
    if (t->state == SCHED_SLEEPING || t->state == SCHED_WAITING)
        ready_push(t);
    /* READY: already queued; RUNNING (cancels itself): filed as ready after it returns. */
}

void sched_event_init(sched_event_t *ev, bool auto_clear)
{
    ev->set = 0;
    ev->auto_clear = auto_clear ? 1 : 0;
}

void sched_event_set(sched_event_t *ev)
{
    ev->set = 1;
    wake_pending = 1;
}

void sched_event_clear(sched_event_t *ev)
{
    ev->set = 0;
}

/* Deliver set events to their waiters (registry order). */
static void wake_waiters(void)
{
    wake_pending = 0;
    for (uint8_t i = 0; i < task_count; i++) {
        sched_task_t *t = registry[i];
        if (t->state != SCHED_WAITING)
            continue;
        sched_event_t *ev = (sched_event_t *)(uintptr_t)t->wait;
        if (!ev->set)
            continue;
        if (ev->auto_clear)
            ev->set = 0;
        if (t->flags & SCHED_F_TIMED)
            timer_remove(t);
        t->wait = NULL;
        t->flags &= (uint8_t) ~(SCHED_F_TIMED | SCHED_F_TIMER);
        ready_push(t);
    }
}

/* Rare: a run longer than its budget. Out of line to keep the dispatch path short. */
static __attribute__((noinline)) void overrun(sched_task_t *t, uint32_t dur)
{
    uint32_t budget = t->budget_us ? t->budget_us : (uint32_t)CONFIG_TASK_BUDGET_US;
    if (dur <= budget)
        return;
    gstats.overruns++;
    if (fault_cb)
        fault_cb(PROTO_FAULT_TASK_OVERRUN, t->id, dur);
}

static inline __attribute__((always_inline)) void account(sched_task_t *t, uint32_t start,
                                                          uint32_t end)
{
    sched_task_stats_t *s = &stats[t->id];
    uint32_t dur = end - start;
    s->runs++;
    s->total_us += dur;
    if (dur > s->max_us)
        s->max_us = dur;
    if (t->flags & SCHED_F_TIMER) {
        int32_t late = (int32_t)(start - t->deadline);
        if (late > (int32_t)s->max_late_us)
            s->max_late_us = (uint32_t)late;
    }
    /* One compare for the common case; a per-task budget is at most 65535 us. */
    if (dur > (t->budget_us ? t->budget_us : (uint32_t)CONFIG_TASK_BUDGET_US))
        overrun(t, dur);
}

/* File a task that just returned from its function according to what it asked for. */
static inline __attribute__((always_inline)) void file_task(sched_task_t *t)
{
    uint8_t st = t->state;
    if (st == SCHED_WAITING) {
        if (t->flags & SCHED_F_TIMED)
            timer_insert(t);
        if (t->wait && t->wait->set)
            wake_pending = 1; /* set between the test and the return: deliver it */
    } else if (st == SCHED_SLEEPING) {
        timer_insert(t);
    } else if (st == SCHED_RUNNING) { /* yielded, or was cancelled by itself */
        ready_push(t);
    }
}

/* Take the head of the timer list (due) for running. */
static inline __attribute__((always_inline)) sched_task_t *timer_pop(void)
{
    sched_task_t *t = timers;
    timers = t->next;
    if (t->state == SCHED_WAITING) {
        t->flags |= SCHED_F_TIMEDOUT;
        t->wait = NULL;
    }
    t->flags = (uint8_t)((t->flags & ~SCHED_F_TIMED) | SCHED_F_TIMER);
    return t;
}

/* One step at time *now: deliver events (only if one was set), then run one task: the ready
 * FIFO's head, or - when nothing else is ready, the common timer-driven case - the timer
 * list's head if it is due, without a trip through the ready FIFO. Due timers behind other
 * ready tasks are queued after them (round-robin). Returns true if a task ran; *now is then
 * the clock at the end of its run. */
static inline __attribute__((always_inline)) bool step(uint32_t *now)
{
    uint32_t start = *now;
    if ((uint32_t)(start - last_feed) >= FEED_INTERVAL_US) {
        last_feed = start;
        hal_watchdog_feed();
    }
    if (wake_pending)
        wake_waiters();
    sched_task_t *t = ready_head;
    if (t) {
        while (timers && !sched_time_before(start, timers->deadline))
            ready_push(timer_pop());
        ready_head = t->next;
        if (!ready_head)
            ready_tail = NULL;
    } else if (timers && !sched_time_before(start, timers->deadline)) {
        t = timer_pop();
    } else {
        return false;
    }
    t->state = SCHED_RUNNING;
    sched_running_id = t->id;
    run_start = start;
    t->fn(t);
    uint32_t end = hal_time_us();
    sched_running_id = 0xff;
    account(t, start, end);
    t->flags &= (uint8_t) ~(SCHED_F_TIMER | SCHED_F_CANCELED);
    file_task(t);
    *now = end;
    return true;
}

bool sched_poll(void)
{
    uint32_t now = hal_time_us();
    return step(&now);
}

bool sched_next_deadline(uint32_t *deadline)
{
    if (!timers)
        return false;
    *deadline = timers->deadline;
    return true;
}

bool sched_has_work(void)
{
    return ready_head != NULL || wake_pending;
}

/* The idle path: with interrupts masked, sleep until the next deadline if there is still
 * nothing to do. Returns the clock after waking (or now, refreshed, if it did not sleep).
 * Kept out of line so benchmarks can tell the dispatch cost from the cost of sleeping. */
static __attribute__((noinline)) uint32_t idle(uint32_t now)
{
    /* Decide to sleep with interrupts masked: an event set by an ISR after this check
     * leaves its interrupt pending, which ends the port's WFI at once (hal.h contract);
     * the handler itself runs when the mask is restored. Unmasked, an ISR landing between
     * the check and the WFI would sleep until the next timer. */
    uint32_t irq = hal_irq_save();
    if (!ready_head && !wake_pending) {
        /* Wake at least twice per watchdog period so an idle board is a healthy board. */
        uint32_t deadline = now + (uint32_t)CONFIG_WATCHDOG_MS * 500u;
        if (timers && sched_time_before(timers->deadline, deadline))
            deadline = timers->deadline;
        if (sched_time_before(now, deadline)) {
            hal_idle_until(deadline, true);
            uint32_t woke = hal_time_us();
            gstats.idle_us += woke - now;
            gstats.idle_calls++;
            hal_irq_restore(irq);
            return woke;
        }
    }
    hal_irq_restore(irq);
    return hal_time_us();
}

void sched_run(void)
{
    uint32_t now = hal_time_us();
    for (;;) {
        if (!step(&now))
            now = idle(now);
    }
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
    return id < task_count ? &stats[id] : NULL;
}

const sched_global_stats_t *sched_global_stats(void)
{
    return &gstats;
}
