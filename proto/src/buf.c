/*
 * buf.c - little-endian cursor over a message body.
 *
 * Every multi-byte field on the wire is little-endian. Overruns set b->err and write or read
 * nothing (reads return 0), so codecs check once at the end instead of after every field.
 */
#include <string.h>

#include "proto.h"

static bool room(proto_buf_t *b, size_t n)
{
    if (b->err || b->cap - b->pos < n) {
        b->err = true;
        return false;
    }
    return true;
}

void proto_put_u8(proto_buf_t *b, uint8_t v)
{
    if (room(b, 1))
        b->data[b->pos++] = v;
}

void proto_put_u16(proto_buf_t *b, uint16_t v)
{
    proto_put_u8(b, (uint8_t)(v & 0xff));
    proto_put_u8(b, (uint8_t)(v >> 8));
}

void proto_put_u32(proto_buf_t *b, uint32_t v)
{
    proto_put_u16(b, (uint16_t)(v & 0xffff));
    proto_put_u16(b, (uint16_t)(v >> 16));
}

void proto_put_bytes(proto_buf_t *b, const void *p, size_t n)
{
    if (n && room(b, n)) {
        memcpy(b->data + b->pos, p, n);
        b->pos += n;
    }
}

uint8_t proto_get_u8(proto_buf_t *b)
{
    return room(b, 1) ? b->data[b->pos++] : 0;
}

uint16_t proto_get_u16(proto_buf_t *b)
{
    uint16_t lo = proto_get_u8(b);
    uint16_t hi = proto_get_u8(b);
    return (uint16_t)(lo | (hi << 8));
}

uint32_t proto_get_u32(proto_buf_t *b)
{
    uint32_t lo = proto_get_u16(b);
    uint32_t hi = proto_get_u16(b);
    return lo | (hi << 16);
}

void proto_get_bytes(proto_buf_t *b, void *p, size_t n)
{
    if (n && room(b, n)) {
        memcpy(p, b->data + b->pos, n);
        b->pos += n;
    } else if (n) {
        memset(p, 0, n);
    }
}
