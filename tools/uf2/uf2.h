/*
 * uf2.h - UF2 images and the RP2040 boot2 checksum, for the host tool picod-uf2 and its tests.
 *
 * UF2 (Microsoft's flashing format, used by the RP2040 bootrom's mass-storage mode): 512-byte
 * blocks, each carrying up to 476 payload bytes for one target address. The RP2040 bootrom
 * wants 256-byte payloads at 256-byte aligned flash addresses and the family ID below.
 */
#ifndef PICOD_UF2_H
#define PICOD_UF2_H

#include <stddef.h>
#include <stdint.h>

#define UF2_BLOCK_SIZE     512u
#define UF2_MAGIC_START0   0x0A324655u
#define UF2_MAGIC_START1   0x9E5D5157u
#define UF2_MAGIC_END      0x0AB16F30u
#define UF2_FLAG_FAMILY_ID 0x00002000u
#define UF2_FAMILY_RP2040  0xE48BFF56u
#define UF2_PAYLOAD_RP2040 256u
#define UF2_DATA_OFFSET    32u
#define UF2_DATA_SIZE      476u
#define RP2040_FLASH_BASE  0x10000000u
#define RP2040_BOOT2_SIZE  256u
#define RP2040_BOOT2_CODE  252u /* bytes covered by the checksum */

/* CRC-32/MPEG-2: poly 0x04C11DB7, init 0xFFFFFFFF, MSB first, no final XOR.
 * uf2_crc32_mpeg2("123456789", 9) == 0x0376E6E7. */
uint32_t uf2_crc32_mpeg2(const uint8_t *data, size_t len);

/* Turn up to 252 bytes of boot2 code into the 256-byte blob the bootrom accepts: zero pad to
 * 252 bytes, CRC-32/MPEG-2 of bytes 0..251 little-endian in 252..255.
 * Returns 0, or -1 if len > 252. */
int uf2_boot2_seal(const uint8_t *code, size_t len, uint8_t out[RP2040_BOOT2_SIZE]);

/* Number of UF2 blocks for a len-byte image with payload bytes per block. */
uint32_t uf2_block_count(size_t len, uint32_t payload);

/* Write block number block_no (of uf2_block_count) of the image (bin, len bytes, to be placed
 * at base) into out[512]; the last payload is zero padded. base must be payload-aligned.
 * Returns 0, or -1 on bad arguments. */
int uf2_make_block(const uint8_t *bin, size_t len, uint32_t base, uint32_t payload, uint32_t family,
                   uint32_t block_no, uint8_t out[UF2_BLOCK_SIZE]);

/* Little-endian helpers shared with the tests. */
uint32_t uf2_get_le32(const uint8_t *p);
void uf2_put_le32(uint8_t *p, uint32_t v);

#endif /* PICOD_UF2_H */
