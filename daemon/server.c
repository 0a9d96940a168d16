/* server.c - see server.h. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

typedef struct server_write {
    uv_write_t req;
    size_t len;
    char data[];
} server_write_t;

static void server_part_closed(server_t *s)
{
    if (--s->pending_closes == 0 && s->close_cb)
        s->close_cb(s);
}

static void server_client_closed_cb(uv_handle_t *h)
{
    client_t *c = h->data;
    server_t *s = c->srv;

    linebuf_free(&c->in);
    free(c);
    if (s->closing)
        server_part_closed(s);
}

static void server_drop_client(client_t *c)
{
    server_t *s = c->srv;

    if (c->closing)
        return;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_clients--;
    s->stats.closed++;
    if (s->closing)
        s->pending_closes++;
    uv_close((uv_handle_t *)&c->pipe, server_client_closed_cb);
}

static void server_write_cb(uv_write_t *req, int status)
{
    server_write_t *w = (server_write_t *)req;

    (void)status; /* errors surface as a read error/EOF too; the client is dropped there */
    free(w);
}

int server_send(client_t *c, const json_t *msg)
{
    server_t *s = c->srv;
    size_t len, queued;
    server_write_t *w;
    uv_buf_t buf;

    if (c->closing)
        return -ENOTCONN;
    len = json_dumpb(msg, NULL, 0, JSON_COMPACT);
    queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
    if (len == 0 || queued + len + 1 > s->out_max) {
        s->stats.dropped_slow++;
        log_warning("client %llu: %zu bytes unread, disconnecting", (unsigned long long)c->id,
                    queued);
        server_drop_client(c);
        return -ENOBUFS;
    }
    w = malloc(sizeof(*w) + len + 1);
    if (!w) {
        server_drop_client(c);
        return -ENOBUFS;
    }
    json_dumpb(msg, w->data, len, JSON_COMPACT);
    w->data[len] = '\n';
    w->len = len + 1;
    buf = uv_buf_init(w->data, (unsigned int)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, server_write_cb) < 0) {
        free(w);
        server_drop_client(c);
        return -ENOTCONN;
    }
    s->stats.bytes_out += w->len;
    return 0;
}

void server_broadcast(server_t *s, const json_t *event)
{
    client_t *c = s->clients, *next;

    for (; c; c = next) {
        next = c->next; /* server_send may unlink c */
        if (c->watching && server_send(c, event) == 0)
            s->stats.events++;
    }
}

client_t *server_find_client(server_t *s, uint64_t id)
{
    for (client_t *c = s->clients; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static bool server_line(void *ctx, const char *line, size_t len, bool too_long)
{
    client_t *c = ctx;

    c->srv->stats.lines++;
    c->lines++;
    c->srv->line_cb(c->srv, c, line, len, too_long);
    return !c->closing;
}

static void server_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char rbuf[65536]; /* consumed before the next read: one buffer serves all */

    (void)h;
    (void)suggested;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    client_t *c = st->data;

    if (n < 0) {
        server_drop_client(c);
        return;
    }
    c->srv->stats.bytes_in += (uint64_t)n;
    if (linebuf_feed(&c->in, buf->base, (size_t)n, server_line, c) < 0)
        server_drop_client(c);
}

static void server_connection_cb(uv_stream_t *l, int status)
{
    server_t *s = l->data;
    client_t *c;

    if (status < 0 || s->closing)
        return;
    c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->srv = s;
    if (uv_pipe_init(s->loop, &c->pipe, 0) < 0) {
        free(c);
        return;
    }
    c->pipe.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->pipe) < 0 || s->n_clients >= s->max_clients) {
        /* Over the limit: accept and close at once so the peer sees EOF, not a hang. */
        s->stats.rejected_full++;
        c->closing = true;
        uv_close((uv_handle_t *)&c->pipe, server_client_closed_cb);
        return;
    }
    c->id = ++s->next_id;
    linebuf_init(&c->in, SERVER_LINE_MAX);
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->n_clients++;
    s->stats.accepted++;
    uv_read_start((uv_stream_t *)&c->pipe, server_alloc_cb, server_read_cb);
}

static int server_bind(server_t *s, const char *path)
{
    struct stat st;
    int r;

    /* A socket file left by a previous run that died: replace it. Anything else: refuse. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return UV_EEXIST;
        unlink(path);
    }
    r = uv_pipe_bind(&s->listener, path);
    if (r < 0)
        return r;
    snprintf(s->path, sizeof(s->path), "%s", path);
    return 0;
}

int server_listen(server_t *s, uv_loop_t *loop, const char *path, int fd, uint32_t max_clients,
                  size_t out_max, server_line_cb line_cb, void *data)
{
    int r;

    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->max_clients = max_clients;
    s->out_max = out_max;
    s->line_cb = line_cb;
    s->data = data;
    r = uv_pipe_init(loop, &s->listener, 0);
    if (r < 0)
        return r;
    s->listener.data = s;
    s->listening = true; /* handle exists: server_close() must close it */
    r = fd >= 0 ? uv_pipe_open(&s->listener, fd) : server_bind(s, path);
    if (r < 0)
        return r;
    return uv_listen((uv_stream_t *)&s->listener, 128, server_connection_cb);
}

static void server_listener_closed_cb(uv_handle_t *h)
{
    server_part_closed(h->data);
}

void server_close(server_t *s, server_close_cb cb)
{
    if (s->closing)
        return;
    s->closing = true;
    s->close_cb = cb;
    s->pending_closes = 1; /* released at the end, so cb cannot run before we are done */
    while (s->clients)
        server_drop_client(s->clients);
    if (s->listening) {
        s->pending_closes++;
        uv_close((uv_handle_t *)&s->listener, server_listener_closed_cb);
    }
    if (s->path[0])
        unlink(s->path);
    server_part_closed(s);
}
