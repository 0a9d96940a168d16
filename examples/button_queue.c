/*
 * button_queue.c - seed "Getting Started with Asyncio" (DigiKey): the time between two button
 * presses, capped at 2000 ms, goes through a queue to the blink task as its new delay.
 *
 *     async def blink(q):                      async def wait_button():  (polls every 40 ms)
 *         delay_ms = 0                         async def main():
 *         while True:                              q = queue.Queue(); create_task(blink(q))
 *             if not q.empty():                    while True:
 *                 delay_ms = await q.get()             await wait_button()
 *             led.toggle()                             delay = min(now - last, 2000)
 *             await sleep_ms(delay_ms)                 print(delay); await q.put(delay)
 */
#include "ex.h"

static uint32_t qbuf[4];
static sched_queue_t q;
static struct {
    sched_task_t task;
    uint32_t delay_ms;
} blink;
static struct {
    sched_task_t task;
    bool prev;
    uint32_t last_ms, delay;
} main_ctx;

static sched_ret_t blink_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    blink.delay_ms = 0;
    for (;;) {
        if (sched_queue_count(&q) > 0)
            TASK_QUEUE_GET(t, &q, &blink.delay_ms, 0);
        hal_led_set(!hal_led_get());
        TASK_SLEEP_MS(t, blink.delay_ms);
        if (blink.delay_ms == 0)
            TASK_SLEEP_MS(t, 1); /* (a zero delay would never let the LED be seen) */
    }
    TASK_END(t);
}

static sched_ret_t main_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    sched_queue_init(&q, qbuf, sizeof(uint32_t), 4);
    sched_task_add(&blink.task, blink_fn, "blink");
    main_ctx.last_ms = sched_now() / 1000u;
    for (;;) {
        /* wait_button(): return on a press (a new "down" level), polling every 40 ms */
        main_ctx.prev = hal_button_is_down();
        while (!hal_button_is_down() || main_ctx.prev) {
            main_ctx.prev = hal_button_is_down();
            TASK_SLEEP_MS(t, 40);
        }
        uint32_t now_ms = sched_now() / 1000u;
        main_ctx.delay = now_ms - main_ctx.last_ms;
        main_ctx.last_ms = now_ms;
        ex_line("", (int32_t)main_ctx.delay, 1);
        if (main_ctx.delay > 2000)
            main_ctx.delay = 2000;
        TASK_QUEUE_PUT(t, &q, &main_ctx.delay, SCHED_FOREVER);
    }
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_task_add(&main_ctx.task, main_fn, "main");
    ex_run();
}
