/*
 * picod_client.h - the parts of a picod socket-API client (docs/API.md) that do not depend on
 * how the client waits: where the socket is, connecting, request encoding with ids, splitting
 * the byte stream into JSON lines, and telling responses, events and errors apart.
 *
 * Shared by picoctl (client/ctl_conn.c, blocking with poll()) and picod-mqtt
 * (bridge/picod_link.c, on a libuv loop). No I/O waits here, nothing logs, nothing is global.
 */
#ifndef PICOD_CLIENT_H
#define PICOD_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A status of hundreds of boards fits easily; a longer line is a broken peer. */
#define PICOD_CLIENT_LINE_MAX ((size_t)16 * 1024 * 1024)

/* Socket path: explicit, else $PICOD_SOCKET, else /run/picod/picod.sock. Never
 * $RUNTIME_DIRECTORY: in a client that is the runtime directory of the service the client runs
 * in, not picod's. Writes into out (cap bytes). */
void picod_client_default_path(const char *explicit_path, char *out, size_t cap);

/* A stream socket connected to path (SOCK_CLOEXEC, and SOCK_NONBLOCK when nonblock: then the
 * connect may still be under way, -EINPROGRESS is not returned for a Unix socket, which
 * connects at once or fails). Returns the descriptor or -errno (-ENAMETOOLONG for a path that
 * does not fit sockaddr_un). */
int picod_client_connect(const char *path, bool nonblock);

/* Request line {"cmd":cmd, "id":id, ...args} plus '\n'. args is borrowed and may be NULL (its
 * own "cmd"/"id" are overridden). Returns a malloc'd string (free()) with its length in *len,
 * or NULL when out of memory. */
char *picod_client_encode(const char *cmd, json_int_t id, const json_t *args, size_t *len);

/* Received bytes not yet returned as lines. Zero-initialise, or picod_client_buf_init. */
typedef struct picod_client_buf {
    char *data;
    size_t len, cap;
} picod_client_buf_t;

void picod_client_buf_init(picod_client_buf_t *b);
void picod_client_buf_free(picod_client_buf_t *b);

/* Room for at least want more bytes at b->data + b->len. Returns 0, -ENOMEM, or -EMSGSIZE when
 * the buffer would pass PICOD_CLIENT_LINE_MAX (a line that long is not picod's). */
int picod_client_buf_reserve(picod_client_buf_t *b, size_t want);

/* Pop the next complete line as JSON. Returns 1 with *out a new reference, 0 when no complete
 * line is buffered, or -EBADMSG for a line that is not JSON (the line is consumed). Empty lines
 * are skipped. */
int picod_client_buf_take(picod_client_buf_t *b, json_t **out);

enum picod_msg_kind {
    PICOD_MSG_INVALID = 0, /* not an object, or neither a response nor an event */
    PICOD_MSG_RESPONSE,    /* {"id":...,"ok":true|false,...} */
    PICOD_MSG_EVENT,       /* {"event":"<name>",...} */
};

/* What kind of line msg (borrowed) is. */
enum picod_msg_kind picod_client_classify(const json_t *msg);

/* The integer id of a response, or -1 when it has none (or another type). */
json_int_t picod_client_response_id(const json_t *msg);

/* For a failed response: its error code and message (borrowed from msg; "internal" and ""
 * when picod sent none). Returns true when msg is a failure, false for ok (codes untouched). */
bool picod_client_error(const json_t *msg, const char **code, const char **message);

#endif /* PICOD_CLIENT_H */
