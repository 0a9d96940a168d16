/*
 * two_tasks.c - seed "Two Cooperative Tasks Without Blocking": the LED toggles every 250 ms,
 * a heartbeat line every 1000 ms, and main gathers both (asyncio.gather(task1, task2)).
 */
#include "ex.h"

#define HEARTBEAT_INTERVAL_MS 1000
#define BLINK_INTERVAL_MS     250

static sched_task_t led_task, heartbeat_task, main_task;
static int32_t count; /* survives waits: a static, not a local */
static sched_task_t *const both[2] = {&led_task, &heartbeat_task};

static sched_ret_t led_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        hal_led_set(!hal_led_get());
        ex_puts("LED toggled\r\n");
        TASK_SLEEP_MS(t, BLINK_INTERVAL_MS);
    }
    TASK_END(t);
}

static sched_ret_t heartbeat_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (count = 1;; count++) {
        ex_line("Heartbeat ", count, 1);
        TASK_SLEEP_MS(t, HEARTBEAT_INTERVAL_MS);
    }
    TASK_END(t);
}

static sched_ret_t main_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    sched_task_add(&led_task, led_fn, "led");
    sched_task_add(&heartbeat_task, heartbeat_fn, "heartbeat");
    TASK_GATHER(t, both, 2, SCHED_FOREVER); /* never: both loop forever */
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_task_add(&main_task, main_fn, "main");
    ex_run();
}
