/*
 * ctl_conn.h - picoctl's connection to picod: connect, send one request, read JSON lines.
 *
 * Blocking I/O bounded by poll() timeouts: picoctl is a one-shot command, not a loop. The
 * socket path, request encoding and line splitting are picod_client.h's, shared with
 * picod-mqtt.
 */
#ifndef PICOCTL_CTL_CONN_H
#define PICOCTL_CTL_CONN_H

#include <jansson.h>
#include <stddef.h>

#include "picod_client.h"

typedef struct ctl_conn {
    int fd;
    char path[256];
    picod_client_buf_t in; /* received bytes not yet returned as lines */
} ctl_conn_t;

/* Socket path: explicit, else $PICOD_SOCKET, else /run/picod/picod.sock. Never
 * $RUNTIME_DIRECTORY: in a client that is the runtime directory of the service the client runs
 * in, not picod's. Writes into out (cap bytes). */
void ctl_conn_default_path(const char *explicit_path, char *out, size_t cap);

/* Connect. Returns 0 or -errno (c->path is set either way, for the message). */
int ctl_conn_open(ctl_conn_t *c, const char *path);
void ctl_conn_close(ctl_conn_t *c);

/* Send msg (borrowed) as one line. Returns 0 or -errno. */
int ctl_conn_send(ctl_conn_t *c, const json_t *msg);

/* Next JSON line within timeout_ms (< 0: wait forever). Returns a new reference, or NULL with
 * *err = -ETIMEDOUT, -EPIPE (picod closed the connection), -EBADMSG (not JSON) or -errno. */
json_t *ctl_conn_recv(ctl_conn_t *c, int timeout_ms, int *err);

/* Send {"cmd":..., "id":1, ...args} and wait for the response with id 1 (events are skipped).
 * args is borrowed and may be NULL. */
json_t *ctl_conn_call(ctl_conn_t *c, const char *cmd, json_t *args, int timeout_ms, int *err);

#endif /* PICOCTL_CTL_CONN_H */
