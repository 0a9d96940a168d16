/*
 * fuzz_proto.c - fuzz target for everything a board or host parses: the incremental frame
 * decoder and every message body decoder.
 *
 * Built two ways (tests/fuzz/CMakeLists.txt): with clang -fsanitize=fuzzer (tools/fuzz.sh) to
 * search for new inputs, and with replay_main.c as a plain program that ctest runs over the
 * committed corpus under ASan+UBSan, so every input ever found stays a regression test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_msgs.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_body(const proto_frame_t *f)
{
    fuzz_msg_t u;
    const uint8_t *b = f->body;
    size_t n = f->body_len;
    (void)proto_hello_req_decode(b, n, &u.hello_req);
    (void)proto_hello_ack_decode(b, n, &u.hello_ack);
    (void)proto_heartbeat_ack_decode(b, n, &u.hb);
    (void)proto_set_led_req_decode(b, n, &u.led);
    (void)proto_state_decode(b, n, &u.state);
    (void)proto_readings_decode(b, n, &u.readings);
    (void)proto_reading_decode(b, n, &u.reading);
    (void)proto_set_poll_req_decode(b, n, &u.poll);
    (void)proto_i2c_scan_ack_decode(b, n, &u.scan);
    if (proto_i2c_xfer_req_decode(b, n, &u.xfer_req) == 0) {
        uint8_t out[PROTO_MAX_BODY];
        if (proto_i2c_xfer_req_encode(&u.xfer_req, out, sizeof(out)) < 0)
            abort(); /* anything that decodes must encode again */
    }
    (void)proto_i2c_xfer_ack_decode(b, n, &u.xfer_ack);
    (void)proto_stats_decode(b, n, &u.stats);
    (void)proto_task_stats_decode(b, n, &u.task);
    (void)proto_button_event_decode(b, n, &u.button);
    (void)proto_fault_event_decode(b, n, &u.fault);
    (void)proto_error_decode(b, n, &u.error);
    (void)proto_type_name(f->type);
}

/* A good frame re-encodes to something that decodes to the same frame. */
static void roundtrip(const proto_frame_t *f)
{
    uint8_t wire[PROTO_MAX_FRAME];
    int n = proto_frame_encode(wire, sizeof(wire), f->type, f->seq, f->body, f->body_len);
    if (n <= 0)
        abort();
    proto_decoder_t d;
    proto_frame_t g;
    size_t used;
    proto_decoder_init(&d);
    if (proto_decoder_feed(&d, wire, (size_t)n, &used, &g) != 1 || g.type != f->type ||
        g.seq != f->seq || g.body_len != f->body_len || memcmp(g.body, f->body, g.body_len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static proto_decoder_t d;
    proto_decoder_init(&d);
    /* The first byte picks the chunk size so the fuzzer explores split frames too. */
    size_t chunk = size ? (size_t)(data[0] % 64) + 1 : 1;
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used = 0;
        proto_frame_t f;
        int rc = proto_decoder_feed(&d, data + off, n, &used, &f);
        if (used > n || (used == 0 && n > 0))
            abort();
        off += used;
        if (rc == 1) {
            decode_body(&f);
            roundtrip(&f);
        }
    }
    uint8_t out[PROTO_MAX_FRAME * 2];
    (void)proto_cobs_decode(data, size, out, sizeof(out));
    return 0;
}
