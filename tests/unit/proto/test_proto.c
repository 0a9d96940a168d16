/*
 * test_proto.c - the protocol library against the vectors file (made by an independent
 * Python implementation), plus the decoder's behaviour on bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

static const char *vectors_path;

/* ---- helpers ------------------------------------------------------------------------------ */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    if (strcmp(s, "-") == 0)
        return 0;
    size_t n = strlen(s) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

typedef void (*vector_fn)(char **fields, int nfields);

static int for_each_vector(const char *kind, vector_fn fn)
{
    FILE *f = fopen(vectors_path, "r");
    assert_non_null(f);
    static char line[8192];
    int count = 0;
    while (fgets(line, sizeof(line), f)) {
        char *fields[8];
        int n = 0;
        if (line[0] == '#')
            continue;
        for (char *tok = strtok(line, " \n"); tok && n < 8; tok = strtok(NULL, " \n"))
            fields[n++] = tok;
        if (n > 0 && strcmp(fields[0], kind) == 0) {
            fn(fields, n);
            count++;
        }
    }
    fclose(f);
    return count;
}

/* Feed everything, collecting good frames; returns the number of frames seen. */
static int feed_all(proto_decoder_t *d, const uint8_t *data, size_t len, size_t chunk,
                    proto_frame_t *frames, uint8_t bodies[][PROTO_MAX_BODY], int max)
{
    int got = 0;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        size_t used = 0;
        proto_frame_t f;
        int rc = proto_decoder_feed(d, data + off, n, &used, &f);
        assert_true(used <= n);
        off += used;
        if (rc == 1 && got < max) {
            frames[got] = f;
            memcpy(bodies[got], f.body, f.body_len);
            frames[got].body = bodies[got];
            got++;
        }
    }
    return got;
}

/* ---- vectors ------------------------------------------------------------------------------- */

static void check_crc(char **fld, int n)
{
    static uint8_t buf[512];
    assert_int_equal(n, 3);
    size_t len = unhex(fld[1], buf, sizeof(buf));
    assert_int_equal(proto_crc16(buf, len), strtoul(fld[2], NULL, 16));
    /* Incremental use gives the same result as one call. */
    uint16_t c = proto_crc16_update(PROTO_CRC16_INIT, buf, len / 2);
    assert_int_equal(proto_crc16_update(c, buf + len / 2, len - len / 2),
                     strtoul(fld[2], NULL, 16));
}

static void test_crc_vectors(void **state)
{
    (void)state;
    assert_true(for_each_vector("crc16", check_crc) >= 3);
    /* The published check value of CRC-16/CCITT-FALSE. */
    assert_int_equal(proto_crc16((const uint8_t *)"123456789", 9), 0x29b1);
}

/* Bit-by-bit CRC-16/CCITT-FALSE, straight from the definition, to check the table. */
static uint16_t crc16_bitwise(const uint8_t *d, size_t n)
{
    uint16_t crc = 0xffff;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(d[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

static void test_crc_table_matches_definition(void **state)
{
    (void)state;
    uint8_t buf[300];
    srand(42);
    /* Every single byte value (hits every table entry from the initial register)... */
    for (int v = 0; v < 256; v++) {
        buf[0] = (uint8_t)v;
        assert_int_equal(proto_crc16(buf, 1), crc16_bitwise(buf, 1));
    }
    /* ...and random buffers of every length up to 300. */
    for (size_t len = 0; len <= sizeof(buf); len++) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rand();
        assert_int_equal(proto_crc16(buf, len), crc16_bitwise(buf, len));
    }
}

static void check_cobs(char **fld, int n)
{
    static uint8_t raw[1024], enc[1100], out[1100], dec[1024];
    assert_int_equal(n, 3);
    size_t rl = unhex(fld[1], raw, sizeof(raw));
    size_t el = unhex(fld[2], enc, sizeof(enc));
    int got = proto_cobs_encode(raw, rl, out, sizeof(out));
    assert_int_equal(got, (int)el);
    assert_memory_equal(out, enc, el);
    assert_null(memchr(out, 0, (size_t)got));
    assert_int_equal(proto_cobs_decode(enc, el, dec, sizeof(dec)), (int)rl);
    assert_memory_equal(dec, raw, rl);
    /* One byte too little room is an error, never an overrun. */
    assert_int_equal(proto_cobs_encode(raw, rl, out, el - 1), -PROTO_E_LENGTH);
    if (rl > 0)
        assert_int_equal(proto_cobs_decode(enc, el, dec, rl - 1), -PROTO_E_LENGTH);
}

static void test_cobs_vectors(void **state)
{
    (void)state;
    assert_true(for_each_vector("cobs", check_cobs) >= 10);
}

static void check_frame(char **fld, int n)
{
    static uint8_t body[PROTO_MAX_BODY + 1], wire[PROTO_MAX_FRAME + 8], out[PROTO_MAX_FRAME];
    static uint8_t bodies[1][PROTO_MAX_BODY];
    assert_int_equal(n, 5);
    uint8_t type = (uint8_t)strtoul(fld[1], NULL, 16);
    uint16_t seq = (uint16_t)strtoul(fld[2], NULL, 10);
    size_t bl = unhex(fld[3], body, sizeof(body));
    size_t wl = unhex(fld[4], wire, sizeof(wire));

    int got = proto_frame_encode(out, sizeof(out), type, seq, body, bl);
    assert_int_equal(got, (int)wl);
    assert_memory_equal(out, wire, wl);

    proto_decoder_t d;
    proto_frame_t f[1];
    proto_decoder_init(&d);
    assert_int_equal(feed_all(&d, wire, wl, 1, f, bodies, 1), 1);
    assert_int_equal(f[0].type, type);
    assert_int_equal(f[0].seq, seq);
    assert_int_equal(f[0].version, PROTO_VERSION_BYTE);
    assert_int_equal(f[0].body_len, bl);
    if (bl)
        assert_memory_equal(f[0].body, body, bl);
}

static void test_frame_vectors(void **state)
{
    (void)state;
    assert_true(for_each_vector("frame", check_frame) >= 5);
}

/* STATS bodies of boards of several minor versions (the 1.3 u32 RAM sizes, or only the
 * saturating u16 ones): decoded to the true sizes; a 1.3 body encodes back byte for byte, an
 * older one is the start of what we send (fields are only appended). */
static void check_stats(char **fld, int n)
{
    static uint8_t body[PROTO_MAX_BODY], out[PROTO_MAX_BODY];
    assert_int_equal(n, 5);
    unsigned long minor = strtoul(fld[1], NULL, 10);
    uint32_t used = (uint32_t)strtoul(fld[2], NULL, 10);
    uint32_t total = (uint32_t)strtoul(fld[3], NULL, 10);
    size_t bl = unhex(fld[4], body, sizeof(body));
    proto_stats_t s;
    memset(&s, 0xaa, sizeof(s));
    assert_int_equal(proto_stats_decode(body, bl, &s), 0);
    assert_int_equal(s.ram_used, used);
    assert_int_equal(s.ram_total, total);
    assert_int_equal(s.i2c_errors, 13);
    assert_int_equal(s.task_count, 6);
    assert_int_equal(s.hw.chip_rev, minor >= 1 ? 1 : 0);
    int got = proto_stats_encode(&s, out, sizeof(out));
    assert_int_equal(got, 93);
    assert_true(bl <= (size_t)got);
    assert_memory_equal(out, body, bl);
}

static void test_stats_vectors(void **state)
{
    (void)state;
    assert_true(for_each_vector("stats", check_stats) >= 4);
}

/* ---- decoder on bad input ------------------------------------------------------------------ */

static size_t make_frame(uint8_t *out, uint8_t type, uint16_t seq, const char *body)
{
    int n =
        proto_frame_encode(out, PROTO_MAX_FRAME, type, seq, (const uint8_t *)body, strlen(body));
    assert_true(n > 0);
    return (size_t)n;
}

static void test_decoder_any_chunking(void **state)
{
    (void)state;
    static uint8_t stream[4096], bodies[8][PROTO_MAX_BODY];
    size_t len = 0;
    for (uint16_t i = 0; i < 5; i++)
        len += make_frame(stream + len, PROTO_MSG_PING, i, "hello, board");
    for (size_t chunk = 1; chunk <= len; chunk++) {
        proto_decoder_t d;
        proto_frame_t f[8];
        proto_decoder_init(&d);
        assert_int_equal(feed_all(&d, stream, len, chunk, f, bodies, 8), 5);
        for (uint16_t i = 0; i < 5; i++)
            assert_int_equal(f[i].seq, i);
        assert_int_equal(d.stats.frames, 5);
        assert_int_equal(d.stats.crc_errors + d.stats.cobs_errors + d.stats.oversize, 0);
    }
}

static void test_decoder_resync_after_garbage(void **state)
{
    (void)state;
    static uint8_t stream[4096], bodies[4][PROTO_MAX_BODY];
    size_t len = 0;
    const uint8_t garbage[] = {0x13, 0x37, 0xff, 0x02, 0x00, 0x05, 0x01, 0x02};
    memcpy(stream, garbage, sizeof(garbage));
    len += sizeof(garbage);
    stream[len++] = 0x00; /* garbage must be delimited somewhere before the next frame */
    len += make_frame(stream + len, PROTO_MSG_HEARTBEAT, 42, "");

    proto_decoder_t d;
    proto_frame_t f[4];
    proto_decoder_init(&d);
    assert_int_equal(feed_all(&d, stream, len, 3, f, bodies, 4), 1);
    assert_int_equal(f[0].seq, 42);
    assert_true(d.stats.short_frames + d.stats.cobs_errors + d.stats.crc_errors >= 2);
}

static void test_decoder_truncated_and_corrupt(void **state)
{
    (void)state;
    static uint8_t stream[4096], bodies[4][PROTO_MAX_BODY];
    size_t len = 0, n;

    /* A frame cut short (the rest lost), then a good one. */
    n = make_frame(stream, PROTO_MSG_PING, 1, "truncated frame");
    len = n / 2;
    stream[len++] = 0x00;
    /* A frame with one bit flipped in its body. */
    n = make_frame(stream + len, PROTO_MSG_PING, 2, "corrupted frame");
    stream[len + 5] ^= 0x04;
    if (stream[len + 5] == 0)
        stream[len + 5] = 0x01;
    len += n;
    len += make_frame(stream + len, PROTO_MSG_PING, 3, "good frame");

    proto_decoder_t d;
    proto_frame_t f[4];
    proto_decoder_init(&d);
    assert_int_equal(feed_all(&d, stream, len, 7, f, bodies, 4), 1);
    assert_int_equal(f[0].seq, 3);
    assert_int_equal(d.stats.crc_errors + d.stats.cobs_errors, 2);
}

/* Empty frames (runs of 0x00: every frame starts with one) are nothing: not delivered, not
 * counted as errors. */
static void test_decoder_empty_frames_are_nothing(void **state)
{
    (void)state;
    static uint8_t stream[1024], bodies[4][PROTO_MAX_BODY];
    size_t len = 0;
    memset(stream, 0, 5);
    len = 5;
    len += make_frame(stream + len, PROTO_MSG_PING, 1, "one");
    len += make_frame(stream + len, PROTO_MSG_PING, 2, "two");
    memset(stream + len, 0, 3);
    len += 3;
    proto_decoder_t d;
    proto_frame_t f[4];
    proto_decoder_init(&d);
    assert_int_equal(stream[5], 0x00); /* the encoder's leading delimiter */
    assert_int_equal(feed_all(&d, stream, len, 1, f, bodies, 4), 2);
    assert_int_equal(d.stats.frames, 2);
    assert_int_equal(d.stats.crc_errors + d.stats.cobs_errors + d.stats.short_frames +
                         d.stats.oversize + d.stats.version_errors,
                     0);
}

/* A frame whose closing 0x00 is lost is not joined to the next frame (which would lose both):
 * the next frame's leading 0x00 ends it, and as its COBS bytes are whole, nothing is lost. */
static void test_decoder_lost_delimiter_loses_nothing(void **state)
{
    (void)state;
    static uint8_t stream[1024], bodies[4][PROTO_MAX_BODY];
    size_t len = make_frame(stream, PROTO_MSG_PING, 1, "loses its end");
    assert_int_equal(stream[len - 1], 0x00);
    len--; /* the closing delimiter is lost on the line */
    len += make_frame(stream + len, PROTO_MSG_PING, 2, "the retry's answer");
    len += make_frame(stream + len, PROTO_MSG_PING, 3, "the next");
    proto_decoder_t d;
    proto_frame_t f[4];
    proto_decoder_init(&d);
    assert_int_equal(feed_all(&d, stream, len, 5, f, bodies, 4), 3);
    for (uint16_t i = 0; i < 3; i++)
        assert_int_equal(f[i].seq, i + 1);
    assert_int_equal(d.stats.crc_errors + d.stats.cobs_errors + d.stats.short_frames, 0);
}

static void test_decoder_oversize(void **state)
{
    (void)state;
    static uint8_t stream[4096], bodies[4][PROTO_MAX_BODY];
    size_t len = 0;
    memset(stream, 0x55, 1000); /* 1000 non-zero bytes: far beyond PROTO_MAX_FRAME */
    len = 1000;
    stream[len++] = 0x00;
    len += make_frame(stream + len, PROTO_MSG_PING, 9, "after the flood");

    proto_decoder_t d;
    proto_frame_t f[4];
    proto_decoder_init(&d);
    assert_int_equal(feed_all(&d, stream, len, 64, f, bodies, 4), 1);
    assert_int_equal(f[0].seq, 9);
    assert_int_equal(d.stats.oversize, 1);
}

static void test_decoder_version_mismatch(void **state)
{
    (void)state;
    uint8_t pkt[8] = {0x20, PROTO_MSG_PING, 0x34, 0x12};
    uint16_t crc = proto_crc16(pkt, 4);
    pkt[4] = (uint8_t)(crc & 0xff);
    pkt[5] = (uint8_t)(crc >> 8);
    uint8_t wire[16];
    int n = proto_cobs_encode(pkt, 6, wire, sizeof(wire));
    assert_true(n > 0);
    wire[n++] = 0;

    proto_decoder_t d;
    proto_frame_t f;
    size_t used;
    proto_decoder_init(&d);
    assert_int_equal(proto_decoder_feed(&d, wire, (size_t)n, &used, &f), -PROTO_E_VERSION);
    /* The frame is still filled in so that the receiver can answer with the right seq. */
    assert_int_equal(f.seq, 0x1234);
    assert_int_equal(PROTO_VERSION_MAJOR_OF(f.version), 2);
    assert_int_equal(d.stats.version_errors, 1);
}

static void test_decoder_random_bytes(void **state)
{
    (void)state;
    static uint8_t noise[100000], bodies[1][PROTO_MAX_BODY];
    srand(1234);
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (uint8_t)rand();
    proto_decoder_t d;
    proto_frame_t f[1];
    proto_decoder_init(&d);
    feed_all(&d, noise, sizeof(noise), 97, f, bodies, 1);
    /* Whatever the noise did, a delimiter and a good frame get through. */
    uint8_t good[PROTO_MAX_FRAME + 1] = {0};
    size_t n = 1 + make_frame(good + 1, PROTO_MSG_HEARTBEAT, 77, "");
    proto_decoder_stats_t before = d.stats;
    assert_int_equal(feed_all(&d, good, n, n, f, bodies, 1), 1);
    assert_int_equal(f[0].seq, 77);
    assert_int_equal(d.stats.frames, before.frames + 1);
    assert_int_equal(d.stats.bytes, sizeof(noise) + n);
}

static void test_cobs_decode_rejects_bad_codes(void **state)
{
    (void)state;
    uint8_t out[16];
    const uint8_t past_end[] = {0x05, 0x11, 0x22};
    const uint8_t zero_inside[] = {0x03, 0x11, 0x00};
    assert_int_equal(proto_cobs_decode(past_end, sizeof(past_end), out, sizeof(out)),
                     -PROTO_E_COBS);
    assert_int_equal(proto_cobs_decode(zero_inside, sizeof(zero_inside), out, sizeof(out)),
                     -PROTO_E_COBS);
}

/* Packets of 4 and 5 bytes whose last two bytes are a valid CRC of the rest: too short for a
 * header and a CRC, so short, never a frame (its body length would be negative). */
static void test_decoder_short_packet_with_valid_crc(void **state)
{
    (void)state;
    for (size_t len = 4; len <= 5; len++) {
        uint8_t pkt[5] = {PROTO_VERSION_BYTE, PROTO_MSG_PING, 0x01};
        uint16_t crc = proto_crc16(pkt, len - 2);
        pkt[len - 2] = (uint8_t)(crc & 0xff);
        pkt[len - 1] = (uint8_t)(crc >> 8);
        uint8_t wire[16] = {0};
        int n = proto_cobs_encode(pkt, len, wire + 1, sizeof(wire) - 2);
        assert_true(n > 0);
        proto_decoder_t d;
        proto_decoder_init(&d);
        proto_frame_t f;
        size_t used = 0;
        assert_int_equal(proto_decoder_feed(&d, wire, (size_t)n + 2, &used, &f), -PROTO_E_SHORT);
        assert_int_equal(d.stats.short_frames, 1);
        assert_int_equal(d.stats.frames, 0);
        assert_int_equal(proto_packet_parse(pkt, len, &f), -PROTO_E_SHORT);
    }
}

/* A code that overruns the bytes REMAINING after it, though not the whole input: the second
 * code (0x04) promises 3 bytes where 1 is left. The bytes after the input are non-zero and
 * readable, so a check against the whole length would copy them and answer 4 instead. */
static void test_cobs_decode_rejects_code_past_the_remaining_bytes(void **state)
{
    (void)state;
    uint8_t out[16];
    const uint8_t in[] = {0x02, 0x11, 0x04, 0x22, 0x33, 0x44};
    assert_int_equal(proto_cobs_decode(in, 4, out, sizeof(out)), -PROTO_E_COBS);
    /* The same code with its 3 bytes there decodes: the check is exact, not over-strict. */
    assert_int_equal(proto_cobs_decode(in, 6, out, sizeof(out)), 5);
    const uint8_t want[] = {0x11, 0x00, 0x22, 0x33, 0x44};
    assert_memory_equal(out, want, sizeof(want));
}

static void test_frame_limits(void **state)
{
    (void)state;
    uint8_t body[PROTO_MAX_BODY + 1] = {0};
    uint8_t out[PROTO_MAX_FRAME];
    assert_int_equal(
        proto_frame_encode(out, sizeof(out), PROTO_MSG_PING, 0, body, PROTO_MAX_BODY + 1),
        -PROTO_E_LENGTH);
    int n = proto_frame_encode(out, sizeof(out), PROTO_MSG_PING, 0, body, PROTO_MAX_BODY);
    assert_true(n > 0 && n <= PROTO_MAX_FRAME);
    assert_int_equal(
        proto_frame_encode(out, (size_t)n - 1, PROTO_MSG_PING, 0, body, PROTO_MAX_BODY),
        -PROTO_E_LENGTH);
}

/* ---- message codecs ------------------------------------------------------------------------ */

/* The frame writer in steps gives proto_frame_encode's bytes, whatever the step size: bodies
 * of every length, with zeros, and with runs of 254 non-zero bytes (COBS's full blocks). */
static void test_frame_writer_matches_encode(void **state)
{
    (void)state;
    static const size_t steps[] = {1, 7, 64, 128, SIZE_MAX};
    uint8_t body[PROTO_MAX_BODY], want[PROTO_MAX_FRAME], got[PROTO_MAX_FRAME];
    for (int pattern = 0; pattern < 3; pattern++) {
        for (size_t len = 0; len <= PROTO_MAX_BODY; len++) {
            for (size_t i = 0; i < len; i++)
                body[i] = pattern == 0   ? (uint8_t)(i * 37u)
                          : pattern == 1 ? 0xa5
                                         : (uint8_t)(i % 3);
            int n = proto_frame_encode(want, sizeof(want), PROTO_MSG_PING, (uint16_t)(len * 5u),
                                       body, len);
            assert_true(n > 0);
            for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
                proto_frame_writer_t w;
                memset(got, 0x55, sizeof(got));
                assert_int_equal(proto_frame_writer_init(&w, got, sizeof(got), PROTO_MSG_PING,
                                                         (uint16_t)(len * 5u), body, len),
                                 0);
                int rc, calls = 0;
                while ((rc = proto_frame_writer_step(&w, steps[k])) == 0)
                    calls++;
                assert_int_equal(rc, n);
                assert_memory_equal(got, want, (size_t)n);
                /* no step did more than its share: two passes over the body */
                if (steps[k] != SIZE_MAX)
                    assert_true((size_t)calls <= 2 * (len / steps[k]) + 2);
                assert_int_equal(proto_frame_writer_step(&w, 1), n); /* done stays done */
            }
        }
    }
    proto_frame_writer_t w;
    assert_int_equal(proto_frame_writer_init(&w, got, sizeof(got), 1, 1, body, PROTO_MAX_BODY + 1),
                     -PROTO_E_LENGTH);
    assert_int_equal(proto_frame_writer_init(&w, got, 8, 1, 1, body, 16), 0);
    assert_int_equal(proto_frame_writer_step(&w, SIZE_MAX), -PROTO_E_LENGTH);
}

static void test_hello_roundtrip(void **state)
{
    (void)state;
    proto_hello_ack_t a = {.proto_major = 1,
                           .proto_minor = 0,
                           .fw_major = 0,
                           .fw_minor = 1,
                           .fw_patch = 2,
                           .platform = PROTO_PLATFORM_RP2040,
                           .reset_cause = PROTO_RESET_WATCHDOG,
                           .caps = 0x1f,
                           .board_id = {1, 2, 3, 4, 5, 6, 7, 8},
                           .build = "0.1.2 test",
                           .crash = {PROTO_FAULT_HARDFAULT, 3, 0x10001234, 0x10005679, 4242},
                           .uptime_ms = 99,
                           .chip_rev = 2,
                           .clock_faults = PROTO_CLK_PLL_USB},
                      b;
    uint8_t buf[PROTO_MAX_BODY];
    int n = proto_hello_ack_encode(&a, buf, sizeof(buf));
    assert_int_equal(n, 64); /* 62 in 1.0, + chip_rev and clock_faults in 1.1 */
    /* A 1.0 board's 62-byte body still decodes; the 1.1 fields read as unknown (0). */
    memset(&b, 0xaa, sizeof(b));
    assert_int_equal(proto_hello_ack_decode(buf, 62, &b), 0);
    assert_int_equal(b.chip_rev, 0);
    assert_int_equal(b.clock_faults, 0);
    assert_int_equal(proto_hello_ack_decode(buf, 63, &b), -PROTO_E_LENGTH); /* a cut 1.1 tail */
    memset(&b, 0xaa, sizeof(b));
    assert_int_equal(proto_hello_ack_decode(buf, (size_t)n, &b), 0);
    assert_memory_equal(b.board_id, a.board_id, 8);
    assert_string_equal(b.build, "0.1.2 test");
    assert_int_equal(b.crash.pc, 0x10001234);
    assert_int_equal(b.crash.task, 3);
    assert_int_equal(b.reset_cause, PROTO_RESET_WATCHDOG);
    assert_int_equal(b.uptime_ms, 99);
    /* Short body: a clear error. Longer body (a later minor version): accepted. */
    assert_int_equal(proto_hello_ack_decode(buf, (size_t)n - 1, &b), -PROTO_E_LENGTH);
    assert_int_equal(proto_hello_ack_decode(buf, sizeof(buf), &b), 0);
    /* Too small an output buffer is an error, not an overrun. */
    assert_int_equal(proto_hello_ack_encode(&a, buf, 61), -PROTO_E_LENGTH);
}

/* 1.4 appended the session id to HELLO: sent when nonzero; a 1.3 host's 4-byte body
 * decodes as session 0 (none); a cut id is bad_length. */
static void test_hello_req_session(void **state)
{
    (void)state;
    uint8_t buf[16];
    proto_hello_req_t a = {1, 4, 3000, 0x5e551014}, b;
    int n = proto_hello_req_encode(&a, buf, sizeof(buf));
    assert_int_equal(n, 8);
    assert_int_equal(buf[4], 0x14); /* little-endian */
    assert_int_equal(buf[7], 0x5e);
    memset(&b, 0xaa, sizeof(b));
    assert_int_equal(proto_hello_req_decode(buf, (size_t)n, &b), 0);
    assert_int_equal(b.session, 0x5e551014);
    assert_int_equal(b.host_timeout_ms, 3000);
    memset(&b, 0xaa, sizeof(b));
    assert_int_equal(proto_hello_req_decode(buf, 4, &b), 0); /* from a 1.3 host */
    assert_int_equal(b.session, 0);
    assert_int_equal(proto_hello_req_decode(buf, 6, &b), -PROTO_E_LENGTH);
    a.session = 0;
    assert_int_equal(proto_hello_req_encode(&a, buf, sizeof(buf)), 4); /* none: a 1.3 body */
    a.session = 1;
    assert_int_equal(proto_hello_req_encode(&a, buf, 7), -PROTO_E_LENGTH);
}

/* 1.2 appended uptime_us to HEARTBEAT_ACK: a 1.1 body (6 bytes) still decodes, without it. */
static void test_heartbeat_ack_uptime_us(void **state)
{
    (void)state;
    uint8_t buf[32];
    proto_heartbeat_ack_t a = {5000, PROTO_LINK_ONLINE, 2, true, 0x12A05F2C8ull}, b;
    int n = proto_heartbeat_ack_encode(&a, buf, sizeof(buf));
    assert_int_equal(n, 14);
    memset(&b, 0xaa, sizeof(b));
    assert_int_equal(proto_heartbeat_ack_decode(buf, (size_t)n, &b), 0);
    assert_true(b.has_uptime_us);
    assert_true(b.uptime_us == 0x12A05F2C8ull);
    assert_int_equal(b.uptime_ms, 5000);
    assert_int_equal(b.pending_events, 2);
    memset(&b, 0xaa, sizeof(b));
    assert_int_equal(proto_heartbeat_ack_decode(buf, 6, &b), 0); /* from a 1.1 board */
    assert_false(b.has_uptime_us);
    assert_true(b.uptime_us == 0);
    assert_int_equal(b.uptime_ms, 5000);
    assert_int_equal(proto_heartbeat_ack_decode(buf, 10, &b), -PROTO_E_LENGTH); /* cut tail */
    assert_int_equal(proto_heartbeat_ack_decode(buf, sizeof(buf), &b), 0);      /* later minor */
    assert_int_equal(proto_heartbeat_ack_encode(&a, buf, 13), -PROTO_E_LENGTH);
}

static void test_set_led_validation(void **state)
{
    (void)state;
    uint8_t buf[32];
    proto_set_led_req_t m = {.op = PROTO_LED_BLINK, .duty_pct = 50, .period_ms = 500}, r;
    int n = proto_set_led_req_encode(&m, buf, sizeof(buf));
    assert_int_equal(n, 9);
    assert_int_equal(proto_set_led_req_decode(buf, (size_t)n, &r), 0);
    assert_int_equal(r.period_ms, 500);
    m.duty_pct = 0;
    proto_set_led_req_encode(&m, buf, sizeof(buf));
    assert_int_equal(proto_set_led_req_decode(buf, (size_t)n, &r), -PROTO_E_ARG);
    m.op = 9;
    proto_set_led_req_encode(&m, buf, sizeof(buf));
    assert_int_equal(proto_set_led_req_decode(buf, (size_t)n, &r), -PROTO_E_ARG);
    assert_int_equal(proto_set_led_req_decode(buf, 3, &r), -PROTO_E_LENGTH);
}

static void test_readings_roundtrip(void **state)
{
    (void)state;
    proto_readings_t a = {.count = 2}, b;
    a.r[0] = (proto_reading_t){0, PROTO_SENSOR_BME280, 0x76, 0, 7, -1234, 101325, 45123, 1000};
    a.r[1] = (proto_reading_t){1, PROTO_SENSOR_SHT3X, 0x44, PROTO_E_I2C_NACK_ADDR, 0, 0, 0, 0, 0};
    uint8_t buf[PROTO_MAX_BODY];
    int n = proto_readings_encode(&a, buf, sizeof(buf));
    assert_int_equal(n, 1 + 2 * PROTO_READING_SIZE);
    assert_int_equal(proto_readings_decode(buf, (size_t)n, &b), 0);
    assert_int_equal(b.count, 2);
    assert_int_equal(b.r[0].temp_centi_c, -1234);
    assert_int_equal(b.r[0].pressure_pa, 101325);
    assert_int_equal(b.r[1].status, PROTO_E_I2C_NACK_ADDR);
    buf[0] = PROTO_MAX_READINGS + 1;
    assert_int_equal(proto_readings_decode(buf, sizeof(buf), &b), -PROTO_E_ARG);
    /* Eight readings fit one frame. */
    a.count = PROTO_MAX_READINGS;
    assert_true(proto_readings_encode(&a, buf, sizeof(buf)) > 0);
}

static void test_i2c_xfer_validation(void **state)
{
    (void)state;
    proto_i2c_xfer_req_t m = {.bus = 0, .addr = 0x76, .wlen = 1, .rlen = 8, .wdata = {0xf7}}, r;
    uint8_t buf[PROTO_MAX_BODY];
    int n = proto_i2c_xfer_req_encode(&m, buf, sizeof(buf));
    assert_int_equal(n, 5);
    assert_int_equal(proto_i2c_xfer_req_decode(buf, (size_t)n, &r), 0);
    assert_int_equal(r.wdata[0], 0xf7);
    assert_int_equal(r.rlen, 8);
    /* wlen says 1 byte follows but none does. */
    assert_int_equal(proto_i2c_xfer_req_decode(buf, 4, &r), -PROTO_E_LENGTH);
    buf[1] = 0x80; /* 8-bit address */
    assert_int_equal(proto_i2c_xfer_req_decode(buf, (size_t)n, &r), -PROTO_E_ARG);
    buf[1] = 0x76;
    buf[2] = 0;
    buf[3] = 0; /* nothing to do */
    assert_int_equal(proto_i2c_xfer_req_decode(buf, (size_t)n, &r), -PROTO_E_ARG);
}

static void test_small_messages_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[PROTO_MAX_BODY];
    proto_stats_t s = {.uptime_ms = 1,
                       .rx_crc_errors = 3,
                       .i2c_errors = 13,
                       .ram_used = 9000,
                       .ram_total = 16384,
                       .task_count = 6,
                       .link_state = 1,
                       .hw = {.chip_rev = 1,
                              .clock_faults = PROTO_CLK_XOSC,
                              .wd_reason = 1,
                              .chip_reset = 0x100000,
                              .clk_sys_khz = 125000,
                              .clk_ref_khz = 12000,
                              .clk_peri_khz = 125001,
                              .clk_usb_khz = 48000,
                              .rosc_khz = 6543}},
                  s2;
    int n = proto_stats_encode(&s, buf, sizeof(buf));
    assert_int_equal(n, 93); /* 58 in 1.0, + the silicon facts in 1.1, + u32 RAM sizes in 1.3 */
    memset(&s2, 0xaa, sizeof(s2));
    assert_int_equal(proto_stats_decode(buf, 58, &s2), 0); /* a 1.0 board */
    assert_int_equal(s2.hw.chip_rev, 0);
    assert_int_equal(s2.hw.clk_sys_khz, 0);
    assert_int_equal(proto_stats_decode(buf, (size_t)n, &s2), 0);
    assert_int_equal(s2.hw.chip_rev, 1);
    assert_int_equal(s2.hw.clock_faults, PROTO_CLK_XOSC);
    assert_int_equal(s2.hw.wd_reason, 1);
    assert_int_equal(s2.hw.chip_reset, 0x100000);
    assert_int_equal(s2.hw.clk_sys_khz, 125000);
    assert_int_equal(s2.hw.clk_ref_khz, 12000);
    assert_int_equal(s2.hw.clk_peri_khz, 125001);
    assert_int_equal(s2.hw.clk_usb_khz, 48000);
    assert_int_equal(s2.hw.rosc_khz, 6543);
    assert_int_equal(s2.uptime_ms, 1);
    assert_int_equal(s2.rx_crc_errors, 3);
    assert_int_equal(s2.i2c_errors, 13);
    assert_int_equal(s2.ram_used, 9000);
    assert_int_equal(s2.ram_total, 16384);
    assert_int_equal(s2.task_count, 6);
    assert_int_equal(s2.link_state, 1);

    proto_task_stats_t t = {.index = 2,
                            .name = "button",
                            .runs = 5,
                            .max_late_us = 17,
                            .stack_hwm = 0},
                       t2;
    n = proto_task_stats_encode(&t, buf, sizeof(buf));
    assert_int_equal(n, 28);
    assert_int_equal(proto_task_stats_decode(buf, (size_t)n, &t2), 0);
    assert_string_equal(t2.name, "button");
    assert_int_equal(t2.max_late_us, 17);

    proto_button_event_t e = {PROTO_BUTTON_LONG, 0, 0xfffffff0u, 1500000, 4}, e2;
    n = proto_button_event_encode(&e, buf, sizeof(buf));
    assert_int_equal(n, 14);
    assert_int_equal(proto_button_event_decode(buf, (size_t)n, &e2), 0);
    assert_int_equal(e2.t_us, 0xfffffff0u);
    buf[0] = 9;
    assert_int_equal(proto_button_event_decode(buf, (size_t)n, &e2), -PROTO_E_ARG);

    proto_error_t er = {PROTO_E_I2C_NACK_ADDR, PROTO_MSG_I2C_XFER, 0x0001}, er2;
    n = proto_error_encode(&er, buf, sizeof(buf));
    assert_int_equal(n, 4);
    assert_int_equal(proto_error_decode(buf, (size_t)n, &er2), 0);
    assert_int_equal(er2.code, PROTO_E_I2C_NACK_ADDR);
    assert_string_equal(proto_err_name(-er2.code), "i2c_nack_addr");
    assert_string_equal(proto_err_name(999), "unknown_error");
    assert_string_equal(proto_type_name(PROTO_MSG_ACK(PROTO_MSG_HELLO)), "hello_ack");
    assert_string_equal(proto_type_name(PROTO_MSG_ACK(PROTO_MSG_DEBUG)), "debug_ack");
    assert_string_equal(proto_type_name(0x3e), "unknown");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s VECTORS_FILE\n", argv[0]);
        return 2;
    }
    vectors_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),
        cmocka_unit_test(test_crc_table_matches_definition),
        cmocka_unit_test(test_cobs_vectors),
        cmocka_unit_test(test_frame_vectors),
        cmocka_unit_test(test_stats_vectors),
        cmocka_unit_test(test_decoder_any_chunking),
        cmocka_unit_test(test_decoder_resync_after_garbage),
        cmocka_unit_test(test_decoder_truncated_and_corrupt),
        cmocka_unit_test(test_decoder_empty_frames_are_nothing),
        cmocka_unit_test(test_decoder_lost_delimiter_loses_nothing),
        cmocka_unit_test(test_decoder_oversize),
        cmocka_unit_test(test_decoder_version_mismatch),
        cmocka_unit_test(test_decoder_random_bytes),
        cmocka_unit_test(test_cobs_decode_rejects_bad_codes),
        cmocka_unit_test(test_cobs_decode_rejects_code_past_the_remaining_bytes),
        cmocka_unit_test(test_decoder_short_packet_with_valid_crc),
        cmocka_unit_test(test_frame_limits),
        cmocka_unit_test(test_frame_writer_matches_encode),
        cmocka_unit_test(test_hello_roundtrip),
        cmocka_unit_test(test_heartbeat_ack_uptime_us),
        cmocka_unit_test(test_hello_req_session),
        cmocka_unit_test(test_set_led_validation),
        cmocka_unit_test(test_readings_roundtrip),
        cmocka_unit_test(test_i2c_xfer_validation),
        cmocka_unit_test(test_small_messages_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
