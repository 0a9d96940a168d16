/*
 * uf2.c - CRC-32/MPEG-2 for boot2 and UF2 block construction (see uf2.h).
 */
#include "uf2.h"

#include <string.h>

uint32_t uf2_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

void uf2_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

uint32_t uf2_crc32_mpeg2(const uint8_t *data, size_t len)
{
    /* A nibble table: small, and a different shape from the bitwise check in the tests. */
    static const uint32_t nibble[16] = {
        0x00000000u, 0x04c11db7u, 0x09823b6eu, 0x0d4326d9u, 0x130476dcu, 0x17c56b6bu,
        0x1a864db2u, 0x1e475005u, 0x2608edb8u, 0x22c9f00fu, 0x2f8ad6d6u, 0x2b4bcb61u,
        0x350c9b64u, 0x31cd86d3u, 0x3c8ea00au, 0x384fbdbdu,
    };
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc = (crc << 4) ^ nibble[(crc >> 28) ^ (data[i] >> 4)];
        crc = (crc << 4) ^ nibble[(crc >> 28) ^ (data[i] & 0x0fu)];
    }
    return crc;
}

int uf2_boot2_seal(const uint8_t *code, size_t len, uint8_t out[RP2040_BOOT2_SIZE])
{
    if (len > RP2040_BOOT2_CODE || (len > 0 && !code)) {
        return -1;
    }
    memset(out, 0, RP2040_BOOT2_SIZE);
    if (len > 0) {
        memcpy(out, code, len);
    }
    uf2_put_le32(out + RP2040_BOOT2_CODE, uf2_crc32_mpeg2(out, RP2040_BOOT2_CODE));
    return 0;
}

uint32_t uf2_block_count(size_t len, uint32_t payload)
{
    if (payload == 0) {
        return 0;
    }
    return (uint32_t)((len + payload - 1u) / payload);
}

int uf2_make_block(const uint8_t *bin, size_t len, uint32_t base, uint32_t payload, uint32_t family,
                   uint32_t block_no, uint8_t out[UF2_BLOCK_SIZE])
{
    uint32_t count = uf2_block_count(len, payload);
    if (!bin || payload == 0 || payload > UF2_DATA_SIZE || base % payload != 0 ||
        block_no >= count) {
        return -1;
    }
    size_t off = (size_t)block_no * payload;
    size_t n = len - off < payload ? len - off : payload;
    memset(out, 0, UF2_BLOCK_SIZE);
    uf2_put_le32(out + 0, UF2_MAGIC_START0);
    uf2_put_le32(out + 4, UF2_MAGIC_START1);
    uf2_put_le32(out + 8, UF2_FLAG_FAMILY_ID);
    uf2_put_le32(out + 12, base + (uint32_t)off);
    uf2_put_le32(out + 16, payload);
    uf2_put_le32(out + 20, block_no);
    uf2_put_le32(out + 24, count);
    uf2_put_le32(out + 28, family);
    memcpy(out + UF2_DATA_OFFSET, bin + off, n);
    uf2_put_le32(out + UF2_BLOCK_SIZE - 4u, UF2_MAGIC_END);
    return 0;
}
