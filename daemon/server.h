/*
 * server.h - the Unix stream socket, its clients, and the bounded queues between them.
 *
 * Input: each client's bytes are split into lines of at most SERVER_LINE_MAX bytes
 * (linebuf); each line goes to line_cb. Output: messages are serialised to one JSON line and
 * written with uv_write. Memory is bounded three ways (docs/API.md "Limits"):
 *  - flow control: while a client's unwritten output is above its high-water mark
 *    (server_out_high()) picod reads no more requests from it; it resumes below a quarter of
 *    that. A client that sends requests and never reads their answers is paused, not dropped,
 *    and loses nothing;
 *  - per client: a client whose unwritten output (events to a watcher that does not read,
 *    asynchronous answers) passes out_max bytes is disconnected (stats: dropped_slow);
 *  - globally: when all clients' unwritten output together would pass out_budget, the client
 *    with the largest backlog is disconnected first (stats: dropped_budget), then the next.
 * Clients are identified by a never-reused 64-bit id, which is what asynchronous work keeps
 * instead of a pointer.
 *
 * A client that shuts down its write side (EOF) still gets an answer to every request it
 * sent before, board requests included (server_request_begin/end count them); the
 * connection is closed once none is outstanding and the output is flushed. A watching client
 * keeps getting events after its EOF until it closes.
 *
 * Every accepted connection's peer credentials (SO_PEERCRED, and SO_PEERGROUPS for the
 * supplementary groups: both from the kernel at connect time, race-free and non-blocking)
 * are kept on the client; the API decides what they allow.
 */
#ifndef PICOD_SERVER_H
#define PICOD_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "linebuf.h"

#define SERVER_LINE_MAX ((size_t)64 * 1024)
#define SERVER_READ_MAX ((size_t)16 * 1024) /* one read; what a paused client may hold */
#define SERVER_OUT_HIGH ((size_t)64 * 1024) /* default high-water mark of a client's output */
/* SO_SNDBUF of every connection (the kernel doubles it for its bookkeeping): what a client
 * that does not read can hold in kernel memory, outside picod's own bounds. The default
 * (net.core.wmem_default, 208 KiB) would let 1000 stuck watchers pin 200 MiB. */
#define SERVER_SNDBUF (32 * 1024)

typedef struct server server_t;
typedef struct client client_t;
struct hist_line;
struct hist_filter;

/* Who is on the other end, from the kernel at connect time. */
typedef struct server_peer {
    bool known; /* false if SO_PEERCRED failed: treated as nobody */
    uid_t uid;
    gid_t gid;
    pid_t pid;
    bool in_group; /* gid or a supplementary group is the server's peer_group */
} server_peer_t;

struct client {
    server_t *srv;
    uint64_t id;
    uv_pipe_t pipe;
    uv_shutdown_t shutdown_req;
    linebuf_t in;
    server_peer_t peer;
    bool watching;
    bool closing;              /* uv_close called (or about to be): nothing more is sent */
    bool eof;                  /* the client shut down its write side */
    bool shutting;             /* uv_shutdown under way: closes when the output is flushed */
    bool paused;               /* not reading: output above the high-water mark */
    uint32_t requests_pending; /* board requests sent for it and not yet answered */
    size_t out_bytes;          /* memory held by its unwritten output */
    char *held;                /* input read but not yet processed while paused */
    size_t held_len;
    uint64_t lines;
    client_t *prev, *next;

    /* Watching (picod_watch_start): the replay under way and the filters. */
    bool replaying;             /* a replay from the history is under way */
    uint64_t replay_next;       /* replaying: the next seq to send */
    struct hist_filter *filter; /* owned, freed with c; NULL: no filter */
};

typedef struct server_stats {
    uint64_t accepted, rejected_full, dropped_slow, dropped_budget, closed, paused;
    uint64_t lines, errors, responses, events, lines_too_long, denied;
    uint64_t bytes_in, bytes_out;
    size_t out_bytes_max; /* peak of all clients' unwritten output together */
} server_stats_t;

/* The memory bounds; see the header comment. */
typedef struct server_limits {
    uint32_t max_clients;
    size_t out_max;    /* per client */
    size_t out_budget; /* all clients together; >= out_max */
} server_limits_t;

/* line is borrowed, not NUL-terminated; too_long = the line passed SERVER_LINE_MAX. */
typedef void (*server_line_cb)(server_t *s, client_t *c, const char *line, size_t len,
                               bool too_long);
typedef void (*server_close_cb)(server_t *s);
/* A replaying client's output drained below a quarter of server_out_high(): queue more. */
typedef void (*server_drain_cb)(server_t *s, client_t *c);

struct server {
    uv_loop_t *loop;
    uv_pipe_t listener;
    bool listening;
    bool closing;
    int pending_closes;
    char path[256]; /* "" when the socket came from systemd (not ours to unlink) */
    dev_t path_dev; /* the socket file we bound, so we never unlink another one's */
    ino_t path_ino;
    client_t *clients;
    uint32_t n_clients;
    uint32_t n_half_closed; /* of them: shut down their writing side (still served) */
    server_limits_t lim;
    size_t out_bytes; /* all clients' unwritten output */
    bool has_peer_group;
    gid_t peer_group; /* judged into client.peer.in_group at accept */
    uint64_t next_id;
    server_stats_t stats;
    server_line_cb line_cb;
    server_close_cb close_cb;
    server_drain_cb drain_cb;
    void *data;
};

/* Listen on path or, when fd >= 0, on an already listening socket inherited from systemd.
 * A socket file at path is replaced only when it is stale (connect() is refused): if
 * something listens there the result is UV_EADDRINUSE and the file is left alone; a file
 * that is not a socket gives UV_EEXIST. Returns 0 or a negative libuv error. */
int server_listen(server_t *s, uv_loop_t *loop, const char *path, int fd,
                  const server_limits_t *lim, server_line_cb line_cb, void *data);

/* New limits (a configuration reload). Clients over the new bounds are not dropped now;
 * the bounds apply from their next message. */
void server_set_limits(server_t *s, const server_limits_t *lim);

/* The group whose members get peer.in_group; applies to connections accepted from now. */
void server_set_peer_group(server_t *s, bool has_group, gid_t gid);

/* Queue msg (borrowed) as one line to c. Returns 0, or -ENOBUFS if that disconnected c (its
 * backlog or the global budget), or -ENOTCONN if c is closing. */
int server_send(client_t *c, const json_t *msg);

/* Queue a shared serialised line (a reference is taken until written). Same bounds and
 * returns as server_send(). */
int server_send_line(client_t *c, struct hist_line *line);

/* Called from the loop when a replaying client can take more (see server_drain_cb). */
void server_set_drain_cb(server_t *s, server_drain_cb cb);

/* Send an event to every watching client. */
void server_broadcast(server_t *s, const json_t *event);

client_t *server_find_client(server_t *s, uint64_t id);

/* A board request for c was sent / was answered (or failed). The answer must have been
 * queued with server_send() before server_request_end(): a client that has shut down its
 * side is closed once its last request ended. end is by id: c may be gone meanwhile. */
void server_request_begin(client_t *c);
void server_request_end(server_t *s, uint64_t client_id);

/* The high-water mark of one client's output: reading stops above it. */
size_t server_out_high(const server_t *s);

/* Close the listener and every client; unlink the socket we created; then cb. */
void server_close(server_t *s, server_close_cb cb);

#endif /* PICOD_SERVER_H */
