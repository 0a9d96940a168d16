/*
 * selftest.c - the protocol library, compiled for the Cortex-M0+, checked against the same
 * vectors file as the host unit test (proto/vectors/vectors.txt, embedded by vectors.S).
 *
 * A bare program for rp2040js only: no clocks, no boot2; the emulator's UART0 data register
 * takes bytes without set-up, so the result is written there as one line:
 *   "proto-selftest: ok crc16=N cobs=N frame=N\n"  or  "proto-selftest: FAIL <line>\n".
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

#define UART0_DR (*(volatile uint32_t *)0x40034000u)

extern const char vectors_txt[];
extern uint32_t __bss_start__, __bss_end__, __stack_top__;
void selftest_reset(void);
int main(void);

__attribute__((section(".vectors"), used)) static const void *const vector_table[2] = {
    &__stack_top__,
    (const void *)selftest_reset,
};

static void put(const char *s)
{
    while (*s)
        UART0_DR = (uint8_t)*s++;
}

static void put_uint(unsigned v)
{
    char buf[12];
    int i = (int)sizeof(buf) - 1;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v && i > 0);
    put(buf + i);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parse one whitespace-separated hex field ('-' = empty) at *p into out; advance *p. */
static int field_hex(const char **p, uint8_t *out, size_t cap)
{
    const char *s = *p;
    size_t n = 0;
    while (*s == ' ')
        s++;
    if (*s == '-') {
        *p = s + 1;
        return 0;
    }
    while (hexval(s[0]) >= 0 && hexval(s[1]) >= 0) {
        if (n >= cap)
            return -1;
        out[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
        s += 2;
    }
    *p = s;
    return (int)n;
}

static uint8_t a[2048], b[2048], c[2048];

static bool check_crc(const char *p)
{
    int n = field_hex(&p, a, sizeof(a));
    int m = field_hex(&p, b, sizeof(b));
    return n >= 0 && m == 2 && proto_crc16(a, (size_t)n) == (uint16_t)(b[0] << 8 | b[1]);
}

static bool check_cobs(const char *p)
{
    int n = field_hex(&p, a, sizeof(a));
    int m = field_hex(&p, b, sizeof(b));
    if (n < 0 || m < 0)
        return false;
    int e = proto_cobs_encode(a, (size_t)n, c, sizeof(c));
    if (e != m || memcmp(c, b, (size_t)m) != 0)
        return false;
    int d = proto_cobs_decode(b, (size_t)m, c, sizeof(c));
    return d == n && memcmp(c, a, (size_t)n) == 0;
}

static bool check_frame(const char *p)
{
    while (*p == ' ')
        p++;
    unsigned type = 0, seq = 0;
    while (hexval(*p) >= 0)
        type = type * 16u + (unsigned)hexval(*p++);
    while (*p == ' ')
        p++;
    while (*p >= '0' && *p <= '9')
        seq = seq * 10u + (unsigned)(*p++ - '0');
    int bl = field_hex(&p, a, sizeof(a));
    int wl = field_hex(&p, b, sizeof(b));
    if (bl < 0 || wl < 0)
        return false;
    int n = proto_frame_encode(c, sizeof(c), (uint8_t)type, (uint16_t)seq, a, (size_t)bl);
    if (n != wl || memcmp(c, b, (size_t)wl) != 0)
        return false;
    static proto_decoder_t dec;
    proto_decoder_init(&dec);
    for (int i = 0; i < wl; i++) {
        size_t used;
        proto_frame_t f;
        int rc = proto_decoder_feed(&dec, b + i, 1, &used, &f);
        if (i + 1 < wl && rc != 0)
            return false;
        if (i + 1 == wl)
            return rc == 1 && f.type == type && f.seq == seq && f.body_len == bl &&
                   memcmp(f.body, a, (size_t)bl) == 0;
    }
    return false;
}

int main(void)
{
    unsigned counts[3] = {0, 0, 0}, line = 0;
    for (const char *p = vectors_txt; *p;) {
        const char *eol = strchr(p, '\n');
        line++;
        bool ok = true;
        if (strncmp(p, "crc16 ", 6) == 0) {
            ok = check_crc(p + 6);
            counts[0]++;
        } else if (strncmp(p, "cobs ", 5) == 0) {
            ok = check_cobs(p + 5);
            counts[1]++;
        } else if (strncmp(p, "frame ", 6) == 0) {
            ok = check_frame(p + 6);
            counts[2]++;
        }
        if (!ok) {
            put("proto-selftest: FAIL line ");
            put_uint(line);
            put("\n");
            return 1;
        }
        p = eol ? eol + 1 : p + strlen(p);
    }
    put("proto-selftest: ok crc16=");
    put_uint(counts[0]);
    put(" cobs=");
    put_uint(counts[1]);
    put(" frame=");
    put_uint(counts[2]);
    put("\n");
    return 0;
}

void selftest_reset(void)
{
    for (uint32_t *w = &__bss_start__; w < &__bss_end__; w++)
        *w = 0;
    (void)main();
    for (;;)
        __asm__ volatile("wfi");
}
