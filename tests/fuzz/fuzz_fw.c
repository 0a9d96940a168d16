/*
 * fuzz_fw.c - fuzz target for the firmware core: the link (frame decoding, the exactly-once
 * window, the TX queue, the host watchdog) and the request dispatcher behind it, on the fake
 * HAL of the core's unit tests (tests/unit/core/fake_hal.c: fake time, a link made of two
 * buffers, an I2C bus answered by a function). It goes in only through what the port calls:
 * bytes for hal_link_read plus link_rx_isr, link_tx_isr, link_conn_isr, button_edge_isr, and
 * the passing of time (fake_run_for drives the scheduler as its idle loop would).
 *
 * Each input boots a fresh board and is a little program, one op byte then its operands:
 *   0 raw bytes to the link          1 a well-formed request frame (type, seq, body)
 *   2 let time pass (up to ~16 s)    3 the host stops / starts reading (TX space)
 *   4 the port closes / reopens      5 a button edge
 *   6 the next I2C answers           (anything else: as 1)
 * Checked: no sanitizer error, no hang, and everything the board writes is a good frame whose
 * answers (acks, ERROR) carry only seqs the host sent (after the port is reopened: from the
 * first good frame on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "button.h"
#include "fake_hal.h"
#include "led.h"
#include "link.h"
#include "proto.h"
#include "sched.h"
#include "sensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RX_MAX 6000 /* fake_hal's RX buffer holds 8192: stay below whatever the board leaves */

static const uint8_t *in;
static size_t in_len, in_pos;
static size_t rx_total;
static uint8_t seq_sent[65536 / 8]; /* seqs of every frame the host side sent */
static proto_decoder_t host_rx, mirror;
static bool reopened; /* the port was closed or opened: until the next good frame */
static uint8_t i2c_script[32];
static size_t i2c_script_len, i2c_script_pos;

static uint8_t next(void)
{
    return in_pos < in_len ? in[in_pos++] : 0;
}

/* The next n input bytes, or as many as are left (*n is cut to that): one pointer, not a loop
 * of next() (gcc -O3 took such loops into the board's buffers for overflows). */
static const uint8_t *take(size_t *n)
{
    const uint8_t *p = in + in_pos;
    if (*n > in_len - in_pos)
        *n = in_len - in_pos;
    in_pos += *n;
    return p;
}

/* Two bytes, little-endian (two next() in one expression: unspecified order). */
static uint16_t next16(void)
{
    uint8_t lo = next();
    return (uint16_t)(lo | next() << 8);
}

/* The I2C devices: each transfer takes the next script byte (none: no device there). */
static int fuzz_i2c(const hal_i2c_xfer_t *x)
{
    if (i2c_script_pos >= i2c_script_len)
        return -HAL_E_NACK_ADDR;
    uint8_t b = i2c_script[i2c_script_pos++];
    for (size_t i = 0; i < x->rlen; i++)
        x->rdata[i] = (uint8_t)(b * (i + 1));
    switch (b & 3) {
    case 0:
        return -HAL_E_NACK_ADDR;
    case 1:
        return -HAL_E_TIMEOUT;
    default:
        return 0;
    }
}

/* Feed n bytes to d and hand every result (a frame, or an error) to on. */
static void decode_all(proto_decoder_t *d, const uint8_t *bytes, size_t n,
                       void (*on)(int rc, const proto_frame_t *f))
{
    size_t pos = 0;
    while (pos < n) {
        proto_frame_t f;
        size_t used = 0;
        int rc = proto_decoder_feed(d, bytes + pos, n - pos, &used, &f);
        pos += used;
        if (rc != 0)
            on(rc, &f);
    }
}

/* The host side's copy of what it sends: which seqs are out there. */
static void host_sent(int rc, const proto_frame_t *f)
{
    if (rc == 1 || rc == -PROTO_E_VERSION)
        seq_sent[f->seq / 8] |= (uint8_t)(1u << (f->seq % 8));
}

static void push(const uint8_t *bytes, size_t n)
{
    if (rx_total + n > RX_MAX)
        return;
    rx_total += n;
    decode_all(&mirror, bytes, n, host_sent);
    fake_link_push(bytes, n);
    link_rx_isr();
}

/* What the board wrote: all good frames, answers only to what was asked. */
static void board_wrote(int rc, const proto_frame_t *f)
{
    if (rc < 0 && !reopened)
        abort(); /* the board wrote a bad frame */
    if (rc == 1)
        reopened = false;
    if (rc == 1 && (f->type & 0x80) && !(seq_sent[f->seq / 8] & (1u << (f->seq % 8))))
        abort(); /* an answer to a request never sent */
}

static void check_output(void)
{
    decode_all(&host_rx, fake_tx, fake_tx_len, board_wrote);
    fake_tx_len = 0;
}

static void op_frame(void)
{
    uint8_t t = next();
    /* mostly the requests the dispatcher knows (0x01..0x0f), sometimes any type */
    uint8_t type = t < 0xe0 ? (uint8_t)(t % 15 + 1) : t;
    uint16_t seq = next16();
    size_t len = next();
    if (len > PROTO_MAX_BODY)
        len = PROTO_MAX_BODY;
    const uint8_t *body = take(&len);
    uint8_t wire[PROTO_MAX_FRAME];
    int n = proto_frame_encode(wire, sizeof(wire), type, seq, body, len);
    if (n > 0)
        push(wire, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_len = size;
    in_pos = 0;
    rx_total = 0;
    memset(seq_sent, 0, sizeof(seq_sent));
    proto_decoder_init(&host_rx);
    proto_decoder_init(&mirror);
    reopened = false;
    i2c_script_len = i2c_script_pos = 0;

    fake_hal_reset(0xfff00000u); /* the 32-bit microsecond counter wraps during a run */
    fake_i2c_fn = fuzz_i2c;
    sched_init();
    led_init();
    link_init();
    button_init();
    sensors_init();
    fake_run_for(1000);

    while (in_pos < in_len) {
        uint8_t op = next();
        switch (op % 8) {
        case 0: {
            size_t n = (size_t)next() + 1;
            const uint8_t *p = take(&n);
            push(p, n);
            break;
        }
        case 2:
            fake_run_for((uint32_t)next16() * 256u);
            break;
        case 3:
            fake_tx_space = (op & 0x80) ? SIZE_MAX : next();
            link_tx_isr();
            break;
        case 4:
            /* A new opener is a new host, with a fresh decoder. It may first get the tail of
             * a frame the board had half sent to the old one (the port closing does not cut
             * the board's writes short); every frame starts with 0x00, which ends such a
             * tail, so it costs the new host one bad frame and never a good one. */
            proto_decoder_init(&host_rx);
            reopened = true;
            link_conn_isr((op & 0x80) != 0);
            break;
        case 5:
            fake_button = !fake_button;
            button_edge_isr(fake_button, fake_now);
            break;
        case 6: {
            /* the next n input bytes, 0 past its end, as next() gives them */
            size_t n = next() % sizeof(i2c_script), have = n;
            const uint8_t *p = take(&have);
            memcpy(i2c_script, p, have);
            memset(i2c_script + have, 0, n - have);
            i2c_script_len = n;
            i2c_script_pos = 0;
            break;
        }
        default:
            op_frame();
            break;
        }
        fake_run_for(100);
        check_output();
    }
    /* let everything settle: deferred answers, the host watchdog */
    fake_tx_space = SIZE_MAX;
    link_tx_isr();
    fake_run_for(2000000);
    check_output();
    return 0;
}
