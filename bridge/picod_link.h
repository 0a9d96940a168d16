/*
 * picod_link.h - picod-mqtt's connection to picod's socket API on a libuv loop.
 *
 * Connects (and reconnects, with a doubling backoff, when picod goes away), sends `watch`
 * with `since` = the last event's seq and the boot_id it came from, so a reconnect to the same
 * picod replays what was missed and a restarted picod (another boot_id) replays its history
 * from the start. Requests are encoded by client/picod_client.h with the link's own ids; each
 * gets exactly one reply callback, from the loop: the response, or NULL when the connection
 * was lost before it came. Events go to event_cb in seq order.
 */
#ifndef BRIDGE_PICOD_LINK_H
#define BRIDGE_PICOD_LINK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define PICOD_LINK_PENDING_MAX 64 /* requests awaiting an answer */

typedef struct picod_link picod_link_t;

/* resp: borrowed for the call; NULL when the connection went down first. */
typedef void (*picod_link_reply_cb)(picod_link_t *l, const json_t *resp, void *req_data);

typedef struct picod_link_cbs {
    /* watch answered (result borrowed: watching, seq, boot_id, restarted). */
    void (*up_cb)(picod_link_t *l, const json_t *result, void *data);
    /* Not connected (any more); why is a sentence. A retry is scheduled. */
    void (*down_cb)(picod_link_t *l, const char *why, void *data);
    /* An event line (borrowed), `gap` included. */
    void (*event_cb)(picod_link_t *l, const json_t *ev, void *data);
} picod_link_cbs_t;

/* Returns 0 or -ENOMEM. path is copied. Nothing happens before picod_link_start. */
int picod_link_new(uv_loop_t *loop, const char *path, const picod_link_cbs_t *cbs, void *data,
                   picod_link_t **out);
void picod_link_start(picod_link_t *l);
bool picod_link_is_up(const picod_link_t *l);

/* Sends {"cmd":cmd,...args} (args borrowed, may be NULL). reply_cb(l, resp, req_data) runs
 * once, later. Returns 0, -ENOTCONN (not connected: no callback), -EBUSY
 * (PICOD_LINK_PENDING_MAX outstanding) or -ENOMEM. */
int picod_link_request(picod_link_t *l, const char *cmd, const json_t *args,
                       picod_link_reply_cb reply_cb, void *req_data);

/* The last event seq seen (0 before any). */
uint64_t picod_link_seq(const picod_link_t *l);

/* Closes the connection; pending requests are dropped without a reply (the owner is going
 * away); close_cb(data) once the handles are closed and the link is freed. */
void picod_link_close(picod_link_t *l, void (*close_cb)(void *data), void *data);

#endif /* BRIDGE_PICOD_LINK_H */
