/*
 * fault_isolation.c - seed "Exceptions" (Peter Hinch's tutorial, 4.5, and the event-loop
 * blog's exception_task): a task fails after 3 s; the task awaiting it traps the failure and
 * reports it, and the others - a blink - run on as if nothing happened.
 *
 *     async def foo():                         async def bar():
 *         await asyncio.sleep(3)                   try:
 *         print('About to throw exception.')           await foo()
 *         1/0                                      except ZeroDivisionError:
 *                                                      print('foo was interrupted by zero
 * division') C has no exceptions: the failing task finishes with an error code in its context (what
 * `raise` would carry) and the awaiting task looks at it after TASK_GATHER.
 */
#include "ex.h"

#define E_ZERO_DIVISION (-1)

static struct {
    sched_task_t task;
    int32_t divisor, result, error;
} foo;
static sched_task_t bar, blink;
static sched_task_t *const awaited[1] = {&foo.task};

static sched_ret_t foo_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    foo.error = 0;
    TASK_SLEEP_MS(t, 3000);
    ex_puts("About to throw exception.\r\n");
    if (foo.divisor == 0) {
        foo.error = E_ZERO_DIVISION; /* raise ZeroDivisionError */
        TASK_EXIT(t);
    }
    foo.result = 1 / foo.divisor;
    TASK_END(t);
}

static sched_ret_t bar_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    sched_task_add(&foo.task, foo_fn, "foo");
    TASK_GATHER(t, awaited, 1, SCHED_FOREVER); /* await foo() */
    if (foo.error == E_ZERO_DIVISION)
        ex_puts("foo was interrupted by zero division\r\n");
    TASK_END(t);
}

static sched_ret_t blink_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        hal_led_set(!hal_led_get());
        TASK_SLEEP_MS(t, 250);
    }
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_task_add(&bar, bar_fn, "bar");
    sched_task_add(&blink, blink_fn, "blink");
    ex_run();
}
