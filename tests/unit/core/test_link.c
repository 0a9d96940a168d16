/*
 * test_link.c - the host link on the fake HAL: HELLO, host-watchdog transitions, the TX
 * queue dropping the oldest event but never a response, duplicate requests answered from the
 * exactly-once window without being executed again, host sessions (nothing acts before a
 * HELLO; a HELLO of the same session keeps the window), bad frames counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frames.h"

/* The one FAULT event collected since the last collect(): its kind and detail. */
static void assert_fault(uint8_t kind, uint32_t detail)
{
    assert_int_equal(count_type(PROTO_MSG_FAULT), 1);
    const rx_frame_t *f = find_type(PROTO_MSG_FAULT, 0);
    proto_fault_event_t fe;
    assert_int_equal(proto_fault_event_decode(f->body, f->len, &fe), 0);
    assert_int_equal(fe.kind, kind);
    assert_int_equal(fe.detail, detail);
}

/* The first ERROR frame collected since the last collect(): it says code. */
static const rx_frame_t *assert_error_code(uint8_t code)
{
    const rx_frame_t *e = find_type(PROTO_MSG_ERROR, 0);
    assert_non_null(e);
    proto_error_t err;
    assert_int_equal(proto_error_decode(e->body, e->len, &err), 0);
    assert_int_equal(err.code, code);
    return e;
}

static void test_hello_then_host_watchdog(void **state)
{
    (void)state;
    boot_board(0xfff00000u); /* the wrap happens during the test */
    fake_run_for(1000);
    assert_int_equal(link_state(), PROTO_LINK_WAITING);
    hello(1, 200);
    fake_run_for(100);
    collect();
    const rx_frame_t *a = find_type(PROTO_MSG_ACK(PROTO_MSG_HELLO), 0);
    assert_non_null(a);
    proto_hello_ack_t ack;
    assert_int_equal(proto_hello_ack_decode(a->body, a->len, &ack), 0);
    assert_int_equal(ack.platform, PROTO_PLATFORM_HOST_SIM);
    assert_int_equal(link_state(), PROTO_LINK_ONLINE);

    /* the host takes the LED over and starts polling */
    proto_set_led_req_t led = {.op = PROTO_LED_ON};
    uint8_t b[16];
    int n = proto_set_led_req_encode(&led, b, sizeof(b));
    send_req(PROTO_MSG_SET_LED, 2, b, (size_t)n);
    fake_run_for(150000);
    assert_int_equal(led_mode(), PROTO_LED_ON);
    assert_true(fake_led);

    /* 150 ms after the last request: still online; at 200 ms: host lost, safe state */
    assert_int_equal(link_state(), PROTO_LINK_ONLINE);
    fake_run_for(51000);
    assert_int_equal(link_state(), PROTO_LINK_HOST_LOST);
    assert_int_equal(led_mode(), PROTO_LED_AUTO);
    assert_int_equal(link_counters()->host_lost_count, 1);
    collect();
    const rx_frame_t *ls = find_type(PROTO_MSG_LINK_STATE, 0);
    assert_non_null(ls);
    assert_int_equal(ls->body[0], PROTO_LINK_HOST_LOST);
    assert_fault(PROTO_FAULT_HOST_LOST, 1); /* and a FAULT saying so, with the count */

    /* any request brings it back */
    send_req(PROTO_MSG_HEARTBEAT, 3, NULL, 0);
    fake_run_for(1000);
    assert_int_equal(link_state(), PROTO_LINK_ONLINE);
    collect();
    assert_non_null(find_type(PROTO_MSG_ACK(PROTO_MSG_HEARTBEAT), 0));
    ls = find_type(PROTO_MSG_LINK_STATE, 0);
    assert_non_null(ls);
    assert_int_equal(ls->body[0], PROTO_LINK_ONLINE);
    assert_fault(PROTO_FAULT_HOST_BACK, 1);
}

static void test_full_tx_queue_drops_events_not_responses(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 60000);
    fake_run_for(1000);
    collect();
    fake_tx_space = 0; /* the host stops reading */
    for (int i = 0; i < 3 * CONFIG_TXQ_SLOTS; i++) {
        fake_button = !fake_button;
        button_edge_isr(fake_button, fake_now);
        fake_run_for(30000); /* debounced: one PRESS or RELEASE event each */
    }
    assert_true(link_counters()->tx_events_dropped > 0);
    send_req(PROTO_MSG_PING, 77, (const uint8_t *)"hi", 2);
    fake_run_for(1000);
    fake_tx_space = SIZE_MAX; /* reading again */
    link_tx_isr();
    fake_run_for(1000);
    collect();
    const rx_frame_t *p = find_type(PROTO_MSG_ACK(PROTO_MSG_PING), 0);
    assert_non_null(p);
    assert_int_equal(p->seq, 77);
    assert_memory_equal(p->body, "hi", 2);
    /* the newest events survived, the oldest went; the loss is reported */
    const rx_frame_t *f = find_type(PROTO_MSG_FAULT, 0);
    assert_non_null(f);
    proto_fault_event_t fe;
    assert_int_equal(proto_fault_event_decode(f->body, f->len, &fe), 0);
    assert_int_equal(fe.kind, PROTO_FAULT_QUEUE_DROP);
    const rx_frame_t *be = find_type(PROTO_MSG_BUTTON_EVENT, 0);
    assert_non_null(be);
    proto_button_event_t ev;
    assert_int_equal(proto_button_event_decode(be->body, be->len, &ev), 0);
    assert_true(ev.count > 1); /* not the first press: that one was dropped */
}

/* An event whose first bytes are already on the wire is never the one evicted for a newer
 * one: dropping it would splice the next frame onto its head, and the host would lose both. */
static void test_partly_sent_event_is_not_dropped(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 60000);
    fake_run_for(1000);
    collect();
    fake_tx_space = 5; /* the host takes 5 bytes of the first event, then stops reading */
    for (int i = 0; i < 3 * CONFIG_TXQ_SLOTS; i++) {
        fake_button = !fake_button;
        button_edge_isr(fake_button, fake_now);
        fake_run_for(30000);
    }
    assert_int_equal(fake_tx_len, 5);
    assert_true(link_counters()->tx_events_dropped > 0);
    fake_tx_space = SIZE_MAX;
    link_tx_isr();
    fake_run_for(1000);
    collect();
    const rx_frame_t *be = find_type(PROTO_MSG_BUTTON_EVENT, 0);
    assert_non_null(be);
    proto_button_event_t ev;
    assert_int_equal(proto_button_event_decode(be->body, be->len, &ev), 0);
    assert_int_equal(ev.kind, PROTO_BUTTON_PRESS);
    assert_int_equal(ev.count, 1);                  /* the first press, whole */
    assert_non_null(find_type(PROTO_MSG_FAULT, 0)); /* the drops are reported */
}

static void test_duplicate_answered_from_cache(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 60000);
    fake_run_for(1000);
    proto_set_led_req_t led = {.op = PROTO_LED_TOGGLE};
    uint8_t b[16];
    int n = proto_set_led_req_encode(&led, b, sizeof(b));
    bool before = fake_led;
    send_req(PROTO_MSG_SET_LED, 9, b, (size_t)n);
    fake_run_for(1000);
    send_req(PROTO_MSG_SET_LED, 9, b, (size_t)n); /* retransmission */
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_SET_LED)), 2);
    assert_int_equal(fake_led, !before); /* toggled once, not twice */
    assert_int_equal(link_counters()->rx_duplicates, 1);
    /* same seq, different type: a new request */
    send_req(PROTO_MSG_PING, 9, NULL, 0);
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_PING)), 1);
}

static int toggle(uint16_t seq)
{
    proto_set_led_req_t led = {.op = PROTO_LED_TOGGLE};
    uint8_t b[16];
    int n = proto_set_led_req_encode(&led, b, sizeof(b));
    send_req(PROTO_MSG_SET_LED, seq, b, (size_t)n);
    return n;
}

/* The LED level a SET_LED acknowledgement reports. */
static bool acked_led(const rx_frame_t *a)
{
    proto_state_t st;
    assert_non_null(a);
    assert_int_equal(proto_state_decode(a->body, a->len, &st), 0);
    return st.led_on != 0;
}

/* Toggle with seq and check that it acted; returns the LED before it. */
static bool toggle_acts(uint16_t seq)
{
    bool before = fake_led;
    toggle(seq);
    fake_run_for(1000);
    assert_int_equal(fake_led, !before);
    collect();
    return before;
}

/* A toggle whose ack was lost, retried after other requests went through (another client's,
 * picod's heartbeats): answered from the window, byte for byte, without toggling again. */
static void test_retry_after_other_requests_answered_from_window(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 60000);
    fake_run_for(1000);
    collect();
    bool before = fake_led;
    toggle(10);
    fake_run_for(1000);
    collect();
    const rx_frame_t *first = find_type(PROTO_MSG_ACK(PROTO_MSG_SET_LED), 0);
    assert_int_equal(acked_led(first), !before);
    rx_frame_t orig = *first;
    /* PROTO_SEQ_WINDOW - 1 other requests of every kind: the window still holds seq 10 */
    for (uint16_t seq = 11; seq < 10 + PROTO_SEQ_WINDOW; seq++) {
        if (seq % 3 == 0)
            send_req(PROTO_MSG_HEARTBEAT, seq, NULL, 0);
        else if (seq % 3 == 1)
            send_req(PROTO_MSG_PING, seq, (const uint8_t *)"b", 1);
        else
            send_req(PROTO_MSG_GET_STATE, seq, NULL, 0);
        fake_run_for(1000);
    }
    collect();
    assert_int_equal(nframes, PROTO_SEQ_WINDOW - 1);
    toggle(10); /* the retry */
    fake_run_for(1000);
    collect();
    assert_int_equal(nframes, 1);
    assert_int_equal(frames[0].type, PROTO_MSG_ACK(PROTO_MSG_SET_LED));
    assert_int_equal(frames[0].seq, 10);
    assert_int_equal(frames[0].len, orig.len);
    assert_memory_equal(frames[0].body, orig.body, orig.len); /* the first answer, unchanged */
    assert_int_equal(fake_led, !before);                      /* toggled once */
    assert_int_equal(link_counters()->rx_duplicates, 1);

    /* A PING retried from the window is echoed as it was. */
    send_req(PROTO_MSG_PING, 13, (const uint8_t *)"b", 1); /* seq 13 was a PING */
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_PING)), 1);
    assert_memory_equal(frames[0].body, "b", 1);
    assert_int_equal(link_counters()->rx_duplicates, 2);

    /* PROTO_SEQ_WINDOW seqs later the slot belongs to another seq and seq 10 is older than the
     * window: a frame replayed from that far back (the host never retries one) is not
     * executed; it is refused with stale_seq (protocol 1.4; before, it was not answered). */
    send_req(PROTO_MSG_HEARTBEAT, 10 + PROTO_SEQ_WINDOW, NULL, 0);
    fake_run_for(1000);
    collect();
    toggle(10);
    fake_run_for(1000);
    collect();
    assert_int_equal(nframes, 1);
    assert_int_equal(assert_error_code(PROTO_E_STALE)->seq, 10);
    assert_int_equal(fake_led, !before); /* not executed again */
    assert_int_equal(link_counters()->rx_duplicates, 3);
}

/* The newest seq is taken modulo 2^16: after 65535 (picod skips 0) seq 1 is newer, and 65535
 * is then still inside the window; half the seq space behind is ahead again (a new counter). */
static void test_stale_seq_across_the_wrap(void **state)
{
    (void)state;
    boot_board(0);
    hello(65530, 60000);
    fake_run_for(1000);
    bool before = fake_led;
    toggle(65535);
    fake_run_for(1000);
    send_req(PROTO_MSG_HEARTBEAT, 1, NULL, 0);
    fake_run_for(1000);
    collect();
    toggle(65535); /* a retry across the wrap: answered from the window */
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_SET_LED)), 1);
    assert_int_equal(fake_led, !before);
    for (uint16_t seq = 2; seq < 2 + PROTO_SEQ_WINDOW; seq++) {
        send_req(PROTO_MSG_HEARTBEAT, seq, NULL, 0);
        fake_run_for(1000);
    }
    collect();
    toggle(65535); /* now beyond the window: refused, not executed */
    fake_run_for(1000);
    collect();
    assert_int_equal(nframes, 1);
    assert_int_equal(assert_error_code(PROTO_E_STALE)->seq, 65535);
    assert_int_equal(fake_led, !before);
    toggle((uint16_t)(1 + PROTO_SEQ_WINDOW + 0x8000u)); /* half the space ahead of 33: new */
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_SET_LED)), 1);
    assert_int_equal(fake_led, before);
}

/* A HELLO starts the session afresh whatever its seq: a restarted host numbering from 1 again
 * after seq 5000 is served, not taken for a replay. */
static void test_hello_restarts_the_newest_seq(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 60000);
    fake_run_for(1000);
    send_req(PROTO_MSG_HEARTBEAT, 5000, NULL, 0);
    fake_run_for(1000);
    bool before = fake_led;
    hello(1, 60000);
    fake_run_for(1000);
    collect();
    toggle(2);
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_SET_LED)), 1);
    assert_int_equal(fake_led, !before);
}

/* An ERROR answer is kept too: the retry of a refused request gets the same refusal. */
static void test_error_answer_kept(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 60000);
    fake_run_for(1000);
    proto_set_led_req_t led = {.op = PROTO_LED_BLINK, .duty_pct = 0, .period_ms = 5};
    uint8_t b[16];
    int n = proto_set_led_req_encode(&led, b, sizeof(b));
    send_req(PROTO_MSG_SET_LED, 7, b, (size_t)n);
    fake_run_for(1000);
    send_req(PROTO_MSG_HEARTBEAT, 8, NULL, 0);
    fake_run_for(1000);
    send_req(PROTO_MSG_SET_LED, 7, b, (size_t)n);
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ERROR), 2);
    const rx_frame_t *e = find_type(PROTO_MSG_ERROR, 1);
    assert_int_equal(e->seq, 7);
    assert_int_equal(e->body[0], PROTO_E_ARG);
    assert_int_equal(link_counters()->rx_duplicates, 1);
}

/* HELLO starts a new session (a restarted picod numbers from 1 again): it is never a
 * duplicate itself and empties the window, so an old seq is a new request. */
static void test_hello_empties_window(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 60000);
    fake_run_for(1000);
    bool before = toggle_acts(2);
    hello(1, 60000); /* the same seq as the first HELLO: answered again, not from the window */
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_HELLO)), 1);
    toggle(2); /* the new session's seq 2 */
    fake_run_for(1000);
    collect();
    assert_int_equal(fake_led, before); /* executed */
    assert_int_equal(acked_led(find_type(PROTO_MSG_ACK(PROTO_MSG_SET_LED), 0)), before);
    assert_int_equal(link_counters()->rx_duplicates, 0);
}

/* A HELLO that carries the session id of the board's session (picod re-introducing itself
 * on the same open of the tty, or a replay of its HELLO) forgets nothing: a replayed toggle
 * after it is still a duplicate. Another id is another session (protocol 1.4). */
static void test_hello_of_the_same_session_keeps_window(void **state)
{
    (void)state;
    boot_board(0);
    hello_session(1, 60000, 0x5e551014);
    fake_run_for(1000);
    bool before = toggle_acts(2);
    hello_session(3, 60000, 0x5e551014);
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_HELLO)), 1); /* answered */
    toggle(2);                                                       /* a replay of the toggle */
    fake_run_for(1000);
    collect();
    assert_int_equal(fake_led, !before); /* not toggled back */
    assert_int_equal(acked_led(find_type(PROTO_MSG_ACK(PROTO_MSG_SET_LED), 0)), !before);
    assert_int_equal(link_counters()->rx_duplicates, 1);
    hello_session(4, 60000, 0x5e551015); /* a new picod, or a new open of the port */
    fake_run_for(1000);
    toggle(2);
    fake_run_for(1000);
    assert_int_equal(fake_led, before); /* the new session's seq 2: executed */
}

/* The session's HELLO replayed from beyond the window is refused (stale_seq), like any
 * request from there. */
static void test_stale_hello_of_the_session_dropped(void **state)
{
    (void)state;
    boot_board(0);
    hello_session(1, 60000, 7);
    fake_run_for(1000);
    send_req(PROTO_MSG_HEARTBEAT, 100, NULL, 0);
    fake_run_for(1000);
    collect();
    hello_session(1, 60000, 7);
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_HELLO)), 0);
    assert_int_equal(assert_error_code(PROTO_E_STALE)->seq, 1);
    assert_int_equal(link_counters()->rx_duplicates, 1);
}

/* Until a HELLO since boot, the board does nothing that acts (the request may be the retry
 * of one it did before it reset): ERROR no_session, not kept. Reading is answered. */
static void test_no_acting_before_hello(void **state)
{
    (void)state;
    boot_board(0);
    fake_run_for(1000);
    bool before = fake_led;
    toggle(3);
    send_req(PROTO_MSG_GET_STATE, 4, NULL, 0);
    fake_run_for(1000);
    collect();
    assert_int_equal(fake_led, before);
    const rx_frame_t *e = assert_error_code(PROTO_E_NO_SESSION);
    assert_int_equal(e->seq, 3);
    assert_int_equal(e->body[1], PROTO_MSG_SET_LED);
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_GET_STATE)), 1);
    hello(1, 60000);
    fake_run_for(1000);
    toggle(3); /* sent again after the HELLO: the refusal was not kept, so it is done */
    fake_run_for(1000);
    collect();
    assert_int_equal(fake_led, !before);
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_SET_LED)), 1);
}

static unsigned xfers;
static int counting_dev_fn(const hal_i2c_xfer_t *x)
{
    if (x->addr != 0x50)
        return -HAL_E_NACK_ADDR;
    xfers++;
    for (size_t i = 0; i < x->rlen; i++)
        x->rdata[i] = (uint8_t)(0x40 + xfers);
    return 0;
}

/* A board online, its boot probing over, a device at 0x50 whose transfers take 20 ms; b
 * holds an I2C_XFER request for it (2 bytes from register 0x10). Returns its length. */
static size_t deferred_xfer_setup(uint8_t *b, size_t cap)
{
    boot_board(0);
    fake_run_for(500000); /* sensor probing at boot is over */
    hello(1, 60000);
    fake_run_for(1000);
    collect();
    xfers = 0;
    fake_i2c_fn = counting_dev_fn;
    fake_i2c_duration_us = 20000;
    proto_i2c_xfer_req_t x = {.bus = 0, .addr = 0x50, .wlen = 1, .rlen = 2, .wdata = {0x10}};
    int n = proto_i2c_xfer_req_encode(&x, b, cap);
    assert_true(n > 0);
    return (size_t)n;
}

/* A duplicate of a deferred request still being executed (an I2C write) is dropped: its
 * answer is on the way. A duplicate after the answer gets the same answer. The device sees
 * one transfer. */
static void test_deferred_duplicate_dropped(void **state)
{
    (void)state;
    uint8_t b[PROTO_MAX_BODY];
    size_t n = deferred_xfer_setup(b, sizeof(b));
    send_req(PROTO_MSG_I2C_XFER, 40, b, n);
    fake_run_for(2000);
    send_req(PROTO_MSG_I2C_XFER, 40, b, n); /* while the transfer runs */
    fake_run_for(2000);
    collect();
    assert_int_equal(nframes, 0);
    assert_int_equal(link_counters()->rx_duplicates, 1);
    fake_run_for(50000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_I2C_XFER)), 1);
    rx_frame_t orig = frames[0];
    assert_int_equal(orig.len, 3);
    assert_int_equal(orig.body[1], 0x41);
    send_req(PROTO_MSG_I2C_XFER, 40, b, n); /* after the answer */
    fake_run_for(50000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_I2C_XFER)), 1);
    assert_memory_equal(frames[0].body, orig.body, orig.len);
    assert_int_equal(xfers, 1);
    assert_int_equal(link_counters()->rx_duplicates, 2);
}

/* A request is taken only while its response and every deferred one have a TX slot: with the
 * host not reading, two I2C transfers under way and pings behind them, the pings wait in the
 * port rather than take the slots the transfers' answers will need. Every request is answered
 * once the host reads again. */
static void test_deferred_answers_keep_their_slots(void **state)
{
    (void)state;
    uint8_t b[PROTO_MAX_BODY];
    size_t n = deferred_xfer_setup(b, sizeof(b));
    fake_tx_space = 0; /* the host stops reading */
    send_req(PROTO_MSG_I2C_XFER, 50, b, n);
    send_req(PROTO_MSG_I2C_XFER, 51, b, n);
    for (uint16_t i = 0; i < CONFIG_TXQ_SLOTS; i++)
        send_req(PROTO_MSG_PING, (uint16_t)(60 + i), NULL, 0);
    fake_run_for(100000);
    fake_tx_space = SIZE_MAX;
    link_tx_isr();
    fake_run_for(100000);
    collect();
    assert_int_equal(xfers, 2);
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_I2C_XFER)), 2);
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_PING)), CONFIG_TXQ_SLOTS);
    assert_int_equal(count_type(PROTO_MSG_ERROR), 0);
}

/* Every frame leaves the board as 0x00, COBS, 0x00: a frame whose closing delimiter the host
 * lost costs that frame only. */
/* The board wrote to an I2C device and reset before its answer left; the host's retry (the
 * same frame) reaches the new boot: not done again (the device sees one write), and the
 * refusal tells the host. Before protocol 1.4 the new boot did it a second time. */
static void test_retry_after_reset_not_done(void **state)
{
    (void)state;
    uint8_t b[32];
    size_t n = deferred_xfer_setup(b, sizeof(b));
    send_req(PROTO_MSG_I2C_XFER, 5, b, n);
    fake_run_for(100000);
    assert_int_equal(xfers, 1);
    boot_board(0);        /* the reset: the device (outside the board) keeps its state */
    fake_run_for(500000); /* (the new boot's sensor probing, of other addresses) */
    fake_i2c_fn = counting_dev_fn;
    fake_i2c_duration_us = 20000;
    collect();
    send_req(PROTO_MSG_I2C_XFER, 5, b, n); /* the retry */
    fake_run_for(100000);
    collect();
    assert_int_equal(xfers, 1);
    assert_int_equal(assert_error_code(PROTO_E_NO_SESSION)->seq, 5);
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_I2C_XFER)), 0);
}

static void test_frames_start_with_a_delimiter(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 60000);
    fake_run_for(1000);
    assert_true(fake_tx_len > 2);
    assert_int_equal(fake_tx[0], 0x00);
    assert_int_equal(fake_tx[fake_tx_len - 1], 0x00);
    size_t cut = fake_tx_len - 1; /* drop the closing 0x00 of the last frame */
    send_req(PROTO_MSG_PING, 2, (const uint8_t *)"x", 1);
    fake_run_for(1000);
    memmove(fake_tx + cut, fake_tx + cut + 1, fake_tx_len - cut - 1);
    fake_tx_len--;
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_PING)), 1);
}

/* REBOOT: acknowledged first, and the reset waits until the host has taken the
 * acknowledgement (hal_link_tx_pending() == 0), for at most CONFIG_LINK_DRAIN_US. */
static void test_reboot_waits_for_the_ack_to_leave(void **state)
{
    (void)state;
    boot_board(1000);
    fake_run_for(1000);
    hello(1, 0);
    fake_run_for(1000);
    collect();

    uint8_t mode = PROTO_REBOOT_NORMAL;
    fake_tx_pending = 12; /* the ack sits in the port's buffer: the host has not read it */
    send_req(PROTO_MSG_REBOOT, 2, &mode, 1);
    fake_run_for(5000);
    collect();
    const rx_frame_t *ack = find_type(PROTO_MSG_ACK(PROTO_MSG_REBOOT), 0);
    assert_non_null(ack);
    assert_int_equal(ack->seq, 2);
    assert_int_equal(fake_reboots, 0);
    fake_tx_pending = 0; /* the host read it */
    uint32_t drained = fake_now;
    fake_run_for(5000);
    assert_int_equal(fake_reboots, 1);
    assert_true(fake_reboot_us - drained <= 2000u); /* promptly once drained */

    /* A host that never reads does not keep the board from rebooting. */
    fake_tx_pending = 64;
    uint32_t asked = fake_now;
    send_req(PROTO_MSG_REBOOT, 3, &mode, 1);
    fake_run_for(CONFIG_LINK_DRAIN_US / 2);
    assert_int_equal(fake_reboots, 1);
    fake_run_for(CONFIG_LINK_DRAIN_US);
    assert_int_equal(fake_reboots, 2);
    assert_true(fake_reboot_us - asked >= CONFIG_LINK_DRAIN_US);
    assert_true(fake_reboot_us - asked <= CONFIG_LINK_DRAIN_US + 3000u);

    /* BOOTSEL where it cannot be done: ERROR unsupported, no reset. */
    collect();
    fake_tx_pending = 0;
    mode = PROTO_REBOOT_BOOTSEL;
    send_req(PROTO_MSG_REBOOT, 4, &mode, 1);
    fake_run_for(5000);
    collect();
    const rx_frame_t *e = find_type(PROTO_MSG_ERROR, 0);
    assert_non_null(e);
    assert_int_equal(e->seq, 4);
    assert_int_equal(e->body[0], PROTO_E_UNSUPPORTED);
    assert_null(find_type(PROTO_MSG_ACK(PROTO_MSG_REBOOT), 0));
    assert_int_equal(fake_reboots, 2);
}

static void test_bad_requests(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 0); /* a session: SET_LED is looked at */
    uint8_t junk[] = {0x13, 0x37, 0x00, 0x05, 0xff, 0x00};
    fake_link_push(junk, sizeof(junk));
    send_req(0x3e, 4, NULL, 0); /* unknown request type */
    proto_set_led_req_t led = {.op = PROTO_LED_BLINK, .duty_pct = 0, .period_ms = 5};
    uint8_t b[16];
    int n = proto_set_led_req_encode(&led, b, sizeof(b));
    send_req(PROTO_MSG_SET_LED, 5, b, (size_t)n); /* out of range */
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ERROR), 2);
    proto_error_t e;
    const rx_frame_t *f = find_type(PROTO_MSG_ERROR, 0);
    assert_int_equal(proto_error_decode(f->body, f->len, &e), 0);
    assert_int_equal(e.code, PROTO_E_UNKNOWN_TYPE);
    f = find_type(PROTO_MSG_ERROR, 1);
    assert_int_equal(f->seq, 5);
    assert_int_equal(proto_error_decode(f->body, f->len, &e), 0);
    assert_int_equal(e.code, PROTO_E_ARG);
    const proto_decoder_stats_t *ds = link_decoder_stats();
    assert_true(ds->crc_errors + ds->cobs_errors + ds->short_frames > 0);
}

/* A host of another major version gets ERROR version in answer to its HELLO, and the link
 * stays waiting; this major's HELLO then brings it online. */
static void test_hello_of_another_major_is_refused(void **state)
{
    (void)state;
    boot_board(0);
    fake_run_for(1000);
    collect();
    proto_hello_req_t h = {PROTO_VERSION_MAJOR + 1, 0, 0, 0};
    uint8_t b[16];
    int n = proto_hello_req_encode(&h, b, sizeof(b));
    send_req(PROTO_MSG_HELLO, 3, b, (size_t)n);
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_HELLO)), 0);
    (void)assert_error_code(PROTO_E_VERSION);
    assert_int_equal(link_state(), PROTO_LINK_WAITING);
    hello(4, 0);
    fake_run_for(1000);
    collect();
    assert_non_null(find_type(PROTO_MSG_ACK(PROTO_MSG_HELLO), 0));
    assert_int_equal(link_state(), PROTO_LINK_ONLINE);
}

/* REBOOT: a mode past BOOTSEL is a bad argument; a mode this board cannot do (BOOTSEL on the
 * fake) is unsupported; neither reboots. */
static void test_reboot_modes_refused(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 0);
    fake_run_for(1000);
    collect();
    const uint8_t modes[] = {PROTO_REBOOT_BOOTSEL + 1, PROTO_REBOOT_BOOTSEL};
    const uint8_t codes[] = {PROTO_E_ARG, PROTO_E_UNSUPPORTED};
    for (uint16_t i = 0; i < 2; i++) {
        send_req(PROTO_MSG_REBOOT, (uint16_t)(20 + i), &modes[i], 1);
        fake_run_for(1000);
        collect();
        (void)assert_error_code(codes[i]);
    }
    fake_run_for(100000);
    assert_int_equal(fake_reboots, 0);
}

/* SET_POLL: 50 ms (CONFIG_POLL_MIN_MS, docs/API.md) is the shortest period taken; 49 is
 * refused, and 0 (stop) is taken. */
static void test_poll_interval_minimum(void **state)
{
    (void)state;
    boot_board(0);
    hello(1, 0);
    const uint32_t ms[] = {49, 50, 0};
    for (uint16_t i = 0; i < 3; i++) {
        proto_set_poll_req_t p = {.sensor = 0xff, .interval_ms = ms[i]};
        uint8_t b[16];
        int n = proto_set_poll_req_encode(&p, b, sizeof(b));
        send_req(PROTO_MSG_SET_POLL, (uint16_t)(10 + i), b, (size_t)n);
    }
    fake_run_for(1000);
    collect();
    assert_int_equal(count_type(PROTO_MSG_ERROR), 1);
    assert_int_equal(assert_error_code(PROTO_E_ARG)->seq, 10);
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_SET_POLL)), 2);
    assert_int_equal(find_type(PROTO_MSG_ACK(PROTO_MSG_SET_POLL), 0)->seq, 11);
}

/* ---- fairness under load (issue 9): the work of one link run is bounded ---------------------- */

/* Step the scheduler until the link task has run once more; returns how many bytes the
 * decoder took and how many frames it completed (good or bad) in that run. */
static void one_link_run(uint32_t *bytes, uint32_t *frames_done)
{
    const proto_decoder_stats_t *d = link_decoder_stats();
    uint32_t b0 = d->bytes;
    uint32_t f0 = d->frames + d->crc_errors + d->cobs_errors + d->oversize + d->short_frames;
    uint32_t runs = sched_task_stats(link_task.id)->runs;
    for (int guard = 0; guard < 100 && sched_task_stats(link_task.id)->runs == runs; guard++)
        (void)sched_poll();
    *bytes = d->bytes - b0;
    *frames_done = d->frames + d->crc_errors + d->cobs_errors + d->oversize + d->short_frames - f0;
}

/* 8 KiB of garbage without a delimiter (what a host replaying stale USB data looks like): no
 * run takes more than CONFIG_LINK_RX_BYTES of it, and the rest of the board keeps running.
 * Before: one run consumed all of it (297 ms on a real link). */
static void test_garbage_flood_bounded_per_run(void **state)
{
    (void)state;
    boot_board(1000);
    fake_run_for(100000); /* boot scan done */
    static uint8_t junk[8000];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(1 + (i * 13) % 255);
    fake_link_push(junk, sizeof(junk));
    link_rx_isr();
    uint32_t total = 0;
    for (int run = 0; total < sizeof(junk) && run < 1000; run++) {
        uint32_t b, f;
        one_link_run(&b, &f);
        assert_true(b <= CONFIG_LINK_RX_BYTES);
        total += b;
    }
    assert_int_equal(total, sizeof(junk));
    assert_int_equal(link_decoder_stats()->frames, 0);
    /* then a real request is answered as usual */
    send_req(PROTO_MSG_PING, 7, (const uint8_t *)"hi", 2);
    fake_run_for(1000);
    collect();
    assert_non_null(find_type(PROTO_MSG_ACK(PROTO_MSG_PING), 0));
}

/* 40 valid requests back to back, with empty frames and bad frames between them: a run
 * completes at most one frame, and every request is answered, in order. */
static void test_request_flood_one_frame_per_run(void **state)
{
    (void)state;
    boot_board(1000);
    fake_run_for(100000);
    static const uint8_t zeros[16];
    for (uint16_t i = 0; i < 40; i++) {
        uint8_t body[4] = {(uint8_t)i, 1, 2, 3};
        send_req(PROTO_MSG_PING, (uint16_t)(100 + i), body, sizeof(body));
        fake_link_push(zeros, i % 3 ? 0 : sizeof(zeros));
        if (i % 5 == 0)
            fake_link_push((const uint8_t *)"\x07garbage\x00", 9);
    }
    int answered = 0;
    for (int run = 0; run < 2000 && answered < 40; run++) {
        uint32_t b, f;
        one_link_run(&b, &f);
        assert_true(b <= CONFIG_LINK_RX_BYTES);
        assert_true(f <= 1);
        collect();
        for (int k = 0; k < nframes; k++) {
            assert_int_equal(frames[k].type, PROTO_MSG_ACK(PROTO_MSG_PING));
            assert_int_equal(frames[k].seq, 100 + answered);
            assert_int_equal(frames[k].body[0], answered);
            answered++;
        }
    }
    assert_int_equal(answered, 40);
}

/* The largest answers (a 244-byte PING echo, HELLO's) are framed over several runs: they arrive
 * whole and exact, a retransmission gets the same bytes, and nothing else is decoded meanwhile
 * (the request behind them is answered after them). */
static void test_large_answers_framed_in_steps(void **state)
{
    (void)state;
    boot_board(1000);
    fake_run_for(100000);
    hello(1, 60000);
    static uint8_t big[PROTO_MAX_BODY];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + 1);
    big[100] = 0; /* zeros inside: COBS blocks */
    send_req(PROTO_MSG_PING, 2, big, sizeof(big));
    send_req(PROTO_MSG_HEARTBEAT, 3, NULL, 0);
    send_req(PROTO_MSG_PING, 2, big, sizeof(big)); /* a retransmission */
    fake_run_for(10000);
    collect();
    const rx_frame_t *h = find_type(PROTO_MSG_ACK(PROTO_MSG_HELLO), 0);
    assert_non_null(h);
    proto_hello_ack_t ack;
    assert_int_equal(proto_hello_ack_decode(h->body, h->len, &ack), 0);
    assert_int_equal(count_type(PROTO_MSG_ACK(PROTO_MSG_PING)), 2);
    for (int k = 0; k < 2; k++) {
        const rx_frame_t *p = find_type(PROTO_MSG_ACK(PROTO_MSG_PING), k);
        assert_int_equal(p->seq, 2);
        assert_int_equal(p->len, sizeof(big));
        assert_memory_equal(p->body, big, sizeof(big));
    }
    /* order: HELLO ack (before its LINK_STATE), PING, HEARTBEAT, the retransmitted PING */
    int ih = -1, ils = -1, ip = -1, ihb = -1;
    for (int k = 0; k < nframes; k++) {
        if (frames[k].type == PROTO_MSG_ACK(PROTO_MSG_HELLO))
            ih = k;
        if (frames[k].type == PROTO_MSG_LINK_STATE && ils < 0)
            ils = k;
        if (frames[k].type == PROTO_MSG_ACK(PROTO_MSG_PING) && ip < 0)
            ip = k;
        if (frames[k].type == PROTO_MSG_ACK(PROTO_MSG_HEARTBEAT))
            ihb = k;
    }
    assert_true(ih < ils);
    assert_true(ip < ihb);
    assert_int_equal(link_counters()->rx_duplicates, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_then_host_watchdog),
        cmocka_unit_test(test_full_tx_queue_drops_events_not_responses),
        cmocka_unit_test(test_partly_sent_event_is_not_dropped),
        cmocka_unit_test(test_duplicate_answered_from_cache),
        cmocka_unit_test(test_retry_after_other_requests_answered_from_window),
        cmocka_unit_test(test_stale_seq_across_the_wrap),
        cmocka_unit_test(test_hello_restarts_the_newest_seq),
        cmocka_unit_test(test_error_answer_kept),
        cmocka_unit_test(test_hello_empties_window),
        cmocka_unit_test(test_hello_of_the_same_session_keeps_window),
        cmocka_unit_test(test_stale_hello_of_the_session_dropped),
        cmocka_unit_test(test_no_acting_before_hello),
        cmocka_unit_test(test_retry_after_reset_not_done),
        cmocka_unit_test(test_deferred_duplicate_dropped),
        cmocka_unit_test(test_deferred_answers_keep_their_slots),
        cmocka_unit_test(test_frames_start_with_a_delimiter),
        cmocka_unit_test(test_reboot_waits_for_the_ack_to_leave),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_poll_interval_minimum),
        cmocka_unit_test(test_reboot_modes_refused),
        cmocka_unit_test(test_hello_of_another_major_is_refused),
        cmocka_unit_test(test_garbage_flood_bounded_per_run),
        cmocka_unit_test(test_request_flood_one_frame_per_run),
        cmocka_unit_test(test_large_answers_framed_in_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
