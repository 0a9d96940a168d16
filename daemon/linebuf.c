/* linebuf.c - see linebuf.h. */
#include "linebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void linebuf_init(linebuf_t *lb, size_t max)
{
    memset(lb, 0, sizeof(*lb));
    lb->max = max;
}

void linebuf_free(linebuf_t *lb)
{
    free(lb->buf);
    lb->buf = NULL;
    lb->len = lb->cap = 0;
}

/* Make room for n more bytes; false if that would pass max or memory ran out. */
static bool linebuf_reserve(linebuf_t *lb, size_t n)
{
    size_t want = lb->len + n, cap = lb->cap ? lb->cap : 256;
    char *p;

    if (want > lb->max)
        return false;
    if (want <= lb->cap)
        return true;
    while (cap < want)
        cap *= 2;
    if (cap > lb->max)
        cap = lb->max;
    p = realloc(lb->buf, cap);
    if (!p)
        return false;
    lb->buf = p;
    lb->cap = cap;
    return true;
}

int linebuf_feed(linebuf_t *lb, const char *data, size_t n, linebuf_line_cb cb, void *ctx)
{
    size_t used;

    return linebuf_feed_part(lb, data, n, cb, ctx, &used);
}

int linebuf_feed_part(linebuf_t *lb, const char *data, size_t n, linebuf_line_cb cb, void *ctx,
                      size_t *used_out)
{
    const char *start = data;

    *used_out = 0;
    while (n) {
        const char *nl = memchr(data, '\n', n);
        size_t chunk = nl ? (size_t)(nl - data) : n;
        size_t used = nl ? chunk + 1 : chunk;

        if (lb->discarding) {
            if (nl)
                lb->discarding = false;
        } else if (!linebuf_reserve(lb, chunk)) {
            /* Too long: say so once, forget what we had, skip to the end of this line. */
            lb->len = 0;
            lb->discarding = nl == NULL;
            if (!cb(ctx, NULL, 0, true)) {
                *used_out = (size_t)(data - start) + used;
                return 1;
            }
        } else {
            if (chunk) { /* an empty line on a fresh buffer: buf is still NULL */
                memcpy(lb->buf + lb->len, data, chunk);
                lb->len += chunk;
            }
            if (nl) {
                size_t len = lb->len;

                lb->len = 0;
                if (!cb(ctx, lb->buf, len, false)) {
                    *used_out = (size_t)(data - start) + used;
                    return 1;
                }
            }
        }
        data += used;
        n -= used;
    }
    /* Give memory back after a big line so idle clients stay small. */
    if (lb->len == 0 && lb->cap > 4096) {
        linebuf_free(lb);
    }
    *used_out = (size_t)(data - start);
    return 0;
}

bool linebuf_finish(linebuf_t *lb, linebuf_line_cb cb, void *ctx)
{
    size_t len = lb->len;

    if (lb->discarding || len == 0)
        return true;
    lb->len = 0;
    return cb(ctx, lb->buf, len, false);
}
