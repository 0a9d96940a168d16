/*
 * board.h - one board behind one tty: its state machine, request traffic and state mirror.
 *
 * States (board_state_name() gives the API spelling):
 *   connecting  the tty is not open (yet), no board ever answered on it
 *   hello       tty open, HELLO sent, waiting for its ack
 *   online      HELLO done and frames arriving
 *   stale       no frame for stale_misses heartbeat periods (heartbeats keep going)
 *   offline     no frame for offline_misses periods, or the tty was lost; HELLO is retried
 *               every heartbeat period and any frame brings the board back
 *   incompatible the board speaks another major protocol version (its frames, its HELLO ack
 *               or its ERROR version_mismatch say so): nothing but HELLO is sent to it, once
 *               per heartbeat period, so a reflashed board comes back by itself
 * A reset of the board (uptime going backwards, the board reporting it waits for a HELLO, or
 * a new HELLO ack) is counted and announced; its identity (board_id from HELLO) is kept.
 *
 * The board reports changes through event_cb with a JSON object the owner broadcasts (the
 * board adds "event", "board" and "rev"). Memory per board is fixed (no growth with traffic).
 */
#ifndef PICOD_BOARD_H
#define PICOD_BOARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "clocksync.h"
#include "link.h"
#include "options.h"
#include "proto.h"
#include "reqtrack.h"

typedef enum board_state {
    BOARD_CONNECTING,
    BOARD_HELLO,
    BOARD_ONLINE,
    BOARD_STALE,
    BOARD_OFFLINE,
    BOARD_INCOMPATIBLE,
} board_state_t;

typedef struct board_sensor {
    bool valid;
    proto_reading_t r;
    uint64_t host_ms; /* loop time when it arrived */
} board_sensor_t;

typedef struct board_counters {
    uint32_t hellos;  /* HELLO acks accepted */
    uint32_t resets;  /* board resets detected */
    uint32_t resyncs; /* new sessions because the board took our seqs for old ones (1.4) */
    uint32_t identity_changes;
    uint32_t version_errors; /* incompatible major version (HELLO or frame header) */
    uint32_t events;         /* unsolicited events received */
    uint32_t unexpected;     /* frames of a type the host never expects */
    uint32_t bad_bodies;     /* frames whose body did not decode */
    uint32_t stale_count, offline_count;
} board_counters_t;

/* How late picod's own periodic work runs: the time between two runs of a periodic timer
 * minus its period (libuv timers never fire early, so it is >= 0 up to the loop's ms rounding). */
typedef struct board_jitter {
    uint64_t last_ns;         /* uv_hrtime() of the last run, 0: none since (re)start */
    uint32_t samples;         /* intervals measured */
    uint32_t last_us, max_us; /* |interval - period| */
    uint64_t sum_us;
} board_jitter_t;

typedef struct board board_t;
typedef void (*board_event_cb)(board_t *b, json_t *event); /* event borrowed */
typedef void (*board_close_cb)(board_t *b);

struct board {
    uv_loop_t *loop;
    const options_t *opt;
    link_t link;
    reqtrack_t rt;
    uv_timer_t tick, poll, req_timer;
    board_state_t state;
    uint64_t state_since_ms;
    uint64_t last_rx_ms;
    char id[2 * PROTO_BOARD_ID_LEN + 1]; /* "" until the first HELLO ack */
    char name[OPTIONS_NAME_MAX];         /* from a [board NAME] config section, "" none (owner's) */
    bool has_hello;
    proto_hello_ack_t hello;
    char build[4 * PROTO_BUILD_LEN + 1]; /* hello.build made safe (board_text.h) */
    uint8_t peer_version;                /* version byte the board last spoke (header format) */
    uint32_t uptime_ms;                  /* last uptime the board reported */
    uint64_t uptime_at_ms;               /* loop time of that report */
    bool has_state;
    proto_state_t st;
    uint64_t st_ms;
    board_sensor_t sensors[PROTO_MAX_READINGS];
    uint8_t sensor_count;
    uint64_t rev; /* bumped on every event and mirror change */
    board_counters_t cnt;
    board_jitter_t hb_jitter, poll_jitter; /* picod's heartbeat and poll timers */
    board_event_cb event_cb;
    board_close_cb close_cb;
    int pending_closes;
    int logged_errno;           /* last open error logged, to log each cause once */
    reqtrack_done_cb reboot_cb; /* the client's completion of the REBOOT under way */
    void *reboot_ud;
    bool expect_reset;    /* a REBOOT is under way: the next HELLO answer is a reset */
    bool reset_suspected; /* the board forgot our HELLO: the next HELLO answer is a reset */
    uint32_t session;     /* our session id in HELLO (protocol 1.4; board_send_hello) */
    bool closing;
    clocksync_t clock;  /* the board's clock against the host's (clocksync.h) */
    int64_t hb_sent_us; /* monotonic us the outstanding HEARTBEAT was first sent, 0 = none */
    int64_t rx_us;      /* monotonic us the frame being handled arrived */
    struct board_json_cache *json_cache; /* status/list bytes by rev (board_json.c), or NULL */
    void *data;                          /* owner's */

    /* Client requests waiting for a slot (board_request), first in first out. */
    struct board_wait *wait_head, *wait_tail;
    unsigned wait_len;
};

/* Start a board on path (opening is asynchronous). Returns 0 or a negative libuv error. */
int board_init(board_t *b, uv_loop_t *loop, const options_t *opt, const char *path,
               board_event_cb event_cb, void *data);

/* Close the link and timers, then cb (never synchronously). Outstanding requests fail with
 * -ECANCELED from the loop, before cb. */
void board_close(board_t *b, board_close_cb cb);

/* Slots of the request table kept for picod's own HELLO, HEARTBEAT, GET_STATE and
 * READ_SENSORS (at most one of each is outstanding). */
#define BOARD_RESERVED_SLOTS 4

/* Client requests that wait (in order) for a slot when the clients' share of the table is
 * taken: a client flooding one board delays the others' requests instead of failing them. */
#define BOARD_WAIT_MAX 64

/* Send a request on behalf of a client. Same contract as reqtrack_submit(), plus -ENOTCONN
 * when the board is not online or stale and -EBUSY when only the reserved slots are left and
 * BOARD_WAIT_MAX requests already wait for a slot (else the request waits; it is sent when a
 * slot frees, or fails with -ENOTCONN if the board is no longer reachable by then).
 * Completion statuses besides reqtrack's: -ECONNABORTED (the tty was lost), -ECANCELED (the
 * board was removed), -ESTALE (another board appeared on the tty). Never completes from
 * inside this call. */
int board_request(board_t *b, uint8_t type, const uint8_t *body, size_t len, reqtrack_done_cb cb,
                  void *ud);

/*
 * Ask the board to reboot (mode: enum proto_reboot_mode) for a client. Same contract as
 * board_request(), plus -EALREADY while another REBOOT is under way. REBOOT is sent once
 * (never retried: a rebooted board would act on the copy again) and its timeout leaves room
 * for two heartbeats. Until it is refused or times out, the board's next HELLO answer counts
 * as a reset (board_reset, detected_by "hello") even if the new uptime is not below the last
 * one heard. When the board resets without its ack having arrived (the ack lost in the reset,
 * or the tty vanishing as a USB board re-enumerates), the reset itself completes the request
 * with status 0 and resp NULL.
 */
int board_reboot(board_t *b, uint8_t mode, reqtrack_done_cb cb, void *ud);

/* Use other settings (a reload, or a board's own [board NAME] poll-ms/heartbeat-ms): the
 * heartbeat and poll timers restart when their period changed, the next request gets the new
 * timeout. opt must outlive the board or the next call. */
void board_set_options(board_t *b, const options_t *opt);

/* Apply what a SET_LED/GET_STATE ack body says (used by the API after a SET_LED). */
void board_apply_state(board_t *b, const proto_frame_t *f);

const char *board_state_name(board_state_t s);
bool board_is_reachable(const board_t *b); /* online or stale */

#endif /* PICOD_BOARD_H */
