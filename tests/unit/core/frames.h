/*
 * frames.h - test helpers: boot the core's services on the fake HAL, send request frames,
 * decode what the board wrote.
 */
#ifndef TEST_FRAMES_H
#define TEST_FRAMES_H

#include <string.h>

#include "button.h"
#include "fake_hal.h"
#include "led.h"
#include "link.h"
#include "proto.h"
#include "sched.h"
#include "sensors.h"

#define MAX_FRAMES 256
typedef struct {
    uint8_t type;
    uint16_t seq;
    uint8_t body[PROTO_MAX_BODY];
    uint16_t len;
} rx_frame_t;

static rx_frame_t frames[MAX_FRAMES];
static int nframes;

static inline void boot_board(uint32_t start)
{
    fake_hal_reset(start);
    sched_init();
    led_init();
    link_init();
    button_init();
    sensors_init();
}

static inline void send_req(uint8_t type, uint16_t seq, const uint8_t *body, size_t len)
{
    uint8_t out[PROTO_MAX_FRAME];
    int n = proto_frame_encode(out, sizeof(out), type, seq, body, len);
    if (n > 0)
        fake_link_push(out, (size_t)n);
    link_rx_isr();
}

/* Decode everything the board has written so far (and forget it). */
static inline void collect(void)
{
    static proto_decoder_t d;
    proto_decoder_init(&d);
    nframes = 0;
    size_t pos = 0;
    while (pos < fake_tx_len && nframes < MAX_FRAMES) {
        proto_frame_t f;
        size_t used = 0;
        int rc = proto_decoder_feed(&d, fake_tx + pos, fake_tx_len - pos, &used, &f);
        pos += used;
        if (rc == 1) {
            frames[nframes].type = f.type;
            frames[nframes].seq = f.seq;
            frames[nframes].len = f.body_len;
            memcpy(frames[nframes].body, f.body, f.body_len);
            nframes++;
        }
    }
    fake_tx_len = 0;
}

static inline int count_type(uint8_t type)
{
    int n = 0;
    for (int i = 0; i < nframes; i++)
        n += frames[i].type == type;
    return n;
}

static inline const rx_frame_t *find_type(uint8_t type, int nth)
{
    for (int i = 0; i < nframes; i++)
        if (frames[i].type == type && nth-- == 0)
            return &frames[i];
    return NULL;
}

/* A HELLO with session id session (protocol 1.4; 0: none, as from an older host). */
static inline void hello_session(uint16_t seq, uint16_t timeout_ms, uint32_t session)
{
    proto_hello_req_t h = {PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR, timeout_ms, session};
    uint8_t b[16];
    int n = proto_hello_req_encode(&h, b, sizeof(b));
    send_req(PROTO_MSG_HELLO, seq, b, (size_t)n);
}

/* A HELLO without a session id: each one starts a new session. */
static inline void hello(uint16_t seq, uint16_t timeout_ms)
{
    hello_session(seq, timeout_ms, 0);
}

#endif
