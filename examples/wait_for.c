/*
 * wait_for.c - seed "Coroutines with timeouts" (Peter Hinch's tutorial, 4.4): wait_for runs
 * forever() with a 5 s timeout; on the timeout forever() is told (TimeoutError: here its
 * TASK_CLEANUP, reached by cancellation) and the caller carries on.
 *
 *     async def forever():                     async def foo():
 *         print('Starting')                        await asyncio.wait_for(forever(), 5)
 *         try:                                     await asyncio.sleep(2)
 *             while True:
 *                 await asyncio.sleep_ms(300)
 *                 print('Got here')
 *         except asyncio.TimeoutError:
 *             print('Got timeout')
 */
#include "ex.h"

static sched_task_t forever, foo;
static sched_task_t *const awaited[1] = {&forever};

static sched_ret_t forever_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    ex_puts("Starting\r\n");
    for (;;) {
        TASK_SLEEP_MS(t, 300);
        ex_puts("Got here\r\n");
    }
    TASK_CLEANUP(t);
    ex_puts("Got timeout\r\n");
    TASK_END(t);
}

static sched_ret_t foo_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    /* await asyncio.wait_for(forever(), 5): start it, wait for it to finish or 5 s */
    sched_task_add(&forever, forever_fn, "forever");
    TASK_GATHER(t, awaited, 1, 5000000u);
    if (sched_timed_out(t)) {
        sched_cancel(&forever);
        TASK_GATHER(t, awaited, 1, SCHED_FOREVER); /* until its cleanup ran */
    }
    TASK_SLEEP_MS(t, 2000);
    ex_puts("foo: done\r\n");
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_task_add(&foo, foo_fn, "foo");
    ex_run();
}
