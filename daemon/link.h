/*
 * link.h - one board's serial line: a tty opened raw and exclusive, framed with proto.
 *
 * The link opens its path (a /dev/ttyACM*, or a pty symlink made by picosim), watches it with
 * a uv_poll, decodes frames with the shared incremental decoder and queues outgoing frames in
 * a bounded ring. When the device errors or vanishes it is closed and reopened with an
 * exponential backoff (100 ms doubling up to a ceiling) until link_close().
 *
 * Callbacks run on the loop thread, only from the loop's own callbacks (poll, timers): never
 * from inside link_send() or link_reset(), so an owner that calls into its link is never
 * re-entered (libuv's rule). A write error inside link_send() is remembered and the loss is
 * reported by state_cb from a zero-delay timer. A callback must not call link_close() on its
 * own link; it may call link_send().
 */
#ifndef PICOD_LINK_H
#define PICOD_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto.h"

#define LINK_TXQ_SIZE    8192 /* bytes of encoded frames waiting for the tty */
#define LINK_RX_CHUNK    512
#define LINK_RX_MAX_READ 32 /* reads per poll callback, so one busy link cannot starve others */
#define LINK_BACKOFF_MIN 100

typedef struct link link_t;

/* status 1: good frame in *f (borrowed until the callback returns). status < 0: a
 * -PROTO_E_VERSION frame (f filled, already counted); other decode errors are only counted. */
typedef void (*link_frame_cb)(link_t *l, int status, const proto_frame_t *f);
/* The link became usable (up) or was lost (!up). */
typedef void (*link_state_cb)(link_t *l, bool up);
typedef void (*link_close_cb)(link_t *l);

typedef struct link_stats {
    uint64_t rx_bytes, tx_bytes;
    uint32_t opens;         /* successful opens */
    uint32_t open_failures; /* failed open attempts */
    uint32_t losses;        /* link lost after being open (I/O error, hangup, EOF) */
    uint32_t tx_overflows;  /* frames refused because the TX ring was full */
    uint32_t tx_frames;
} link_stats_t;

struct link {
    uv_loop_t *loop;
    char path[256];
    int fd;         /* -1 while closed */
    bool up;        /* fd open and polled */
    bool poll_live; /* poll handle initialised and not yet closed */
    bool closing;   /* link_close() called */
    bool fail_live; /* fail timer initialised */
    int pending_closes;
    int last_errno; /* why the last open failed or the link was lost */
    int failed;     /* write error seen inside link_send(): loss reported from the loop */
    uv_poll_t poll;
    uv_timer_t reopen;
    uv_timer_t fail; /* reports a loss found inside link_send() */
    uint32_t backoff_ms, backoff_max_ms;
    proto_decoder_t dec;
    uint8_t txq[LINK_TXQ_SIZE];
    size_t tx_head, tx_len;
    link_stats_t stats;
    link_frame_cb frame_cb;
    link_state_cb state_cb;
    link_close_cb close_cb;
    void *data; /* owner's pointer */
};

/* Initialise l (caller owns the memory until close_cb) and start opening path at once.
 * Returns 0 or a negative libuv error. */
int link_init(link_t *l, uv_loop_t *loop, const char *path, uint32_t backoff_max_ms,
              link_frame_cb frame_cb, link_state_cb state_cb, void *data);

/* Encode and queue one frame. Returns 0, -ENOTCONN while the link is down (or failed: the
 * loss is reported later, from the loop), -ENOBUFS when the TX ring is full (counted), or
 * -EINVAL for a body longer than PROTO_MAX_BODY. Never runs a callback. */
int link_send(link_t *l, uint8_t type, uint16_t seq, const uint8_t *body, size_t len);

/* Drop the current fd (if any) and reopen with backoff, as if the device had errored. The
 * loss is reported from the loop, like any other. */
void link_reset(link_t *l);

/* Stop everything; cb runs once all handles are closed (never synchronously). */
void link_close(link_t *l, link_close_cb cb);

#endif /* PICOD_LINK_H */
