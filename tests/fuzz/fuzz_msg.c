/*
 * fuzz_msg.c - fuzz target for the message body codecs of proto/src/msg.c, both directions
 * (requests the board decodes, acks and events picod decodes).
 *
 * Input: byte 0 picks the message (modulo the table), byte 1 an output capacity, the rest is
 * the body. Checked for every message:
 *  - the decoder reads only the body (ASan: the body is its own exact-size allocation) and
 *    fails cleanly on anything it does not accept;
 *  - a body that decodes encodes again, and that encoding decodes and re-encodes to the same
 *    bytes (encode . decode is the identity on what the encoder produces);
 *  - an encoder given too small a buffer fails and writes nothing past its capacity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_msgs.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef fuzz_msg_t msg_t;

typedef struct codec {
    int (*decode)(const uint8_t *body, size_t len, msg_t *m);
    int (*encode)(const msg_t *m, uint8_t *out, size_t cap);
} codec_t;

/* One pair of adapters per message: the table below cannot hold the typed functions. */
#define CODEC(name, field)                                                                         \
    static int name##_dec(const uint8_t *b, size_t n, msg_t *m)                                    \
    {                                                                                              \
        return proto_##name##_decode(b, n, &m->field);                                             \
    }                                                                                              \
    static int name##_enc(const msg_t *m, uint8_t *out, size_t cap)                                \
    {                                                                                              \
        return proto_##name##_encode(&m->field, out, cap);                                         \
    }
CODEC(hello_req, hello_req)
CODEC(hello_ack, hello_ack)
CODEC(heartbeat_ack, hb)
CODEC(set_led_req, led)
CODEC(state, state)
CODEC(readings, readings)
CODEC(reading, reading)
CODEC(set_poll_req, poll)
CODEC(i2c_scan_ack, scan)
CODEC(i2c_xfer_req, xfer_req)
CODEC(i2c_xfer_ack, xfer_ack)
CODEC(stats, stats)
CODEC(task_stats, task)
CODEC(button_event, button)
CODEC(fault_event, fault)
CODEC(error, error)
#undef CODEC

#define ENTRY(name)                                                                                \
    {                                                                                              \
        name##_dec, name##_enc                                                                     \
    }
static const codec_t codecs[] = {
    ENTRY(hello_req),    ENTRY(hello_ack),    ENTRY(heartbeat_ack), ENTRY(set_led_req),
    ENTRY(state),        ENTRY(readings),     ENTRY(reading),       ENTRY(set_poll_req),
    ENTRY(i2c_scan_ack), ENTRY(i2c_xfer_req), ENTRY(i2c_xfer_ack),  ENTRY(stats),
    ENTRY(task_stats),   ENTRY(button_event), ENTRY(fault_event),   ENTRY(error),
};
#undef ENTRY
#define N_CODECS (sizeof(codecs) / sizeof(codecs[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size - 2 > PROTO_MAX_BODY)
        return -1; /* a frame never carries more; the frame target covers the rest */
    const codec_t *c = &codecs[data[0] % N_CODECS];
    size_t small = data[1];
    size_t n = size - 2;
    uint8_t *body = malloc(n ? n : 1); /* exact size: a read past the body is an ASan error */
    if (!body)
        return 0;
    memcpy(body, data + 2, n);

    msg_t m, m2;
    memset(&m, 0, sizeof(m));
    if (c->decode(body, n, &m) == 0) {
        uint8_t out[PROTO_MAX_BODY], out2[PROTO_MAX_BODY];
        int len = c->encode(&m, out, sizeof(out));
        if (len < 0 || (size_t)len > sizeof(out))
            abort(); /* what decodes must encode */
        memset(&m2, 0, sizeof(m2));
        if (c->decode(out, (size_t)len, &m2) != 0)
            abort(); /* what the encoder wrote must decode */
        int len2 = c->encode(&m2, out2, sizeof(out2));
        if (len2 != len || memcmp(out, out2, (size_t)len) != 0)
            abort(); /* and survive the round trip unchanged */
        if (small < (size_t)len) {
            uint8_t *tight = malloc(small ? small : 1);
            if (tight) {
                if (c->encode(&m, tight, small) >= 0)
                    abort(); /* too small a buffer is an error, not a short body */
                free(tight);
            }
        }
    }
    free(body);
    return 0;
}
