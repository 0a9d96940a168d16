/*
 * msg.c - message body codecs: one fixed little-endian layout per message type.
 *
 * Encoders return the body length or -PROTO_E_LENGTH when out is too small. Decoders return 0,
 * -PROTO_E_LENGTH for a body shorter than the layout, or -PROTO_E_ARG for a field out of range;
 * trailing bytes are ignored so that a later minor version can append fields.
 */
#include "buf_inline.h"

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
    put_u8_(&b, m->host_major);
    put_u8_(&b, m->host_minor);
    put_u16_(&b, m->host_timeout_ms);
    if (m->session != 0)
        put_u32_(&b, m->session);
    return w_end(&b);
}

int proto_hello_req_decode(const uint8_t *body, size_t len, proto_hello_req_t *m)
{
    proto_buf_t b = reader(body, len);
    m->host_major = get_u8_(&b);
    m->host_minor = get_u8_(&b);
    m->host_timeout_ms = get_u16_(&b);
    m->session = 0;
    if (!b.err && b.pos < len) /* 1.4: absent from older hosts */
        m->session = get_u32_(&b);
    return r_end(&b);
}

static void put_crash(proto_buf_t *b, const proto_crash_t *c)
{
    put_u8_(b, c->kind);
    put_u8_(b, c->task);
    put_u32_(b, c->pc);
    put_u32_(b, c->lr);
    put_u32_(b, c->uptime_ms);
}

static void get_crash(proto_buf_t *b, proto_crash_t *c)
{
    c->kind = get_u8_(b);
    c->task = get_u8_(b);
    c->pc = get_u32_(b);
    c->lr = get_u32_(b);
    c->uptime_ms = get_u32_(b);
}

int proto_hello_ack_encode(const proto_hello_ack_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->proto_major);
    put_u8_(&b, m->proto_minor);
    put_u8_(&b, m->fw_major);
    put_u8_(&b, m->fw_minor);
    put_u8_(&b, m->fw_patch);
    put_u8_(&b, m->platform);
    put_u8_(&b, m->reset_cause);
    put_u8_(&b, m->host_wd_state);
    put_u32_(&b, m->caps);
    put_bytes_(&b, m->board_id, PROTO_BOARD_ID_LEN);
    put_bytes_(&b, m->build, PROTO_BUILD_LEN);
    put_crash(&b, &m->crash);
    put_u32_(&b, m->uptime_ms);
    put_u8_(&b, m->chip_rev);
    put_u8_(&b, m->clock_faults);
    return w_end(&b);
}

int proto_hello_ack_decode(const uint8_t *body, size_t len, proto_hello_ack_t *m)
{
    proto_buf_t b = reader(body, len);
    m->proto_major = get_u8_(&b);
    m->proto_minor = get_u8_(&b);
    m->fw_major = get_u8_(&b);
    m->fw_minor = get_u8_(&b);
    m->fw_patch = get_u8_(&b);
    m->platform = get_u8_(&b);
    m->reset_cause = get_u8_(&b);
    m->host_wd_state = get_u8_(&b);
    m->caps = get_u32_(&b);
    get_bytes_(&b, m->board_id, PROTO_BOARD_ID_LEN);
    get_bytes_(&b, m->build, PROTO_BUILD_LEN);
    get_crash(&b, &m->crash);
    m->uptime_ms = get_u32_(&b);
    m->chip_rev = 0;
    m->clock_faults = 0;
    if (!b.err && b.pos < len) { /* 1.1 fields: absent from a 1.0 board */
        m->chip_rev = get_u8_(&b);
        m->clock_faults = get_u8_(&b);
    }
    return r_end(&b);
}

/* ---- HEARTBEAT, STATE, LED ---------------------------------------------------------------- */

int proto_heartbeat_ack_encode(const proto_heartbeat_ack_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_u32_(&b, m->uptime_ms);
    put_u8_(&b, m->link_state);
    put_u8_(&b, m->pending_events);
    put_u32_(&b, (uint32_t)m->uptime_us); /* 1.2 */
    put_u32_(&b, (uint32_t)(m->uptime_us >> 32));
    return w_end(&b);
}

int proto_heartbeat_ack_decode(const uint8_t *body, size_t len, proto_heartbeat_ack_t *m)
{
    proto_buf_t b = reader(body, len);
    m->uptime_ms = get_u32_(&b);
    m->link_state = get_u8_(&b);
    m->pending_events = get_u8_(&b);
    m->has_uptime_us = false;
    m->uptime_us = 0;
    if (!b.err && b.pos < len) { /* 1.2: absent from older boards */
        uint64_t lo = get_u32_(&b);
        uint64_t hi = get_u32_(&b);
        m->uptime_us = lo | (hi << 32);
        m->has_uptime_us = !b.err;
    }
    return r_end(&b);
}

int proto_set_led_req_encode(const proto_set_led_req_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->op);
    put_u8_(&b, m->duty_pct);
    put_u16_(&b, m->period_ms);
    put_u32_(&b, m->pattern);
    put_u8_(&b, m->pattern_len);
    return w_end(&b);
}

int proto_set_led_req_decode(const uint8_t *body, size_t len, proto_set_led_req_t *m)
{
    proto_buf_t b = reader(body, len);
    m->op = get_u8_(&b);
    m->duty_pct = get_u8_(&b);
    m->period_ms = get_u16_(&b);
    m->pattern = get_u32_(&b);
    m->pattern_len = get_u8_(&b);
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
    put_u32_(&b, m->uptime_ms);
    put_u8_(&b, m->led_on);
    put_u8_(&b, m->led_mode);
    put_u8_(&b, m->button_down);
    put_u8_(&b, m->link_state);
    put_u32_(&b, m->button_presses);
    put_u8_(&b, m->sensor_count);
    return w_end(&b);
}

int proto_state_decode(const uint8_t *body, size_t len, proto_state_t *m)
{
    proto_buf_t b = reader(body, len);
    m->uptime_ms = get_u32_(&b);
    m->led_on = get_u8_(&b);
    m->led_mode = get_u8_(&b);
    m->button_down = get_u8_(&b);
    m->link_state = get_u8_(&b);
    m->button_presses = get_u32_(&b);
    m->sensor_count = get_u8_(&b);
    return r_end(&b);
}

/* ---- sensors ------------------------------------------------------------------------------- */

static void put_reading(proto_buf_t *b, const proto_reading_t *r)
{
    put_u8_(b, r->sensor);
    put_u8_(b, r->kind);
    put_u8_(b, r->addr);
    put_u8_(b, r->status);
    put_u8_(b, r->flags);
    put_u32_(b, (uint32_t)r->temp_centi_c);
    put_u32_(b, r->pressure_pa);
    put_u32_(b, r->humidity_milli_pct);
    put_u32_(b, r->t_ms);
}

static void get_reading(proto_buf_t *b, proto_reading_t *r)
{
    r->sensor = get_u8_(b);
    r->kind = get_u8_(b);
    r->addr = get_u8_(b);
    r->status = get_u8_(b);
    r->flags = get_u8_(b);
    r->temp_centi_c = (int32_t)get_u32_(b);
    r->pressure_pa = get_u32_(b);
    r->humidity_milli_pct = get_u32_(b);
    r->t_ms = get_u32_(b);
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
    put_u8_(&b, m->count);
    for (uint8_t i = 0; i < m->count; i++)
        put_reading(&b, &m->r[i]);
    return w_end(&b);
}

int proto_readings_decode(const uint8_t *body, size_t len, proto_readings_t *m)
{
    proto_buf_t b = reader(body, len);
    m->count = get_u8_(&b);
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
    put_u8_(&b, m->sensor);
    put_u32_(&b, m->interval_ms);
    return w_end(&b);
}

int proto_set_poll_req_decode(const uint8_t *body, size_t len, proto_set_poll_req_t *m)
{
    proto_buf_t b = reader(body, len);
    m->sensor = get_u8_(&b);
    m->interval_ms = get_u32_(&b);
    return r_end(&b);
}

/* ---- I2C ----------------------------------------------------------------------------------- */

int proto_i2c_scan_ack_encode(const proto_i2c_scan_ack_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->bus);
    put_bytes_(&b, m->map, sizeof(m->map));
    return w_end(&b);
}

int proto_i2c_scan_ack_decode(const uint8_t *body, size_t len, proto_i2c_scan_ack_t *m)
{
    proto_buf_t b = reader(body, len);
    m->bus = get_u8_(&b);
    get_bytes_(&b, m->map, sizeof(m->map));
    return r_end(&b);
}

int proto_i2c_xfer_req_encode(const proto_i2c_xfer_req_t *m, uint8_t *out, size_t cap)
{
    if (m->wlen > PROTO_I2C_MAX_DATA || m->rlen > PROTO_I2C_MAX_DATA)
        return -PROTO_E_ARG;
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->bus);
    put_u8_(&b, m->addr);
    put_u8_(&b, m->wlen);
    put_u8_(&b, m->rlen);
    put_bytes_(&b, m->wdata, m->wlen);
    return w_end(&b);
}

int proto_i2c_xfer_req_decode(const uint8_t *body, size_t len, proto_i2c_xfer_req_t *m)
{
    proto_buf_t b = reader(body, len);
    m->bus = get_u8_(&b);
    m->addr = get_u8_(&b);
    m->wlen = get_u8_(&b);
    m->rlen = get_u8_(&b);
    if (b.err)
        return -PROTO_E_LENGTH;
    if (m->addr > 0x7f || m->wlen > PROTO_I2C_MAX_DATA || m->rlen > PROTO_I2C_MAX_DATA ||
        (m->wlen == 0 && m->rlen == 0))
        return -PROTO_E_ARG;
    get_bytes_(&b, m->wdata, m->wlen);
    return r_end(&b);
}

int proto_i2c_xfer_ack_encode(const proto_i2c_xfer_ack_t *m, uint8_t *out, size_t cap)
{
    if (m->rlen > PROTO_I2C_MAX_DATA)
        return -PROTO_E_ARG;
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->rlen);
    put_bytes_(&b, m->rdata, m->rlen);
    return w_end(&b);
}

int proto_i2c_xfer_ack_decode(const uint8_t *body, size_t len, proto_i2c_xfer_ack_t *m)
{
    proto_buf_t b = reader(body, len);
    m->rlen = get_u8_(&b);
    if (b.err)
        return -PROTO_E_LENGTH;
    if (m->rlen > PROTO_I2C_MAX_DATA)
        return -PROTO_E_ARG;
    get_bytes_(&b, m->rdata, m->rlen);
    return r_end(&b);
}

/* ---- statistics ---------------------------------------------------------------------------- */

static uint16_t sat_u16_(uint32_t v)
{
    return v > 0xffffu ? (uint16_t)0xffffu : (uint16_t)v;
}

int proto_stats_encode(const proto_stats_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    const uint32_t v[] = {m->uptime_ms,     m->rx_frames, m->rx_crc_errors,     m->rx_cobs_errors,
                          m->rx_oversize,   m->rx_short,  m->rx_version,        m->rx_unknown,
                          m->rx_duplicates, m->tx_frames, m->tx_events_dropped, m->host_lost_count,
                          m->i2c_errors};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        put_u32_(&b, v[i]);
    put_u16_(&b, sat_u16_(m->ram_used)); /* what a 1.0-1.2 host reads */
    put_u16_(&b, sat_u16_(m->ram_total));
    put_u8_(&b, m->task_count);
    put_u8_(&b, m->link_state);
    const proto_hw_info_t *h = &m->hw;
    put_u8_(&b, h->chip_rev);
    put_u8_(&b, h->clock_faults);
    put_u8_(&b, h->wd_reason);
    put_u32_(&b, h->chip_reset);
    const uint32_t k[] = {h->clk_sys_khz, h->clk_ref_khz, h->clk_peri_khz, h->clk_usb_khz,
                          h->rosc_khz};
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
        put_u32_(&b, k[i]);
    put_u32_(&b, m->ram_used); /* 1.3 */
    put_u32_(&b, m->ram_total);
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
        *v[i] = get_u32_(&b);
    m->ram_used = get_u16_(&b);
    m->ram_total = get_u16_(&b);
    m->task_count = get_u8_(&b);
    m->link_state = get_u8_(&b);
    proto_hw_info_t *h = &m->hw;
    *h = (proto_hw_info_t){0};
    if (!b.err && b.pos < len) { /* 1.1 fields: absent from a 1.0 board */
        h->chip_rev = get_u8_(&b);
        h->clock_faults = get_u8_(&b);
        h->wd_reason = get_u8_(&b);
        h->chip_reset = get_u32_(&b);
        uint32_t *const k[] = {&h->clk_sys_khz, &h->clk_ref_khz, &h->clk_peri_khz, &h->clk_usb_khz,
                               &h->rosc_khz};
        for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
            *k[i] = get_u32_(&b);
    }
    if (!b.err && b.pos < len) { /* 1.3: the RAM sizes unsaturated; absent from older boards */
        m->ram_used = get_u32_(&b);
        m->ram_total = get_u32_(&b);
    }
    return r_end(&b);
}

int proto_task_stats_encode(const proto_task_stats_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->index);
    put_bytes_(&b, m->name, PROTO_TASK_NAME_LEN);
    put_u8_(&b, m->state);
    put_u32_(&b, m->runs);
    put_u32_(&b, m->total_us);
    put_u32_(&b, m->max_us);
    put_u32_(&b, m->max_late_us);
    put_u16_(&b, m->stack_hwm);
    return w_end(&b);
}

int proto_task_stats_decode(const uint8_t *body, size_t len, proto_task_stats_t *m)
{
    proto_buf_t b = reader(body, len);
    m->index = get_u8_(&b);
    get_bytes_(&b, m->name, PROTO_TASK_NAME_LEN);
    m->state = get_u8_(&b);
    m->runs = get_u32_(&b);
    m->total_us = get_u32_(&b);
    m->max_us = get_u32_(&b);
    m->max_late_us = get_u32_(&b);
    m->stack_hwm = get_u16_(&b);
    return r_end(&b);
}

/* ---- events and errors --------------------------------------------------------------------- */

int proto_button_event_encode(const proto_button_event_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->kind);
    put_u8_(&b, m->button);
    put_u32_(&b, m->t_us);
    put_u32_(&b, m->duration_us);
    put_u32_(&b, m->count);
    return w_end(&b);
}

int proto_button_event_decode(const uint8_t *body, size_t len, proto_button_event_t *m)
{
    proto_buf_t b = reader(body, len);
    m->kind = get_u8_(&b);
    m->button = get_u8_(&b);
    m->t_us = get_u32_(&b);
    m->duration_us = get_u32_(&b);
    m->count = get_u32_(&b);
    if (b.err)
        return -PROTO_E_LENGTH;
    if (m->kind < PROTO_BUTTON_PRESS || m->kind > PROTO_BUTTON_DOUBLE)
        return -PROTO_E_ARG;
    return 0;
}

int proto_fault_event_encode(const proto_fault_event_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->kind);
    put_u8_(&b, m->task);
    put_u32_(&b, m->detail);
    return w_end(&b);
}

int proto_fault_event_decode(const uint8_t *body, size_t len, proto_fault_event_t *m)
{
    proto_buf_t b = reader(body, len);
    m->kind = get_u8_(&b);
    m->task = get_u8_(&b);
    m->detail = get_u32_(&b);
    return r_end(&b);
}

int proto_error_encode(const proto_error_t *m, uint8_t *out, size_t cap)
{
    proto_buf_t b = writer(out, cap);
    put_u8_(&b, m->code);
    put_u8_(&b, m->req_type);
    put_u16_(&b, m->detail);
    return w_end(&b);
}

int proto_error_decode(const uint8_t *body, size_t len, proto_error_t *m)
{
    proto_buf_t b = reader(body, len);
    m->code = get_u8_(&b);
    m->req_type = get_u8_(&b);
    m->detail = get_u16_(&b);
    return r_end(&b);
}
