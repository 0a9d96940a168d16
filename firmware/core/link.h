/*
 * link.h - the host link: frame decoding, request dispatch, TX queue, host watchdog.
 *
 * Bytes arrive through hal_link_read (the port's RX ring, filled by its interrupt); the link
 * task decodes frames and hands each request to requests_dispatch(). Responses and events are
 * encoded straight into a static queue of CONFIG_TXQ_SLOTS frames. When the queue is full a
 * new frame evicts the oldest queued EVENT (counted; a FAULT/QUEUE_DROP event follows when
 * there is room); responses are never dropped, because the link task only takes a request
 * while a slot for its response is guaranteed.
 *
 * Exactly once: the answers (ack or ERROR) to the last PROTO_SEQ_WINDOW request seqs are kept,
 * one slot per seq % PROTO_SEQ_WINDOW. A request whose seq and type match its slot is a
 * retransmission: it is answered from there without being executed again, or not at all while
 * the first copy is still being executed (deferred); either way it counts in rx_duplicates.
 * A HELLO (a new host session) and a new opener of the port empty the window.
 *
 * Host watchdog: after HELLO, if no request arrives for host_timeout_ms the board enters the
 * safe state (LED back to the heartbeat showing "host lost", sensor polling stopped) and sends
 * LINK_STATE; the next request from the host brings it back ONLINE.
 */
#ifndef PICOD_CORE_LINK_H
#define PICOD_CORE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "sched.h"

/* Returned by a request handler whose response will be sent later with link_respond(). */
#define LINK_DEFERRED 0x10000

typedef struct link_counters {
    uint32_t rx_unknown, rx_duplicates;
    uint32_t tx_frames, tx_events_dropped;
    uint32_t host_lost_count;
} link_counters_t;

void link_init(void);
extern sched_task_t link_task;

/* HAL callbacks (interrupt context): bytes arrived / TX space / host opened or closed. */
void link_rx_isr(void);
void link_tx_isr(void);
void link_conn_isr(bool connected);

/* Queue an event (board -> host). Returns 0, or -PROTO_E_LENGTH for an oversized body.
 * Never fails for lack of space: the oldest event is dropped instead. */
int link_send_event(uint8_t type, const uint8_t *body, size_t len);
/* Queue the ack (req_type | 0x80) of a deferred request. */
int link_respond(uint16_t seq, uint8_t req_type, const uint8_t *body, size_t len);
/* Queue an ERROR answer to a deferred request. */
int link_respond_error(uint16_t seq, uint8_t req_type, uint8_t code, uint16_t detail);

/* Link state (enum proto_link_state), the HELLO handshake and helpers for requests.c. */
uint8_t link_state(void);
/* A HELLO was done: arm the host watchdog, and the board is in the host's session (id
 * session, 0 from a host older than 1.4) until it resets. */
void link_hello(uint16_t host_timeout_ms, uint32_t session);
uint8_t link_pending_events(void);
const link_counters_t *link_counters(void);
const proto_decoder_stats_t *link_decoder_stats(void);
/* Ignore input and send nothing for ms milliseconds (DEBUG SILENT). */
void link_silence(uint32_t ms);
/* Run fn(arg) from the link task once the TX queue has drained (REBOOT, DEBUG HANG/FAULT). */
void link_after_flush(void (*fn)(uint32_t arg), uint32_t arg);

/* Implemented by requests.c: handle one request frame. Returns the ack body length (>= 0,
 * body written to out), LINK_DEFERRED, or a negative proto_err for an ERROR answer. */
int requests_dispatch(const proto_frame_t *f, uint8_t *out, size_t cap);
/* Implemented by requests.c: the host watchdog fired (enter the safe state). */
void requests_host_lost(void);

#endif /* PICOD_CORE_LINK_H */
