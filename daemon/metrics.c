/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "picod.h"

typedef struct mbuf {
    char *p;
    size_t len, cap;
    bool failed;
} mbuf_t;

/* Room for n more bytes and a terminating NUL; false (and m failed) when memory ran out. */
static bool mb_grow(mbuf_t *m, size_t n)
{
    if (m->failed)
        return false;
    if (n < m->cap - m->len)
        return true;
    size_t cap = m->cap * 2 + n + 1;
    char *q = realloc(m->p, cap);
    if (!q) {
        m->failed = true;
        return false;
    }
    m->p = q;
    m->cap = cap;
    return true;
}

__attribute__((format(printf, 2, 3))) static void mb_printf(mbuf_t *m, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (m->failed)
        return;
    for (;;) {
        size_t room = m->cap - m->len;

        va_start(ap, fmt);
        n = vsnprintf(m->p + m->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            m->failed = true;
            return;
        }
        if ((size_t)n < room) {
            m->len += (size_t)n;
            return;
        }
        if (!mb_grow(m, (size_t)n))
            return;
    }
}

/* Append n bytes. */
static void mb_put(mbuf_t *m, const char *s, size_t n)
{
    if (!mb_grow(m, n))
        return;
    memcpy(m->p + m->len, s, n);
    m->len += n;
    m->p[m->len] = '\0'; /* (as vsnprintf leaves it) */
}

/* A label value: backslash, double quote and newline escaped (OpenMetrics ABNF); the runs
 * between them copied whole (a printf per character made `metrics` 0.06x of a fixed reply). */
static void mb_label(mbuf_t *m, const char *s)
{
    for (;;) {
        size_t run = strcspn(s, "\\\"\n");
        mb_put(m, s, run);
        s += run;
        if (!*s)
            return;
        mb_put(m, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", 2);
        s++;
    }
}

/* A sample value: integers as such, fractions with microsecond resolution. */
static void mb_value(mbuf_t *m, double v)
{
    if (v > -1e15 && v < 1e15 && (double)(long long)v == v)
        mb_printf(m, " %lld\n", (long long)v);
    else
        mb_printf(m, " %.6f\n", v);
}

static void mb_family(mbuf_t *m, const char *name, const char *type, const char *unit,
                      const char *help)
{
    mb_printf(m, "# TYPE %s %s\n", name, type);
    if (unit)
        mb_printf(m, "# UNIT %s %s\n", name, unit);
    mb_printf(m, "# HELP %s %s\n", name, help);
}

/* Daemon-wide: one sample per family. Counters get _total on the sample (OpenMetrics). */
static void mb_one(mbuf_t *m, const char *name, bool counter, const char *unit, const char *help,
                   double v)
{
    mb_family(m, name, counter ? "counter" : "gauge", unit, help);
    mb_printf(m, "%s%s", name, counter ? "_total" : "");
    mb_value(m, v);
}

enum board_metric {
    BM_UP,
    BM_STATE_SECONDS,
    BM_LAST_FRAME_AGE,
    BM_RX_BYTES,
    BM_TX_BYTES,
    BM_TX_FRAMES,
    BM_RX_FRAMES,
    BM_CRC_ERRORS,
    BM_COBS_ERRORS,
    BM_OVERSIZE,
    BM_SHORT_FRAMES,
    BM_LINK_OPENS,
    BM_LINK_OPEN_FAILURES,
    BM_LINK_LOSSES,
    BM_TX_OVERFLOWS,
    BM_REQ_SENT,
    BM_REQ_ACKED,
    BM_REQ_ERRORS,
    BM_REQ_TIMEOUTS,
    BM_REQ_RETRIES,
    BM_REQ_PENDING,
    BM_RTT_LAST,
    BM_RTT_MAX,
    BM_HELLOS,
    BM_RESETS,
    BM_RESYNCS,
    BM_IDENTITY_CHANGES,
    BM_VERSION_ERRORS,
    BM_EVENTS,
    BM_UNEXPECTED,
    BM_BAD_BODIES,
    BM_STALE,
    BM_OFFLINE,
    BM_CLOCK_ERROR,
    BM_CLOCK_DRIFT,
    BM_COUNT
};

static const struct {
    const char *name;
    bool counter;
    const char *unit;
    const char *help;
} board_metrics[BM_COUNT] = {
    [BM_UP] = {"picod_board_up", false, NULL, "1 when the board is online or stale, else 0."},
    [BM_STATE_SECONDS] = {"picod_board_state_seconds", false, "seconds",
                          "Time in the current state."},
    [BM_LAST_FRAME_AGE] = {"picod_board_last_frame_age_seconds", false, "seconds",
                           "Time since the last frame from the board (link quality)."},
    [BM_RX_BYTES] = {"picod_board_received_bytes", true, "bytes", "Bytes read from the tty."},
    [BM_TX_BYTES] = {"picod_board_sent_bytes", true, "bytes", "Bytes written to the tty."},
    [BM_TX_FRAMES] = {"picod_board_sent_frames", true, NULL, "Frames written to the tty."},
    [BM_RX_FRAMES] = {"picod_board_received_frames", true, NULL, "Good frames decoded."},
    [BM_CRC_ERRORS] = {"picod_board_crc_errors", true, NULL, "Frames with a CRC mismatch."},
    [BM_COBS_ERRORS] = {"picod_board_cobs_errors", true, NULL, "Frames that did not decode."},
    [BM_OVERSIZE] = {"picod_board_oversize_frames", true, NULL, "Frames longer than allowed."},
    [BM_SHORT_FRAMES] = {"picod_board_short_frames", true, NULL,
                         "Frames shorter than header and CRC."},
    [BM_LINK_OPENS] = {"picod_board_link_opens", true, NULL, "Successful opens of the tty."},
    [BM_LINK_OPEN_FAILURES] = {"picod_board_link_open_failures", true, NULL,
                               "Failed open attempts."},
    [BM_LINK_LOSSES] = {"picod_board_link_losses", true, NULL,
                        "Times the open tty was lost (I/O error, hangup)."},
    [BM_TX_OVERFLOWS] = {"picod_board_tx_overflows", true, NULL,
                         "Frames refused because the transmit queue was full."},
    [BM_REQ_SENT] = {"picod_board_requests_sent", true, NULL, "Requests sent (retries included)."},
    [BM_REQ_ACKED] = {"picod_board_requests_acked", true, NULL, "Requests acknowledged."},
    [BM_REQ_ERRORS] = {"picod_board_requests_errors", true, NULL, "Requests the board refused."},
    [BM_REQ_TIMEOUTS] = {"picod_board_requests_timeouts", true, NULL,
                         "Requests that got no answer."},
    [BM_REQ_RETRIES] = {"picod_board_requests_retries", true, NULL, "Requests sent again."},
    [BM_REQ_PENDING] = {"picod_board_requests_pending", false, NULL,
                        "Requests awaiting an answer."},
    [BM_RTT_LAST] = {"picod_board_rtt_seconds", false, "seconds", "Last request round trip."},
    [BM_RTT_MAX] = {"picod_board_rtt_max_seconds", false, "seconds", "Longest request round trip."},
    [BM_HELLOS] = {"picod_board_hellos", true, NULL, "HELLO handshakes completed."},
    [BM_RESETS] = {"picod_board_resets", true, NULL, "Board resets detected."},
    [BM_RESYNCS] = {"picod_board_resyncs", true, NULL,
                    "New sessions because the board took picod's seqs for old ones."},
    [BM_IDENTITY_CHANGES] = {"picod_board_identity_changes", true, NULL,
                             "Another board appeared on the tty."},
    [BM_VERSION_ERRORS] = {"picod_board_version_errors", true, NULL,
                           "Incompatible protocol versions seen."},
    [BM_EVENTS] = {"picod_board_events_received", true, NULL, "Unsolicited events from the board."},
    [BM_UNEXPECTED] = {"picod_board_unexpected_frames", true, NULL,
                       "Frames of a type the host never expects."},
    [BM_BAD_BODIES] = {"picod_board_bad_bodies", true, NULL, "Frames whose body did not decode."},
    [BM_STALE] = {"picod_board_stale", true, NULL, "Times the board went stale."},
    [BM_OFFLINE] = {"picod_board_offline", true, NULL, "Times the board went offline."},
    [BM_CLOCK_ERROR] = {"picod_board_clock_error_seconds", false, "seconds",
                        "Error bound of board time mapped to host time (-1: not synchronised)."},
    [BM_CLOCK_DRIFT] = {"picod_board_clock_drift_ppm", false, NULL,
                        "How much faster the board's clock runs than the host's (ppm)."},
};

static void board_values(const board_t *b, uint64_t now, double v[BM_COUNT])
{
    const link_stats_t *l = &b->link.stats;
    const proto_decoder_stats_t *d = &b->link.dec.stats;
    const reqtrack_stats_t *r = &b->rt.stats;
    const board_counters_t *c = &b->cnt;
    clocksync_info_t ci;

    v[BM_UP] = board_is_reachable(b) ? 1 : 0;
    v[BM_STATE_SECONDS] = (double)(now - b->state_since_ms) / 1000.0;
    v[BM_LAST_FRAME_AGE] = b->last_rx_ms ? (double)(now - b->last_rx_ms) / 1000.0 : -1;
    v[BM_RX_BYTES] = (double)l->rx_bytes;
    v[BM_TX_BYTES] = (double)l->tx_bytes;
    v[BM_TX_FRAMES] = l->tx_frames;
    v[BM_RX_FRAMES] = d->frames;
    v[BM_CRC_ERRORS] = d->crc_errors;
    v[BM_COBS_ERRORS] = d->cobs_errors;
    v[BM_OVERSIZE] = d->oversize;
    v[BM_SHORT_FRAMES] = d->short_frames;
    v[BM_LINK_OPENS] = l->opens;
    v[BM_LINK_OPEN_FAILURES] = l->open_failures;
    v[BM_LINK_LOSSES] = l->losses;
    v[BM_TX_OVERFLOWS] = l->tx_overflows;
    v[BM_REQ_SENT] = r->sent;
    v[BM_REQ_ACKED] = r->acked;
    v[BM_REQ_ERRORS] = r->errors;
    v[BM_REQ_TIMEOUTS] = r->timeouts;
    v[BM_REQ_RETRIES] = r->retries;
    v[BM_REQ_PENDING] = (double)reqtrack_pending(&b->rt);
    v[BM_RTT_LAST] = r->last_rtt_ms / 1000.0;
    v[BM_RTT_MAX] = r->max_rtt_ms / 1000.0;
    v[BM_HELLOS] = c->hellos;
    v[BM_RESETS] = c->resets;
    v[BM_RESYNCS] = c->resyncs;
    v[BM_IDENTITY_CHANGES] = c->identity_changes;
    v[BM_VERSION_ERRORS] = c->version_errors;
    v[BM_EVENTS] = c->events;
    v[BM_UNEXPECTED] = c->unexpected;
    v[BM_BAD_BODIES] = c->bad_bodies;
    v[BM_STALE] = c->stale_count;
    v[BM_OFFLINE] = c->offline_count;
    clocksync_get_info(&b->clock, &ci);
    v[BM_CLOCK_ERROR] = ci.synced ? (double)ci.err_us / 1e6 : -1;
    v[BM_CLOCK_DRIFT] = ci.synced ? ci.drift_ppm : 0;
}

static void mb_board_labels(mbuf_t *m, const board_t *b)
{
    mb_printf(m, "{board=\"");
    mb_label(m, b->id);
    mb_printf(m, "\",name=\"");
    mb_label(m, b->name);
    mb_printf(m, "\",device=\"");
    mb_label(m, b->link.path);
    mb_printf(m, "\"}");
}

char *metrics_text(const picod_t *pd)
{
    const server_stats_t *s = &pd->server.stats;
    uint64_t now = uv_now(pd->loop);
    size_t online = 0;
    double(*v)[BM_COUNT] = calloc(pd->n_boards ? pd->n_boards : 1, sizeof(*v));
    mbuf_t m = {.cap = 8192};

    m.p = malloc(m.cap);
    if (!m.p || !v) {
        free(m.p);
        free(v);
        return NULL;
    }
    for (size_t i = 0; i < pd->n_boards; i++) {
        online += board_is_reachable(pd->boards[i]);
        board_values(pd->boards[i], now, v[i]);
    }
    mb_one(&m, "picod_uptime_seconds", false, "seconds", "Time since picod started.",
           (double)(now - pd->started_ms) / 1000.0);
    mb_one(&m, "picod_boards", false, NULL, "Boards served.", (double)pd->n_boards);
    mb_one(&m, "picod_boards_online", false, NULL, "Boards online or stale.", (double)online);
    mb_one(&m, "picod_clients", false, NULL, "Connected clients.", pd->server.n_clients);
    mb_one(&m, "picod_clients_accepted", true, NULL, "Connections accepted.", (double)s->accepted);
    mb_one(&m, "picod_clients_rejected", true, NULL, "Connections refused (max-clients).",
           (double)s->rejected_full);
    mb_family(&m, "picod_clients_dropped", "counter", NULL,
              "Clients disconnected for not reading (slow: client-out-max, budget: out-budget).");
    mb_printf(&m, "picod_clients_dropped_total{reason=\"slow\"} %llu\n",
              (unsigned long long)s->dropped_slow);
    mb_printf(&m, "picod_clients_dropped_total{reason=\"budget\"} %llu\n",
              (unsigned long long)s->dropped_budget);
    mb_one(&m, "picod_requests", true, NULL, "Request lines read from clients.", (double)s->lines);
    mb_one(&m, "picod_responses", true, NULL, "Responses sent.", (double)s->responses);
    mb_one(&m, "picod_errors", true, NULL, "Error responses sent.", (double)s->errors);
    mb_one(&m, "picod_events", true, NULL, "Event lines sent to watchers.", (double)s->events);
    mb_one(&m, "picod_denied", true, NULL, "Requests refused by access control.",
           (double)s->denied);
    mb_one(&m, "picod_received_bytes", true, "bytes", "Bytes read from clients.",
           (double)s->bytes_in);
    mb_one(&m, "picod_sent_bytes", true, "bytes", "Bytes written to clients.",
           (double)s->bytes_out);
    mb_one(&m, "picod_output_queued_bytes", false, "bytes", "Output queued to all clients.",
           (double)pd->server.out_bytes);
    mb_one(&m, "picod_config_reloads", true, NULL, "Successful SIGHUP reloads.",
           pd->config.reloads);
    mb_one(&m, "picod_config_reload_failures", true, NULL, "Reloads refused (invalid file).",
           pd->config.reload_failures);
    mb_one(&m, "picod_config_loaded_timestamp_seconds", false, "seconds",
           "When the settings in use were read (Unix time).",
           (double)pd->config.loaded_unix_ms / 1000.0);
    for (size_t k = 0; k < BM_COUNT; k++) {
        mb_family(&m, board_metrics[k].name, board_metrics[k].counter ? "counter" : "gauge",
                  board_metrics[k].unit, board_metrics[k].help);
        for (size_t i = 0; i < pd->n_boards; i++) {
            if (k == BM_LAST_FRAME_AGE && v[i][k] < 0)
                continue; /* never heard from */
            mb_printf(&m, "%s%s", board_metrics[k].name, board_metrics[k].counter ? "_total" : "");
            mb_board_labels(&m, pd->boards[i]);
            mb_value(&m, v[i][k]);
        }
    }
    mb_printf(&m, "# EOF\n");
    free(v);
    if (m.failed) {
        free(m.p);
        return NULL;
    }
    return m.p;
}
