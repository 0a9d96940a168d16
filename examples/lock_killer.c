/*
 * lock_killer.c - seed "Lock" (Peter Hinch's tutorial, 3.1) with its killer: three tasks take
 * turns on a shared resource, each holding the lock for 0.5 s; after 10 s a killer cancels
 * them (run_until_complete(killer()) ends the program there) and says so.
 *
 *     async def task(i, lock):                 async def killer():
 *         while 1:                                 await asyncio.sleep(10)
 *             await lock.acquire()
 *             print("Acquired lock in task", i)
 *             await asyncio.sleep(0.5)
 *             lock.release()
 */
#include "ex.h"

static sched_lock_t lock;
static struct worker {
    sched_task_t task; /* first: the task function finds its context from t */
    int32_t i;
} workers[3] = {{.i = 1}, {.i = 2}, {.i = 3}};
static sched_task_t killer;

static sched_ret_t worker_fn(sched_task_t *t)
{
    struct worker *w = (struct worker *)(void *)t;
    TASK_BEGIN(t);
    for (;;) {
        TASK_LOCK(t, &lock, SCHED_FOREVER);
        ex_line("Acquired lock in task ", w->i, 1);
        TASK_SLEEP_MS(t, 500);
        sched_lock_release(&lock);
    }
    TASK_CLEANUP(t);
    if (lock.owner == t) /* cancelled while holding it: give it back (`finally`) */
        sched_lock_release(&lock);
    TASK_END(t);
}

static sched_ret_t killer_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    TASK_SLEEP_MS(t, 10000);
    for (int k = 0; k < 3; k++)
        sched_cancel(&workers[k].task);
    ex_puts("killer: done\r\n");
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_lock_init(&lock);
    for (int k = 0; k < 3; k++)
        sched_task_add(&workers[k].task, worker_fn, "worker");
    sched_task_add(&killer, killer_fn, "killer");
    ex_run();
}
