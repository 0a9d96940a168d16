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
 *    free of any per-event bookkeeping.
 */
#include "sched.h"

#include <string.h>

#include "hal.h"
#include "proto.h"

#if UINTPTR_MAX == 0xffffffffu
_Static_assert(sizeof(sched_task_t) <= 32, "scheduler overhead per task must be <= 32 bytes");
#endif

volatile uint8_t sched_running_id = 0xff;

static sched_task_t *registry[CONFIG_MAX_TASKS];
static sched_task_stats_t stats[CONFIG_MAX_TASKS];
static sched_global_stats_t gstats;
static uint8_t task_count;
static sched_task_t *ready_head, *ready_tail;
static sched_task_t *timers;
static volatile uint8_t wake_pending;
static sched_fault_cb_t fault_cb;

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

static sched_task_t *ready_pop(void)
{
    sched_task_t *t = ready_head;
    if (t) {
        ready_head = t->next;
        if (!ready_head)
            ready_tail = NULL;
        t->next = NULL;
    }
    return t;
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
    sched_sleep_until_(t, hal_time_us() + us);
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
        t->deadline = hal_time_us() + timeout_us;
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

static void wake_timers(uint32_t now)
{
    while (timers && !sched_time_before(now, timers->deadline)) {
        sched_task_t *t = timers;
        timers = t->next;
        if (t->state == SCHED_WAITING) {
            t->flags |= SCHED_F_TIMEDOUT;
            t->wait = NULL;
        }
        t->flags = (uint8_t)((t->flags & ~SCHED_F_TIMED) | SCHED_F_TIMER);
        ready_push(t);
    }
}

static void account(sched_task_t *t, uint32_t start, uint32_t end)
{
    sched_task_stats_t *s = &stats[t->id];
    uint32_t dur = end - start;
    s->runs++;
    s->total_us += dur;
    if (dur > s->max_us)
        s->max_us = dur;
    if (t->flags & SCHED_F_TIMER) {
        uint32_t late = start - t->deadline;
        if ((int32_t)late > 0 && late > s->max_late_us)
            s->max_late_us = late;
    }
    uint32_t budget = t->budget_us ? t->budget_us : CONFIG_TASK_BUDGET_US;
    if (dur > budget) {
        gstats.overruns++;
        if (fault_cb)
            fault_cb(PROTO_FAULT_TASK_OVERRUN, t->id, dur);
    }
}

/* File a task that just returned from its function according to what it asked for. */
static void file_task(sched_task_t *t)
{
    switch (t->state) {
    case SCHED_RUNNING: /* yielded, or was cancelled by itself */
        ready_push(t);
        break;
    case SCHED_SLEEPING:
        timer_insert(t);
        break;
    case SCHED_WAITING:
        if (t->flags & SCHED_F_TIMED)
            timer_insert(t);
        if (t->wait && t->wait->set)
            wake_pending = 1; /* set between the test and the return: deliver it */
        break;
    default:
        break;
    }
}

bool sched_poll(void)
{
    hal_watchdog_feed();
    uint32_t now = hal_time_us();
    if (wake_pending)
        wake_waiters();
    wake_timers(now);
    sched_task_t *t = ready_pop();
    if (!t)
        return false;
    t->state = SCHED_RUNNING;
    sched_running_id = t->id;
    uint32_t start = hal_time_us();
    t->fn(t);
    uint32_t end = hal_time_us();
    sched_running_id = 0xff;
    account(t, start, end);
    t->flags &= (uint8_t) ~(SCHED_F_TIMER | SCHED_F_CANCELED);
    file_task(t);
    return true;
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

void sched_run(void)
{
    for (;;) {
        if (sched_poll())
            continue;
        /* Decide to sleep with interrupts masked: an event set by an ISR after this check
         * leaves its interrupt pending, which ends the port's WFI at once (hal.h contract);
         * the handler itself runs when the mask is restored. Unmasked, an ISR landing between
         * the check and the WFI would sleep until the next timer. */
        uint32_t irq = hal_irq_save();
        if (!sched_has_work()) {
            uint32_t now = hal_time_us();
            /* Wake at least twice per watchdog period so an idle board is a healthy board. */
            uint32_t limit = now + (uint32_t)CONFIG_WATCHDOG_MS * 500u;
            uint32_t deadline;
            if (!sched_next_deadline(&deadline) || sched_time_before(limit, deadline))
                deadline = limit;
            if (sched_time_before(now, deadline)) {
                hal_idle_until(deadline, true);
                gstats.idle_us += hal_time_us() - now;
                gstats.idle_calls++;
            }
        }
        hal_irq_restore(irq);
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
