/*
 * buf.c - little-endian cursor over a message body (exported form of buf_inline.h).
 *
 * Every multi-byte field on the wire is little-endian. Overruns set b->err and write or read
 * nothing (reads return 0), so codecs check once at the end instead of after every field.
 */
#include "buf_inline.h"

void proto_put_u8(proto_buf_t *b, uint8_t v)
{
    put_u8_(b, v);
}

void proto_put_u16(proto_buf_t *b, uint16_t v)
{
    put_u16_(b, v);
}

void proto_put_u32(proto_buf_t *b, uint32_t v)
{
    put_u32_(b, v);
}

void proto_put_bytes(proto_buf_t *b, const void *p, size_t n)
{
    put_bytes_(b, p, n);
}

uint8_t proto_get_u8(proto_buf_t *b)
{
    return get_u8_(b);
}

uint16_t proto_get_u16(proto_buf_t *b)
{
    return get_u16_(b);
}

uint32_t proto_get_u32(proto_buf_t *b)
{
    return get_u32_(b);
}

void proto_get_bytes(proto_buf_t *b, void *p, size_t n)
{
    get_bytes_(b, p, n);
}
