/*
 * reqtrack.h - the table of requests a board has not answered yet.
 *
 * Pure bookkeeping with time passed in (no libuv), so it is unit-tested with fake time.
 * Each request gets a fresh 16-bit seq (never 0, so an empty slot of a board's window cannot
 * match), a deadline, and one retry: on the first timeout the same frame with the SAME seq is
 * sent again, so a board that did receive it answers from its window of remembered responses
 * instead of acting twice (proto.h, PROTO_SEQ_WINDOW). On the second timeout the request fails
 * with -ETIMEDOUT.
 *
 * Exactly once, host side (PROTOCOL.md, "Exactly once"):
 *  - a request may be retried only while its seq is inside the board's window: when a new seq
 *    would be PROTO_SEQ_WINDOW or more ahead of a retriable request's seq, that request loses
 *    its retry (it then fails with -ETIMEDOUT rather than risk acting twice);
 *  - reqtrack_forbid_retries() before a HELLO is sent (a HELLO empties the board's window);
 *  - every request completes exactly once: an entry is released before its completion runs,
 *    and the loops that complete several entries only touch those that were outstanding when
 *    they started.
 */
#ifndef PICOD_REQTRACK_H
#define PICOD_REQTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define REQTRACK_MAX 16 /* outstanding requests per board */

/*
 * Completion. status: 0 = acknowledged (resp is the ack frame, or NULL when the request was
 * finished by reqtrack_finish_type()), > 0 = the board answered with ERROR (status is the
 * proto_err code, resp the ERROR frame), < 0 = -ETIMEDOUT, -ECONNABORTED (the retry could not
 * be sent) or whatever status the owner passed to reqtrack_cancel_all(). resp is borrowed and
 * NULL when status < 0.
 */
typedef void (*reqtrack_done_cb)(void *ud, int status, const proto_frame_t *resp);

/* Sends a frame; returns 0 or negative errno. ctx is reqtrack_t.send_ctx. */
typedef int (*reqtrack_send_fn)(void *ctx, uint8_t type, uint16_t seq, const uint8_t *body,
                                size_t len);

typedef struct reqtrack_entry {
    bool used;
    bool retried;
    bool once;           /* never re-sent: times out at its first deadline */
    uint32_t timeout_ms; /* this request's deadline after each send */
    uint8_t type;
    uint16_t seq;
    uint16_t body_len;
    uint32_t gen;               /* which request this entry holds: a reused entry gets a new one */
    uint64_t sent_at, deadline; /* ms */
    reqtrack_done_cb cb;
    void *ud;
    uint8_t body[PROTO_MAX_BODY];
} reqtrack_entry_t;

typedef struct reqtrack_stats {
    uint32_t sent, acked, errors, timeouts, retries, unmatched, cancelled, full;
    uint32_t retries_forbidden; /* requests that lost their retry (window, HELLO) */
    uint32_t last_rtt_ms, max_rtt_ms;
} reqtrack_stats_t;

typedef struct reqtrack {
    reqtrack_entry_t e[REQTRACK_MAX];
    uint16_t next_seq;
    uint32_t gen;
    uint32_t timeout_ms;
    reqtrack_send_fn send;
    void *send_ctx;
    reqtrack_stats_t stats;
} reqtrack_t;

void reqtrack_init(reqtrack_t *rt, uint32_t timeout_ms, reqtrack_send_fn send, void *send_ctx);

/*
 * Send a request and remember it. body is copied. Returns 0 (cb will run exactly once,
 * never synchronously), -EBUSY when the table is full, -EINVAL for a long body, or the send
 * function's error (cb will not run).
 */
int reqtrack_submit(reqtrack_t *rt, uint8_t type, const uint8_t *body, size_t len, uint64_t now,
                    reqtrack_done_cb cb, void *ud);

/*
 * reqtrack_submit() with this request's own timeout and retry rule. once: the request must
 * never be sent twice. A REBOOT is such a request: a board that executed it has reset and
 * forgotten the seq, so a retry would not be recognised as a duplicate and would act again.
 */
int reqtrack_submit_ex(reqtrack_t *rt, uint8_t type, const uint8_t *body, size_t len, uint64_t now,
                       uint32_t timeout_ms, bool once, reqtrack_done_cb cb, void *ud);

/* Complete every outstanding request of type with status and resp NULL (even for status 0:
 * the caller learnt the outcome some other way). Returns how many completed. */
size_t reqtrack_finish_type(reqtrack_t *rt, uint8_t type, int status);

/* Offer a frame from the board. Returns true if it answered an outstanding request (the
 * completion ran), false if it is not an answer to anything (counted as unmatched when it
 * is an ack or ERROR). */
bool reqtrack_match(reqtrack_t *rt, const proto_frame_t *f, uint64_t now);

/* Retry or fail what is due at now. */
void reqtrack_expire(reqtrack_t *rt, uint64_t now);

/* Earliest deadline, or UINT64_MAX when nothing is outstanding. */
uint64_t reqtrack_next_deadline(const reqtrack_t *rt);

/* Number of outstanding requests, and whether one of type is among them. */
size_t reqtrack_pending(const reqtrack_t *rt);
bool reqtrack_has_type(const reqtrack_t *rt, uint8_t type);

/* Fail everything outstanding with status (e.g. -ECANCELED). Requests submitted by the
 * completions themselves are not touched. */
void reqtrack_cancel_all(reqtrack_t *rt, int status);

/* Nothing outstanding may be sent again (a HELLO is about to empty the board's window). */
void reqtrack_forbid_retries(reqtrack_t *rt);

#endif /* PICOD_REQTRACK_H */
