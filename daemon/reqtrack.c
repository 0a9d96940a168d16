/* reqtrack.c - see reqtrack.h. */
#include "reqtrack.h"

#include <errno.h>
#include <string.h>

void reqtrack_init(reqtrack_t *rt, uint32_t timeout_ms, reqtrack_send_fn send, void *send_ctx)
{
    memset(rt, 0, sizeof(*rt));
    rt->timeout_ms = timeout_ms;
    rt->send = send;
    rt->send_ctx = send_ctx;
    rt->next_seq = 1;
}

/* A retriable request whose seq the new one would push out of the board's window loses its
 * retry: the board may have forgotten its answer by the time the retry arrives. */
static void reqtrack_keep_window(reqtrack_t *rt, uint16_t seq)
{
    for (size_t i = 0; i < REQTRACK_MAX; i++) {
        reqtrack_entry_t *e = &rt->e[i];

        if (e->used && !e->retried && !e->once && (uint16_t)(seq - e->seq) >= PROTO_SEQ_WINDOW) {
            e->once = true;
            rt->stats.retries_forbidden++;
        }
    }
}

static uint16_t reqtrack_take_seq(reqtrack_t *rt)
{
    uint16_t seq = rt->next_seq;

    rt->next_seq = (uint16_t)(rt->next_seq + 1);
    if (rt->next_seq == 0)
        rt->next_seq = 1;
    reqtrack_keep_window(rt, seq);
    return seq;
}

int reqtrack_submit(reqtrack_t *rt, uint8_t type, const uint8_t *body, size_t len, uint64_t now,
                    reqtrack_done_cb cb, void *ud)
{
    return reqtrack_submit_ex(rt, type, body, len, now, rt->timeout_ms, false, cb, ud);
}

int reqtrack_submit_ex(reqtrack_t *rt, uint8_t type, const uint8_t *body, size_t len, uint64_t now,
                       uint32_t timeout_ms, bool once, reqtrack_done_cb cb, void *ud)
{
    reqtrack_entry_t *e = NULL;
    int r;

    if (len > PROTO_MAX_BODY)
        return -EINVAL;
    for (size_t i = 0; i < REQTRACK_MAX; i++) {
        if (!rt->e[i].used) {
            e = &rt->e[i];
            break;
        }
    }
    if (!e) {
        rt->stats.full++;
        return -EBUSY;
    }
    e->type = type;
    e->seq = reqtrack_take_seq(rt);
    e->gen = ++rt->gen;
    e->body_len = (uint16_t)len;
    if (len)
        memcpy(e->body, body, len);
    r = rt->send(rt->send_ctx, type, e->seq, e->body, len);
    if (r < 0)
        return r;
    e->used = true;
    e->retried = false;
    e->once = once;
    e->timeout_ms = timeout_ms;
    e->sent_at = now;
    e->deadline = now + timeout_ms;
    e->cb = cb;
    e->ud = ud;
    rt->stats.sent++;
    return 0;
}

/* Free the entry before running its completion, so the callback may submit new requests;
 * an entry completes once because only a used entry is ever completed, and it is released
 * here, first. */
static void reqtrack_complete(reqtrack_t *rt, reqtrack_entry_t *e, int status,
                              const proto_frame_t *f)
{
    reqtrack_done_cb cb = e->cb;
    void *ud = e->ud;

    (void)rt;
    e->used = false;
    e->cb = NULL;
    e->ud = NULL;
    if (cb)
        cb(ud, status, f);
}

/* The entries outstanding now, as (index, generation) pairs: a loop that runs completions
 * (which may submit, or complete others) re-checks each before touching it. */
typedef struct reqtrack_snapshot {
    size_t n;
    uint8_t idx[REQTRACK_MAX];
    uint32_t gen[REQTRACK_MAX];
} reqtrack_snapshot_t;

static void reqtrack_snap(const reqtrack_t *rt, reqtrack_snapshot_t *sn)
{
    sn->n = 0;
    for (size_t i = 0; i < REQTRACK_MAX; i++) {
        if (rt->e[i].used) {
            sn->idx[sn->n] = (uint8_t)i;
            sn->gen[sn->n++] = rt->e[i].gen;
        }
    }
}

/* Entry k of the snapshot if it is still the same outstanding request, else NULL. */
static reqtrack_entry_t *reqtrack_snap_get(reqtrack_t *rt, const reqtrack_snapshot_t *sn, size_t k)
{
    reqtrack_entry_t *e = &rt->e[sn->idx[k]];

    return e->used && e->gen == sn->gen[k] ? e : NULL;
}

bool reqtrack_match(reqtrack_t *rt, const proto_frame_t *f, uint64_t now)
{
    bool is_error = f->type == PROTO_MSG_ERROR;

    if (!is_error && !proto_type_is_ack(f->type))
        return false;
    for (size_t i = 0; i < REQTRACK_MAX; i++) {
        reqtrack_entry_t *e = &rt->e[i];
        proto_error_t err;
        uint32_t rtt;

        if (!e->used || e->seq != f->seq)
            continue;
        if (!is_error && f->type != PROTO_MSG_ACK(e->type))
            break; /* right seq, wrong answer: not ours */
        rtt = (uint32_t)(now - e->sent_at);
        rt->stats.last_rtt_ms = rtt;
        if (rtt > rt->stats.max_rtt_ms)
            rt->stats.max_rtt_ms = rtt;
        if (is_error) {
            rt->stats.errors++;
            if (proto_error_decode(f->body, f->body_len, &err) < 0 || err.code == 0)
                err.code = PROTO_E_INTERNAL;
            reqtrack_complete(rt, e, err.code, f);
        } else {
            rt->stats.acked++;
            reqtrack_complete(rt, e, 0, f);
        }
        return true;
    }
    rt->stats.unmatched++;
    return false;
}

void reqtrack_expire(reqtrack_t *rt, uint64_t now)
{
    reqtrack_snapshot_t sn;

    reqtrack_snap(rt, &sn);
    for (size_t k = 0; k < sn.n; k++) {
        reqtrack_entry_t *e = reqtrack_snap_get(rt, &sn, k);
        uint32_t gen;
        int r;

        if (!e || e->deadline > now)
            continue;
        if (e->retried || e->once) {
            rt->stats.timeouts++;
            reqtrack_complete(rt, e, -ETIMEDOUT, NULL);
            continue;
        }
        gen = e->gen;
        r = rt->send(rt->send_ctx, e->type, e->seq, e->body, e->body_len);
        if (!e->used || e->gen != gen)
            continue; /* a send that called back and completed it: never twice */
        if (r == 0) {
            e->retried = true;
            e->deadline = now + e->timeout_ms;
            rt->stats.retries++;
            continue;
        }
        rt->stats.timeouts++;
        reqtrack_complete(rt, e, -ECONNABORTED, NULL);
    }
}

uint64_t reqtrack_next_deadline(const reqtrack_t *rt)
{
    uint64_t next = UINT64_MAX;

    for (size_t i = 0; i < REQTRACK_MAX; i++)
        if (rt->e[i].used && rt->e[i].deadline < next)
            next = rt->e[i].deadline;
    return next;
}

size_t reqtrack_pending(const reqtrack_t *rt)
{
    size_t n = 0;

    for (size_t i = 0; i < REQTRACK_MAX; i++)
        n += rt->e[i].used;
    return n;
}

bool reqtrack_has_type(const reqtrack_t *rt, uint8_t type)
{
    for (size_t i = 0; i < REQTRACK_MAX; i++)
        if (rt->e[i].used && rt->e[i].type == type)
            return true;
    return false;
}

size_t reqtrack_finish_type(reqtrack_t *rt, uint8_t type, int status)
{
    reqtrack_snapshot_t sn;
    size_t n = 0;

    reqtrack_snap(rt, &sn);
    for (size_t k = 0; k < sn.n; k++) {
        reqtrack_entry_t *e = reqtrack_snap_get(rt, &sn, k);

        if (e && e->type == type) {
            reqtrack_complete(rt, e, status, NULL);
            n++;
        }
    }
    return n;
}

void reqtrack_cancel_all(reqtrack_t *rt, int status)
{
    reqtrack_snapshot_t sn;

    reqtrack_snap(rt, &sn);
    for (size_t k = 0; k < sn.n; k++) {
        reqtrack_entry_t *e = reqtrack_snap_get(rt, &sn, k);

        if (e) {
            rt->stats.cancelled++;
            reqtrack_complete(rt, e, status, NULL);
        }
    }
}

void reqtrack_forbid_retries(reqtrack_t *rt)
{
    for (size_t i = 0; i < REQTRACK_MAX; i++) {
        reqtrack_entry_t *e = &rt->e[i];

        if (e->used && !e->retried && !e->once) {
            e->once = true;
            rt->stats.retries_forbidden++;
        }
    }
}
