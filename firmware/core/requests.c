/*
 * requests.c - what the board does for each request type. Called from the link task;
 * returns the ack body length, LINK_DEFERRED (the sensor task answers later) or a negative
 * proto_err that link.c turns into an ERROR frame.
 */
#include <string.h>

#include "board.h"
#include "button.h"
#include "config.h"
#include "hal.h"
#include "led.h"
#include "i2cbus.h"
#include "link.h"
#include "sensors.h"

static uint32_t caps(void)
{
    uint32_t c = PROTO_CAP_LED | PROTO_CAP_BUTTON | PROTO_CAP_I2C | PROTO_CAP_STATS;
    if (hal_can_reboot(PROTO_REBOOT_BOOTSEL))
        c |= PROTO_CAP_BOOTSEL;
    if (CONFIG_DEBUG_REQUESTS)
        c |= PROTO_CAP_DEBUG;
    return c;
}

static int do_hello(const proto_frame_t *f, uint8_t *out, size_t cap)
{
    proto_hello_req_t req;
    int rc = proto_hello_req_decode(f->body, f->body_len, &req);
    if (rc < 0)
        return rc;
    if (req.host_major != PROTO_VERSION_MAJOR)
        return -PROTO_E_VERSION;
    proto_hello_ack_t a;
    memset(&a, 0, sizeof(a));
    a.proto_major = PROTO_VERSION_MAJOR;
    a.proto_minor = PROTO_VERSION_MINOR;
    a.fw_major = FW_VERSION_MAJOR;
    a.fw_minor = FW_VERSION_MINOR;
    a.fw_patch = FW_VERSION_PATCH;
    a.platform = hal_platform();
    a.reset_cause = hal_reset_cause();
    a.host_wd_state = link_state();
    a.caps = caps();
    hal_board_id(a.board_id);
    strncpy(a.build, FW_BUILD_STRING, sizeof(a.build));
    a.crash = *hal_crash_record();
    a.uptime_ms = board_uptime_ms();
    board_hw_hello(&a.chip_rev, &a.clock_faults);
    link_hello(req.host_timeout_ms, req.session);
    return proto_hello_ack_encode(&a, out, cap);
}

static int do_heartbeat(uint8_t *out, size_t cap)
{
    proto_heartbeat_ack_t a = {board_uptime_ms(), link_state(), link_pending_events(), true,
                               board_uptime_us()};
    return proto_heartbeat_ack_encode(&a, out, cap);
}

static int state_ack(uint8_t *out, size_t cap)
{
    proto_state_t s;
    memset(&s, 0, sizeof(s));
    s.uptime_ms = board_uptime_ms();
    s.led_on = hal_led_get() ? 1 : 0;
    s.led_mode = led_mode();
    s.button_down = button_is_down() ? 1 : 0;
    s.link_state = link_state();
    s.button_presses = button_presses();
    s.sensor_count = sensors_count();
    return proto_state_encode(&s, out, cap);
}

static int do_set_led(const proto_frame_t *f, uint8_t *out, size_t cap)
{
    proto_set_led_req_t req;
    int rc = proto_set_led_req_decode(f->body, f->body_len, &req);
    if (rc < 0)
        return rc;
    rc = led_apply(&req);
    if (rc < 0)
        return rc;
    return state_ack(out, cap);
}

static int do_stats(uint8_t *out, size_t cap)
{
    const proto_decoder_stats_t *d = link_decoder_stats();
    const link_counters_t *c = link_counters();
    proto_stats_t s;
    memset(&s, 0, sizeof(s));
    s.uptime_ms = board_uptime_ms();
    s.rx_frames = d->frames;
    s.rx_crc_errors = d->crc_errors;
    s.rx_cobs_errors = d->cobs_errors;
    s.rx_oversize = d->oversize;
    s.rx_short = d->short_frames;
    s.rx_version = d->version_errors;
    s.rx_unknown = c->rx_unknown;
    s.rx_duplicates = c->rx_duplicates;
    s.tx_frames = c->tx_frames;
    s.tx_events_dropped = c->tx_events_dropped;
    s.host_lost_count = c->host_lost_count;
    s.i2c_errors = i2cbus_errors();
    hal_ram_usage(&s.ram_used, &s.ram_total);
    s.task_count = sched_task_count();
    s.link_state = link_state();
    hal_hw_info(&s.hw);
    return proto_stats_encode(&s, out, cap);
}

/* Index task_count is the pseudo-task "idle": idle time and the main stack's high water. */
static int do_task_stats(const proto_frame_t *f, uint8_t *out, size_t cap)
{
    if (f->body_len < 1)
        return -PROTO_E_LENGTH;
    uint8_t idx = f->body[0];
    proto_task_stats_t s;
    memset(&s, 0, sizeof(s));
    s.index = idx;
    if (idx < sched_task_count()) {
        const sched_task_t *t = sched_task_at(idx);
        const sched_task_stats_t *st = sched_task_stats(idx);
        /* NUL-padded on the wire, not necessarily terminated: copy at most 8 bytes. */
        for (size_t i = 0; i < sizeof(s.name) && t->name[i]; i++)
            s.name[i] = t->name[i];
        s.state = t->state;
        s.runs = st->runs;
        s.total_us = st->total_us;
        s.max_us = st->max_us;
        s.max_late_us = st->max_late_us;
    } else if (idx == sched_task_count()) {
        const sched_global_stats_t *g = sched_global_stats();
        memcpy(s.name, "idle", 4);
        s.runs = g->idle_calls;
        s.total_us = g->idle_us;
        s.stack_hwm = hal_stack_high_water();
    } else {
        return -PROTO_E_ARG;
    }
    return proto_task_stats_encode(&s, out, cap);
}

static void reboot_now(uint32_t mode)
{
    (void)hal_reboot((uint8_t)mode);
}

static int do_reboot(const proto_frame_t *f)
{
    uint8_t mode = f->body_len ? f->body[0] : PROTO_REBOOT_NORMAL;
    if (mode > PROTO_REBOOT_BOOTSEL)
        return -PROTO_E_ARG;
    if (!hal_can_reboot(mode))
        return -PROTO_E_UNSUPPORTED; /* answered now, before any ack: nothing happens */
    link_after_flush(reboot_now, mode);
    return 0;
}

#if CONFIG_DEBUG_REQUESTS
static void debug_hang(uint32_t arg)
{
    (void)arg;
    volatile uint32_t spin = 0;
    for (;;) /* never yields: the scheduler stops feeding the watchdog */
        spin++;
}

static void debug_fault(uint32_t arg)
{
    (void)arg;
    hal_debug_fault();
}

static void debug_silent(uint32_t ms)
{
    link_silence(ms);
}

static int do_debug(const proto_frame_t *f)
{
    if (f->body_len < 5)
        return -PROTO_E_LENGTH;
    uint8_t op = f->body[0];
    uint32_t arg = (uint32_t)f->body[1] | (uint32_t)f->body[2] << 8 | (uint32_t)f->body[3] << 16 |
                   (uint32_t)f->body[4] << 24;
    switch (op) {
    case PROTO_DEBUG_HANG:
        link_after_flush(debug_hang, arg);
        return 0;
    case PROTO_DEBUG_FAULT:
        link_after_flush(debug_fault, arg);
        return 0;
    case PROTO_DEBUG_SILENT:
        if (arg == 0 || arg > 600000u)
            return -PROTO_E_ARG;
        link_after_flush(debug_silent, arg);
        return 0;
    default:
        return -PROTO_E_ARG;
    }
}
#else
static int do_debug(const proto_frame_t *f)
{
    (void)f;
    return -PROTO_E_UNSUPPORTED;
}
#endif

static int do_bus_request(const proto_frame_t *f)
{
    switch (f->type) {
    case PROTO_MSG_READ_SENSORS:
        return sensors_request_read(f->seq, f->body_len ? f->body[0] : 0xff);
    case PROTO_MSG_I2C_SCAN:
        return sensors_request_scan(f->seq, f->body_len ? f->body[0] : 0);
    default: {
        static proto_i2c_xfer_req_t x; /* 132 bytes: keep it off the stack */
        int rc = proto_i2c_xfer_req_decode(f->body, f->body_len, &x);
        if (rc < 0)
            return rc;
        return sensors_request_xfer(f->seq, &x);
    }
    }
}

int requests_dispatch(const proto_frame_t *f, uint8_t *out, size_t cap)
{
    switch (f->type) {
    case PROTO_MSG_HELLO:
        return do_hello(f, out, cap);
    case PROTO_MSG_PING:
        if (f->body_len > cap)
            return -PROTO_E_LENGTH;
        memcpy(out, f->body, f->body_len);
        return f->body_len;
    case PROTO_MSG_HEARTBEAT:
        return do_heartbeat(out, cap);
    case PROTO_MSG_GET_STATE:
        return state_ack(out, cap);
    case PROTO_MSG_SET_LED:
        return do_set_led(f, out, cap);
    case PROTO_MSG_READ_SENSORS:
    case PROTO_MSG_I2C_SCAN:
    case PROTO_MSG_I2C_XFER:
        return do_bus_request(f);
    case PROTO_MSG_SET_POLL: {
        proto_set_poll_req_t req;
        int rc = proto_set_poll_req_decode(f->body, f->body_len, &req);
        if (rc < 0)
            return rc;
        rc = sensors_set_poll(req.sensor, req.interval_ms);
        return rc < 0 ? rc : 0;
    }
    case PROTO_MSG_GET_STATS:
        return do_stats(out, cap);
    case PROTO_MSG_GET_TASK_STATS:
        return do_task_stats(f, out, cap);
    case PROTO_MSG_REBOOT:
        return do_reboot(f);
    case PROTO_MSG_DEBUG:
        return do_debug(f);
    default:
        return -PROTO_E_UNKNOWN_TYPE;
    }
}

void requests_host_lost(void)
{
    led_auto();
    sensors_stop_polling();
}
