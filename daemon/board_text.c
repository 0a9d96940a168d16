/* board_text.c - see board_text.h. */
#include "board_text.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if it is not one: no
 * overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t board_text_utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* U+0000..U+001F, U+007F and U+0080..U+009F (C1: 0xc2 0x80..0x9f in UTF-8): its code, or
 * -1 for any other character. */
static int board_text_control(const uint8_t *p, size_t len)
{
    if (len == 1)
        return p[0] < 0x20 || p[0] == 0x7f ? p[0] : -1;
    if (len == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
        return p[1];
    return -1;
}

static void board_text_escape(uint8_t code, char esc[4])
{
    static const char hex[] = "0123456789abcdef";

    esc[0] = '\\';
    esc[1] = 'x';
    esc[2] = hex[code >> 4];
    esc[3] = hex[code & 0x0f];
}

bool board_text_is_utf8(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;

    for (size_t i = 0; i < n;) {
        size_t len = p[i] ? board_text_utf8_len(p + i, n - i) : 0;

        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

size_t board_text_clean(const uint8_t *in, size_t n, char *out, size_t cap)
{
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    size_t o = 0;

    for (size_t i = 0; i < n && in[i] != 0;) {
        size_t len = board_text_utf8_len(in + i, n - i);
        int ctl = len ? board_text_control(in + i, len) : -1;
        char esc[4];
        const char *piece;
        size_t plen;

        if (len == 0) {
            piece = replacement;
            plen = 3;
            len = 1;
        } else if (ctl >= 0) {
            board_text_escape((uint8_t)ctl, esc);
            piece = esc;
            plen = 4;
        } else {
            piece = (const char *)in + i;
            plen = len;
        }
        if (o + plen + 1 > cap)
            break;
        memcpy(out + o, piece, plen);
        o += plen;
        i += len;
    }
    out[o] = '\0';
    return o;
}
