/*
 * cobs_writer.h - incremental COBS encoder (internal to proto/src).
 *
 * Feed the input in pieces with cobs_writer_put, telling each call how many input bytes are
 * still to come after it (a full 254-byte run is closed early only if more input follows),
 * then cobs_writer_end. Running out of room sets err; end then returns -PROTO_E_LENGTH.
 */
#ifndef PICOD_PROTO_COBS_WRITER_H
#define PICOD_PROTO_COBS_WRITER_H

#include "proto.h"

typedef struct cobs_writer {
    uint8_t *out;
    size_t cap, o, code_pos;
    uint8_t code;
    bool err;
} cobs_writer_t;

void cobs_writer_init(cobs_writer_t *w, uint8_t *out, size_t cap);
void cobs_writer_put(cobs_writer_t *w, const uint8_t *in, size_t len, size_t more);
/* Returns the encoded length (no delimiter) or -PROTO_E_LENGTH. */
int cobs_writer_end(cobs_writer_t *w);

#endif
