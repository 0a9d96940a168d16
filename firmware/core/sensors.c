/*
 * sensors.c - sensor discovery, polling and host bus jobs, all in one task so the bus has a
 * single owner.
 */
#include "sensors.h"

#include <string.h>

#include "board.h"
#include "bme280.h"
#include "config.h"
#include "hal.h"
#include "i2cbus.h"
#include "link.h"
#include "sht3x.h"

enum job_kind { JOB_READ = 1, JOB_SCAN = 2, JOB_XFER = 3 };

typedef struct job {
    uint8_t kind;
    uint8_t arg; /* READ: sensor index or 0xff */
    uint16_t seq;
    proto_i2c_xfer_req_t x;
} job_t;

typedef struct sensor {
    uint8_t kind; /* enum proto_sensor_kind */
    uint8_t addr;
    uint32_t interval_ms; /* 0 = not polled */
    uint32_t next_due;    /* board us */
    union {
        bme280_t bme;
        sht3x_t sht;
    } drv;
} sensor_t;

static struct {
    sensor_t s[CONFIG_MAX_SENSORS];
    uint8_t count;
    job_t jobs_buf[CONFIG_SENSOR_JOBS];
    sched_queue_t jobs;
    sched_event_t wake; /* a job was queued or the polling changed */

    /* task context (survives waits) */
    job_t job;
    uint8_t i;
    uint16_t lc; /* resume point of the sub-coroutine helpers below */
    uint16_t probe_lc;
    int job_rc; /* a host transfer's result, kept across the yield before its answer */
    i2cbus_scan_t scan;
    uint8_t map[16];
    i2cbus_op_t op;
    uint8_t sht_cmd[2];
    proto_reading_t reading;
    union {
        proto_readings_t readings;
        proto_i2c_xfer_ack_t xack;
        proto_i2c_scan_ack_t sack;
    } u;
    uint8_t body[PROTO_MAX_BODY];
} sn;

sched_task_t sensors_task;

uint8_t sensors_count(void)
{
    return sn.count;
}

static int enqueue(const job_t *j)
{
    if (!sched_queue_put(&sn.jobs, j))
        return -PROTO_E_BUSY;
    sched_event_set(&sn.wake);
    return LINK_DEFERRED;
}

int sensors_request_read(uint16_t seq, uint8_t sensor)
{
    if (sensor != 0xff && sensor >= sn.count)
        return -PROTO_E_NO_SENSOR;
    job_t j = {.kind = JOB_READ, .arg = sensor, .seq = seq};
    return enqueue(&j);
}

int sensors_request_scan(uint16_t seq, uint8_t bus)
{
    if (bus != 0)
        return -PROTO_E_ARG;
    job_t j = {.kind = JOB_SCAN, .seq = seq};
    return enqueue(&j);
}

int sensors_request_xfer(uint16_t seq, const proto_i2c_xfer_req_t *req)
{
    if (req->bus != 0 || req->addr > 0x7f || (req->wlen == 0 && req->rlen == 0) ||
        req->wlen > PROTO_I2C_MAX_DATA || req->rlen > PROTO_I2C_MAX_DATA)
        return -PROTO_E_ARG;
    job_t j = {.kind = JOB_XFER, .seq = seq, .x = *req};
    return enqueue(&j);
}

int sensors_set_poll(uint8_t sensor, uint32_t interval_ms)
{
    if (interval_ms != 0 && (interval_ms < CONFIG_POLL_MIN_MS || interval_ms > 2000000u))
        return -PROTO_E_ARG;
    if (sensor != 0xff && sensor >= sn.count)
        return -PROTO_E_NO_SENSOR;
    uint32_t now = hal_time_us();
    for (uint8_t i = 0; i < sn.count; i++) {
        if (sensor == 0xff || sensor == i) {
            sn.s[i].interval_ms = interval_ms;
            sn.s[i].next_due = now;
        }
    }
    sched_event_set(&sn.wake);
    return 0;
}

void sensors_stop_polling(void)
{
    for (uint8_t i = 0; i < sn.count; i++)
        sn.s[i].interval_ms = 0;
    sched_event_set(&sn.wake);
}

static bool known(uint8_t kind, uint8_t addr)
{
    for (uint8_t i = 0; i < sn.count; i++)
        if (sn.s[i].kind == kind && sn.s[i].addr == addr)
            return true;
    return false;
}

static void add_sensor(uint8_t kind, uint8_t addr)
{
    if (sn.count >= CONFIG_MAX_SENSORS || known(kind, addr))
        return;
    sensor_t *s = &sn.s[sn.count++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->addr = addr;
    if (kind == PROTO_SENSOR_BME280) {
        s->drv.bme.addr = addr;
    } else {
        s->drv.sht.addr = addr;
    }
}

/* Sub-coroutine: after a scan, identify BME280s by chip id and SHT3x by a measurement. */
static int probe(sched_task_t *t, uint16_t *lc)
{
    static const uint8_t bme_addrs[2] = {0x76, 0x77};
    static const uint8_t sht_addrs[2] = {0x44, 0x45};
    int rc = 0;
    SUB_BEGIN(lc);
    for (sn.i = 0; sn.i < 2; sn.i++) {
        if (!proto_i2c_map_has(sn.map, bme_addrs[sn.i]) ||
            known(PROTO_SENSOR_BME280, bme_addrs[sn.i]))
            continue;
        add_sensor(PROTO_SENSOR_BME280, bme_addrs[sn.i]);
        sn.s[sn.count - 1].drv.bme.lc = 0;
        SUB_CALL(lc, rc, bme280_init(t, &sn.s[sn.count - 1].drv.bme));
        if (rc < 0)
            sn.count--; /* not a BME280 (or not answering): forget it */
    }
    /* An SHT3x answers reads only with a measurement pending, so identify candidates by
     * what they do acknowledge: a measurement command (0x2400, high repeatability). */
    for (sn.i = 0; sn.i < 2; sn.i++) {
        if (known(PROTO_SENSOR_SHT3X, sht_addrs[sn.i]))
            continue;
        sn.sht_cmd[0] = (uint8_t)(SHT3X_CMD_MEASURE_HI >> 8);
        sn.sht_cmd[1] = (uint8_t)(SHT3X_CMD_MEASURE_HI & 0xff);
        i2cbus_set_write(&sn.op, sht_addrs[sn.i], sn.sht_cmd, 2);
        sn.op.probe = 1;
        SUB_CALL(lc, rc, i2cbus_xfer(t, &sn.op));
        if (rc == 0) {
            add_sensor(PROTO_SENSOR_SHT3X, sht_addrs[sn.i]);
            sn.map[sht_addrs[sn.i] >> 3] |= (uint8_t)(1u << (sht_addrs[sn.i] & 7));
        }
    }
    SUB_END(lc);
}

/* Sub-coroutine: measure sensor sn.i into sn.reading. */
static int measure(sched_task_t *t, uint16_t *lc)
{
    int rc = 0;
    sensor_t *s = &sn.s[sn.i];
    SUB_BEGIN(lc);
    memset(&sn.reading, 0, sizeof(sn.reading));
    if (s->kind == PROTO_SENSOR_BME280) {
        s->drv.bme.lc = 0;
        SUB_CALL(lc, rc, bme280_measure(t, &s->drv.bme, &sn.reading));
    } else {
        s->drv.sht.lc = 0;
        SUB_CALL(lc, rc, sht3x_measure(t, &s->drv.sht, &sn.reading));
    }
    s = &sn.s[sn.i];
    sn.reading.sensor = sn.i;
    sn.reading.kind = s->kind;
    sn.reading.addr = s->addr;
    sn.reading.t_ms = board_uptime_ms();
    if (rc < 0) {
        sn.reading.status = (uint8_t)-rc;
        sn.reading.flags = 0;
        if (s->kind == PROTO_SENSOR_BME280)
            s->drv.bme.ready = 0; /* reload the calibration once it answers again */
    }
    SUB_END(lc);
}

static void send_reading_event(void)
{
    int n = proto_reading_encode(&sn.reading, sn.body, sizeof(sn.body));
    if (n >= 0)
        (void)link_send_event(PROTO_MSG_SENSOR_READING, sn.body, (size_t)n);
}

static void respond(uint8_t req_type, int n)
{
    if (n < 0)
        (void)link_respond_error(sn.job.seq, req_type, (uint8_t)-n, 0);
    else
        (void)link_respond(sn.job.seq, req_type, sn.body, (size_t)n);
}

/* Time until the next due poll, SCHED_FOREVER if none. */
static uint32_t poll_wait(uint32_t now)
{
    uint32_t wait = SCHED_FOREVER;
    for (uint8_t i = 0; i < sn.count; i++) {
        if (!sn.s[i].interval_ms)
            continue;
        uint32_t left = sched_time_before(now, sn.s[i].next_due) ? sn.s[i].next_due - now : 0;
        if (left < wait)
            wait = left;
    }
    return wait;
}

static int find_due(uint32_t now)
{
    for (uint8_t i = 0; i < sn.count; i++)
        if (sn.s[i].interval_ms && !sched_time_before(now, sn.s[i].next_due))
            return i;
    return -1;
}

static sched_ret_t sensors_fn(sched_task_t *t)
{
    int rc = 0;
    int due;
    TASK_BEGIN(t);
    sn.scan.lc = 0;
    TASK_CALL(t, rc, i2cbus_scan(t, &sn.scan, sn.map));
    sn.probe_lc = 0;
    TASK_CALL(t, rc, probe(t, &sn.probe_lc));
    for (;;) {
        /* Host jobs first, then polls that are due, else wait for either. */
        if (sched_queue_get(&sn.jobs, &sn.job)) {
            if (sn.job.kind == JOB_SCAN) {
                sn.scan.lc = 0;
                TASK_CALL(t, rc, i2cbus_scan(t, &sn.scan, sn.map));
                sn.probe_lc = 0;
                TASK_CALL(t, rc, probe(t, &sn.probe_lc));
                /* The bus work is done; framing the answer (CRC, COBS) is the next run's, so
                 * no single run does both (as for polled readings below). */
                TASK_YIELD(t);
                sn.u.sack.bus = 0;
                memcpy(sn.u.sack.map, sn.map, sizeof(sn.map));
                respond(PROTO_MSG_I2C_SCAN,
                        proto_i2c_scan_ack_encode(&sn.u.sack, sn.body, sizeof(sn.body)));
            } else if (sn.job.kind == JOB_XFER) {
                i2cbus_set_read(&sn.op, sn.job.x.addr, sn.job.x.wdata, sn.job.x.wlen,
                                sn.u.xack.rdata, sn.job.x.rlen);
                TASK_CALL(t, rc, i2cbus_xfer(t, &sn.op));
                sn.job_rc = rc;
                TASK_YIELD(t);
                sn.u.xack.rlen = sn.job.x.rlen;
                respond(PROTO_MSG_I2C_XFER,
                        sn.job_rc < 0
                            ? sn.job_rc
                            : proto_i2c_xfer_ack_encode(&sn.u.xack, sn.body, sizeof(sn.body)));
            } else {
                sn.u.readings.count = 0;
                for (sn.i = 0; sn.i < sn.count; sn.i++) {
                    if (sn.job.arg != 0xff && sn.job.arg != sn.i)
                        continue;
                    sn.lc = 0;
                    TASK_CALL(t, rc, measure(t, &sn.lc));
                    if (sn.u.readings.count < PROTO_MAX_READINGS)
                        sn.u.readings.r[sn.u.readings.count++] = sn.reading;
                }
                TASK_YIELD(t);
                respond(PROTO_MSG_READ_SENSORS,
                        proto_readings_encode(&sn.u.readings, sn.body, sizeof(sn.body)));
            }
            continue;
        }
        due = find_due(hal_time_us());
        if (due >= 0) {
            sn.i = (uint8_t)due;
            /* next_due advances by whole intervals: no drift, no burst after a stall */
            sn.s[sn.i].next_due += sn.s[sn.i].interval_ms * 1000u;
            if (sched_time_before(sn.s[sn.i].next_due, hal_time_us()))
                sn.s[sn.i].next_due = hal_time_us() + sn.s[sn.i].interval_ms * 1000u;
            sn.lc = 0;
            TASK_CALL(t, rc, measure(t, &sn.lc));
            /* Conversion done; framing the event (CRC, COBS) is the next run's work, so no
             * single run does both (other tasks get in between). */
            TASK_YIELD(t);
            if (sn.s[sn.i].interval_ms) /* still wanted (not stopped meanwhile) */
                send_reading_event();
            continue;
        }
        /* Wait for a job, a poll change, or the next due time. */
        if (sched_queue_count(&sn.jobs) == 0) {
            TASK_AWAIT(t, &sn.wake, poll_wait(hal_time_us()));
        }
    }
    TASK_END(t);
}

void sensors_init(void)
{
    memset(&sn, 0, sizeof(sn));
    sched_queue_init(&sn.jobs, sn.jobs_buf, sizeof(job_t), CONFIG_SENSOR_JOBS);
    sched_event_init(&sn.wake, true);
    i2cbus_init();
    memset(&sensors_task, 0, sizeof(sensors_task));
    (void)sched_task_add(&sensors_task, sensors_fn, "sensors");
}
