/*
 * history.h - picod's bounded history: the last events (serialised once, shared with every
 * watcher) and, per board and sensor, the recent readings for plots. Pure bookkeeping: no
 * libuv, no jansson, no clock of its own (callers pass times), so it is unit-tested alone.
 *
 * Events: a ring of the last max_events events, by their daemon-wide seq (1, 2, ... with no
 * holes: history_add_event() is given every event picod emits, in order). Each holds its
 * serialised line (hist_line_t, reference-counted: the same bytes go to every client) and
 * what the watch filters look at (kind, board, a sensor's values).
 *
 * Readings: one fixed-size ring of compact samples per (board, sensor), allocated when that
 * sensor first reports, while the rings together fit budget_bytes (a sensor that would pass
 * it gets no history: its readings are counted in readings_refused). Sample times are Unix ms given
 * by the caller and must not go backwards within a series (older samples are ignored).
 */
#ifndef PICOD_HISTORY_H
#define PICOD_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_ID_MAX   40 /* a board key (16 hex digits, or a device path cut short) + NUL */
#define HIST_KIND_MAX 24 /* an event name + NUL */

/* One serialised event line ('\n' included), shared by the ring and queued writes. */
typedef struct hist_line {
    uint32_t refs;
    size_t len;
    char data[];
} hist_line_t;

/* refs = 1, a copy of data (or, data NULL, len bytes to fill); NULL when out of memory. */
hist_line_t *hist_line_new(const char *data, size_t len);
void hist_line_ref(hist_line_t *l);
void hist_line_unref(hist_line_t *l);

/* The reading flags a sample keeps (the protocol's PROTO_READING_* values). */
#define HIST_HAS_TEMP     0x01u
#define HIST_HAS_HUMIDITY 0x02u
#define HIST_HAS_PRESSURE 0x04u

typedef struct hist_values {
    uint8_t flags;         /* HIST_HAS_*; 0 for an error reading */
    uint8_t status;        /* 0 valid, else the board's error */
    int32_t temp_centi_c;  /* 0.01 degC */
    uint32_t humidity_mpc; /* 0.001 %RH */
    uint32_t pressure_pa;
} hist_values_t;

typedef struct hist_event {
    uint64_t seq;
    hist_line_t *line;
    char kind[HIST_KIND_MAX];
    char board[HIST_ID_MAX];
    bool is_sensor; /* kind "sensor": sensor and v are set */
    uint8_t sensor;
    hist_values_t v;
} hist_event_t;

typedef struct hist_sample {
    int64_t t_ms; /* Unix ms */
    int32_t temp_centi_c;
    uint32_t humidity_mpc;
    uint32_t pressure_pa;
    uint8_t flags;
} hist_sample_t;

typedef struct hist_series {
    char board[HIST_ID_MAX];
    uint8_t sensor;
    size_t head, count; /* next slot to write; samples held */
    int64_t last_t_ms;  /* of the newest sample */
    hist_sample_t *s;   /* samples_per_series of them */
} hist_series_t;

typedef struct history {
    /* events */
    hist_event_t *ev; /* max_events slots */
    size_t max_events;
    uint64_t last_seq; /* 0: none yet */
    size_t n_events;   /* held: seqs last_seq - n_events + 1 .. last_seq */
    size_t event_bytes;
    /* readings */
    size_t samples_per_series;
    size_t budget_bytes;
    hist_series_t *series;
    size_t n_series, cap_series;
    uint64_t readings_refused; /* readings not kept: no series, the budget was used up */
    uint64_t samples;          /* recorded since start */
} history_t;

/* max_events >= 1; samples_per_series >= 1. Returns 0 or -ENOMEM. */
int history_init(history_t *h, size_t max_events, size_t samples_per_series, size_t budget_bytes);
void history_free(history_t *h);

/* Record the next event; e->seq must be last_seq + 1 (else -EINVAL). Takes a reference on
 * e->line; evicts the oldest when full. Returns 0. */
int history_add_event(history_t *h, const hist_event_t *e);

/* The oldest seq held (last_seq + 1 when none). */
uint64_t history_first_seq(const history_t *h);

/* The event with this seq, NULL when not held. */
const hist_event_t *history_event(const history_t *h, uint64_t seq);

/* A watch from `since`: what it no longer holds. Returns true with [*from, *to] when seqs
 * since+1 .. first_seq-1 were emitted and are gone; false when nothing is missing. */
bool history_gap(const history_t *h, uint64_t since, uint64_t *from, uint64_t *to);

/* Bytes the history holds: the event ring with its lines, and the reading rings. */
size_t history_event_mem(const history_t *h);
size_t history_reading_mem(const history_t *h);

/* Record a valid reading. Returns 0, -ENOSPC (budget used up: not kept), -ENOMEM. */
int history_add_reading(history_t *h, const char *board, uint8_t sensor, int64_t t_ms,
                        const hist_values_t *v);

const hist_series_t *history_series(const history_t *h, const char *board, uint8_t sensor);

/* The i-th oldest sample of a series (i < count). */
const hist_sample_t *history_sample(const hist_series_t *s, size_t samples_per_series, size_t i);

/* One plot point: the samples of [t_ms, t_ms + bucket_ms). */
typedef struct hist_stat {
    double min, max, sum;
    uint32_t n;
} hist_stat_t;

typedef struct hist_point {
    int64_t t_ms;                         /* bucket start */
    uint32_t n;                           /* samples in it */
    hist_stat_t temp, humidity, pressure; /* in 0.01 degC, 0.001 %RH, Pa */
} hist_point_t;

/*
 * Downsample a series over [since_ms, until_ms] (inclusive) into at most max_points buckets
 * of bucket_ms = ceil((until - since + 1) / max_points) each, bucket i starting at since + i *
 * bucket_ms; empty buckets are left out. Writes at most max_points points to out; returns how
 * many, and the bucket width and the samples in range through the pointers.
 */
size_t history_downsample(const history_t *h, const hist_series_t *s, int64_t since_ms,
                          int64_t until_ms, size_t max_points, hist_point_t *out,
                          int64_t *bucket_ms, size_t *in_range);

/* ---- watch filters -------------------------------------------------------------------- */

#define HIST_FILTER_MAX_BOARDS 64
#define HIST_FILTER_MAX_KINDS  16

/* What changes_only calls a change: more than these since the last one sent. */
#define HIST_CHANGE_TEMP_CENTI_C 10  /* 0.1 degC */
#define HIST_CHANGE_HUMIDITY_MPC 500 /* 0.5 %RH */
#define HIST_CHANGE_PRESSURE_PA  10  /* 10 Pa */

typedef struct hist_last {
    char board[HIST_ID_MAX];
    uint8_t sensor;
    hist_values_t v;
} hist_last_t;

typedef struct hist_filter {
    size_t n_boards; /* 0: every board */
    char boards[HIST_FILTER_MAX_BOARDS][HIST_ID_MAX];
    size_t n_kinds; /* 0: every kind */
    char kinds[HIST_FILTER_MAX_KINDS][HIST_KIND_MAX];
    bool changes_only;
    hist_last_t *last; /* changes_only: the last sensor values sent, per board and sensor */
    size_t n_last, cap_last;
} hist_filter_t;

/* Does e pass f? For changes_only a sensor event that passes becomes the new reference (f
 * remembers it), so call it once per event per client, in seq order. Events without a board
 * (gap) always pass. */
bool hist_filter_pass(hist_filter_t *f, const hist_event_t *e);

/* Would a sensor change from a to b count? (changes_only's thresholds) */
bool hist_values_changed(const hist_values_t *a, const hist_values_t *b);

void hist_filter_free(hist_filter_t *f); /* frees f itself; NULL is fine */

#endif /* PICOD_HISTORY_H */
