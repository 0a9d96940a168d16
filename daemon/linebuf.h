/*
 * linebuf.h - split a byte stream into '\n'-terminated lines with a hard length limit.
 *
 * A line longer than max is reported once (too_long = true, no data) and the rest of it,
 * up to and including its '\n', is discarded; the next line starts fresh. Memory grows by
 * doubling up to max bytes and no further. A trailing '\r' is kept (JSON treats it as
 * whitespace).
 */
#ifndef PICOD_LINEBUF_H
#define PICOD_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct linebuf {
    char *buf;
    size_t len, cap, max;
    bool discarding;
} linebuf_t;

/* Called per complete line (not NUL-terminated, without '\n'; borrowed). Return false to stop
 * feeding (e.g. the connection is being closed). */
typedef bool (*linebuf_line_cb)(void *ctx, const char *line, size_t len, bool too_long);

void linebuf_init(linebuf_t *lb, size_t max);
void linebuf_free(linebuf_t *lb); /* accepts an already freed/zeroed buffer */

/* Feed n bytes. Returns 0, -ENOMEM (buffer growth failed: the line is treated as too long),
 * or 1 if a callback asked to stop. */
int linebuf_feed(linebuf_t *lb, const char *data, size_t n, linebuf_line_cb cb, void *ctx);

#endif /* PICOD_LINEBUF_H */
