/*
 * button.c - edge ring (ISR -> task) and the debounce / long / double state machine.
 */
#include "button.h"

#include <string.h>

#include "config.h"
#include "hal.h"
#include "link.h"

typedef struct edge {
    uint32_t t_us;
    uint8_t down;
} edge_t;

static struct {
    sched_event_t ev; /* first: the ISR addresses it without an offset */
    /* single-producer (ISR) single-consumer (task) ring */
    edge_t ring[CONFIG_BUTTON_EDGES];
    volatile uint8_t head, tail;
    volatile uint8_t overflow;

    bool down;     /* debounced level */
    bool settling; /* edges seen, waiting for the level to be stable */
    bool raw;      /* level after the last edge */
    bool long_sent;
    bool have_prev; /* a previous press that may start a double click */
    uint32_t burst_t, last_edge_t, press_t, prev_press_t;
    uint32_t presses;
    button_listener_t listener;
} bt;

sched_task_t button_task;

void button_edge_isr(bool down, uint32_t t_us)
{
    uint8_t h = bt.head;
    uint8_t next = (uint8_t)((h + 1u) % CONFIG_BUTTON_EDGES);
    if (next == bt.tail) {
        bt.overflow = 1; /* the task re-reads the pin level instead */
    } else {
        bt.ring[h].t_us = t_us;
        bt.ring[h].down = down ? 1 : 0;
        bt.head = next;
    }
    sched_event_set(&bt.ev);
}

bool button_is_down(void)
{
    return bt.down;
}

uint32_t button_presses(void)
{
    return bt.presses;
}

void button_set_listener(button_listener_t fn)
{
    bt.listener = fn;
}

static void emit(uint8_t kind, uint32_t t_us, uint32_t duration_us)
{
    proto_button_event_t e = {kind, 0, t_us, duration_us, bt.presses};
    uint8_t b[32];
    int n = proto_button_event_encode(&e, b, sizeof(b));
    if (n >= 0)
        (void)link_send_event(PROTO_MSG_BUTTON_EVENT, b, (size_t)n);
    if (bt.listener)
        bt.listener(&e);
}

static void drain_edges(void)
{
    while (bt.tail != bt.head) {
        const edge_t *e = &bt.ring[bt.tail];
        if (!bt.settling) {
            bt.settling = true;
            bt.burst_t = e->t_us;
        }
        bt.last_edge_t = e->t_us;
        bt.raw = e->down != 0;
        bt.tail = (uint8_t)((bt.tail + 1u) % CONFIG_BUTTON_EDGES);
    }
    if (bt.overflow) {
        bt.overflow = 0;
        bt.raw = hal_button_is_down();
    }
}

static void accept_level(void)
{
    bt.settling = false;
    if (bt.raw == bt.down)
        return; /* a glitch: back where it was */
    bt.down = bt.raw;
    if (bt.down) {
        bt.presses++;
        bt.press_t = bt.burst_t;
        bt.long_sent = false;
        emit(PROTO_BUTTON_PRESS, bt.press_t, 0);
        uint32_t gap = bt.press_t - bt.prev_press_t;
        if (bt.have_prev && gap <= CONFIG_BUTTON_DOUBLE_US) {
            emit(PROTO_BUTTON_DOUBLE, bt.press_t, gap);
            bt.have_prev = false; /* a third press starts a new pair */
        } else {
            bt.have_prev = true;
            bt.prev_press_t = bt.press_t;
        }
    } else {
        emit(PROTO_BUTTON_RELEASE, bt.burst_t, bt.burst_t - bt.press_t);
    }
}

/* How long to wait for the next thing the state machine must do by itself. */
static uint32_t next_timeout(uint32_t now)
{
    uint32_t deadline;
    if (bt.settling)
        deadline = bt.last_edge_t + CONFIG_BUTTON_DEBOUNCE_US;
    else if (bt.down && !bt.long_sent)
        deadline = bt.press_t + CONFIG_BUTTON_LONG_US;
    else
        return SCHED_FOREVER;
    return sched_time_before(now, deadline) ? deadline - now : 0;
}

static sched_ret_t button_fn(sched_task_t *t)
{
    uint32_t now;
    TASK_BEGIN(t);
    for (;;) {
        TASK_AWAIT(t, &bt.ev, next_timeout(hal_time_us()));
        drain_edges();
        now = hal_time_us();
        if (bt.settling && !sched_time_before(now, bt.last_edge_t + CONFIG_BUTTON_DEBOUNCE_US))
            accept_level();
        if (bt.down && !bt.long_sent && !bt.settling &&
            !sched_time_before(now, bt.press_t + CONFIG_BUTTON_LONG_US)) {
            bt.long_sent = true;
            emit(PROTO_BUTTON_LONG, bt.press_t + CONFIG_BUTTON_LONG_US, CONFIG_BUTTON_LONG_US);
        }
    }
    TASK_END(t);
}

void button_init(void)
{
    memset(&bt, 0, sizeof(bt));
    sched_event_init(&bt.ev, true);
    bt.down = bt.raw = hal_button_is_down();
    memset(&button_task, 0, sizeof(button_task));
    (void)sched_task_add(&button_task, button_fn, "button");
}
