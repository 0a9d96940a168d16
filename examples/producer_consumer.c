/*
 * producer_consumer.c - seed "Queue" (Peter Hinch's tutorial, 3.5): a producer puts results
 * on a size-limited queue (pausing while it is full), a consumer takes them in order.
 *
 *     async def producer(q):                   async def consumer(q):
 *         while True:                              while True:
 *             result = await slow_process()            result = await q.get()
 *             await q.put(result)                      print('Result was {}'.format(result))
 */
#include "ex.h"

#define QUEUE_LEN 3

static int32_t qbuf[QUEUE_LEN];
static sched_queue_t q;
static struct {
    sched_task_t task;
    int32_t result;
} producer;
static struct {
    sched_task_t task;
    int32_t result;
} consumer;

static sched_ret_t producer_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (producer.result = 0;; producer.result++) {
        TASK_SLEEP_MS(t, 100); /* slow_process() */
        TASK_QUEUE_PUT(t, &q, &producer.result, SCHED_FOREVER);
    }
    TASK_END(t);
}

static sched_ret_t consumer_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        TASK_QUEUE_GET(t, &q, &consumer.result, SCHED_FOREVER);
        ex_line("Result was ", consumer.result, 1);
        /* a slow consumer for the first second: the queue fills, the producer waits */
        if (consumer.result < 10)
            TASK_SLEEP_MS(t, 250);
    }
    TASK_END(t);
}

void app_main(void)
{
    ex_init();
    sched_queue_init(&q, qbuf, sizeof(int32_t), QUEUE_LEN);
    sched_task_add(&producer.task, producer_fn, "producer");
    sched_task_add(&consumer.task, consumer_fn, "consumer");
    ex_run();
}
