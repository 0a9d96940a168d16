/*
 * clocksync.h - one board's clock estimated against the host's, from round trips.
 *
 * The anchor is Klipper's klippy/clocksync.py: the host times a request it sends anyway
 * (picod: HEARTBEAT), the board stamps its answer with its own clock, and an exponentially
 * weighted linear regression over those samples gives the board clock's offset and frequency;
 * samples with a long round trip are rejected as outliers. What this module adds is an error
 * bound that holds by construction instead of a variance:
 *
 *  - a sample says the board read its clock at some instant between the host's send and
 *    receive times: the true mapping of that board time lies in [send, receive] (widened by
 *    the board clock's resolution);
 *  - the fitted line misses that interval at sample i by at most e_i; the line's slope
 *    differs from the true one by at most rate_err, which the oldest and the newest sample
 *    of the window bound (their two intervals bound the true slope between them, assuming a
 *    constant rate, plus an allowance for a real crystal's wander);
 *  - so a board time t maps with error at most min_i (e_i + |t - b_i| * rate_err);
 *  - clocksync_map_event() also intersects that with what causality says: an event the
 *    board stamped after sample i happened after i's send time, and before it arrived.
 *
 * Times are int64 microseconds. Host times are CLOCK_MONOTONIC (the caller converts to Unix
 * time when it reports, so a step of the wall clock never disturbs the fit). Board times are
 * the board's 64-bit microsecond clock (callers unwrap the 32-bit stamps with
 * clocksync_unwrap()).
 *
 * Pure: no allocation, no I/O, no loop. A board reset (board clock going backwards, or the
 * owner calling clocksync_restart()) or a jump of the board clock restarts the estimate.
 */
#ifndef PICOD_CLOCKSYNC_H
#define PICOD_CLOCKSYNC_H

#include <stdbool.h>
#include <stdint.h>

#define CLOCKSYNC_WINDOW 32 /* samples kept for the error bound */

typedef struct clocksync_sample {
    int64_t host_send_us;  /* host monotonic time the request was first written */
    int64_t host_recv_us;  /* host monotonic time the answer was received */
    int64_t board_us;      /* the board's clock in the answer, as read */
    uint32_t board_res_us; /* the board read it as board_us .. board_us + res (1 for us) */
} clocksync_sample_t;

typedef struct clocksync_point {
    double x;         /* board time of the sample, relative to base_board_us, at mid-resolution */
    double lo, hi;    /* host interval (relative to base_host_us) that holds its true mapping */
    double send;      /* host send time (relative) */
    double board_end; /* latest board time (relative) the board may have read */
    int64_t rtt_us;
} clocksync_point_t;

typedef struct clocksync {
    /* regression state: weighted, exponentially forgetting means and (co)variance sums */
    int64_t base_board_us, base_host_us;
    double wsum, board_avg, host_avg, board_var, cov;
    double pred_var;  /* variance of the prediction's residuals (outlier test) */
    double slope;     /* host us per board us */
    double intercept; /* host time (rel.) at board time base */
    /* the window for the bound */
    clocksync_point_t win[CLOCKSYNC_WINDOW];
    unsigned win_len, win_head; /* ring: win_head is the next slot written */
    int64_t last_board_us, last_host_mid_us;
    int64_t last_rtt_us;
    uint32_t consecutive_rejects;
    uint32_t samples;  /* accepted in this epoch */
    uint32_t rejected; /* rejected as outliers, all epochs */
    uint32_t restarts; /* epochs started after the first */
    uint32_t misses;   /* events whose model interval missed the causal one (model wrong) */
} clocksync_t;

/* What stats shows. */
typedef struct clocksync_info {
    bool synced;      /* two samples or more in this epoch: clocksync_map works */
    double offset_us; /* host monotonic time of board time 0 */
    double drift_ppm; /* how much faster the board clock runs than the host's */
    int64_t err_us;   /* bound at the newest sample's board time */
    uint32_t samples, rejected, restarts, misses;
    int64_t last_rtt_us, min_rtt_us; /* -1 before the first sample */
} clocksync_info_t;

void clocksync_init(clocksync_t *c);

/* Forget the estimate (the board reset): the next sample starts a new epoch. */
void clocksync_restart(clocksync_t *c);

/*
 * Feed one round trip. Returns 0 (used), 1 (rejected as an outlier: its round trip was long
 * or it disagrees with a good estimate), 2 (it started a new epoch: the board clock went
 * backwards or jumped), or -EINVAL (receive before send, or a negative board time).
 */
int clocksync_add(clocksync_t *c, const clocksync_sample_t *s);

/*
 * Map a board time (read as board_us .. board_us + res_us) to host monotonic time: *host_us
 * and a bound *err_us such that the true host time is within host_us +- err_us. Returns 0,
 * or -EAGAIN while the epoch has fewer than two samples.
 */
int clocksync_map(const clocksync_t *c, int64_t board_us, uint32_t res_us, int64_t *host_us,
                  int64_t *err_us);

/*
 * clocksync_map() for an event the board stamped with board_us and the host received at
 * host monotonic time arrival_us: the result also lies before the arrival and, if the stamp
 * is after a sample's board time, after that sample's send time. With fewer than two
 * samples, the causal bound alone (from the newest sample, or -EAGAIN with none).
 * -ERANGE: the stamp is older than every sample of a full window (nothing bounds it).
 */
int clocksync_map_event(clocksync_t *c, int64_t board_us, uint32_t res_us, int64_t arrival_us,
                        int64_t *host_us, int64_t *err_us);

/*
 * Widen a board stamp that holds only the low `bits` bits of (board time / unit_us) to the
 * full board time in us, choosing the value nearest to the board time predicted for host
 * monotonic time host_us. Returns 0, or -EAGAIN with no sample in this epoch.
 */
int clocksync_unwrap(const clocksync_t *c, uint32_t stamp, unsigned bits, uint32_t unit_us,
                     int64_t host_us, int64_t *board_us);

void clocksync_get_info(const clocksync_t *c, clocksync_info_t *out);

#endif /* PICOD_CLOCKSYNC_H */
