/*
 * led.c - LED task. Every mode is reduced to "level now, hold it for hold_us"; the task
 * sleeps that long, and a change request wakes it (sched_task_wake), so a new mode takes
 * effect at once; a steady LED waits for a change request (led.ev) and costs no wake-ups at
 * all. (A repeating sleep is the scheduler's cheapest timed wait: no event test per toggle.)
 */
#include "led.h"

#include <string.h>

#include "hal.h"

#define HEARTBEAT_STEP_US 100000u

static struct {
    sched_event_t ev; /* first: the task's wait compares its address with no offset */
    uint8_t mode;     /* enum proto_led_op: OFF, ON, BLINK, PATTERN or AUTO */
    uint8_t link_state;
    uint8_t duty_pct;
    uint8_t pattern_len;
    uint16_t period_ms;
    uint32_t blink_on_us, blink_off_us; /* BLINK: computed once by led_apply (no division
                                         * per toggle) */
    uint32_t pattern;
    uint8_t step; /* position in the pattern / blink phase */
} led;

sched_task_t led_task;

void led_heartbeat_pattern(uint8_t state, uint32_t *bits, uint8_t *len)
{
    switch (state) {
    case PROTO_LINK_ONLINE:
        *bits = 0x005u; /* on, off, on, off x7 */
        *len = 10;
        break;
    case PROTO_LINK_HOST_LOST:
        *bits = 0x1u;
        *len = 2;
        break;
    case PROTO_LINK_FAULT:
        *bits = 0x015u;
        *len = 10;
        break;
    default: /* WAITING */
        *bits = 0x01fu;
        *len = 10;
        break;
    }
}

uint8_t led_mode(void)
{
    return led.mode;
}

static void changed(void)
{
    led.step = 0;
    sched_event_set(&led.ev);   /* a steady LED waits for it */
    sched_task_wake(&led_task); /* a blinking one sleeps */
}

void led_set_link_state(uint8_t state)
{
    if (led.link_state == state)
        return;
    led.link_state = state;
    if (led.mode == PROTO_LED_AUTO)
        changed();
}

void led_auto(void)
{
    led.mode = PROTO_LED_AUTO;
    changed();
}

static bool period_ok(uint16_t ms)
{
    return ms >= 10 && ms <= 60000;
}

int led_apply(const proto_set_led_req_t *r)
{
    switch (r->op) {
    case PROTO_LED_OFF:
    case PROTO_LED_ON:
        led.mode = r->op;
        hal_led_set(r->op == PROTO_LED_ON); /* visible at once, before the task runs */
        break;
    case PROTO_LED_TOGGLE:
        led.mode = hal_led_get() ? PROTO_LED_OFF : PROTO_LED_ON;
        hal_led_set(led.mode == PROTO_LED_ON);
        break;
    case PROTO_LED_BLINK:
        if (r->duty_pct < 1 || r->duty_pct > 99 || !period_ok(r->period_ms))
            return -PROTO_E_ARG;
        led.mode = PROTO_LED_BLINK;
        led.duty_pct = r->duty_pct;
        led.period_ms = r->period_ms;
        led.blink_on_us = (uint32_t)r->period_ms * 10u * r->duty_pct; /* ms*1000*pct/100 */
        led.blink_off_us = (uint32_t)r->period_ms * 1000u - led.blink_on_us;
        break;
    case PROTO_LED_AUTO:
        led.mode = PROTO_LED_AUTO;
        break;
    case PROTO_LED_PATTERN:
        if (r->pattern_len < 1 || r->pattern_len > 32 || !period_ok(r->period_ms))
            return -PROTO_E_ARG;
        led.mode = PROTO_LED_PATTERN;
        led.pattern = r->pattern;
        led.pattern_len = r->pattern_len;
        led.period_ms = r->period_ms;
        break;
    default:
        return -PROTO_E_ARG;
    }
    changed();
    return 0;
}

/* Level for the current step and how long to hold it (SCHED_FOREVER = steady). */
static uint32_t led_step(bool *on)
{
    uint32_t bits;
    uint8_t len;
    uint32_t step_us;
    switch (led.mode) {
    case PROTO_LED_OFF:
    case PROTO_LED_ON:
        *on = led.mode == PROTO_LED_ON;
        return SCHED_FOREVER;
    case PROTO_LED_BLINK:
        *on = (led.step & 1u) == 0;
        led.step ^= 1u;
        return *on ? led.blink_on_us : led.blink_off_us;
    case PROTO_LED_PATTERN:
        bits = led.pattern;
        len = led.pattern_len;
        step_us = (uint32_t)led.period_ms * 1000u;
        break;
    default:
        led_heartbeat_pattern(led.link_state, &bits, &len);
        step_us = HEARTBEAT_STEP_US;
        break;
    }
    if (led.step >= len)
        led.step = 0;
    *on = (bits >> led.step) & 1u;
    led.step++;
    return step_us;
}

static sched_ret_t led_fn(sched_task_t *t)
{
    bool on = false;
    uint32_t hold;
    TASK_BEGIN(t);
    for (;;) {
        hold = led_step(&on);
        hal_led_set(on);
        if (hold == SCHED_FOREVER) {
            TASK_AWAIT(t, &led.ev, SCHED_FOREVER);
        } else {
            TASK_SLEEP_US(t, hold); /* (a set of led.ev meanwhile costs a steady LED one look) */
        }
    }
    TASK_END(t);
}

void led_init(void)
{
    uint8_t st = led.link_state;
    memset(&led, 0, sizeof(led));
    led.link_state = st; /* link_init may have set it already */
    led.mode = PROTO_LED_AUTO;
    sched_event_init(&led.ev, true);
    memset(&led_task, 0, sizeof(led_task));
    (void)sched_task_add(&led_task, led_fn, "led");
}
