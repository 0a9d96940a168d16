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

/* Feed n bytes. Returns 0, or 1 if a callback asked to stop (the bytes after that line are
 * not consumed). A line whose buffer cannot grow (out of memory) is reported as too long. */
int linebuf_feed(linebuf_t *lb, const char *data, size_t n, linebuf_line_cb cb, void *ctx);

/* linebuf_feed() that also says how many of the n bytes it consumed (*used, always set): all
 * of them on 0, up to and including the '\n' of the line whose callback asked to stop on 1.
 * The caller keeps the rest and feeds it again later (a server pausing a client). */
int linebuf_feed_part(linebuf_t *lb, const char *data, size_t n, linebuf_line_cb cb, void *ctx,
                      size_t *used);

/* End of input: deliver an unterminated last line, if any (a client that sent a request
 * without '\n' and then shut down its side). Returns what the callback returned, true when
 * there was nothing to deliver. */
bool linebuf_finish(linebuf_t *lb, linebuf_line_cb cb, void *ctx);

#endif /* PICOD_LINEBUF_H */
