/*
 * picod_uf2.c - host tool for the RP2040 firmware image.
 *
 *   picod-uf2 boot2 CODE.bin OUT.bin         seal boot2: pad to 252 bytes, append CRC-32
 *   picod-uf2 uf2 IMAGE.bin OUT.uf2 [--base ADDR] [--family ID]
 *                                           UF2 with 256-byte payloads (default base
 *                                           0x10000000, family 0xE48BFF56 = RP2040)
 *   picod-uf2 check-boot2 IMAGE.bin          exit 0 if bytes 252..255 hold a valid CRC
 *
 * Exit status: 0 ok, 1 bad input or I/O error, 2 usage. Messages go to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uf2.h"

#define MAX_IMAGE ((size_t)16 * 1024 * 1024) /* the RP2040's largest flash */

static const char *prog = "picod-uf2";

static int usage(void)
{
    fprintf(stderr,
            "usage: %s boot2 CODE.bin OUT.bin\n"
            "       %s uf2 IMAGE.bin OUT.uf2 [--base ADDR] [--family ID]\n"
            "       %s check-boot2 IMAGE.bin\n",
            prog, prog, prog);
    return 2;
}

/* Read a whole file into a malloc'd buffer; *len gets its size. NULL (message printed) on
 * error. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(MAX_IMAGE + 1u);
    size_t n = buf ? fread(buf, 1, MAX_IMAGE + 1u, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        fprintf(stderr, "%s: cannot read %s\n", prog, path);
        free(buf);
        return NULL;
    }
    if (n > MAX_IMAGE) {
        fprintf(stderr, "%s: %s is larger than 16 MiB, the RP2040's flash limit\n", prog, path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, path, strerror(errno));
        return 1;
    }
    size_t n = fwrite(data, 1, len, f);
    if (fclose(f) != 0 || n != len) {
        fprintf(stderr, "%s: cannot write %s\n", prog, path);
        return 1;
    }
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end != '\0' || v > 0xfffffffful) {
        fprintf(stderr, "%s: not a 32-bit number: '%s'\n", prog, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int cmd_boot2(const char *in, const char *out)
{
    size_t len;
    uint8_t *code = read_file(in, &len);
    if (!code) {
        return 1;
    }
    uint8_t blob[RP2040_BOOT2_SIZE];
    int rc = uf2_boot2_seal(code, len, blob);
    free(code);
    if (rc != 0) {
        fprintf(stderr, "%s: boot2 code is %zu bytes; at most %u fit before the CRC\n", prog, len,
                RP2040_BOOT2_CODE);
        return 1;
    }
    return write_file(out, blob, sizeof(blob));
}

static int cmd_check_boot2(const char *in)
{
    size_t len;
    uint8_t *img = read_file(in, &len);
    if (!img) {
        return 1;
    }
    int rc = 1;
    if (len < RP2040_BOOT2_SIZE) {
        fprintf(stderr, "%s: %s is shorter than boot2 (%zu < 256 bytes)\n", prog, in, len);
    } else {
        uint32_t want = uf2_crc32_mpeg2(img, RP2040_BOOT2_CODE);
        uint32_t have = uf2_get_le32(img + RP2040_BOOT2_CODE);
        if (want == have) {
            printf("boot2 CRC ok: 0x%08x\n", have);
            rc = 0;
        } else {
            fprintf(stderr, "%s: boot2 CRC mismatch: stored 0x%08x, computed 0x%08x\n", prog, have,
                    want);
        }
    }
    free(img);
    return rc;
}

static int cmd_uf2(int argc, char **argv)
{
    uint32_t base = RP2040_FLASH_BASE, family = UF2_FAMILY_RP2040;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            return usage();
        }
        uint32_t *dst = strcmp(argv[i], "--base") == 0     ? &base
                        : strcmp(argv[i], "--family") == 0 ? &family
                                                           : NULL;
        if (!dst) {
            return usage();
        }
        if (parse_u32(argv[i + 1], dst) != 0) {
            return 1;
        }
    }
    if (base % UF2_PAYLOAD_RP2040 != 0) {
        fprintf(stderr, "%s: base 0x%08x is not 256-byte aligned\n", prog, base);
        return 1;
    }
    size_t len;
    uint8_t *bin = read_file(argv[0], &len);
    if (!bin) {
        return 1;
    }
    if (len == 0) {
        fprintf(stderr, "%s: %s is empty\n", prog, argv[0]);
        free(bin);
        return 1;
    }
    uint32_t count = uf2_block_count(len, UF2_PAYLOAD_RP2040);
    uint8_t *out = malloc((size_t)count * UF2_BLOCK_SIZE);
    int rc = out ? 0 : 1;
    for (uint32_t b = 0; rc == 0 && b < count; b++) {
        rc = uf2_make_block(bin, len, base, UF2_PAYLOAD_RP2040, family, b,
                            out + (size_t)b * UF2_BLOCK_SIZE);
    }
    if (rc == 0) {
        rc = write_file(argv[1], out, (size_t)count * UF2_BLOCK_SIZE);
    } else {
        fprintf(stderr, "%s: cannot build UF2 blocks\n", prog);
    }
    free(out);
    free(bin);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        return usage();
    }
    if (strcmp(argv[1], "boot2") == 0 && argc == 4) {
        return cmd_boot2(argv[2], argv[3]);
    }
    if (strcmp(argv[1], "check-boot2") == 0 && argc == 3) {
        return cmd_check_boot2(argv[2]);
    }
    if (strcmp(argv[1], "uf2") == 0 && argc >= 4) {
        return cmd_uf2(argc - 2, argv + 2);
    }
    return usage();
}
