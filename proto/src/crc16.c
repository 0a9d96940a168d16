/*
 * crc16.c - CRC-16/CCITT-FALSE, bitwise.
 *
 * Bitwise rather than table-driven: frames are at most 250 bytes, the RP2040 runs this from
 * flash or RAM without a 512-byte table, and the host cost is irrelevant next to a syscall.
 */
#include "proto.h"

uint16_t proto_crc16_update(uint16_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int bit = 0; bit < 8; bit++) {
            if (crc & 0x8000u)
                crc = (uint16_t)((crc << 1) ^ 0x1021u);
            else
                crc = (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint16_t proto_crc16(const uint8_t *data, size_t len)
{
    return proto_crc16_update(PROTO_CRC16_INIT, data, len);
}
