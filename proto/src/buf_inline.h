/*
 * buf_inline.h - the body cursor's put/get, inline for the codecs in msg.c.
 *
 * A u32 field used to cost seven calls (u32 -> 2 x u16 -> 4 x u8, each with its own bounds
 * check); on the Cortex-M0+ that made encoding a full READ_SENSORS answer a visible share of
 * the sensor task's longest run. Here each field checks its room once. buf.c exports the same
 * operations for other users.
 */
#ifndef PICOD_PROTO_BUF_INLINE_H
#define PICOD_PROTO_BUF_INLINE_H

#include <string.h>

#include "proto.h"

/* -Os would rather call these than inline them (the firmware is built for size): insist, they
 * are a compare and a store or two. */
#if defined(__GNUC__)
#define BUF_INLINE static inline __attribute__((always_inline))
#else
#define BUF_INLINE static inline
#endif

BUF_INLINE int buf_room_(proto_buf_t *b, size_t n)
{
    if (b->err || b->cap - b->pos < n) {
        b->err = true;
        return 0;
    }
    return 1;
}

BUF_INLINE void put_u8_(proto_buf_t *b, uint8_t v)
{
    if (buf_room_(b, 1))
        b->data[b->pos++] = v;
}

BUF_INLINE void put_u16_(proto_buf_t *b, uint16_t v)
{
    if (buf_room_(b, 2)) {
        b->data[b->pos] = (uint8_t)(v & 0xff);
        b->data[b->pos + 1] = (uint8_t)(v >> 8);
        b->pos += 2;
    }
}

BUF_INLINE void put_u32_(proto_buf_t *b, uint32_t v)
{
    if (buf_room_(b, 4)) {
        uint8_t *p = b->data + b->pos;
        p[0] = (uint8_t)(v & 0xff);
        p[1] = (uint8_t)((v >> 8) & 0xff);
        p[2] = (uint8_t)((v >> 16) & 0xff);
        p[3] = (uint8_t)(v >> 24);
        b->pos += 4;
    }
}

BUF_INLINE void put_bytes_(proto_buf_t *b, const void *p, size_t n)
{
    if (n && buf_room_(b, n)) {
        memcpy(b->data + b->pos, p, n);
        b->pos += n;
    }
}

BUF_INLINE uint8_t get_u8_(proto_buf_t *b)
{
    return buf_room_(b, 1) ? b->data[b->pos++] : 0;
}

BUF_INLINE uint16_t get_u16_(proto_buf_t *b)
{
    if (!buf_room_(b, 2))
        return 0;
    const uint8_t *p = b->data + b->pos;
    b->pos += 2;
    return (uint16_t)(p[0] | (p[1] << 8));
}

BUF_INLINE uint32_t get_u32_(proto_buf_t *b)
{
    if (!buf_room_(b, 4))
        return 0;
    const uint8_t *p = b->data + b->pos;
    b->pos += 4;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

BUF_INLINE void get_bytes_(proto_buf_t *b, void *p, size_t n)
{
    if (n && buf_room_(b, n)) {
        memcpy(p, b->data + b->pos, n);
        b->pos += n;
    } else if (n) {
        memset(p, 0, n);
    }
}

#endif /* PICOD_PROTO_BUF_INLINE_H */
