/*
 * blink.c - seed "Low-Allocation Blink Task": LED on 300 ms, off 700 ms, a line each time.
 *
 *     async def blink_task():
 *         while True:
 *             led.value(1); print("LED ON");  await asyncio.sleep_ms(BLINK_ON_MS)
 *             led.value(0); print("LED OFF"); await asyncio.sleep_ms(BLINK_OFF_MS)
 */
#include "ex.h"

#define BLINK_ON_MS  300
#define BLINK_OFF_MS 700

static sched_task_t blink;

static sched_ret_t blink_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        hal_led_set(true);
        ex_puts("LED ON\r\n");
        TASK_SLEEP_MS(t, BLINK_ON_MS);
        hal_led_set(false);
        ex_puts("LED OFF\r\n");
        TASK_SLEEP_MS(t, BLINK_OFF_MS);
    }
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_task_add(&blink, blink_fn, "blink");
    ex_run();
}
