/* server.c - see server.h. */
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "history.h"
#include "json_out.h"
#include "log.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13; older kernels answer ENOPROTOOPT */
#endif

typedef struct server_write {
    uv_write_t req;
    size_t size;       /* what this write holds, as counted in out_bytes while queued */
    hist_line_t *line; /* shared bytes (server_send_line), or NULL: the bytes are in data */
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
    free(c->held);
    hist_filter_free(c->filter);
    free(c);
    if (s->closing)
        server_part_closed(s);
}

/* Unlink c and close it. Its queued output is released from the budget now (the writes are
 * cancelled when the handle closes, later in this loop iteration). */
static void server_drop_client(client_t *c)
{
    server_t *s = c->srv;

    if (c->closing)
        return;
    c->closing = true;
    s->out_bytes -= c->out_bytes;
    c->out_bytes = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_clients--;
    if (c->eof)
        s->n_half_closed--;
    s->stats.closed++;
    if (s->closing)
        s->pending_closes++;
    uv_close((uv_handle_t *)&c->pipe, server_client_closed_cb);
}

size_t server_out_high(const server_t *s)
{
    size_t quarter = s->lim.out_max / 4;

    return quarter < SERVER_OUT_HIGH ? quarter : SERVER_OUT_HIGH;
}

/* ---- closing a client that has shut down its side ---------------------------------------- */

static void server_shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status; /* flushed or not, there is nothing more to do for it */
    server_drop_client(req->handle->data);
}

/* After EOF: once nothing is outstanding, flush the output and close. Watchers stay. */
static void server_maybe_finish(client_t *c)
{
    if (!c->eof || c->closing || c->shutting || c->requests_pending || c->watching)
        return;
    c->shutting = true;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->pipe, server_shutdown_cb) < 0)
        server_drop_client(c);
}

void server_request_begin(client_t *c)
{
    c->requests_pending++;
}

void server_request_end(server_t *s, uint64_t client_id)
{
    client_t *c = server_find_client(s, client_id);

    if (!c || c->requests_pending == 0)
        return;
    c->requests_pending--;
    server_maybe_finish(c);
}

/* ---- output ------------------------------------------------------------------------------- */

static void server_resume(client_t *c);

static void server_write_cb(uv_write_t *req, int status)
{
    server_write_t *w = (server_write_t *)req;
    client_t *c = req->handle->data;
    server_t *s = c->srv;

    if (!c->closing) {
        c->out_bytes -= w->size;
        s->out_bytes -= w->size;
    }
    hist_line_unref(w->line);
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        /* The peer is gone. Usually a read error says so too, but not after its EOF. */
        server_drop_client(c);
        return;
    }
    if (c->paused && c->out_bytes <= server_out_high(s) / 4)
        server_resume(c);
    /* A replay goes on as the client reads: the owner queues the next part. */
    if (!c->closing && c->replaying && c->out_bytes <= server_out_high(s) / 4 && s->drain_cb)
        s->drain_cb(s, c);
}

/* The client with the largest unwritten output, NULL if nobody has any. */
static client_t *server_worst_client(server_t *s)
{
    client_t *worst = NULL;

    for (client_t *c = s->clients; c; c = c->next)
        if (c->out_bytes && (!worst || c->out_bytes > worst->out_bytes))
            worst = c;
    return worst;
}

/* Make room for size more bytes of output to c. Returns 0, or -ENOBUFS when c itself had to
 * go (over its own bound, or the largest backlog when the budget ran out). */
static int server_make_room(client_t *c, size_t size)
{
    server_t *s = c->srv;
    client_t *worst;

    if (c->out_bytes + size > s->lim.out_max) {
        s->stats.dropped_slow++;
        log_warning("client %llu (uid %u): %zu bytes unread, disconnecting",
                    (unsigned long long)c->id, (unsigned)c->peer.uid, c->out_bytes);
        server_drop_client(c);
        return -ENOBUFS;
    }
    while (s->out_bytes + size > s->lim.out_budget && (worst = server_worst_client(s))) {
        s->stats.dropped_budget++;
        log_warning("output budget of %zu bytes used up: disconnecting client %llu (uid %u), "
                    "the largest backlog (%zu bytes)",
                    s->lim.out_budget, (unsigned long long)worst->id, (unsigned)worst->peer.uid,
                    worst->out_bytes);
        server_drop_client(worst);
        if (worst == c)
            return -ENOBUFS;
    }
    return 0;
}

/* Send w's bytes (len of them at base) to c: what the socket takes at once is done with (w is
 * freed, nothing counted); the rest is queued and counted in out_bytes (w->size, the memory
 * it holds) until its write completes. So a backlog is what a client has not read, never the
 * bytes the kernel already took this loop iteration: counted until uv_write's callback (the
 * next iteration), a burst of events made a reading client's "backlog" as large as a stuck
 * one's, and the budget disconnected it. Frees w and drops c on failure. */
static int server_queue(client_t *c, server_write_t *w, char *base, size_t len)
{
    server_t *s = c->srv;
    uv_buf_t buf = uv_buf_init(base, (unsigned int)len);
    int n = uv_try_write((uv_stream_t *)&c->pipe, &buf, 1); /* UV_EAGAIN while writes queue */

    if (n == (int)len) {
        s->stats.bytes_out += len;
        hist_line_unref(w->line);
        free(w);
        return 0;
    }
    if (n > 0) {
        buf.base += n;
        buf.len -= (unsigned int)n;
    } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
        goto drop_client;
    }
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, server_write_cb) < 0)
        goto drop_client;
    c->out_bytes += w->size;
    s->out_bytes += w->size;
    if (s->out_bytes > s->stats.out_bytes_max)
        s->stats.out_bytes_max = s->out_bytes;
    s->stats.bytes_out += len;
    return 0;
drop_client: /* the peer is gone */
    hist_line_unref(w->line);
    free(w);
    server_drop_client(c);
    return -ENOTCONN;
}

int server_send(client_t *c, const json_t *msg)
{
    size_t len, size;
    server_write_t *w;

    if (c->closing || c->shutting)
        return -ENOTCONN;
    len = json_dumpb(msg, NULL, 0, PICOD_JSON_FLAGS);
    size = sizeof(*w) + len + 1;
    if (len == 0 || server_make_room(c, size) < 0)
        return -ENOBUFS;
    w = malloc(size);
    if (!w) {
        server_drop_client(c);
        return -ENOBUFS;
    }
    json_dumpb(msg, w->data, len, PICOD_JSON_FLAGS);
    w->data[len] = '\n';
    w->size = size;
    w->line = NULL;
    return server_queue(c, w, w->data, len + 1);
}

int server_send_line(client_t *c, hist_line_t *line)
{
    /* Counted as if it were c's own copy: the bounds stay what each client could cost. */
    size_t size = sizeof(server_write_t) + line->len;
    server_write_t *w;

    if (c->closing || c->shutting)
        return -ENOTCONN;
    if (server_make_room(c, size) < 0)
        return -ENOBUFS;
    w = malloc(sizeof(*w));
    if (!w) {
        server_drop_client(c);
        return -ENOBUFS;
    }
    w->size = size;
    w->line = line;
    hist_line_ref(line);
    return server_queue(c, w, line->data, line->len);
}

void server_set_drain_cb(server_t *s, server_drain_cb cb)
{
    s->drain_cb = cb;
}

void server_broadcast(server_t *s, const json_t *event)
{
    client_t *c = s->clients, *next;

    /* server_send may unlink c, or another client (the largest backlog). An unlinked client
     * keeps its memory and its next pointer until the loop closes it, so following next from
     * it still reaches every client after it. */
    for (; c; c = next) {
        next = c->next;
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

/* ---- input -------------------------------------------------------------------------------- */

/* Per line. Returning false stops linebuf: the client closed, or its output is backed up. */
static bool server_line(void *ctx, const char *line, size_t len, bool too_long)
{
    client_t *c = ctx;
    server_t *s = c->srv;

    s->stats.lines++;
    c->lines++;
    s->line_cb(s, c, line, len, too_long);
    if (c->closing)
        return false;
    if (!c->eof && c->out_bytes > server_out_high(s)) {
        c->paused = true;
        s->stats.paused++;
        return false;
    }
    return true;
}

/* Feed bytes; keep what a pause left unprocessed in c->held (at most SERVER_READ_MAX). */
static void server_feed(client_t *c, const char *data, size_t n)
{
    size_t used;

    if (linebuf_feed_part(&c->in, data, n, server_line, c, &used) == 0 || c->closing)
        return;
    if (!c->held && used < n) {
        c->held = malloc(SERVER_READ_MAX);
        if (!c->held) {
            server_drop_client(c);
            return;
        }
    }
    if (used < n)
        memmove(c->held, data + used, n - used); /* data may point into held itself */
    c->held_len = n - used;
    uv_read_stop((uv_stream_t *)&c->pipe);
}

static void server_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char rbuf[SERVER_READ_MAX]; /* consumed (or copied) before the next read */

    (void)h;
    (void)suggested;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

/* The output drained below the low-water mark: process what was held, then read again. */
static void server_resume(client_t *c)
{
    c->paused = false;
    if (c->held_len)
        server_feed(c, c->held, c->held_len);
    if (c->closing || c->paused)
        return;
    free(c->held);
    c->held = NULL;
    c->held_len = 0;
    if (uv_read_start((uv_stream_t *)&c->pipe, server_alloc_cb, server_read_cb) < 0)
        server_drop_client(c);
}

/* After EOF: did the peer close its socket altogether (POLLHUP: both directions shut), or
 * only its writing side (shutdown(SHUT_WR), as `nc -N` and socat do, still reading)? */
static bool server_peer_is_gone(client_t *c)
{
    uv_os_fd_t fd;
    struct pollfd p = {.events = POLLOUT};

    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0)
        return true;
    p.fd = fd;
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

static void server_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    client_t *c = st->data;

    if (n == UV_EOF && server_peer_is_gone(c)) {
        /* Nobody left to answer: a watcher that closed must not wait for the next event (a
         * failed write) to be let go, nor hold its descriptor meanwhile. */
        server_drop_client(c);
        return;
    }
    if (n == UV_EOF) {
        /* Half-closed: answer what was asked (an unterminated last line too), then close. */
        c->eof = true;
        c->srv->n_half_closed++;
        uv_read_stop(st);
        if (linebuf_finish(&c->in, server_line, c))
            server_maybe_finish(c);
        return;
    }
    if (n < 0) {
        server_drop_client(c);
        return;
    }
    c->srv->stats.bytes_in += (uint64_t)n;
    server_feed(c, buf->base, (size_t)n);
}

/* ---- accepting ---------------------------------------------------------------------------- */

/* Is gid among the peer's supplementary groups? SO_PEERGROUPS gives the groups the peer had
 * when it connected, from the kernel: no NSS lookup that could block, no /proc race. */
static bool server_peer_has_group(int fd, gid_t gid)
{
    gid_t small[64], *g = small;
    socklen_t len = sizeof(small);
    bool found = false;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
        if (errno != ERANGE || !(g = malloc(len)))
            return false;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
            len = 0;
    }
    for (size_t i = 0; i < len / sizeof(gid_t); i++)
        found = found || g[i] == gid;
    if (g != small)
        free(g);
    return found;
}

/* Credentials of the peer (and the kernel-side bound of its output). */
static void server_peer_init(server_t *s, client_t *c)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);
    int sndbuf = SERVER_SNDBUF;
    uv_os_fd_t fd;

    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0)
        return;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)); /* best effort */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return; /* peer.known stays false: allowed to read, not to act */
    c->peer.known = true;
    c->peer.uid = cr.uid;
    c->peer.gid = cr.gid;
    c->peer.pid = cr.pid;
    c->peer.in_group =
        s->has_peer_group && (cr.gid == s->peer_group || server_peer_has_group(fd, s->peer_group));
}

/* Over the limit: say why in one error line (a fresh socket's buffer takes it whole, so
 * uv_try_write does not block and nothing is queued), then close: the peer reads the reason
 * and EOF, not a hang and not a bare reset. */
static void server_refuse(server_t *s, client_t *c)
{
    char line[160];
    int n = snprintf(line, sizeof(line),
                     "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"too_many_clients\","
                     "\"message\":\"picod serves %u clients at most (--max-clients)\"}}\n",
                     (unsigned)s->lim.max_clients);
    uv_buf_t buf = uv_buf_init(line, (unsigned int)n);

    s->stats.rejected_full++;
    (void)uv_try_write((uv_stream_t *)&c->pipe, &buf, 1);
    c->closing = true;
    uv_close((uv_handle_t *)&c->pipe, server_client_closed_cb);
}

/* Half-closed clients whose peer has since closed altogether: nothing reads them a read
 * event, so only a write (the next event) or this look notices. Done when the table is full,
 * so that such peers never keep others out. */
static void server_reap_gone(server_t *s)
{
    client_t *next;

    if (!s->n_half_closed)
        return;
    for (client_t *c = s->clients; c; c = next) {
        next = c->next;
        if (c->eof && server_peer_is_gone(c))
            server_drop_client(c);
    }
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
    if (uv_accept(l, (uv_stream_t *)&c->pipe) < 0) {
        s->stats.rejected_full++;
        c->closing = true;
        uv_close((uv_handle_t *)&c->pipe, server_client_closed_cb);
        return;
    }
    if (s->n_clients >= s->lim.max_clients)
        server_reap_gone(s);
    if (s->n_clients >= s->lim.max_clients) {
        server_refuse(s, c);
        return;
    }
    c->id = ++s->next_id;
    server_peer_init(s, c);
    linebuf_init(&c->in, SERVER_LINE_MAX);
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->n_clients++;
    s->stats.accepted++;
    uv_read_start((uv_stream_t *)&c->pipe, server_alloc_cb, server_read_cb);
}

/* ---- listening ---------------------------------------------------------------------------- */

/* Does something listen on the socket file at path? 1 yes, 0 no (nobody: a stale file, or
 * gone), or a negative errno when that cannot be told (e.g. EACCES). Non-blocking: a
 * listener whose backlog is full answers EAGAIN, which is a yes. */
static int server_probe(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, r;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
    close(fd);
    if (r == 0 || r == -EAGAIN || r == -EINPROGRESS)
        return 1;
    if (r == -ECONNREFUSED || r == -ENOENT)
        return 0;
    return r;
}

static int server_bind(server_t *s, const char *path)
{
    struct stat st;
    int r;

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return UV_EEXIST;
        r = server_probe(path);
        if (r != 0)
            return r > 0 ? UV_EADDRINUSE : r; /* errno values are libuv's on Unix */
        unlink(path);                         /* stale: its picod died without cleaning up */
    }
    r = uv_pipe_bind(&s->listener, path);
    if (r < 0)
        return r;
    snprintf(s->path, sizeof(s->path), "%s", path);
    if (lstat(path, &st) == 0) {
        s->path_dev = st.st_dev;
        s->path_ino = st.st_ino;
    }
    return 0;
}

void server_set_limits(server_t *s, const server_limits_t *lim)
{
    s->lim = *lim;
    if (s->lim.out_budget < s->lim.out_max)
        s->lim.out_budget = s->lim.out_max;
}

void server_set_peer_group(server_t *s, bool has_group, gid_t gid)
{
    s->has_peer_group = has_group;
    s->peer_group = gid;
}

int server_listen(server_t *s, uv_loop_t *loop, const char *path, int fd,
                  const server_limits_t *lim, server_line_cb line_cb, void *data)
{
    int r;

    memset(s, 0, sizeof(*s));
    s->loop = loop;
    server_set_limits(s, lim);
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
    struct stat st;

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
    /* Only our own file: never one that replaced it meanwhile. */
    if (s->path[0] && lstat(s->path, &st) == 0 && st.st_dev == s->path_dev &&
        st.st_ino == s->path_ino)
        unlink(s->path);
    server_part_closed(s);
}
