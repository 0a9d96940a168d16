/*
 * msg.c - message body codecs: one fixed little-endian layout per message type.
 *
 * Encoders return the body length or -PROTO_E_LENGTH when out is too small. Decoders return 0,
 * -PROTO_E_LENGTH for a body shorter than the layout, or -PROTO_E_ARG for a field out of range;
 * trailing bytes are ignored so that a later minor version can append fields.
 */
#include <string.h>

#include "proto.h"

static proto_buf_t writer(uint8_t *out, size_t cap)
{
    proto_buf_t b = {out, cap, 0, false};
    return b;
}

static proto_buf_t reader(const uint8_t *body, size_t len)
{
    /* The reader never writes through data: the cast only lets one cursor type serve both. */
    proto_buf_t b = {(uint8_t *)(uintptr_t)body, len, 0, false};
    return b;
}

static int w_end(const proto_buf_t *b)
{
    return b->err ? -PROTO_E_LENGTH : (int)b->pos;
}

static int r_end(const proto_buf_t *b)
{
    return b->err ? -PROTO_E_LENGTH : 0;
}

/* ---- HELLO -------------------------------------------------------------------------------- */

int proto_hello_req_encode(const proto_hello_req_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->host_major);
    proto_put_u8(&b, m->host_minor);
    proto_put_u16(&b, m->host_timeout_ms);
    return w_end(&b);
}

int proto_hello_req_decode(const uint8_t *body, size_t len, proto_hello_req_t *m)
{
    proto_buf_t b = reader(body, len);
    m->host_major = proto_get_u8(&b);
    m->host_minor = proto_get_u8(&b);
    m->host_timeout_ms = proto_get_u16(&b);
    return r_end(&b);
}

static void put_crash(proto_buf_t *b, const proto_crash_t *c)
{
    proto_put_u8(b, c->kind);
    proto_put_u8(b, c->task);
    proto_put_u32(b, c->pc);
    proto_put_u32(b, c->lr);
    proto_put_u32(b, c->uptime_ms);
}

static void get_crash(proto_buf_t *b, proto_crash_t *c)
{
    c->kind = proto_get_u8(b);
    c->task = proto_get_u8(b);
    c->pc = proto_get_u32(b);
    c->lr = proto_get_u32(b);
    c->uptime_ms = proto_get_u32(b);
}

int proto_hello_ack_encode(const proto_hello_ack_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->proto_major);
    proto_put_u8(&b, m->proto_minor);
    proto_put_u8(&b, m->fw_major);
    proto_put_u8(&b, m->fw_minor);
    proto_put_u8(&b, m->fw_patch);
    proto_put_u8(&b, m->platform);
    proto_put_u8(&b, m->reset_cause);
    proto_put_u8(&b, m->host_wd_state);
    proto_put_u32(&b, m->caps);
    proto_put_bytes(&b, m->board_id, PROTO_BOARD_ID_LEN);
    proto_put_bytes(&b, m->build, PROTO_BUILD_LEN);
    put_crash(&b, &m->crash);
    proto_put_u32(&b, m->uptime_ms);
    return w_end(&b);
}

int proto_hello_ack_decode(const uint8_t *body, size_t len, proto_hello_ack_t *m)
{
    proto_buf_t b = reader(body, len);
    m->proto_major = proto_get_u8(&b);
    m->proto_minor = proto_get_u8(&b);
    m->fw_major = proto_get_u8(&b);
    m->fw_minor = proto_get_u8(&b);
    m->fw_patch = proto_get_u8(&b);
    m->platform = proto_get_u8(&b);
    m->reset_cause = proto_get_u8(&b);
    m->host_wd_state = proto_get_u8(&b);
    m->caps = proto_get_u32(&b);
    proto_get_bytes(&b, m->board_id, PROTO_BOARD_ID_LEN);
    proto_get_bytes(&b, m->build, PROTO_BUILD_LEN);
    get_crash(&b, &m->crash);
    m->uptime_ms = proto_get_u32(&b);
    return r_end(&b);
}

/* ---- HEARTBEAT, STATE, LED ---------------------------------------------------------------- */

int proto_heartbeat_ack_encode(const proto_heartbeat_ack_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u32(&b, m->uptime_ms);
    proto_put_u8(&b, m->link_state);
    proto_put_u8(&b, m->pending_events);
    return w_end(&b);
}

int proto_heartbeat_ack_decode(const uint8_t *body, size_t len, proto_heartbeat_ack_t *m)
{
    proto_buf_t b = reader(body, len);
    m->uptime_ms = proto_get_u32(&b);
    m->link_state = proto_get_u8(&b);
    m->pending_events = proto_get_u8(&b);
    return r_end(&b);
}

int proto_set_led_req_encode(const proto_set_led_req_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->op);
    proto_put_u8(&b, m->duty_pct);
    proto_put_u16(&b, m->period_ms);
    proto_put_u32(&b, m->pattern);
    proto_put_u8(&b, m->pattern_len);
    return w_end(&b);
}

int proto_set_led_req_decode(const uint8_t *body, size_t len, proto_set_led_req_t *m)
{
    proto_buf_t b = reader(body, len);
    m->op = proto_get_u8(&b);
    m->duty_pct = proto_get_u8(&b);
    m->period_ms = proto_get_u16(&b);
    m->pattern = proto_get_u32(&b);
    m->pattern_len = proto_get_u8(&b);
    if (b.err)
        return -PROTO_E_LENGTH;
    if (m->op > PROTO_LED_PATTERN)
        return -PROTO_E_ARG;
    if (m->op == PROTO_LED_BLINK || m->op == PROTO_LED_PATTERN) {
        if (m->period_ms < 10 || m->period_ms > 60000)
            return -PROTO_E_ARG;
    }
    if (m->op == PROTO_LED_BLINK && (m->duty_pct < 1 || m->duty_pct > 99))
        return -PROTO_E_ARG;
    if (m->op == PROTO_LED_PATTERN && (m->pattern_len < 1 || m->pattern_len > 32))
        return -PROTO_E_ARG;
    return 0;
}

int proto_state_encode(const proto_state_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u32(&b, m->uptime_ms);
    proto_put_u8(&b, m->led_on);
    proto_put_u8(&b, m->led_mode);
    proto_put_u8(&b, m->button_down);
    proto_put_u8(&b, m->link_state);
    proto_put_u32(&b, m->button_presses);
    proto_put_u8(&b, m->sensor_count);
    return w_end(&b);
}

int proto_state_decode(const uint8_t *body, size_t len, proto_state_t *m)
{
    proto_buf_t b = reader(body, len);
    m->uptime_ms = proto_get_u32(&b);
    m->led_on = proto_get_u8(&b);
    m->led_mode = proto_get_u8(&b);
    m->button_down = proto_get_u8(&b);
    m->link_state = proto_get_u8(&b);
    m->button_presses = proto_get_u32(&b);
    m->sensor_count = proto_get_u8(&b);
    return r_end(&b);
}

/* ---- sensors ------------------------------------------------------------------------------- */

static void put_reading(proto_buf_t *b, const proto_reading_t *r)
{
    proto_put_u8(b, r->sensor);
    proto_put_u8(b, r->kind);
    proto_put_u8(b, r->addr);
    proto_put_u8(b, r->status);
    proto_put_u8(b, r->flags);
    proto_put_u32(b, (uint32_t)r->temp_centi_c);
    proto_put_u32(b, r->pressure_pa);
    proto_put_u32(b, r->humidity_milli_pct);
    proto_put_u32(b, r->t_ms);
}

static void get_reading(proto_buf_t *b, proto_reading_t *r)
{
    r->sensor = proto_get_u8(b);
    r->kind = proto_get_u8(b);
    r->addr = proto_get_u8(b);
    r->status = proto_get_u8(b);
    r->flags = proto_get_u8(b);
    r->temp_centi_c = (int32_t)proto_get_u32(b);
    r->pressure_pa = proto_get_u32(b);
    r->humidity_milli_pct = proto_get_u32(b);
    r->t_ms = proto_get_u32(b);
}

int proto_reading_encode(const proto_reading_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_reading(&b, m);
    return w_end(&b);
}

int proto_reading_decode(const uint8_t *body, size_t len, proto_reading_t *m)
{
    proto_buf_t b = reader(body, len);
    get_reading(&b, m);
    return r_end(&b);
}

int proto_readings_encode(const proto_readings_t *m, uint8_t *out, size_t cap)
{
    if (m->count > PROTO_MAX_READINGS)
        return -PROTO_E_ARG;
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->count);
    for (uint8_t i = 0; i < m->count; i++)
        put_reading(&b, &m->r[i]);
    return w_end(&b);
}

int proto_readings_decode(const uint8_t *body, size_t len, proto_readings_t *m)
{
    proto_buf_t b = reader(body, len);
    m->count = proto_get_u8(&b);
    if (b.err)
        return -PROTO_E_LENGTH;
    if (m->count > PROTO_MAX_READINGS)
        return -PROTO_E_ARG;
    for (uint8_t i = 0; i < m->count; i++)
        get_reading(&b, &m->r[i]);
    return r_end(&b);
}

int proto_set_poll_req_encode(const proto_set_poll_req_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->sensor);
    proto_put_u32(&b, m->interval_ms);
    return w_end(&b);
}

int proto_set_poll_req_decode(const uint8_t *body, size_t len, proto_set_poll_req_t *m)
{
    proto_buf_t b = reader(body, len);
    m->sensor = proto_get_u8(&b);
    m->interval_ms = proto_get_u32(&b);
    return r_end(&b);
}

/* ---- I2C ----------------------------------------------------------------------------------- */

int proto_i2c_scan_ack_encode(const proto_i2c_scan_ack_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->bus);
    proto_put_bytes(&b, m->map, sizeof(m->map));
    return w_end(&b);
}

int proto_i2c_scan_ack_decode(const uint8_t *body, size_t len, proto_i2c_scan_ack_t *m)
{
    proto_buf_t b = reader(body, len);
    m->bus = proto_get_u8(&b);
    proto_get_bytes(&b, m->map, sizeof(m->map));
    return r_end(&b);
}

int proto_i2c_xfer_req_encode(const proto_i2c_xfer_req_t *m, uint8_t *out, size_t cap)
{
    if (m->wlen > PROTO_I2C_MAX_DATA || m->rlen > PROTO_I2C_MAX_DATA)
        return -PROTO_E_ARG;
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->bus);
    proto_put_u8(&b, m->addr);
    proto_put_u8(&b, m->wlen);
    proto_put_u8(&b, m->rlen);
    proto_put_bytes(&b, m->wdata, m->wlen);
    return w_end(&b);
}

int proto_i2c_xfer_req_decode(const uint8_t *body, size_t len, proto_i2c_xfer_req_t *m)
{
    proto_buf_t b = reader(body, len);
    m->bus = proto_get_u8(&b);
    m->addr = proto_get_u8(&b);
    m->wlen = proto_get_u8(&b);
    m->rlen = proto_get_u8(&b);
    if (b.err)
        return -PROTO_E_LENGTH;
    if (m->addr > 0x7f || m->wlen > PROTO_I2C_MAX_DATA || m->rlen > PROTO_I2C_MAX_DATA ||
        (m->wlen == 0 && m->rlen == 0))
        return -PROTO_E_ARG;
    proto_get_bytes(&b, m->wdata, m->wlen);
    return r_end(&b);
}

int proto_i2c_xfer_ack_encode(const proto_i2c_xfer_ack_t *m, uint8_t *out, size_t cap)
{
    if (m->rlen > PROTO_I2C_MAX_DATA)
        return -PROTO_E_ARG;
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->rlen);
    proto_put_bytes(&b, m->rdata, m->rlen);
    return w_end(&b);
}

int proto_i2c_xfer_ack_decode(const uint8_t *body, size_t len, proto_i2c_xfer_ack_t *m)
{
    proto_buf_t b = reader(body, len);
    m->rlen = proto_get_u8(&b);
    if (b.err)
        return -PROTO_E_LENGTH;
    if (m->rlen > PROTO_I2C_MAX_DATA)
        return -PROTO_E_ARG;
    proto_get_bytes(&b, m->rdata, m->rlen);
    return r_end(&b);
}

/* ---- statistics ---------------------------------------------------------------------------- */

int proto_stats_encode(const proto_stats_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    const uint32_t v[] = {m->uptime_ms,     m->rx_frames, m->rx_crc_errors,     m->rx_cobs_errors,
                          m->rx_oversize,   m->rx_short,  m->rx_version,        m->rx_unknown,
                          m->rx_duplicates, m->tx_frames, m->tx_events_dropped, m->host_lost_count,
                          m->i2c_errors};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        proto_put_u32(&b, v[i]);
    proto_put_u16(&b, m->ram_used);
    proto_put_u16(&b, m->ram_total);
    proto_put_u8(&b, m->task_count);
    proto_put_u8(&b, m->link_state);
    return w_end(&b);
}

int proto_stats_decode(const uint8_t *body, size_t len, proto_stats_t *m)
{
    proto_buf_t b = reader(body, len);
    uint32_t *const v[] = {&m->uptime_ms,      &m->rx_frames,         &m->rx_crc_errors,
                           &m->rx_cobs_errors, &m->rx_oversize,       &m->rx_short,
                           &m->rx_version,     &m->rx_unknown,        &m->rx_duplicates,
                           &m->tx_frames,      &m->tx_events_dropped, &m->host_lost_count,
                           &m->i2c_errors};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        *v[i] = proto_get_u32(&b);
    m->ram_used = proto_get_u16(&b);
    m->ram_total = proto_get_u16(&b);
    m->task_count = proto_get_u8(&b);
    m->link_state = proto_get_u8(&b);
    return r_end(&b);
}

int proto_task_stats_encode(const proto_task_stats_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->index);
    proto_put_bytes(&b, m->name, PROTO_TASK_NAME_LEN);
    proto_put_u8(&b, m->state);
    proto_put_u32(&b, m->runs);
    proto_put_u32(&b, m->total_us);
    proto_put_u32(&b, m->max_us);
    proto_put_u32(&b, m->max_late_us);
    proto_put_u16(&b, m->stack_hwm);
    return w_end(&b);
}

int proto_task_stats_decode(const uint8_t *body, size_t len, proto_task_stats_t *m)
{
    proto_buf_t b = reader(body, len);
    m->index = proto_get_u8(&b);
    proto_get_bytes(&b, m->name, PROTO_TASK_NAME_LEN);
    m->state = proto_get_u8(&b);
    m->runs = proto_get_u32(&b);
    m->total_us = proto_get_u32(&b);
    m->max_us = proto_get_u32(&b);
    m->max_late_us = proto_get_u32(&b);
    m->stack_hwm = proto_get_u16(&b);
    return r_end(&b);
}

/* ---- events and errors --------------------------------------------------------------------- */

int proto_button_event_encode(const proto_button_event_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->kind);
    proto_put_u8(&b, m->button);
    proto_put_u32(&b, m->t_us);
    proto_put_u32(&b, m->duration_us);
    proto_put_u32(&b, m->count);
    return w_end(&b);
}

int proto_button_event_decode(const uint8_t *body, size_t len, proto_button_event_t *m)
{
    proto_buf_t b = reader(body, len);
    m->kind = proto_get_u8(&b);
    m->button = proto_get_u8(&b);
    m->t_us = proto_get_u32(&b);
    m->duration_us = proto_get_u32(&b);
    m->count = proto_get_u32(&b);
    if (b.err)
        return -PROTO_E_LENGTH;
    if (m->kind < PROTO_BUTTON_PRESS || m->kind > PROTO_BUTTON_DOUBLE)
        return -PROTO_E_ARG;
    return 0;
}

int proto_fault_event_encode(const proto_fault_event_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->kind);
    proto_put_u8(&b, m->task);
    proto_put_u32(&b, m->detail);
    return w_end(&b);
}

int proto_fault_event_decode(const uint8_t *body, size_t len, proto_fault_event_t *m)
{
    proto_buf_t b = reader(body, len);
    m->kind = proto_get_u8(&b);
    m->task = proto_get_u8(&b);
    m->detail = proto_get_u32(&b);
    return r_end(&b);
}

int proto_error_encode(const proto_error_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    proto_put_u8(&b, m->code);
    proto_put_u8(&b, m->req_type);
    proto_put_u16(&b, m->detail);
    return w_end(&b);
}

int proto_error_decode(const uint8_t *body, size_t len, proto_error_t *m)
{
    proto_buf_t b = reader(body, len);
    m->code = proto_get_u8(&b);
    m->req_type = proto_get_u8(&b);
    m->detail = proto_get_u16(&b);
    return r_end(&b);
}
