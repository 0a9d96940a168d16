/*
 * cobs.c - Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).
 *
 * Encoded data contains no 0x00, so 0x00 can delimit frames and a receiver resynchronises at
 * the next delimiter after any corruption. Overhead: one byte per started run of 254 bytes.
 */
#include "proto.h"

int proto_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t code_pos = 0; /* where the current run's length code goes */
    size_t o = 1;
    uint8_t code = 1;

    if (cap < 1)
        return -PROTO_E_LENGTH;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != 0) {
            if (o >= cap)
                return -PROTO_E_LENGTH;
            out[o++] = in[i];
            code++;
        }
        /* A zero ends the run; so does a full 254-byte run, unless input ends right there
         * (then the final code below closes it without a spurious extra byte). */
        if (in[i] == 0 || (code == 0xff && i + 1 < len)) {
            out[code_pos] = code;
            code_pos = o;
            if (o >= cap)
                return -PROTO_E_LENGTH;
            o++;
            code = 1;
        }
    }
    out[code_pos] = code;
    return (int)o;
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
