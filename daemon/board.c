/* board.c - see board.h. */
#include "board.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "board_json.h"
#include "board_text.h"
#include "log.h"

static void board_rearm_requests(board_t *b);
static void board_send_hello(board_t *b);
static void board_poll_now(board_t *b);

const char *board_state_name(board_state_t s)
{
    switch (s) {
    case BOARD_CONNECTING:
        return "connecting";
    case BOARD_HELLO:
        return "hello";
    case BOARD_ONLINE:
        return "online";
    case BOARD_STALE:
        return "stale";
    case BOARD_OFFLINE:
        return "offline";
    case BOARD_INCOMPATIBLE:
        return "incompatible";
    }
    return "unknown";
}

bool board_is_reachable(const board_t *b)
{
    return b->state == BOARD_ONLINE || b->state == BOARD_STALE;
}

static uint64_t board_now(const board_t *b)
{
    return uv_now(b->loop);
}

/* Hand an event to the owner. Takes ownership of ev. */
static void board_emit(board_t *b, const char *name, json_t *ev)
{
    b->rev++;
    if (!ev)
        ev = json_object();
    if (!ev)
        return;
    json_object_set_new(ev, "event", json_string(name));
    json_object_set_new(ev, "board", json_string(b->id[0] ? b->id : b->link.path));
    json_object_set_new(ev, "rev", json_integer((json_int_t)b->rev));
    if (b->event_cb)
        b->event_cb(b, ev);
    json_decref(ev);
}

static void board_set_state(board_t *b, board_state_t s)
{
    board_state_t old = b->state;

    if (old == s)
        return;
    b->state = s;
    b->state_since_ms = board_now(b);
    b->rev++;
    log_info("board %s (%s): %s -> %s", b->id[0] ? b->id : "?", b->link.path, board_state_name(old),
             board_state_name(s));
    /* Watchers hear about boards with an identity only: "hello"/"connecting" are internal. */
    if (!b->id[0])
        return;
    if (s == BOARD_ONLINE) {
        board_emit(b, "board_online",
                   json_pack("{s:s, s:s}", "device", b->link.path, "firmware", b->build));
    } else if (s == BOARD_STALE) {
        b->cnt.stale_count++;
        board_emit(b, "board_stale",
                   json_pack("{s:I}", "silent_ms", (json_int_t)(board_now(b) - b->last_rx_ms)));
    } else if (s == BOARD_OFFLINE) {
        b->cnt.offline_count++;
        board_emit(b, "board_offline", json_pack("{s:s}", "device", b->link.path));
    }
}

/* The board speaks protocol major `version >> 4` (header byte format), or (they_refused) it
 * answered our HELLO with ERROR version_mismatch: refuse it, loudly once. HELLO keeps being
 * tried each heartbeat period, which is how a reflashed board that kept its tty open comes
 * back. */
static void board_refuse_version(board_t *b, uint8_t version, bool they_refused)
{
    b->cnt.version_errors++;
    b->peer_version = version;
    if (b->state == BOARD_INCOMPATIBLE)
        return;
    if (they_refused)
        log_err("board on %s refused picod's protocol %u.%u (flash a firmware of this picod's "
                "version)",
                b->link.path, (unsigned)PROTO_VERSION_MAJOR, (unsigned)PROTO_VERSION_MINOR);
    else
        log_err("board on %s speaks protocol %u.%u, picod speaks %u.%u: refused (flash a "
                "firmware of this picod's version)",
                b->link.path, (unsigned)PROTO_VERSION_MAJOR_OF(version),
                (unsigned)PROTO_VERSION_MINOR_OF(version), (unsigned)PROTO_VERSION_MAJOR,
                (unsigned)PROTO_VERSION_MINOR);
    board_set_state(b, BOARD_INCOMPATIBLE);
}

/* ---- board time in host time (clocksync.h) -------------------------------------------- */

static int64_t board_mono_us(void)
{
    return (int64_t)(uv_hrtime() / 1000u); /* CLOCK_MONOTONIC */
}

/* One HEARTBEAT round trip: first send .. arrival of its answer, the board's clock in it
 * (us from a 1.2 board, ms from an older one). A retry's answer is the first execution's
 * and was made after the first send: still a true interval, only wider. */
static void board_clock_sample(board_t *b, const proto_heartbeat_ack_t *hb)
{
    clocksync_sample_t s = {
        .host_send_us = b->hb_sent_us,
        .host_recv_us = b->rx_us,
        .board_us = hb->has_uptime_us ? (int64_t)hb->uptime_us : (int64_t)hb->uptime_ms * 1000,
        .board_res_us = hb->has_uptime_us ? 1 : 1000,
    };

    if (s.host_send_us && s.host_recv_us >= s.host_send_us)
        (void)clocksync_add(&b->clock, &s);
}

/*
 * Give an event the board stamped (stamp in unit_us, 32 bits) "host_time" (Unix us) and
 * "host_time_err_us". The fit is in CLOCK_MONOTONIC; CLOCK_REALTIME is read only here, to
 * shift the answer to the Unix epoch, so a step of the wall clock moves host_time by the
 * step and never disturbs the fit. Nothing is added until the clock is estimated.
 */
static void board_clock_stamp(board_t *b, json_t *ev, uint32_t stamp, uint32_t unit_us)
{
    struct timespec m0, rt, m1;
    int64_t board_us, host, err, m0_us, m1_us, rt_us;

    if (!ev || clocksync_unwrap(&b->clock, stamp, 32, unit_us, b->rx_us, &board_us) < 0 ||
        clocksync_map_event(&b->clock, board_us, unit_us, b->rx_us, &host, &err) < 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    m0_us = (int64_t)m0.tv_sec * 1000000 + m0.tv_nsec / 1000;
    m1_us = (int64_t)m1.tv_sec * 1000000 + m1.tv_nsec / 1000;
    rt_us = (int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000;
    host += rt_us - (m0_us + m1_us) / 2;
    err += (m1_us - m0_us) / 2 + 1;
    json_object_set_new(ev, "host_time", json_integer((json_int_t)host));
    json_object_set_new(ev, "host_time_err_us", json_integer((json_int_t)err));
}

static int board_send_cb(void *ctx, uint8_t type, uint16_t seq, const uint8_t *body, size_t len)
{
    board_t *b = ctx;

    if (type == PROTO_MSG_HEARTBEAT && !b->hb_sent_us)
        b->hb_sent_us = board_mono_us(); /* the first copy: retries keep it */

    return link_send(&b->link, type, seq, body, len);
}

static int board_submit(board_t *b, uint8_t type, const uint8_t *body, size_t len,
                        reqtrack_done_cb cb, void *ud)
{
    int r = reqtrack_submit(&b->rt, type, body, len, board_now(b), cb, ud);

    if (r == 0)
        board_rearm_requests(b);
    return r;
}

/* Client requests leave BOARD_RESERVED_SLOTS of the table to picod's own traffic, so a
 * client filling the table cannot starve the HELLO and HEARTBEAT that keep the board alive. */
static bool board_clients_full(board_t *b)
{
    if (reqtrack_pending(&b->rt) + BOARD_RESERVED_SLOTS < REQTRACK_MAX)
        return false;
    b->rt.stats.full++; /* counted with reqtrack's own table_full */
    return true;
}

/* A client request waiting for a slot (board_request). */
typedef struct board_wait {
    struct board_wait *next;
    reqtrack_done_cb cb;
    void *ud;
    size_t len;
    uint8_t type;
    uint8_t body[];
} board_wait_t;

static bool board_clients_have_slot(const board_t *b)
{
    return reqtrack_pending(&b->rt) + BOARD_RESERVED_SLOTS < REQTRACK_MAX;
}

static board_wait_t *board_wait_pop(board_t *b)
{
    board_wait_t *w = b->wait_head;

    if (w) {
        b->wait_head = w->next;
        if (!b->wait_head)
            b->wait_tail = NULL;
        b->wait_len--;
    }
    return w;
}

/* Send what waits while the clients have slots; fail it all if the board is out of reach.
 * Runs from the request timer (the loop), never inside a call of the owner's. */
static void board_wait_drain(board_t *b)
{
    while (b->wait_head && (b->closing || !board_is_reachable(b) || board_clients_have_slot(b))) {
        board_wait_t *w = board_wait_pop(b);
        int r = -ENOTCONN;

        if (!b->closing && board_is_reachable(b))
            r = reqtrack_submit(&b->rt, w->type, w->body, w->len, board_now(b), w->cb, w->ud);
        if (r < 0)
            w->cb(w->ud, r, NULL);
        free(w);
    }
}

/* The board's requests were cancelled with status: so are those waiting for a slot. */
static void board_wait_fail_all(board_t *b, int status)
{
    board_wait_t *w;

    while ((w = board_wait_pop(b)) != NULL) {
        w->cb(w->ud, status, NULL);
        free(w);
    }
}

int board_request(board_t *b, uint8_t type, const uint8_t *body, size_t len, reqtrack_done_cb cb,
                  void *ud)
{
    board_wait_t *w;

    if (b->closing || !board_is_reachable(b))
        return -ENOTCONN;
    if (!b->wait_head && !board_clients_full(b))
        return board_submit(b, type, body, len, cb, ud);
    if (b->wait_len >= BOARD_WAIT_MAX)
        return -EBUSY;
    if (len > PROTO_MAX_BODY)
        return -EINVAL;
    w = malloc(sizeof(*w) + len);
    if (!w)
        return -ENOMEM;
    w->next = NULL;
    w->cb = cb;
    w->ud = ud;
    w->len = len;
    w->type = type;
    if (len)
        memcpy(w->body, body, len);
    if (b->wait_tail)
        b->wait_tail->next = w;
    else
        b->wait_head = w;
    b->wait_tail = w;
    b->wait_len++;
    return 0;
}

static void board_reboot_done(void *ud, int status, const proto_frame_t *f)
{
    board_t *b = ud;
    reqtrack_done_cb cb = b->reboot_cb;

    /* Refused, timed out or cancelled: no reset is coming (a reset seen finishes with 0). */
    if (status != 0)
        b->expect_reset = false;
    b->reboot_cb = NULL;
    cb(b->reboot_ud, status, f);
}

int board_reboot(board_t *b, uint8_t mode, reqtrack_done_cb cb, void *ud)
{
    uint32_t timeout = b->opt->request_timeout_ms + 2 * b->opt->heartbeat_ms;
    int r;

    if (b->closing || !board_is_reachable(b))
        return -ENOTCONN;
    if (b->reboot_cb)
        return -EALREADY;
    if (board_clients_full(b))
        return -EBUSY;
    r = reqtrack_submit_ex(&b->rt, PROTO_MSG_REBOOT, &mode, 1, board_now(b), timeout, true,
                           board_reboot_done, b);
    if (r < 0)
        return r;
    b->reboot_cb = cb;
    b->reboot_ud = ud;
    /* Set now, not on the ack: the ack may be lost in the very reset it announces. */
    b->expect_reset = true;
    board_rearm_requests(b);
    return 0;
}

/* The board reset while a REBOOT was outstanding: that reset is the REBOOT's answer.
 * announced: the reset was detected and announced already; otherwise (the tty vanished) let
 * the next HELLO announce it. */
static void board_reboot_done_by_reset(board_t *b, bool announced)
{
    if (!reqtrack_has_type(&b->rt, PROTO_MSG_REBOOT))
        return;
    b->expect_reset = !announced;
    reqtrack_finish_type(&b->rt, PROTO_MSG_REBOOT, 0);
    board_rearm_requests(b);
}

/* ---- request timer ------------------------------------------------------------------------ */

static void board_req_timer_cb(uv_timer_t *t)
{
    board_t *b = t->data;

    reqtrack_expire(&b->rt, board_now(b));
    board_wait_drain(b);
    board_rearm_requests(b);
}

static void board_rearm_requests(board_t *b)
{
    uint64_t next = reqtrack_next_deadline(&b->rt), now = board_now(b);

    if (b->closing)
        return;
    if (b->wait_head && (!board_is_reachable(b) || board_clients_have_slot(b)))
        next = now; /* what waits goes (or fails) from the timer, soon */
    if (next == UINT64_MAX) {
        uv_timer_stop(&b->req_timer);
        return;
    }
    uv_timer_start(&b->req_timer, board_req_timer_cb, next > now ? next - now : 0, 0);
}

/* ---- mirror updates ----------------------------------------------------------------------- */

/*
 * Did the board restart since its last uptime report? Compare the reported uptime with the
 * one expected by now (last report + host time elapsed), not with the last report itself: a
 * board that reset soon after a report, or after a quiet spell, reports more than it did but
 * far less than it should. The slack covers an answer that arrives late (a retry answered
 * from the board's window carries the uptime of the first execution: up to two request
 * timeouts old) and clock drift (1000 ppm, twenty times a crystal's tolerance). Uptime is a
 * u32 of ms and wraps after ~49 days: compare modulo 2^32; past 24 days of silence the
 * uptime cannot tell, and only the other evidence (below) can.
 */
static bool board_uptime_went_back(const board_t *b, uint32_t uptime_ms)
{
    uint64_t elapsed = board_now(b) - b->uptime_at_ms;
    uint64_t slack = 2 * (uint64_t)b->opt->request_timeout_ms + 250 + elapsed / 1000;
    uint32_t expected = (uint32_t)(b->uptime_ms + elapsed);
    int64_t behind = (int32_t)(expected - uptime_ms);

    if (!b->uptime_at_ms || elapsed >= 0x7fffffffu - slack)
        return false;
    return behind > (int64_t)slack;
}

static void board_note_uptime(board_t *b, uint32_t uptime_ms, const char *how)
{
    bool went_back = board_uptime_went_back(b, uptime_ms);

    /* After a REBOOT we asked for, or after the board said it waits for a HELLO although it
     * had one from us (it forgot: it restarted), the HELLO that follows is a reset whatever
     * the uptime says (a board reset soon after it booted reports a plausible uptime). */
    if ((b->expect_reset || b->reset_suspected) && strcmp(how, "hello") == 0)
        went_back = true;
    if (went_back) {
        b->expect_reset = false;
        b->reset_suspected = false;
        b->cnt.resets++;
        clocksync_restart(&b->clock);
        log_notice("board %s: reset detected (%s: uptime %u ms, was %u ms)", b->id, how, uptime_ms,
                   b->uptime_ms);
        /* A REBOOT whose ack was lost in this reset is answered first, as its ack would
         * have been, then the reset is announced. */
        board_reboot_done_by_reset(b, true);
        board_emit(b, "board_reset",
                   json_pack("{s:s, s:I}", "detected_by", how, "uptime_ms", (json_int_t)uptime_ms));
        /* A rebooted board forgot our HELLO (host timeout, link state): introduce ourselves
         * again. Not when the HELLO answer itself revealed the reset. */
        if (strcmp(how, "hello") != 0)
            board_send_hello(b);
    }
    b->uptime_ms = uptime_ms;
    b->uptime_at_ms = board_now(b);
}

void board_apply_state(board_t *b, const proto_frame_t *f)
{
    proto_state_t st;

    if (proto_state_decode(f->body, f->body_len, &st) < 0) {
        b->cnt.bad_bodies++;
        return;
    }
    b->st = st;
    b->has_state = true;
    b->st_ms = board_now(b);
    b->rev++;
    board_note_uptime(b, st.uptime_ms, "state");
}

static void board_store_reading(board_t *b, const proto_reading_t *r, bool announce)
{
    board_sensor_t *s;

    if (r->sensor >= PROTO_MAX_READINGS) {
        b->cnt.bad_bodies++;
        return;
    }
    s = &b->sensors[r->sensor];
    s->r = *r;
    s->valid = true;
    s->host_ms = board_now(b);
    if (r->sensor >= b->sensor_count)
        b->sensor_count = (uint8_t)(r->sensor + 1);
    if (announce) {
        json_t *ev = board_json_reading(b, s);
        board_clock_stamp(b, ev, r->t_ms, 1000);
        board_emit(b, "sensor", ev);
    } else
        b->rev++;
}

/* ---- HELLO -------------------------------------------------------------------------------- */

static void board_accept_hello(board_t *b, const proto_frame_t *f)
{
    proto_hello_ack_t h;
    char id[sizeof(b->id)];
    bool was_known = b->has_hello;

    if (proto_hello_ack_decode(f->body, f->body_len, &h) < 0) {
        b->cnt.bad_bodies++;
        return;
    }
    if (h.proto_major != PROTO_VERSION_MAJOR) {
        board_refuse_version(b, (uint8_t)((h.proto_major << 4) | (h.proto_minor & 0x0f)), false);
        return;
    }
    for (size_t i = 0; i < PROTO_BOARD_ID_LEN; i++)
        snprintf(id + 2 * i, 3, "%02x", h.board_id[i]);
    if (b->id[0] && strcmp(id, b->id) != 0) {
        /* Another board on the same tty: the old identity is gone, and so is everything asked
         * of it. Its requests fail (never retried: a retry would reach the new board), and
         * answers still on the way no longer match anything. */
        log_notice("board %s on %s replaced by board %s: its requests are cancelled", b->id,
                   b->link.path, id);
        b->cnt.identity_changes++;
        reqtrack_cancel_all(&b->rt, -ESTALE);
        board_wait_fail_all(b, -ESTALE);
        board_set_state(b, BOARD_OFFLINE);
        b->uptime_at_ms = 0;
        clocksync_restart(&b->clock);
        b->expect_reset = false;
        b->reset_suspected = false;
        memset(b->sensors, 0, sizeof(b->sensors));
        b->has_state = false;
    }
    memcpy(b->id, id, sizeof(id));
    b->hello = h;
    /* On the wire build is NUL-padded, not necessarily terminated, and untrusted. */
    board_text_clean((const uint8_t *)h.build, PROTO_BUILD_LEN, b->build, sizeof(b->build));
    b->has_hello = true;
    b->cnt.hellos++;
    if (was_known)
        board_note_uptime(b, h.uptime_ms, "hello");
    b->uptime_ms = h.uptime_ms;
    b->uptime_at_ms = board_now(b);
    board_set_state(b, BOARD_ONLINE);
    board_poll_now(b); /* fill the mirror now rather than one poll period later */
}

static void board_hello_done(void *ud, int status, const proto_frame_t *f)
{
    board_t *b = ud;

    if (status == 0)
        board_accept_hello(b, f);
    else if (status == PROTO_E_VERSION)
        board_refuse_version(b, f ? f->version : 0, true);
    else if (status > 0)
        log_warning("board on %s refused HELLO: %s", b->link.path, proto_err_name(status));
    /* Timeouts: the tick timer sends the next HELLO. */
}

/* The board says it waits for a HELLO. If it had one from us and none of ours is on its
 * way, it forgot it: it restarted (the HELLO answer will be counted as a reset). */
static void board_heard_waiting(board_t *b)
{
    if (b->has_hello && !reqtrack_has_type(&b->rt, PROTO_MSG_HELLO)) {
        b->reset_suspected = true;
        clocksync_restart(&b->clock); /* its clock restarted too: stamps are of a new epoch */
    }
    board_send_hello(b);
}

/* A session id (protocol 1.4): a board that hears the id of its session again in a HELLO
 * (ours re-sent, or a replay) keeps its window; another id starts a new session. Random, so
 * that a HELLO of an earlier picod is another session. */
static void board_new_session(board_t *b)
{
    uint32_t id = 0;

    while (id == 0) {
        if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
            id = (uint32_t)board_mono_us() ^ (uint32_t)(uintptr_t)b; /* no entropy: unique enough */
    }
    b->session = id;
}

static void board_send_hello(board_t *b)
{
    proto_hello_req_t req = {
        .host_major = PROTO_VERSION_MAJOR,
        .host_minor = PROTO_VERSION_MINOR,
        .host_timeout_ms = (uint16_t)b->opt->host_timeout_ms,
    };
    uint8_t body[16];
    int n;

    if (!b->link.up || reqtrack_has_type(&b->rt, PROTO_MSG_HELLO))
        return;
    /* One id for as long as the board serves us: our HELLOs to it (after it reset, went
     * offline, or a reopen of the tty) and their replays are of its session. A new one when
     * picod starts, and after the board refused our seqs as old (board_refused). */
    if (b->session == 0)
        board_new_session(b);
    req.session = b->session;
    n = proto_hello_req_encode(&req, body, sizeof(body));
    if (n < 0)
        return;
    /* A HELLO may empty the board's window of remembered answers: nothing sent before it may
     * be sent again, or the board could execute it twice. The HELLO itself is not retried
     * either (the tick sends a fresh one), so requests sent after it stay safe. */
    reqtrack_forbid_retries(&b->rt);
    if (reqtrack_submit_ex(&b->rt, PROTO_MSG_HELLO, body, (size_t)n, board_now(b),
                           b->opt->request_timeout_ms, true, board_hello_done, b) == 0)
        board_rearm_requests(b);
}

/* ---- periodic traffic --------------------------------------------------------------------- */

static void board_heartbeat_done(void *ud, int status, const proto_frame_t *f)
{
    board_t *b = ud;
    proto_heartbeat_ack_t hb;
    bool timed = b->hb_sent_us != 0;

    if (status != 0 || !f) {
        b->hb_sent_us = 0;
        return;
    }
    if (proto_heartbeat_ack_decode(f->body, f->body_len, &hb) < 0) {
        b->hb_sent_us = 0;
        b->cnt.bad_bodies++;
        return;
    }
    board_note_uptime(b, hb.uptime_ms, "heartbeat");
    if (timed)
        board_clock_sample(b, &hb); /* after note_uptime: a reset restarted the clock first */
    b->hb_sent_us = 0;
    /* A board that waits for a HELLO has reset (or never met us): introduce ourselves. */
    if (hb.link_state == PROTO_LINK_WAITING)
        board_heard_waiting(b);
}

static void board_state_done(void *ud, int status, const proto_frame_t *f)
{
    if (status == 0 && f)
        board_apply_state(ud, f);
}

static void board_readings_done(void *ud, int status, const proto_frame_t *f)
{
    board_t *b = ud;
    proto_readings_t rs;

    if (status != 0 || !f)
        return;
    if (proto_readings_decode(f->body, f->body_len, &rs) < 0) {
        b->cnt.bad_bodies++;
        return;
    }
    for (uint8_t i = 0; i < rs.count && i < PROTO_MAX_READINGS; i++)
        if (rs.r[i].sensor >= 32 || (b->opt->poll_sensors >> rs.r[i].sensor) & 1u)
            board_store_reading(b, &rs.r[i], true); /* sensors = ... in the config */
}

static void board_poll_now(board_t *b)
{
    uint8_t all = 0xff;
    uint32_t want = b->opt->poll_sensors & OPTIONS_SENSORS_ALL;

    if (b->state != BOARD_ONLINE)
        return;
    if (!reqtrack_has_type(&b->rt, PROTO_MSG_GET_STATE))
        board_submit(b, PROTO_MSG_GET_STATE, NULL, 0, board_state_done, b);
    if (want && (want & (want - 1)) == 0) /* one sensor: ask for that one only */
        all = (uint8_t)__builtin_ctz(want);
    if (want && !reqtrack_has_type(&b->rt, PROTO_MSG_READ_SENSORS))
        board_submit(b, PROTO_MSG_READ_SENSORS, &all, 1, board_readings_done, b);
}

/* One run of a periodic timer of period_ms: note how far it was from its period. */
static void board_jitter_note(board_jitter_t *j, uint64_t period_ms)
{
    uint64_t now = uv_hrtime(), period_ns = period_ms * 1000000u;

    if (j->last_ns) {
        uint64_t gap = now - j->last_ns;
        uint64_t off = gap > period_ns ? gap - period_ns : period_ns - gap;
        uint32_t us = off / 1000u > UINT32_MAX ? UINT32_MAX : (uint32_t)(off / 1000u);

        j->samples++;
        j->last_us = us;
        j->sum_us += us;
        if (us > j->max_us)
            j->max_us = us;
    }
    j->last_ns = now;
}

static void board_poll_cb(uv_timer_t *t)
{
    board_t *b = t->data;

    board_jitter_note(&b->poll_jitter, b->opt->poll_ms);
    board_poll_now(b);
}

/* Every heartbeat period: judge silence, then keep the board talking. */
static void board_tick_cb(uv_timer_t *t)
{
    board_t *b = t->data;
    uint64_t silent = board_now(b) - b->last_rx_ms;
    uint64_t hb = b->opt->heartbeat_ms;

    board_jitter_note(&b->hb_jitter, hb);
    if (board_is_reachable(b)) {
        if (silent >= hb * b->opt->offline_misses)
            board_set_state(b, BOARD_OFFLINE);
        else if (silent >= hb * b->opt->stale_misses)
            board_set_state(b, BOARD_STALE);
    }
    if (!b->link.up) {
        /* Say once why the device cannot be opened, not on every retry. */
        if (b->link.last_errno && b->link.last_errno != b->logged_errno)
            log_warning("%s: cannot open: %s (retrying)", b->link.path,
                        strerror(b->link.last_errno));
        b->logged_errno = b->link.last_errno;
        return;
    }
    b->logged_errno = 0;
    if (board_is_reachable(b)) {
        if (!reqtrack_has_type(&b->rt, PROTO_MSG_HEARTBEAT))
            board_submit(b, PROTO_MSG_HEARTBEAT, NULL, 0, board_heartbeat_done, b);
    } else {
        board_send_hello(b);
    }
}

/* ---- incoming frames ---------------------------------------------------------------------- */

static void board_on_event(board_t *b, const proto_frame_t *f)
{
    proto_button_event_t be;
    proto_reading_t rd;
    proto_fault_event_t fe;

    b->cnt.events++;
    switch (f->type) {
    case PROTO_MSG_BUTTON_EVENT:
        if (proto_button_event_decode(f->body, f->body_len, &be) < 0)
            break;
        if (b->has_state) {
            if (be.kind == PROTO_BUTTON_PRESS)
                b->st.button_down = 1;
            else if (be.kind == PROTO_BUTTON_RELEASE)
                b->st.button_down = 0;
            b->st.button_presses = be.count;
        }
        {
            json_t *ev = board_json_button(&be);
            board_clock_stamp(b, ev, be.t_us, 1);
            board_emit(b, "button", ev);
        }
        return;
    case PROTO_MSG_SENSOR_READING:
        if (proto_reading_decode(f->body, f->body_len, &rd) < 0)
            break;
        board_store_reading(b, &rd, true);
        return;
    case PROTO_MSG_FAULT:
        if (proto_fault_event_decode(f->body, f->body_len, &fe) < 0)
            break;
        board_emit(b, "fault", board_json_fault(&fe));
        return;
    case PROTO_MSG_LOG:
        if (f->body_len < 1)
            break;
        board_emit(b, "log", board_json_log(f->body, f->body_len));
        return;
    case PROTO_MSG_LINK_STATE:
        if (f->body_len >= 1 && f->body[0] == PROTO_LINK_WAITING)
            board_heard_waiting(b);
        return;
    default:
        b->cnt.unexpected++;
        return;
    }
    b->cnt.bad_bodies++;
}

/* Our request was refused for a reason that says where the board's session is (1.4). */
static void board_refused(board_t *b, uint8_t code)
{
    if (code == PROTO_E_NO_SESSION) {
        /* No HELLO since it booted: it reset. The request failed (board_reset). */
        board_heard_waiting(b);
    } else if (code == PROTO_E_STALE) {
        /* It took our seq for one from beyond its window: its newest seq is ahead of ours (a
         * damaged frame that passed the CRC). A new session empties its window. */
        if (!reqtrack_has_type(&b->rt, PROTO_MSG_HELLO)) {
            b->cnt.resyncs++;
            log_warning("board %s refused our request as old (stale_seq: its newest seq is "
                        "ahead of ours): new session",
                        b->id);
        }
        b->session = 0; /* the next HELLO draws a new id */
        board_send_hello(b);
    }
}

static void board_frame_cb(link_t *l, int status, const proto_frame_t *f)
{
    board_t *b = l->data;

    b->rx_us = board_mono_us();
    if (status < 0) {
        board_refuse_version(b, f->version, false); /* a frame of another major version */
        return;
    }
    b->last_rx_ms = board_now(b);
    if (b->state == BOARD_STALE)
        board_set_state(b, BOARD_ONLINE);
    else if (b->state == BOARD_OFFLINE)
        board_send_hello(b);

    if (reqtrack_match(&b->rt, f, board_now(b))) {
        board_rearm_requests(b);
        if (f->type == PROTO_MSG_ERROR && f->body_len >= 1)
            board_refused(b, f->body[0]);
        return;
    }
    if (f->type == PROTO_MSG_ACK(PROTO_MSG_HELLO)) {
        /* Unsolicited. Seq 0 (no request has it): the board announced itself after a reset.
         * Any other seq is the late or replayed answer to an old HELLO of ours (counted as
         * unmatched): taken as news it reported a reset that did not happen. */
        if (f->seq == 0)
            board_accept_hello(b, f);
        return;
    }
    if (proto_type_is_event(f->type))
        board_on_event(b, f);
    else if (!proto_type_is_ack(f->type) && f->type != PROTO_MSG_ERROR)
        b->cnt.unexpected++;
}

static void board_link_cb(link_t *l, bool up)
{
    board_t *b = l->data;

    if (up) {
        log_info("%s: opened", l->path);
        b->last_rx_ms = board_now(b);
        if (!board_is_reachable(b) && b->state != BOARD_OFFLINE)
            board_set_state(b, BOARD_HELLO);
        board_send_hello(b);
        return;
    }
    log_warning("%s: lost (%s), reopening", l->path, strerror(l->last_errno));
    board_reboot_done_by_reset(b, false); /* a USB board re-enumerating after REBOOT */
    reqtrack_cancel_all(&b->rt, -ECONNABORTED);
    board_wait_fail_all(b, -ECONNABORTED);
    board_set_state(b, b->id[0] ? BOARD_OFFLINE : BOARD_CONNECTING);
}

/* ---- life cycle --------------------------------------------------------------------------- */

int board_init(board_t *b, uv_loop_t *loop, const options_t *opt, const char *path,
               board_event_cb event_cb, void *data)
{
    int r;

    memset(b, 0, sizeof(*b));
    b->loop = loop;
    b->opt = opt;
    b->event_cb = event_cb;
    b->data = data;
    b->state = BOARD_CONNECTING;
    b->state_since_ms = uv_now(loop);
    clocksync_init(&b->clock);
    reqtrack_init(&b->rt, opt->request_timeout_ms, board_send_cb, b);
    uv_timer_init(loop, &b->tick);
    uv_timer_init(loop, &b->poll);
    uv_timer_init(loop, &b->req_timer);
    b->tick.data = b->poll.data = b->req_timer.data = b;
    r = link_init(&b->link, loop, path, opt->reopen_max_ms, board_frame_cb, board_link_cb, b);
    if (r < 0)
        return r; /* timers are initialised: the caller still calls board_close() */
    uv_timer_start(&b->tick, board_tick_cb, opt->heartbeat_ms, opt->heartbeat_ms);
    uv_timer_start(&b->poll, board_poll_cb, opt->poll_ms, opt->poll_ms);
    return 0;
}

void board_set_options(board_t *b, const options_t *opt)
{
    b->opt = opt;
    b->rt.timeout_ms = opt->request_timeout_ms;
    if (b->closing)
        return;
    if (uv_timer_get_repeat(&b->tick) != opt->heartbeat_ms) {
        uv_timer_start(&b->tick, board_tick_cb, opt->heartbeat_ms, opt->heartbeat_ms);
        b->hb_jitter.last_ns = 0; /* the next interval is not a period */
    }
    if (uv_timer_get_repeat(&b->poll) != opt->poll_ms) {
        uv_timer_start(&b->poll, board_poll_cb, opt->poll_ms, opt->poll_ms);
        b->poll_jitter.last_ns = 0;
    }
}

/* Requests outstanding when the board was closed fail here, from the loop, not inside the
 * owner's board_close() call (the first handle to finish closing runs them; the rest find
 * nothing left). The board is still allocated: their completions may read it. */
static void board_part_closed(board_t *b)
{
    reqtrack_cancel_all(&b->rt, -ECANCELED);
    board_wait_fail_all(b, -ECANCELED);
    if (--b->pending_closes == 0) {
        board_json_cache_free(b);
        if (b->close_cb)
            b->close_cb(b);
    }
}

static void board_timer_closed_cb(uv_handle_t *h)
{
    board_part_closed(h->data);
}

static void board_link_closed_cb(link_t *l)
{
    board_part_closed(l->data);
}

void board_close(board_t *b, board_close_cb cb)
{
    if (b->closing)
        return;
    b->closing = true;
    b->close_cb = cb;
    b->pending_closes = 4;
    uv_close((uv_handle_t *)&b->tick, board_timer_closed_cb);
    uv_close((uv_handle_t *)&b->poll, board_timer_closed_cb);
    uv_close((uv_handle_t *)&b->req_timer, board_timer_closed_cb);
    if (b->link.loop)
        link_close(&b->link, board_link_closed_cb);
    else
        board_part_closed(b);
}
