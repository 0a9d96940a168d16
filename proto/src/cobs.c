/*
 * cobs.c - Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).
 *
 * Encoded data contains no 0x00, so 0x00 can delimit frames and a receiver resynchronises at
 * the next delimiter after any corruption. Overhead: one byte per started run of 254 bytes.
 *
 * The encoder is incremental (cobs_writer.h) so that proto_frame_encode can stuff header,
 * body and CRC straight from where they are, without first copying them into one packet.
 */
#include "cobs_writer.h"

void cobs_writer_init(cobs_writer_t *w, uint8_t *out, size_t cap)
{
    w->out = out;
    w->cap = cap;
    w->code_pos = 0;
    w->o = 1;
    w->code = 1;
    w->err = cap < 1;
}

void cobs_writer_put(cobs_writer_t *w, const uint8_t *in, size_t len, size_t more)
{
    /* Pointers in locals, not w->...: on the M0+ (eight low registers) this keeps the loop
     * free of spills; the bench measures it (docs/PERFORMANCE.md). */
    const uint8_t *p = in, *end = in + len;
    uint8_t *dst = w->out + w->o, *codep = w->out + w->code_pos, *lim = w->out + w->cap;
    uint8_t code = w->code;

    if (w->err)
        return;
    while (p < end) {
        uint8_t c = *p++;
        if (c != 0) {
            if (dst >= lim)
                goto full;
            *dst++ = c;
            /* A full 254-byte run ends here too, unless the input ends right there (then
             * cobs_writer_end closes it without a spurious extra code byte). */
            if (++code != 0xff || (p == end && more == 0))
                continue;
        }
        *codep = code; /* a zero, or a full run: close it, open the next */
        codep = dst;
        if (dst >= lim)
            goto full;
        dst++;
        code = 1;
    }
    w->o = (size_t)(dst - w->out);
    w->code_pos = (size_t)(codep - w->out);
    w->code = code;
    return;
full:
    w->err = true;
}

int cobs_writer_end(cobs_writer_t *w)
{
    if (w->err)
        return -PROTO_E_LENGTH;
    w->out[w->code_pos] = w->code;
    return (int)w->o;
}

int proto_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    cobs_writer_t w;
    cobs_writer_init(&w, out, cap);
    cobs_writer_put(&w, in, len, 0);
    return cobs_writer_end(&w);
}

int proto_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;

    while (i < len) {
        uint8_t code = in[i++];
        if (code == 0)
            return -PROTO_E_COBS;
        if ((size_t)(code - 1) > len - i)
            return -PROTO_E_COBS;
        for (uint8_t k = 1; k < code; k++) {
            if (in[i] == 0)
                return -PROTO_E_COBS;
            if (o >= cap)
                return -PROTO_E_LENGTH;
            out[o++] = in[i++];
        }
        /* A code below 0xff stands for "run, then a zero" unless it closes the input. */
        if (code != 0xff && i < len) {
            if (o >= cap)
                return -PROTO_E_LENGTH;
            out[o++] = 0;
        }
    }
    return (int)o;
}
