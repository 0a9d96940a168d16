/*
 * frame.c - packets (header + body + CRC) and the incremental frame decoder.
 */
#include <string.h>

#include "cobs_writer.h"

int proto_frame_encode(uint8_t *out, size_t cap, uint8_t type, uint16_t seq, const uint8_t *body,
                       size_t body_len)
{
    const uint8_t hdr[PROTO_HEADER_SIZE] = {PROTO_VERSION_BYTE, type, (uint8_t)(seq & 0xff),
                                            (uint8_t)(seq >> 8)};
    cobs_writer_t w;

    if (body_len > PROTO_MAX_BODY || cap < 2)
        return -PROTO_E_LENGTH;
    uint16_t crc = proto_crc16(hdr, sizeof(hdr));
    crc = proto_crc16_update(crc, body, body_len);
    const uint8_t tail[PROTO_CRC_SIZE] = {(uint8_t)(crc & 0xff), (uint8_t)(crc >> 8)};

    /* Stuffed straight from header, body and CRC: no packet-sized copy first. */
    out[0] = 0x00;
    cobs_writer_init(&w, out + 1, cap - 2);
    cobs_writer_put(&w, hdr, sizeof(hdr), body_len + sizeof(tail));
    cobs_writer_put(&w, body, body_len, sizeof(tail));
    cobs_writer_put(&w, tail, sizeof(tail), 0);
    int enc = cobs_writer_end(&w);
    if (enc < 0)
        return enc;
    out[1 + enc] = 0x00;
    return enc + 2;
}

int proto_frame_writer_init(proto_frame_writer_t *w, uint8_t *out, size_t cap, uint8_t type,
                            uint16_t seq, const uint8_t *body, size_t body_len)
{
    if (body_len > PROTO_MAX_BODY || cap < 2)
        return -PROTO_E_LENGTH;
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->cap = (uint16_t)(cap > PROTO_MAX_FRAME ? PROTO_MAX_FRAME : cap);
    w->body = body;
    w->body_len = (uint16_t)body_len;
    w->hdr[0] = PROTO_VERSION_BYTE;
    w->hdr[1] = type;
    w->hdr[2] = (uint8_t)(seq & 0xff);
    w->hdr[3] = (uint8_t)(seq >> 8);
    w->crc = proto_crc16(w->hdr, sizeof(w->hdr));
    return 0;
}

/* The stuffing pass: a cobs_writer over out[1 .. cap - 1), its state kept in w between steps. */
static void writer_stuff(proto_frame_writer_t *w, const uint8_t *in, size_t len, size_t more)
{
    cobs_writer_t c = {w->out + 1, (size_t)w->cap - 2, w->o, w->code_pos, w->code, w->err};
    cobs_writer_put(&c, in, len, more);
    w->o = (uint16_t)c.o;
    w->code_pos = (uint16_t)c.code_pos;
    w->code = c.code;
    w->err = c.err;
}

int proto_frame_writer_step(proto_frame_writer_t *w, size_t max)
{
    if (w->pass == 0) {
        size_t left = (size_t)(w->body_len - w->pos), n = left < max ? left : max;
        w->crc = proto_crc16_update(w->crc, w->body + w->pos, n);
        w->pos = (uint16_t)(w->pos + n);
        max -= n;
        if (w->pos < w->body_len)
            return 0;
        w->pass = 1;
        w->pos = 0;
        cobs_writer_t c;
        cobs_writer_init(&c, w->out + 1, (size_t)w->cap - 2);
        w->o = (uint16_t)c.o;
        w->code_pos = (uint16_t)c.code_pos;
        w->code = c.code;
        w->err = c.err;
        writer_stuff(w, w->hdr, sizeof(w->hdr), (size_t)w->body_len + PROTO_CRC_SIZE);
    }
    if (w->pass == 1) {
        size_t left = (size_t)(w->body_len - w->pos), n = left < max ? left : max;
        writer_stuff(w, w->body + w->pos, n, (size_t)(w->body_len - w->pos - n) + PROTO_CRC_SIZE);
        w->pos = (uint16_t)(w->pos + n);
        if (w->pos < w->body_len)
            return 0;
        const uint8_t tail[PROTO_CRC_SIZE] = {(uint8_t)(w->crc & 0xff), (uint8_t)(w->crc >> 8)};
        writer_stuff(w, tail, sizeof(tail), 0);
        cobs_writer_t c = {w->out + 1, (size_t)w->cap - 2, w->o, w->code_pos, w->code, w->err};
        int enc = cobs_writer_end(&c);
        if (enc < 0)
            return enc;
        w->out[0] = 0x00;
        w->out[1 + enc] = 0x00;
        w->o = (uint16_t)(enc + 2); /* from now on: the frame's length */
        w->pass = 2;
    }
    return w->o;
}

int proto_packet_parse(const uint8_t *pkt, size_t len, proto_frame_t *f)
{
    if (len < PROTO_HEADER_SIZE + PROTO_CRC_SIZE)
        return -PROTO_E_SHORT;
    if (len > PROTO_MAX_PACKET)
        return -PROTO_E_OVERSIZE;
    size_t body_len = len - PROTO_HEADER_SIZE - PROTO_CRC_SIZE;
    uint16_t want = (uint16_t)(pkt[len - 2] | (pkt[len - 1] << 8));
    if (proto_crc16(pkt, len - PROTO_CRC_SIZE) != want)
        return -PROTO_E_CRC;
    f->version = pkt[0];
    f->type = pkt[1];
    f->seq = (uint16_t)(pkt[2] | (pkt[3] << 8));
    f->body = pkt + PROTO_HEADER_SIZE;
    f->body_len = (uint16_t)body_len;
    if (PROTO_VERSION_MAJOR_OF(f->version) != PROTO_VERSION_MAJOR)
        return -PROTO_E_VERSION;
    return 0;
}

void proto_decoder_init(proto_decoder_t *d)
{
    memset(d, 0, sizeof(*d));
    d->crc = PROTO_CRC16_INIT;
}

static void count(uint32_t *c)
{
    if (*c != UINT32_MAX)
        (*c)++;
}

static void decoder_restart(proto_decoder_t *d)
{
    d->len = 0;
    d->enc = 0;
    d->left = 0;
    d->zero = false;
    d->crc = PROTO_CRC16_INIT;
    d->crc_len = 0;
}

/* Shift the bytes decoded since the last call through the CRC, all but the last two. */
static void decoder_crc(proto_decoder_t *d)
{
    if (d->len >= 2 && d->crc_len < d->len - 2) {
        d->crc = proto_crc16_update(d->crc, d->buf + d->crc_len, (size_t)(d->len - 2 - d->crc_len));
        d->crc_len = (uint16_t)(d->len - 2);
    }
}

/* A delimiter arrived: check what was collected. Returns 1, 0 (empty frame) or -err. */
static int decoder_finish(proto_decoder_t *d, proto_frame_t *f)
{
    decoder_crc(d);
    bool discarding = d->discarding, truncated = d->left > 0;
    size_t n = d->len, enc = d->enc;
    uint16_t crc = d->crc;
    d->discarding = false;
    decoder_restart(d);
    if (discarding) {
        count(&d->stats.oversize);
        return -PROTO_E_OVERSIZE;
    }
    if (enc == 0)
        return 0;
    if (truncated) { /* the frame ended inside a COBS block */
        count(&d->stats.cobs_errors);
        return -PROTO_E_COBS;
    }
    int rc = 0;
    if (n < PROTO_HEADER_SIZE + PROTO_CRC_SIZE) {
        rc = -PROTO_E_SHORT;
        count(&d->stats.short_frames);
    } else if (n > PROTO_MAX_PACKET) {
        rc = -PROTO_E_OVERSIZE;
        count(&d->stats.oversize);
    } else if (crc != (uint16_t)(d->buf[n - 2] | (d->buf[n - 1] << 8))) {
        rc = -PROTO_E_CRC;
        count(&d->stats.crc_errors);
    }
    if (rc < 0)
        return rc;
    f->version = d->buf[0];
    f->type = d->buf[1];
    f->seq = (uint16_t)(d->buf[2] | (d->buf[3] << 8));
    f->body = d->buf + PROTO_HEADER_SIZE;
    f->body_len = (uint16_t)(n - PROTO_HEADER_SIZE - PROTO_CRC_SIZE);
    if (PROTO_VERSION_MAJOR_OF(f->version) != PROTO_VERSION_MAJOR) {
        count(&d->stats.version_errors);
        return -PROTO_E_VERSION;
    }
    count(&d->stats.frames);
    return 1;
}

int proto_decoder_feed(proto_decoder_t *d, const uint8_t *data, size_t len, size_t *consumed,
                       proto_frame_t *f)
{
    /* The decoder's state in locals while bytes are copied: at -Os on the M0+ this loop is a
     * third of what it is through d-> (bench/flood_bench.mjs). */
    const uint8_t *p = data, *end = data + len;
    uint8_t *buf = d->buf;
    size_t n = d->len, enc = d->enc, left = d->left;
    bool zero = d->zero;
    int rc = 0;
    while (p < end) {
        uint8_t b = *p++;
        if (b != 0x00) {
            if (left > 0 && enc < PROTO_MAX_ENCODED) { /* the common case: a data byte */
                left--;
                enc++;
                buf[n++] = b;
                continue;
            }
            if (d->discarding)
                continue;
            if (enc >= PROTO_MAX_ENCODED) {
                d->discarding = true;
                continue;
            }
            /* A code byte: the block before it ended with a zero unless it was a full run. */
            enc++;
            if (zero)
                buf[n++] = 0;
            left = (size_t)(b - 1);
            zero = b != 0xff;
            continue;
        }
        if (enc == 0 && !d->discarding)
            continue; /* an empty frame: nothing collected, nothing to reset */
        d->len = (uint16_t)n;
        d->enc = (uint16_t)enc;
        d->left = (uint8_t)left;
        d->zero = zero;
        rc = decoder_finish(d, f);
        n = enc = left = 0;
        zero = false;
        if (rc != 0)
            break;
    }
    d->len = (uint16_t)n;
    d->enc = (uint16_t)enc;
    d->left = (uint8_t)left;
    d->zero = zero;
    size_t used = (size_t)(p - data);
    uint32_t bytes = d->stats.bytes + (uint32_t)used;
    d->stats.bytes = bytes < d->stats.bytes ? UINT32_MAX : bytes;
    if (rc == 0)
        decoder_crc(d);
    *consumed = used;
    return rc;
}
