/*
 * link.c - host link task, TX queue with drop-oldest-event, response window, host watchdog.
 */
#include "link.h"

#include <string.h>

#include "board.h"
#include "config.h"
#include "hal.h"
#include "led.h"

typedef struct txslot {
    uint16_t len;
    uint8_t is_event;
    uint8_t data[PROTO_MAX_FRAME];
} txslot_t;

/* The exactly-once window: one slot per seq % PROTO_SEQ_WINDOW. The response is kept as its
 * body (re-framed on a duplicate, which gives the same bytes: the frame is a function of type,
 * seq and body), not as a frame: 32 bodies of up to CONFIG_LINK_WINDOW_BODY bytes fit the RAM
 * budget where 32 frames of PROTO_MAX_FRAME would not (docs/FIRMWARE.md, "Host link"). */
enum win_state {
    WIN_EMPTY = 0,
    WIN_PENDING, /* executing (deferred): its response is on the way */
    WIN_ACK,     /* answered with PROTO_MSG_ACK(type), body[0..len) */
    WIN_ERROR,   /* answered with ERROR, body[0..len) */
    WIN_ECHO,    /* PING: the answer is the request's own body, nothing to keep */
    WIN_LOST,    /* the answer did not fit: a duplicate is refused, never executed again */
};

typedef struct win_slot {
    uint16_t seq;
    uint8_t type; /* the request's type */
    uint8_t state;
    uint8_t len;
    uint8_t body[CONFIG_LINK_WINDOW_BODY];
} win_slot_t;

/* The steps of the RX side. Each is one run of the link task, so that neither a flood of
 * bytes nor a large frame makes a long run (docs/FIRMWARE.md, "Fairness under load"). */
enum rx_step {
    RX_FEED = 0, /* take up to CONFIG_LINK_RX_BYTES bytes from the port into the decoder */
    RX_HANDLE,   /* a frame (or a decoding error) is waiting to be handled */
    RX_ANSWER,   /* an answer's body is ready; framing it is the next run's work */
};

/* An answer whose framing (CRC + COBS of the whole frame) is left for runs of its own. */
typedef struct answer {
    const uint8_t *body; /* lk.body, a window slot's body, or the request's (in the decoder) */
    uint16_t len;
    uint16_t seq;
    uint8_t type; /* frame type: PROTO_MSG_ACK(req_type) or PROTO_MSG_ERROR */
    uint8_t req_type;
    uint8_t keep; /* WIN_ACK / WIN_ERROR: keep it in the window; WIN_EMPTY: do not */
} answer_t;

static int txq_push_frame(const uint8_t *frame, size_t n);

_Static_assert(CONFIG_LINK_WINDOW_BODY <= 255, "window body length is a uint8_t");
/* Every answer but PING's (echoed) and HELLO's (never a duplicate) must fit a slot. */
_Static_assert(CONFIG_LINK_WINDOW_BODY >= 1 + PROTO_I2C_MAX_DATA, "I2C_XFER ack must fit");
_Static_assert(CONFIG_LINK_WINDOW_BODY >= 1 + PROTO_READING_SIZE * CONFIG_MAX_SENSORS,
               "READ_SENSORS ack must fit");
_Static_assert(CONFIG_LINK_WINDOW_BODY >= 58, "STATS ack must fit");

static struct {
    /* TX queue: order[0..count) are slot indices, oldest first; tx_off bytes of the oldest
     * are already written to the port. */
    txslot_t slots[CONFIG_TXQ_SLOTS];
    uint8_t order[CONFIG_TXQ_SLOTS];
    uint8_t count, responses;
    uint16_t tx_off;
    uint16_t deferred;     /* requests answered later (each will need a response slot) */
    uint32_t drops_unsent; /* drops not yet reported by a FAULT event */
    uint16_t evt_seq;

    /* Exactly-once window: the answers to the last PROTO_SEQ_WINDOW request seqs. */
    win_slot_t win[PROTO_SEQ_WINDOW];
    uint16_t newest;  /* the newest request seq of this session (valid if have_newest) */
    bool have_newest; /* a request was heard since the window was last emptied */
    /* The host session (PROTOCOL.md "Sessions"): none since boot until a HELLO. */
    bool in_session;
    uint32_t session; /* the session id of the last HELLO (0: a host older than 1.4) */

    /* RX, one bounded step per run (link_receive): feed bytes, handle a frame, frame an answer */
    proto_decoder_t dec;
    uint8_t rx[CONFIG_LINK_RX_CHUNK];
    uint16_t rx_len, rx_pos;
    uint8_t rx_step;     /* enum rx_step */
    int frame_rc;        /* RX_HANDLE: what the decoder said about frame */
    proto_frame_t frame; /* RX_HANDLE: borrowed from dec until the next feed */
    answer_t answer;     /* RX_ANSWER: an answer being framed, a step per run */
    proto_frame_writer_t fw;
    uint8_t fbuf[PROTO_MAX_FRAME]; /* its frame (copied into a TX slot when complete) */
    uint8_t body[PROTO_MAX_BODY];  /* response body scratch */

    /* host watchdog and link state */
    uint8_t state;
    uint32_t host_timeout_us;
    uint32_t last_rx_us;
    bool silent;
    uint32_t silent_until;
    volatile uint8_t conn_changed;
    volatile uint8_t connected;
    bool state_event_pending; /* LINK_STATE for lk.state not framed yet */
    void (*after_fn)(uint32_t);
    uint32_t after_arg;
    uint32_t after_deadline; /* run after_fn by then even if the host never drained the port */

    link_counters_t ctr;
    sched_event_t ev; /* rx, tx space, connection change, self-wake */
} lk;

sched_task_t link_task;

void link_rx_isr(void)
{
    sched_event_set(&lk.ev);
}

void link_tx_isr(void)
{
    sched_event_set(&lk.ev);
}

void link_conn_isr(bool connected)
{
    lk.connected = connected ? 1 : 0;
    lk.conn_changed = 1;
    sched_event_set(&lk.ev);
}

uint8_t link_state(void)
{
    return lk.state;
}

const link_counters_t *link_counters(void)
{
    return &lk.ctr;
}

const proto_decoder_stats_t *link_decoder_stats(void)
{
    return &lk.dec.stats;
}

uint8_t link_pending_events(void)
{
    return (uint8_t)(lk.count - lk.responses);
}

/* ---- TX queue ---------------------------------------------------------------------------- */

static void txq_remove(uint8_t pos)
{
    uint8_t slot = lk.order[pos];
    if (!lk.slots[slot].is_event)
        lk.responses--;
    for (uint8_t i = pos; i + 1 < lk.count; i++)
        lk.order[i] = lk.order[i + 1];
    lk.count--;
    lk.order[lk.count] = slot;
}

/* Evict the oldest event not partly sent. Returns false if there is none. */
static bool txq_drop_oldest_event(void)
{
    for (uint8_t i = (lk.tx_off ? 1 : 0); i < lk.count; i++) {
        if (lk.slots[lk.order[i]].is_event) {
            txq_remove(i);
            lk.ctr.tx_events_dropped++;
            lk.drops_unsent++;
            return true;
        }
    }
    return false;
}

static bool link_flush(void);

/* A free slot for a new frame (evicting an event if needed), or NULL: then *rc says why
 * (0: the new event itself was dropped, counted). */
static txslot_t *txq_free_slot(bool is_event, int *rc)
{
    if (lk.count == CONFIG_TXQ_SLOTS && !txq_drop_oldest_event()) {
        if (is_event) {
            lk.ctr.tx_events_dropped++; /* full of responses: the new event is the oldest */
            lk.drops_unsent++;
            *rc = 0;
            return NULL;
        }
        *rc = -PROTO_E_BUSY; /* cannot happen: see link_can_take_request() */
        return NULL;
    }
    return &lk.slots[lk.order[lk.count]];
}

/* Queue the frame just written into slot s. */
static void txq_commit(txslot_t *s, size_t n, bool is_event)
{
    s->len = (uint16_t)n;
    s->is_event = is_event ? 1 : 0;
    lk.count++;
    if (!is_event)
        lk.responses++;
    /* Written to the port by the link task, in a run of its own: the producer's run (a
     * sensor reading, a button event, a response) only frames, which halves the longest run. */
    sched_event_set(&lk.ev);
}

/* Encode a frame into a free slot (evicting an event if needed). */
static int txq_push(bool is_event, uint8_t type, uint16_t seq, const uint8_t *body, size_t len)
{
    int rc = 0;
    if (len > PROTO_MAX_BODY)
        return -PROTO_E_LENGTH;
    txslot_t *s = txq_free_slot(is_event, &rc);
    if (!s)
        return rc;
    int n = proto_frame_encode(s->data, sizeof(s->data), type, seq, body, len);
    if (n < 0)
        return n;
    txq_commit(s, (size_t)n, is_event);
    return 0;
}

/* Queue a response framed elsewhere (answer_step). */
static int txq_push_frame(const uint8_t *frame, size_t n)
{
    int rc = 0;
    txslot_t *s = txq_free_slot(false, &rc);
    if (!s)
        return rc;
    memcpy(s->data, frame, n);
    txq_commit(s, n, false);
    return 0;
}

/* ---- exactly-once window ------------------------------------------------------------------ */

static win_slot_t *win_slot(uint16_t seq)
{
    return &lk.win[seq % PROTO_SEQ_WINDOW];
}

/* Forget every answer (a HELLO: a new host session; a new opener of the port). */
static void win_clear(void)
{
    for (unsigned i = 0; i < PROTO_SEQ_WINDOW; i++)
        lk.win[i].state = WIN_EMPTY;
    lk.have_newest = false;
}

/* A request older than the window: PROTO_SEQ_WINDOW or more (and less than half the seq space)
 * behind the newest seq of the session. The host never sends one (its rule 2 keeps retries in
 * the window), so it is a frame replayed from further back, or damaged: never executed. A seq
 * ahead becomes the newest. */
static bool win_stale(uint16_t seq)
{
    uint16_t behind = (uint16_t)(lk.newest - seq);
    if (lk.have_newest && behind >= PROTO_SEQ_WINDOW && behind < 0x8000u)
        return true;
    if (!lk.have_newest || behind >= 0x8000u)
        lk.newest = seq;
    lk.have_newest = true;
    return false;
}

/* Keep the answer of request (seq, req_type) if its slot is still waiting for it: a HELLO
 * in between emptied the window, and an answer nobody can ask for again is not kept. */
static void win_record(uint16_t seq, uint8_t req_type, uint8_t state, const uint8_t *body,
                       size_t len)
{
    win_slot_t *w = win_slot(seq);
    if (w->state != WIN_PENDING || w->seq != seq || w->type != req_type)
        return;
    if (req_type == PROTO_MSG_PING && state == WIN_ACK) {
        w->state = WIN_ECHO;
        return;
    }
    if (len > sizeof(w->body)) {
        w->state = WIN_LOST; /* cannot happen: config.h sizes a slot for every answer */
        return;
    }
    memcpy(w->body, body, len);
    w->len = (uint8_t)len;
    w->state = state;
}

/* Queue the answer to request (seq, req_type) and keep it in the window. */
static int respond_now(uint16_t seq, uint8_t req_type, const uint8_t *body, size_t len)
{
    int rc = txq_push(false, PROTO_MSG_ACK(req_type), seq, body, len);
    if (rc == 0)
        win_record(seq, req_type, WIN_ACK, body, len);
    return rc;
}

static int respond_error_now(uint16_t seq, uint8_t req_type, uint8_t code, uint16_t detail,
                             bool keep)
{
    proto_error_t e = {code, req_type, detail};
    uint8_t b[8];
    int n = proto_error_encode(&e, b, sizeof(b));
    if (n < 0)
        return n;
    int rc = txq_push(false, PROTO_MSG_ERROR, seq, b, (size_t)n);
    if (rc == 0 && keep)
        win_record(seq, req_type, WIN_ERROR, b, (size_t)n);
    return rc;
}

/* Frame and queue an answer; keep it in the window if a->keep says so. */
static void answer_send(const answer_t *a)
{
    int rc = txq_push(false, a->type, a->seq, a->body, a->len);
    if (rc == 0 && a->keep != WIN_EMPTY)
        win_record(a->seq, a->req_type, a->keep, a->body, a->len);
}

/* Framing costs ~40 cycles per body byte (CRC, COBS, the copy into the window): a short answer
 * is framed in the run that handled its request, a longer one (HELLO's, GET_STATS', a large
 * PING's) in the link task's next runs, CONFIG_LINK_FRAME_STEP bytes of work per run
 * (RX_ANSWER). Its body stays put meanwhile: nothing is fed to the decoder, dispatched or
 * recorded in the window until the frame is queued. */
static void answer_soon(const uint8_t *body, size_t len, uint16_t seq, uint8_t type,
                        uint8_t req_type, uint8_t keep)
{
    answer_t a = {body, (uint16_t)len, seq, type, req_type, keep};
    if (len <= CONFIG_LINK_ANSWER_INLINE ||
        proto_frame_writer_init(&lk.fw, lk.fbuf, sizeof(lk.fbuf), type, seq, body, len) < 0) {
        answer_send(&a); /* (an oversized body fails there, as it always did) */
        return;
    }
    lk.answer = a;
    lk.rx_step = RX_ANSWER;
}

/* RX_ANSWER: one step of framing the pending answer; queue it once complete. */
static void answer_step(void)
{
    int n = proto_frame_writer_step(&lk.fw, CONFIG_LINK_FRAME_STEP);
    if (n == 0)
        return;
    lk.rx_step = RX_FEED;
    const answer_t *a = &lk.answer;
    if (n > 0 && txq_push_frame(lk.fbuf, (size_t)n) == 0 && a->keep != WIN_EMPTY)
        win_record(a->seq, a->req_type, a->keep, a->body, a->len);
}

/* A duplicate: answer it from the window (the same bytes as the first answer), or not at all
 * while the first copy is still being executed. */
static void win_answer(const win_slot_t *w, const proto_frame_t *f)
{
    switch (w->state) {
    case WIN_ACK:
        answer_soon(w->body, w->len, w->seq, PROTO_MSG_ACK(w->type), w->type, WIN_EMPTY);
        break;
    case WIN_ERROR:
        answer_soon(w->body, w->len, w->seq, PROTO_MSG_ERROR, w->type, WIN_EMPTY);
        break;
    case WIN_ECHO:
        answer_soon(f->body, f->body_len, f->seq, PROTO_MSG_ACK(PROTO_MSG_PING), PROTO_MSG_PING,
                    WIN_EMPTY);
        break;
    case WIN_LOST:
        (void)respond_error_now(f->seq, f->type, PROTO_E_INTERNAL, 0, false);
        break;
    default: /* WIN_PENDING: its response is on the way */
        break;
    }
}

static void report_drops(void)
{
    if (!lk.drops_unsent || lk.count >= CONFIG_TXQ_SLOTS)
        return;
    proto_fault_event_t fe = {PROTO_FAULT_QUEUE_DROP, 0xff, lk.ctr.tx_events_dropped};
    uint8_t b[16];
    int n = proto_fault_event_encode(&fe, b, sizeof(b));
    lk.drops_unsent = 0;
    if (n >= 0)
        (void)txq_push(true, PROTO_MSG_FAULT, lk.evt_seq++, b, (size_t)n);
}

/* Hand queued frames to the port, at most CONFIG_LINK_TX_BYTES bytes per run (the copy into
 * the port's buffer costs a few cycles per byte, and six full slots are 1.5 KiB). Returns true
 * if any byte was written; with more left for a next run, the link task's event is set. */
static bool link_flush(void)
{
    bool wrote = false;
    size_t budget = CONFIG_LINK_TX_BYTES;
    if (lk.silent)
        return false;
    while (lk.count) {
        txslot_t *s = &lk.slots[lk.order[0]];
        size_t want = (size_t)(s->len - lk.tx_off);
        if (want > budget)
            want = budget;
        size_t n = hal_link_write(s->data + lk.tx_off, want);
        lk.tx_off = (uint16_t)(lk.tx_off + n);
        budget -= n;
        wrote = wrote || n > 0;
        if (budget == 0 && (lk.tx_off < s->len || lk.count > 1)) {
            if (lk.tx_off == s->len) {
                lk.tx_off = 0;
                lk.ctr.tx_frames++;
                txq_remove(0);
            }
            sched_event_set(&lk.ev); /* the rest in the next run */
            return wrote;
        }
        if (lk.tx_off < s->len)
            return wrote; /* the port is full: link_tx_isr wakes us */
        lk.tx_off = 0;
        lk.ctr.tx_frames++;
        txq_remove(0);
    }
    report_drops();
    return wrote;
}

int link_send_event(uint8_t type, const uint8_t *body, size_t len)
{
    return txq_push(true, type, lk.evt_seq++, body, len);
}

int link_respond(uint16_t seq, uint8_t req_type, const uint8_t *body, size_t len)
{
    if (lk.deferred)
        lk.deferred--;
    return respond_now(seq, req_type, body, len);
}

int link_respond_error(uint16_t seq, uint8_t req_type, uint8_t code, uint16_t detail)
{
    if (lk.deferred)
        lk.deferred--;
    return respond_error_now(seq, req_type, code, detail, true);
}

/* A request may be taken only if its response (and every deferred one) has a slot. */
static bool link_can_take_request(void)
{
    return (unsigned)lk.responses + lk.deferred + 1u <= CONFIG_TXQ_SLOTS;
}

/* ---- link state and host watchdog ---------------------------------------------------------- */

static void send_state_event(uint8_t st)
{
    uint8_t b[1] = {st};
    (void)link_send_event(PROTO_MSG_LINK_STATE, b, 1);
}

/* The LINK_STATE event is framed by the link task in a run of its own (link_fn): a HELLO's
 * run frames only its ack, which keeps the longest run short. A second change before the
 * first was sent frames the first at once, so the host still sees every transition. */
static void set_state(uint8_t st)
{
    if (st == lk.state)
        return;
    if (lk.state_event_pending)
        send_state_event(lk.state);
    lk.state = st;
    led_set_link_state(st);
    lk.state_event_pending = true;
    sched_event_set(&lk.ev);
}

static void send_fault(uint8_t kind, uint32_t detail)
{
    proto_fault_event_t fe = {kind, 0xff, detail};
    uint8_t b[16];
    int n = proto_fault_event_encode(&fe, b, sizeof(b));
    if (n >= 0)
        (void)link_send_event(PROTO_MSG_FAULT, b, (size_t)n);
}

void link_hello(uint16_t host_timeout_ms, uint32_t session)
{
    lk.in_session = true;
    lk.session = session;
    uint32_t ms = host_timeout_ms ? host_timeout_ms : CONFIG_HOST_TIMEOUT_MS;
    if (ms < CONFIG_HOST_TIMEOUT_MIN_MS)
        ms = CONFIG_HOST_TIMEOUT_MIN_MS;
    lk.host_timeout_us = ms * 1000u;
    set_state(PROTO_LINK_ONLINE);
}

static void host_heard(void)
{
    lk.last_rx_us = hal_time_us();
    if (lk.state == PROTO_LINK_HOST_LOST) {
        set_state(PROTO_LINK_ONLINE);
        send_fault(PROTO_FAULT_HOST_BACK, lk.ctr.host_lost_count);
    }
}

/* Microseconds until the host watchdog fires, or SCHED_FOREVER when it is not armed. */
static uint32_t watchdog_check(uint32_t now)
{
    uint32_t wait = SCHED_FOREVER;
    if (lk.silent) {
        if (!sched_time_before(now, lk.silent_until))
            lk.silent = false;
        else
            wait = lk.silent_until - now;
    }
    if (lk.state != PROTO_LINK_ONLINE || lk.host_timeout_us == 0)
        return wait;
    uint32_t deadline = lk.last_rx_us + lk.host_timeout_us;
    if (sched_time_before(now, deadline)) {
        uint32_t left = deadline - now;
        return left < wait ? left : wait;
    }
    lk.ctr.host_lost_count++;
    set_state(PROTO_LINK_HOST_LOST);
    send_fault(PROTO_FAULT_HOST_LOST, lk.ctr.host_lost_count);
    requests_host_lost();
    return wait;
}

void link_silence(uint32_t ms)
{
    lk.silent_until = hal_time_us() + ms * 1000u;
    lk.silent = true;
    sched_event_set(&lk.ev); /* re-arm the link task's timeout */
}

void link_after_flush(void (*fn)(uint32_t arg), uint32_t arg)
{
    lk.after_fn = fn;
    lk.after_arg = arg;
    lk.after_deadline = hal_time_us() + CONFIG_LINK_DRAIN_US;
    sched_event_set(&lk.ev);
}

/* after_fn (a reboot) runs once the TX queue is empty AND the port has handed everything to
 * the host: on USB the last frame can sit in the CDC ring or an armed IN buffer, and a reset
 * then would lose the REBOOT acknowledgement. A host that stopped reading must not keep the
 * board from rebooting, hence the deadline. */
static void link_run_after_flush(void)
{
    if (!lk.after_fn || lk.count != 0)
        return;
    if (hal_link_tx_pending() != 0 && sched_time_before(hal_time_us(), lk.after_deadline))
        return;
    void (*fn)(uint32_t) = lk.after_fn;
    lk.after_fn = NULL;
    fn(lk.after_arg);
}

/* ---- RX and dispatch ------------------------------------------------------------------------- */

/* A request is executed once per (seq, type) in the window; a repeat is answered from there
 * (PROTOCOL.md, "Exactly once"). */
/* A HELLO with the id of the board's session (protocol 1.4): the host re-introducing itself
 * on the same open of the port, or a replay of its HELLO. */
static bool hello_of_the_session(const proto_frame_t *f)
{
    proto_hello_req_t h;
    return proto_hello_req_decode(f->body, f->body_len, &h) == 0 && h.session != 0 &&
           lk.in_session && h.session == lk.session;
}

static void handle_request(const proto_frame_t *f)
{
    host_heard();
    bool hello = f->type == PROTO_MSG_HELLO;
    if (!hello && !lk.in_session && proto_type_acts(f->type)) {
        /* No HELLO since boot: this may be the retry of a request that the board acted on
         * before it reset (and forgot). Not done; the host learns of the reset. */
        (void)respond_error_now(f->seq, f->type, PROTO_E_NO_SESSION, 0, false);
        return;
    }
    if (hello && !hello_of_the_session(f)) {
        win_clear(); /* a new session: its seqs start afresh; HELLO itself is never kept */
        (void)win_stale(f->seq);
    } else if (win_stale(f->seq)) {
        /* From beyond the window: a replay, or the host's seqs fell behind the newest (a
         * damaged frame that passed the CRC with a seq far ahead). Not done; refused, so that
         * a host whose own request this is knows at once (it starts a new session). */
        lk.ctr.rx_duplicates++;
        (void)respond_error_now(f->seq, f->type, PROTO_E_STALE, 0, false);
        return;
    } else if (!hello) {
        win_slot_t *w = win_slot(f->seq);
        if (w->state != WIN_EMPTY && w->seq == f->seq && w->type == f->type) {
            lk.ctr.rx_duplicates++;
            win_answer(w, f);
            return;
        }
        w->seq = f->seq;
        w->type = f->type;
        w->state = WIN_PENDING;
    }
    int n = requests_dispatch(f, lk.body, sizeof(lk.body));
    if (n == LINK_DEFERRED) {
        lk.deferred++;
        return;
    }
    if (n < 0) {
        (void)respond_error_now(f->seq, f->type, (uint8_t)-n, 0, true);
        return;
    }
    answer_soon(lk.body, (size_t)n, f->seq, PROTO_MSG_ACK(f->type), f->type, WIN_ACK);
}

static void handle_frame(int rc, const proto_frame_t *f)
{
    if (rc == -PROTO_E_VERSION) {
        (void)respond_error_now(f->seq, f->type, PROTO_E_VERSION, f->version, false);
        return;
    }
    if (rc < 0)
        return; /* counted by the decoder; resynchronised at the next delimiter */
    if (!proto_type_is_request(f->type)) {
        lk.ctr.rx_unknown++;
        return; /* acks/events/errors from a host make no sense: drop, do not answer */
    }
    handle_request(f);
}

/* RX_FEED: take at most CONFIG_LINK_RX_BYTES bytes from the port - valid, garbage, delimiters
 * and bytes dropped while silent all count - and stop at the first frame the decoder
 * completes or rejects (handled in the next run: RX_HANDLE). The decoder does its COBS and CRC
 * work byte by byte, so completing even the largest frame adds nothing proportional to its
 * length (proto.h). Returns true if more work may be waiting, false when the port is empty or
 * no response slot is free (link_tx_isr wakes us then); *took = the bytes taken. */
static bool link_feed(size_t *took)
{
    size_t budget = CONFIG_LINK_RX_BYTES;
    *took = 0;
    while (budget > 0) {
        if (lk.rx_pos == lk.rx_len) {
            lk.rx_pos = lk.rx_len = 0;
            size_t n = hal_link_read(lk.rx, budget < sizeof(lk.rx) ? budget : sizeof(lk.rx));
            if (n == 0)
                return false;
            *took += n;
            if (lk.silent) {
                budget -= n; /* a silent board drops what it hears */
                continue;
            }
            lk.rx_len = (uint16_t)n;
        }
        if (!link_can_take_request())
            return false; /* wait for TX space (link_tx_isr wakes us) */
        size_t avail = (size_t)(lk.rx_len - lk.rx_pos), used = 0;
        if (avail > budget)
            avail = budget;
        int rc = proto_decoder_feed(&lk.dec, lk.rx + lk.rx_pos, avail, &used, &lk.frame);
        lk.rx_pos = (uint16_t)(lk.rx_pos + used);
        budget -= used;
        if (rc != 0) {
            lk.frame_rc = rc;
            lk.rx_step = RX_HANDLE;
            return true;
        }
    }
    return true;
}

/* What link_receive did. */
enum { RX_NONE, RX_DONE, RX_MORE };

/* One bounded step of RX work (enum rx_step). Returns RX_NONE if it found nothing to do,
 * RX_DONE if it worked and the port is empty (or no response slot is free), RX_MORE if work
 * remains. */
static int link_receive(void)
{
    switch (lk.rx_step) {
    case RX_ANSWER:
        answer_step();
        return RX_MORE;
    case RX_HANDLE:
        lk.rx_step = RX_FEED;
        handle_frame(lk.frame_rc, &lk.frame); /* may leave its answer for the next runs */
        return RX_MORE;
    default: {
        size_t took = 0;
        bool more = link_feed(&took);
        return more ? RX_MORE : took > 0 ? RX_DONE : RX_NONE;
    }
    }
}

static void link_reset_session(void)
{
    lk.count = lk.responses = 0;
    lk.tx_off = 0;
    for (uint8_t i = 0; i < CONFIG_TXQ_SLOTS; i++)
        lk.order[i] = i;
    lk.rx_len = lk.rx_pos = 0;
    lk.rx_step = RX_FEED;
    win_clear();
    proto_decoder_init(&lk.dec);
}

/* Wake for the host watchdog, and at least once a second for the uptime extension. */
static uint32_t link_wait_us(void)
{
    uint32_t w = watchdog_check(hal_time_us());
    uint32_t cap = lk.after_fn ? 1000u : 1000000u; /* draining before a reboot: look often */
    return w < cap ? w : cap;
}

static sched_ret_t link_fn(sched_task_t *t)
{
    TASK_BEGIN(t);
    for (;;) {
        TASK_AWAIT(t, &lk.ev, link_wait_us());
        if (lk.state_event_pending && lk.rx_step != RX_ANSWER) { /* (a HELLO's ack first) */
            lk.state_event_pending = false;
            send_state_event(lk.state);
            TASK_YIELD(t); /* the rest of this round in the next run */
        }
        board_uptime_tick(); /* keeps the 64-bit uptime extension current */
        if (lk.conn_changed) {
            lk.conn_changed = 0;
            if (lk.connected) {
                /* A new opener: what was queued for the previous one is stale. */
                uint32_t keep = lk.ctr.tx_events_dropped;
                link_reset_session();
                lk.ctr.tx_events_dropped = keep;
                lk.drops_unsent = 0;
            }
        }
        if (link_flush()) {
            /* Writing to the port was this run's work; a request is the next run's (its
             * decoding and framing would otherwise add up with the writes in one run). */
            TASK_YIELD(t);
        }
        link_run_after_flush();
        int rx = link_receive();
        (void)watchdog_check(hal_time_us());
        if (rx != RX_NONE) {
            /* One step of RX work per run: continue after the others had a turn. (Only setting
             * the event is not enough: the next TASK_AWAIT would find it set and go on in the
             * same run - as it would with an event the RX interrupt set meanwhile.) */
            if (rx == RX_MORE)
                sched_event_set(&lk.ev);
            TASK_YIELD(t);
        }
    }
    TASK_END(t);
}

void link_init(void)
{
    memset(&lk, 0, sizeof(lk));
    link_reset_session();
    sched_event_init(&lk.ev, true);
    lk.connected = hal_link_is_connected() ? 1 : 0;
    uint8_t cause = hal_reset_cause();
    lk.state = (cause == PROTO_RESET_WATCHDOG || cause == PROTO_RESET_FAULT) ? PROTO_LINK_FAULT
                                                                             : PROTO_LINK_WAITING;
    led_set_link_state(lk.state);
    memset(&link_task, 0, sizeof(link_task));
    (void)sched_task_add(&link_task, link_fn, "link");
    sched_event_set(&lk.ev);
}
