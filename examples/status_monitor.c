/*
 * status_monitor.c - seed "Hands-On Challenge: a low-allocation status monitor": the LED
 * blinks every 500 ms, the button on GP15 is watched (a press is reported, edge-detected at
 * 50 ms like the seed's button_monitor_task), a heartbeat line every 2 s, all concurrent.
 */
#include "ex.h"

static sched_task_t led_task, heartbeat_task;
static struct {
    sched_task_t task;
    bool last;
    int32_t presses;
} button;
static int32_t beats;

static sched_ret_t led_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        hal_led_set(!hal_led_get());
        TASK_SLEEP_MS(t, 500);
    }
    TASK_END(t);
}

static sched_ret_t button_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    button.last = hal_button_is_down();
    for (;;) {
        bool down = hal_button_is_down();
        if (down && !button.last) {
            button.presses++;
            ex_line("Button pressed ", button.presses, 1);
        }
        button.last = down;
        TASK_SLEEP_MS(t, 50);
    }
    TASK_END(t);
}

static sched_ret_t heartbeat_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        TASK_SLEEP_MS(t, 2000);
        ex_line("Heartbeat ", ++beats, 1);
    }
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_task_add(&led_task, led_fn, "led");
    sched_task_add(&button.task, button_fn, "button");
    sched_task_add(&heartbeat_task, heartbeat_fn, "heartbeat");
    ex_run();
}
