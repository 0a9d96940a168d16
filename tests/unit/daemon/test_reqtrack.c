/* Unit tests of reqtrack: seq allocation, matching, retry with the same seq, timeouts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reqtrack.h"

typedef struct fake_link {
    int sends;
    uint8_t last_type;
    uint16_t last_seq;
    int fail; /* error to return from send */
} fake_link_t;

typedef struct done {
    int calls;
    int status;
    uint8_t type;
} done_t;

static int fake_send(void *ctx, uint8_t type, uint16_t seq, const uint8_t *body, size_t len)
{
    fake_link_t *l = ctx;

    (void)body;
    (void)len;
    if (l->fail)
        return l->fail;
    l->sends++;
    l->last_type = type;
    l->last_seq = seq;
    return 0;
}

static void done_cb(void *ud, int status, const proto_frame_t *f)
{
    done_t *d = ud;

    d->calls++;
    d->status = status;
    d->type = f ? f->type : 0;
}

static proto_frame_t ack(uint8_t req_type, uint16_t seq)
{
    proto_frame_t f = {.version = PROTO_VERSION_BYTE, .type = PROTO_MSG_ACK(req_type), .seq = seq};
    return f;
}

static void test_ack_completes_once(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;
    proto_frame_t f;

    (void)state;
    reqtrack_init(&rt, 500, fake_send, &l);
    assert_int_equal(reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 1000, done_cb, &d), 0);
    assert_int_equal(l.sends, 1);
    assert_int_not_equal(l.last_seq, 0);
    assert_int_equal(d.calls, 0); /* never synchronous */
    f = ack(PROTO_MSG_PING, l.last_seq);
    assert_true(reqtrack_match(&rt, &f, 1010));
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
    assert_int_equal(rt.stats.last_rtt_ms, 10);
    /* The same ack again (a duplicate from the board) matches nothing. */
    assert_false(reqtrack_match(&rt, &f, 1020));
    assert_int_equal(d.calls, 1);
    assert_int_equal(rt.stats.unmatched, 1);
    assert_int_equal(reqtrack_pending(&rt), 0);
}

static void test_retry_same_seq_then_timeout(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;
    uint16_t seq;

    (void)state;
    reqtrack_init(&rt, 500, fake_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_SET_LED, (const uint8_t *)"x", 1, 0, done_cb, &d);
    seq = l.last_seq;
    assert_int_equal(reqtrack_next_deadline(&rt), 500);
    reqtrack_expire(&rt, 499);
    assert_int_equal(l.sends, 1);
    reqtrack_expire(&rt, 500);
    assert_int_equal(l.sends, 2);
    assert_int_equal(l.last_seq, seq); /* the retry reuses the seq: idempotent on the board */
    assert_int_equal(l.last_type, PROTO_MSG_SET_LED);
    assert_int_equal(d.calls, 0);
    reqtrack_expire(&rt, 1000);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, -ETIMEDOUT);
    assert_int_equal(rt.stats.retries, 1);
    assert_int_equal(rt.stats.timeouts, 1);
    assert_int_equal(reqtrack_next_deadline(&rt), UINT64_MAX);
}

static void test_late_ack_after_retry(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;
    proto_frame_t f;

    (void)state;
    reqtrack_init(&rt, 100, fake_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_HEARTBEAT, NULL, 0, 0, done_cb, &d);
    reqtrack_expire(&rt, 100); /* retried */
    f = ack(PROTO_MSG_HEARTBEAT, l.last_seq);
    assert_true(reqtrack_match(&rt, &f, 150));
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
}

static void test_error_and_wrong_type(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;
    uint8_t body[4];
    proto_error_t e = {.code = PROTO_E_I2C_NACK_ADDR, .req_type = PROTO_MSG_I2C_XFER};
    proto_frame_t f;

    (void)state;
    reqtrack_init(&rt, 100, fake_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_I2C_XFER, NULL, 0, 0, done_cb, &d);
    /* An ack of another type with our seq is not our answer. */
    f = ack(PROTO_MSG_PING, l.last_seq);
    assert_false(reqtrack_match(&rt, &f, 1));
    assert_int_equal(d.calls, 0);
    f.type = PROTO_MSG_ERROR;
    f.body = body;
    f.body_len = (uint16_t)proto_error_encode(&e, body, sizeof(body));
    assert_true(reqtrack_match(&rt, &f, 2));
    assert_int_equal(d.status, PROTO_E_I2C_NACK_ADDR);
    assert_int_equal(rt.stats.errors, 1);
}

static void test_table_full_and_cancel(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;

    (void)state;
    reqtrack_init(&rt, 100, fake_send, &l);
    for (int i = 0; i < REQTRACK_MAX; i++)
        assert_int_equal(reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &d), 0);
    assert_int_equal(reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &d), -EBUSY);
    assert_int_equal(rt.stats.full, 1);
    reqtrack_cancel_all(&rt, -ECANCELED);
    assert_int_equal(d.calls, REQTRACK_MAX);
    assert_int_equal(d.status, -ECANCELED);
    assert_int_equal(reqtrack_pending(&rt), 0);
}

static void test_send_failure_is_not_tracked(void **state)
{
    fake_link_t l = {.fail = -ENOTCONN};
    done_t d = {0};
    reqtrack_t rt;

    (void)state;
    reqtrack_init(&rt, 100, fake_send, &l);
    assert_int_equal(reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &d), -ENOTCONN);
    assert_int_equal(reqtrack_pending(&rt), 0);
    assert_int_equal(d.calls, 0);
}

static void test_seq_skips_zero(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;

    (void)state;
    reqtrack_init(&rt, 100, fake_send, &l);
    rt.next_seq = 0xffff;
    reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &d);
    assert_int_equal(l.last_seq, 0xffff);
    reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &d);
    assert_int_equal(l.last_seq, 1);
}

/* A request sent "once" (REBOOT) times out at its own deadline without a second copy. */
static void test_once_is_never_resent(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;

    (void)state;
    reqtrack_init(&rt, 500, fake_send, &l);
    assert_int_equal(reqtrack_submit_ex(&rt, PROTO_MSG_REBOOT, (const uint8_t *)"\0", 1, 0, 2500,
                                        true, done_cb, &d),
                     0);
    assert_int_equal(reqtrack_next_deadline(&rt), 2500);
    reqtrack_expire(&rt, 500);
    assert_int_equal(d.calls, 0);
    reqtrack_expire(&rt, 2500);
    assert_int_equal(l.sends, 1);
    assert_int_equal(rt.stats.retries, 0);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, -ETIMEDOUT);
}

/* finish_type completes only the requests of that type, with the given status and no frame. */
static void test_finish_type(void **state)
{
    fake_link_t l = {0};
    done_t reboot = {0}, ping = {0};
    reqtrack_t rt;

    (void)state;
    reqtrack_init(&rt, 500, fake_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &ping);
    reqtrack_submit_ex(&rt, PROTO_MSG_REBOOT, (const uint8_t *)"\0", 1, 0, 2500, true, done_cb,
                       &reboot);
    assert_int_equal(reqtrack_finish_type(&rt, PROTO_MSG_REBOOT, 0), 1);
    assert_int_equal(reboot.calls, 1);
    assert_int_equal(reboot.status, 0);
    assert_int_equal(reboot.type, 0); /* no frame */
    assert_int_equal(ping.calls, 0);
    assert_false(reqtrack_has_type(&rt, PROTO_MSG_REBOOT));
    assert_int_equal(reqtrack_pending(&rt), 1);
    assert_int_equal(reqtrack_finish_type(&rt, PROTO_MSG_REBOOT, 0), 0);
}

/* A retriable request keeps its retry while its seq is inside the board's window, and loses
 * it (fails instead of being sent again) once a newer seq would push it out. */
static void test_window_limits_retries(void **state)
{
    fake_link_t l = {0};
    done_t inside = {0}, outside = {0}, pings = {0};
    reqtrack_t rt;
    proto_frame_t f;

    (void)state;
    reqtrack_init(&rt, 500, fake_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_SET_LED, (const uint8_t *)"a", 1, 0, done_cb, &outside);
    reqtrack_submit(&rt, PROTO_MSG_SET_LED, (const uint8_t *)"b", 1, 0, done_cb, &inside);
    /* 31 more requests answered at once: the newest seq is PROTO_SEQ_WINDOW (32) ahead of the
     * first SET_LED and 31 ahead of the second. */
    for (int i = 0; i < PROTO_SEQ_WINDOW - 1; i++) {
        reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 1, done_cb, &pings);
        f = ack(PROTO_MSG_PING, l.last_seq);
        assert_true(reqtrack_match(&rt, &f, 2));
    }
    assert_int_equal(rt.stats.retries_forbidden, 1);
    l.sends = 0;
    reqtrack_expire(&rt, 500);
    assert_int_equal(l.sends, 1); /* only the one still inside the window is retried */
    assert_int_equal(outside.calls, 1);
    assert_int_equal(outside.status, -ETIMEDOUT);
    assert_int_equal(inside.calls, 0);
}

/* Before a HELLO (which empties the board's window) nothing outstanding may be resent. */
static void test_forbid_retries(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;

    (void)state;
    reqtrack_init(&rt, 500, fake_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_SET_LED, (const uint8_t *)"t", 1, 0, done_cb, &d);
    reqtrack_forbid_retries(&rt);
    reqtrack_expire(&rt, 500);
    assert_int_equal(l.sends, 1);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, -ETIMEDOUT);
}

/* A retry that cannot be written fails at once with -ECONNABORTED (not "sent twice"). */
static void test_retry_send_failure(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;

    (void)state;
    reqtrack_init(&rt, 500, fake_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &d);
    l.fail = -ENOTCONN;
    reqtrack_expire(&rt, 500);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, -ECONNABORTED);
    assert_int_equal(reqtrack_pending(&rt), 0);
}

/* A send that calls back into its owner, which cancels everything (what picod's link did on a
 * write error): each request still completes exactly once. */
static reqtrack_t *reentrant_rt;
static int reentrant_send(void *ctx, uint8_t type, uint16_t seq, const uint8_t *body, size_t len)
{
    fake_link_t *l = ctx;
    int r = fake_send(ctx, type, seq, body, len);

    if (l->sends > 2)
        reqtrack_cancel_all(reentrant_rt, -ECANCELED);
    return r == 0 && l->sends > 2 ? -ENOTCONN : r;
}

static void test_reentrant_send_completes_once(void **state)
{
    fake_link_t l = {0};
    done_t a = {0}, b = {0};
    reqtrack_t rt;

    (void)state;
    reentrant_rt = &rt;
    reqtrack_init(&rt, 500, reentrant_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &a);
    reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, done_cb, &b);
    reqtrack_expire(&rt, 500);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.status, -ECANCELED);
    assert_int_equal(reqtrack_pending(&rt), 0);
}

/* A completion run by cancel_all may submit; what it submits is not cancelled with the rest. */
static reqtrack_t *resubmit_rt;
static done_t resubmitted;
static void resubmit_cb(void *ud, int status, const proto_frame_t *f)
{
    done_cb(ud, status, f);
    reqtrack_submit(resubmit_rt, PROTO_MSG_HELLO, NULL, 0, 0, done_cb, &resubmitted);
}

static void test_cancel_all_spares_new_requests(void **state)
{
    fake_link_t l = {0};
    done_t d = {0};
    reqtrack_t rt;

    (void)state;
    resubmit_rt = &rt;
    memset(&resubmitted, 0, sizeof(resubmitted));
    reqtrack_init(&rt, 500, fake_send, &l);
    reqtrack_submit(&rt, PROTO_MSG_PING, NULL, 0, 0, resubmit_cb, &d);
    reqtrack_cancel_all(&rt, -ECANCELED);
    assert_int_equal(d.calls, 1);
    assert_int_equal(resubmitted.calls, 0);
    assert_true(reqtrack_has_type(&rt, PROTO_MSG_HELLO));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_completes_once),
        cmocka_unit_test(test_retry_same_seq_then_timeout),
        cmocka_unit_test(test_late_ack_after_retry),
        cmocka_unit_test(test_error_and_wrong_type),
        cmocka_unit_test(test_table_full_and_cancel),
        cmocka_unit_test(test_send_failure_is_not_tracked),
        cmocka_unit_test(test_seq_skips_zero),
        cmocka_unit_test(test_once_is_never_resent),
        cmocka_unit_test(test_finish_type),
        cmocka_unit_test(test_window_limits_retries),
        cmocka_unit_test(test_forbid_retries),
        cmocka_unit_test(test_retry_send_failure),
        cmocka_unit_test(test_reentrant_send_completes_once),
        cmocka_unit_test(test_cancel_all_spares_new_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
