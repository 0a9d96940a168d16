/*
 * test_uf2.c - unit tests for tools/uf2 (cmocka): the CRC-32/MPEG-2 check value, boot2
 * sealing, UF2 block layout; and, given the firmware's .bin and .uf2 (argv[1], argv[2]), that
 * the real image's boot2 checksum is right and that the UF2 carries exactly the .bin.
 *
 * The CRC is recomputed here bit by bit, independently of uf2.c's nibble table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uf2.h"

static const char *fw_bin_path;
static const char *fw_uf2_path;

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint32_t)p[i] << 24;
        for (int k = 0; k < 8; k++) {
            crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04c11db7u : crc << 1;
        }
    }
    return crc;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void test_crc_check_value(void **state)
{
    (void)state;
    const uint8_t check[] = "123456789";
    assert_int_equal(uf2_crc32_mpeg2(check, 9), 0x0376e6e7u);
    assert_int_equal(crc_bitwise(check, 9), 0x0376e6e7u);
    uint8_t noise[300];
    for (size_t i = 0; i < sizeof(noise); i++) {
        noise[i] = (uint8_t)(i * 151u + 7u);
    }
    assert_int_equal(uf2_crc32_mpeg2(noise, sizeof(noise)), crc_bitwise(noise, sizeof(noise)));
}

static void test_boot2_seal(void **state)
{
    (void)state;
    uint8_t code[100], out[256];
    memset(code, 0xa5, sizeof(code));
    assert_int_equal(uf2_boot2_seal(code, sizeof(code), out), 0);
    assert_memory_equal(out, code, sizeof(code));
    for (size_t i = sizeof(code); i < 252; i++) {
        assert_int_equal(out[i], 0);
    }
    assert_int_equal(uf2_get_le32(out + 252), crc_bitwise(out, 252));

    uint8_t big[253] = {0};
    assert_int_equal(uf2_boot2_seal(big, sizeof(big), out), -1); /* no room for the CRC */
}

/* Check every block of a UF2 image against the .bin it should carry. */
static void check_uf2(const uint8_t *uf2, size_t uf2_len, const uint8_t *bin, size_t bin_len)
{
    assert_int_equal(uf2_len % UF2_BLOCK_SIZE, 0);
    uint32_t n = (uint32_t)(uf2_len / UF2_BLOCK_SIZE);
    assert_int_equal(n, (bin_len + 255u) / 256u);
    for (uint32_t b = 0; b < n; b++) {
        const uint8_t *blk = uf2 + (size_t)b * UF2_BLOCK_SIZE;
        assert_int_equal(uf2_get_le32(blk + 0), 0x0a324655u);
        assert_int_equal(uf2_get_le32(blk + 4), 0x9e5d5157u);
        assert_int_equal(uf2_get_le32(blk + 8), 0x00002000u); /* family ID present, nothing else */
        uint32_t addr = uf2_get_le32(blk + 12);
        assert_int_equal(addr, 0x10000000u + b * 256u);
        assert_int_equal(addr % 256u, 0);
        assert_int_equal(uf2_get_le32(blk + 16), 256u);
        assert_int_equal(uf2_get_le32(blk + 20), b);
        assert_int_equal(uf2_get_le32(blk + 24), n);
        assert_int_equal(uf2_get_le32(blk + 28), 0xe48bff56u);
        assert_int_equal(uf2_get_le32(blk + 508), 0x0ab16f30u);
        size_t off = (size_t)b * 256u;
        size_t take = bin_len - off < 256u ? bin_len - off : 256u;
        assert_memory_equal(blk + 32, bin + off, take);
        for (size_t i = take; i < 476; i++) {
            assert_int_equal(blk[32 + i], 0); /* padding and the unused data area */
        }
    }
}

static void test_uf2_blocks_synthetic(void **state)
{
    (void)state;
    size_t len = 1000; /* 3 full payloads and a partial one */
    uint8_t *bin = malloc(len);
    assert_non_null(bin);
    for (size_t i = 0; i < len; i++) {
        bin[i] = (uint8_t)(i ^ (i >> 8));
    }
    uint32_t n = uf2_block_count(len, 256);
    assert_int_equal(n, 4);
    uint8_t *uf2 = calloc(n, UF2_BLOCK_SIZE);
    assert_non_null(uf2);
    for (uint32_t b = 0; b < n; b++) {
        assert_int_equal(uf2_make_block(bin, len, 0x10000000u, 256, UF2_FAMILY_RP2040, b,
                                        uf2 + (size_t)b * UF2_BLOCK_SIZE),
                         0);
    }
    check_uf2(uf2, (size_t)n * UF2_BLOCK_SIZE, bin, len);
    uint8_t blk[512];
    assert_int_equal(uf2_make_block(bin, len, 0x10000080u, 256, UF2_FAMILY_RP2040, 0, blk), -1);
    assert_int_equal(uf2_make_block(bin, len, 0x10000000u, 256, UF2_FAMILY_RP2040, n, blk), -1);
    free(uf2);
    free(bin);
}

static void test_firmware_boot2_crc(void **state)
{
    (void)state;
    if (!fw_bin_path) {
        skip();
    }
    size_t len;
    uint8_t *bin = slurp(fw_bin_path, &len);
    assert_true(len > 256);
    assert_int_equal(uf2_get_le32(bin + 252), crc_bitwise(bin, 252));
    /* The vector table follows: initial SP in SRAM, reset vector in flash, Thumb bit set. */
    uint32_t sp = uf2_get_le32(bin + 256), pc = uf2_get_le32(bin + 260);
    assert_true(sp > 0x20000000u && sp <= 0x20042000u);
    assert_true(pc > 0x10000100u && pc < 0x10200000u && (pc & 1u));
    free(bin);
}

static void test_firmware_uf2_matches_bin(void **state)
{
    (void)state;
    if (!fw_bin_path || !fw_uf2_path) {
        skip();
    }
    size_t bin_len, uf2_len;
    uint8_t *bin = slurp(fw_bin_path, &bin_len);
    uint8_t *uf2 = slurp(fw_uf2_path, &uf2_len);
    check_uf2(uf2, uf2_len, bin, bin_len);
    free(uf2);
    free(bin);
}

int main(int argc, char **argv)
{
    fw_bin_path = argc > 1 ? argv[1] : NULL;
    fw_uf2_path = argc > 2 ? argv[2] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_check_value),          cmocka_unit_test(test_boot2_seal),
        cmocka_unit_test(test_uf2_blocks_synthetic),     cmocka_unit_test(test_firmware_boot2_crc),
        cmocka_unit_test(test_firmware_uf2_matches_bin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
