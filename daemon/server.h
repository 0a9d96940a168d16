/*
 * server.h - the Unix stream socket, its clients, and the bounded queues between them.
 *
 * Input: each client's bytes are split into lines of at most SERVER_LINE_MAX bytes
 * (linebuf); each line goes to line_cb. Output: messages are serialised to one JSON line and
 * written with uv_write; a client whose unwritten output passes client_out_max bytes is
 * disconnected (counted as dropped_slow) so one stuck reader never holds memory or blocks
 * anyone else. Clients are identified by a never-reused 64-bit id, which is what
 * asynchronous work keeps instead of a pointer.
 */
#ifndef PICOD_SERVER_H
#define PICOD_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "linebuf.h"

#define SERVER_LINE_MAX ((size_t)64 * 1024)

typedef struct server server_t;
typedef struct client client_t;

struct client {
    server_t *srv;
    uint64_t id;
    uv_pipe_t pipe;
    linebuf_t in;
    bool watching;
    bool closing;
    uint64_t lines, requests_pending;
    client_t *prev, *next;
};

typedef struct server_stats {
    uint64_t accepted, rejected_full, dropped_slow, closed;
    uint64_t lines, errors, responses, events, lines_too_long;
    uint64_t bytes_in, bytes_out;
} server_stats_t;

/* line is borrowed, not NUL-terminated; too_long = the line passed SERVER_LINE_MAX. */
typedef void (*server_line_cb)(server_t *s, client_t *c, const char *line, size_t len,
                               bool too_long);
typedef void (*server_close_cb)(server_t *s);

struct server {
    uv_loop_t *loop;
    uv_pipe_t listener;
    bool listening;
    bool closing;
    int pending_closes;
    char path[256]; /* "" when the socket came from systemd (not ours to unlink) */
    client_t *clients;
    uint32_t n_clients, max_clients;
    size_t out_max;
    uint64_t next_id;
    server_stats_t stats;
    server_line_cb line_cb;
    server_close_cb close_cb;
    void *data;
};

/* Listen on path (a stale socket file there is replaced) or, when fd >= 0, on an already
 * listening socket inherited from systemd. Returns 0 or a negative libuv error. */
int server_listen(server_t *s, uv_loop_t *loop, const char *path, int fd, uint32_t max_clients,
                  size_t out_max, server_line_cb line_cb, void *data);

/* Queue msg (borrowed) as one line to c. Returns 0, or -ENOBUFS if that disconnected a slow
 * client, or -ENOTCONN if c is closing. */
int server_send(client_t *c, const json_t *msg);

/* Send an event to every watching client. */
void server_broadcast(server_t *s, const json_t *event);

client_t *server_find_client(server_t *s, uint64_t id);

/* Close the listener and every client; unlink the socket we created; then cb. */
void server_close(server_t *s, server_close_cb cb);

#endif /* PICOD_SERVER_H */
