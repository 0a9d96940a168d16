/*
 * main.c - USB test firmware: the CDC link with a tiny command set, so tests and benchmarks
 * can drive each direction on its own. Commands (u32 little-endian):
 *   'e' N : echo the next N bytes       's' N : send N bytes, byte i = i & 0xff
 *   'k' N : swallow N bytes, then 'K'   'p'   : answer 'P'
 */
#include <stdint.h>

#include "hal.h"
#include "usb_link.h"

enum mode { MODE_CMD, MODE_ECHO, MODE_SOURCE, MODE_SINK };

static volatile uint32_t wakeups;
static enum mode mode;
static uint32_t count; /* bytes left in the current mode */
static uint32_t sent;
static uint8_t cmd[5];
static uint32_t cmd_len;
static uint8_t pending[256]; /* bytes waiting to be written */
static uint32_t pend_len, pend_off;

static void wake_cb(void)
{
    wakeups++;
}

static void state_cb(bool c)
{
    (void)c;
    wakeups++;
}

static const hal_events_t events = {
    .link_rx_cb = wake_cb,
    .link_tx_cb = wake_cb,
    .link_state_cb = state_cb,
};

static void queue(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n && pend_len < sizeof pending; i++) {
        pending[pend_len++] = p[i];
    }
}

static void flush_pending(void)
{
    if (pend_off < pend_len) {
        pend_off += (uint32_t)hal_link_write(pending + pend_off, pend_len - pend_off);
    }
    if (pend_off == pend_len) {
        pend_off = pend_len = 0;
    }
}

static void command_byte(uint8_t b)
{
    cmd[cmd_len++] = b;
    if (cmd[0] == 'p') {
        queue((const uint8_t *)"P", 1);
        cmd_len = 0;
        return;
    }
    if (cmd[0] != 'e' && cmd[0] != 's' && cmd[0] != 'k') {
        cmd_len = 0; /* unknown: skip */
        return;
    }
    if (cmd_len < 5) {
        return;
    }
    count =
        (uint32_t)cmd[1] | (uint32_t)cmd[2] << 8 | (uint32_t)cmd[3] << 16 | (uint32_t)cmd[4] << 24;
    mode = cmd[0] == 'e' ? MODE_ECHO : cmd[0] == 's' ? MODE_SOURCE : MODE_SINK;
    sent = 0;
    cmd_len = 0;
    if (mode == MODE_SINK && count == 0) {
        queue((const uint8_t *)"K", 1);
        mode = MODE_CMD;
    }
}

static bool step_source(void)
{
    uint8_t chunk[256]; /* write as much as fits at once, like a real producer */
    bool progress = false;
    while (count > 0) {
        uint32_t n = count < sizeof chunk ? count : sizeof chunk;
        size_t space = hal_link_tx_space();
        if (space < n) {
            n = (uint32_t)space;
        }
        if (n == 0) {
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            chunk[i] = (uint8_t)(sent + i);
        }
        hal_link_write(chunk, n);
        sent += n;
        count -= n;
        progress = true;
    }
    if (count == 0) {
        mode = MODE_CMD;
    }
    return progress;
}

static bool step_input(void)
{
    uint8_t buf[64];
    if (pend_len != 0) {
        return false; /* echo output first: keeps memory bounded, host sees back-pressure */
    }
    size_t n = hal_link_read(buf, sizeof buf);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = buf[i];
        if (mode == MODE_ECHO) {
            queue(&b, 1);
            if (--count == 0) {
                mode = MODE_CMD;
            }
        } else if (mode == MODE_SINK) {
            if (--count == 0) {
                queue((const uint8_t *)"K", 1);
                mode = MODE_CMD;
            }
        } else {
            command_byte(b);
        }
    }
    return n > 0;
}

int main(void)
{
    usb_link_init(&events);
    for (;;) {
        uint32_t seen = wakeups;
        bool progress = false;
        flush_pending();
        if (mode == MODE_SOURCE) {
            progress |= step_source();
        } else {
            progress |= step_input();
        }
        flush_pending();
        if (progress) {
            continue;
        }
        uint32_t irq = hal_irq_save();
        if (seen == wakeups) {
            __asm volatile("wfi"); /* a pending interrupt still wakes a masked core */
        }
        hal_irq_restore(irq);
    }
}
