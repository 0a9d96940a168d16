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
}

static void count(uint32_t *c)
{
    if (*c != UINT32_MAX)
        (*c)++;
}

/* A delimiter arrived: decode what was collected. Returns 1, 0 (empty frame) or -err. */
static int decoder_finish(proto_decoder_t *d, proto_frame_t *f)
{
    size_t n = d->len;
    d->len = 0;
    if (d->discarding) {
        d->discarding = false;
        count(&d->stats.oversize);
        return -PROTO_E_OVERSIZE;
    }
    if (n == 0)
        return 0;
    int dec = proto_cobs_decode(d->buf, n, d->buf, sizeof(d->buf));
    if (dec < 0) {
        count(&d->stats.cobs_errors);
        return -PROTO_E_COBS;
    }
    int rc = proto_packet_parse(d->buf, (size_t)dec, f);
    switch (rc) {
    case 0:
        count(&d->stats.frames);
        return 1;
    case -PROTO_E_SHORT:
        count(&d->stats.short_frames);
        break;
    case -PROTO_E_CRC:
        count(&d->stats.crc_errors);
        break;
    case -PROTO_E_VERSION:
        count(&d->stats.version_errors);
        break;
    default:
        count(&d->stats.oversize);
        break;
    }
    return rc;
}

int proto_decoder_feed(proto_decoder_t *d, const uint8_t *data, size_t len, size_t *consumed,
                       proto_frame_t *f)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        count(&d->stats.bytes);
        if (b == 0x00) {
            int rc = decoder_finish(d, f);
            if (rc != 0) {
                *consumed = i + 1;
                return rc;
            }
            continue;
        }
        if (d->discarding)
            continue;
        /* Delimiters never enter buf: it holds the COBS bytes of one frame. */
        if (d->len >= PROTO_MAX_ENCODED) {
            d->discarding = true;
            d->len = 0;
            continue;
        }
        d->buf[d->len++] = b;
    }
    *consumed = len;
    return 0;
}
