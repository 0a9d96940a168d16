/* clocksync.c - see clocksync.h. */
#include "clocksync.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Klipper's DECAY (1/30 per ~1 s query) as a time constant, so the memory does not shrink
 * with a faster heartbeat: the regression forgets with e^(-dt / TAU). Samples are weighted
 * by 1 / (round trip + resolution + 20 us)^2: a short round trip pins its midpoint closely,
 * a long one (a loaded host, a late answer) hardly counts. */
#define CLOCKSYNC_TAU_US  60e6
#define CLOCKSYNC_DECAY_N 30 /* of the prediction variance (outlier test), per sample */
/* A real crystal's rate wanders with temperature: allowed on top of the window's bound. */
#define CLOCKSYNC_WANDER 2e-6
/* A sample further than this from the prediction means the board clock jumped (or the
 * board reset without going backwards far enough to tell): a new epoch. */
#define CLOCKSYNC_JUMP_US   50000.0
#define CLOCKSYNC_JUMP_FRAC 0.1
/* Outliers: a round trip longer than RTT_FACTOR x the window's shortest + RTT_SLACK, or a
 * residual beyond 5 sigma of the prediction's (Klipper: 25 x variance) and 500 us. After
 * MAX_REJECTS in a row the sample is taken anyway (the world changed, as Klipper does). */
#define CLOCKSYNC_RTT_FACTOR  3
#define CLOCKSYNC_RTT_SLACK   2000
#define CLOCKSYNC_RESID_MIN   500.0
#define CLOCKSYNC_MAX_REJECTS 5

void clocksync_init(clocksync_t *c)
{
    memset(c, 0, sizeof(*c));
    c->slope = 1.0;
    c->last_rtt_us = -1;
}

void clocksync_restart(clocksync_t *c)
{
    uint32_t rejected = c->rejected, restarts = c->restarts, misses = c->misses;
    int64_t last_rtt = c->last_rtt_us;

    if (c->samples > 0)
        restarts++;
    clocksync_init(c);
    c->rejected = rejected;
    c->restarts = restarts;
    c->misses = misses;
    c->last_rtt_us = last_rtt;
}

static const clocksync_point_t *clocksync_point(const clocksync_t *c, unsigned age)
{
    /* age 0 = newest */
    return &c->win[(c->win_head + CLOCKSYNC_WINDOW - 1 - age) % CLOCKSYNC_WINDOW];
}

static double clocksync_line(const clocksync_t *c, double x)
{
    return c->intercept + c->slope * x;
}

/* The interval of true slopes (host us per board us) between window points a (older) and b:
 * their host intervals bound it. */
static void clocksync_slope_range(const clocksync_point_t *a, const clocksync_point_t *b,
                                  double *s_lo, double *s_hi)
{
    double dx = b->x - a->x;

    *s_lo = (b->lo - a->hi) / dx;
    *s_hi = (b->hi - a->lo) / dx;
}

/* How much the rate was seen to vary: the largest distance of the fitted slope from a
 * neighbouring pair's range of true slopes. 0 for a clock of constant rate. */
static double clocksync_wander(const clocksync_t *c)
{
    double w = 0, s_lo, s_hi;

    for (unsigned i = 0; i + 1 < c->win_len; i++) {
        const clocksync_point_t *b = clocksync_point(c, i), *a = clocksync_point(c, i + 1);
        if (b->x <= a->x)
            continue;
        clocksync_slope_range(a, b, &s_lo, &s_hi);
        w = fmax(w, fmax(s_lo - c->slope, c->slope - s_hi));
    }
    return w;
}

/* How far the slope may be from the true one: any two samples' intervals bound the true
 * slope between them (constant rate); the tightest pair counts (a long round trip at either
 * end of the window must not widen it). On top of that the rate may wander:
 * CLOCKSYNC_WANDER (a crystal), or twice what the window shows (an emulator under load). */
static double clocksync_rate_err(const clocksync_t *c)
{
    double best = INFINITY, s_lo, s_hi;

    for (unsigned j = 0; j < c->win_len; j++) {
        for (unsigned i = j + 1; i < c->win_len; i++) {
            const clocksync_point_t *b = clocksync_point(c, j), *a = clocksync_point(c, i);
            if (b->x <= a->x)
                continue;
            clocksync_slope_range(a, b, &s_lo, &s_hi);
            best = fmin(best, fmax(fabs(c->slope - s_lo), fabs(c->slope - s_hi)));
        }
    }
    return best + fmax(CLOCKSYNC_WANDER, 2 * clocksync_wander(c));
}

/* The bound at relative board time x: min over the window of e_i + |x - x_i| * rate_err. */
static double clocksync_err_at(const clocksync_t *c, double x)
{
    double rate_err = clocksync_rate_err(c), best = INFINITY;

    for (unsigned i = 0; i < c->win_len; i++) {
        const clocksync_point_t *p = clocksync_point(c, i);
        double g = clocksync_line(c, p->x);
        double e = fmax(fabs(g - p->lo), fabs(g - p->hi)) + fabs(x - p->x) * rate_err;
        if (e < best)
            best = e;
    }
    return best;
}

static int64_t clocksync_min_rtt(const clocksync_t *c)
{
    int64_t m = INT64_MAX;

    for (unsigned i = 0; i < c->win_len; i++)
        if (clocksync_point(c, i)->rtt_us < m)
            m = clocksync_point(c, i)->rtt_us;
    return m;
}

/* Is s (mid-point host time mid, board mid-point bmid) an outlier of a good estimate? */
static bool clocksync_is_outlier(clocksync_t *c, const clocksync_sample_t *s, int64_t rtt,
                                 double resid)
{
    if (c->samples < 4 || c->consecutive_rejects >= CLOCKSYNC_MAX_REJECTS)
        return false;
    if (rtt > CLOCKSYNC_RTT_FACTOR * clocksync_min_rtt(c) + CLOCKSYNC_RTT_SLACK)
        return true;
    (void)s;
    return resid * resid > 25.0 * c->pred_var && fabs(resid) > CLOCKSYNC_RESID_MIN;
}

static void clocksync_first(clocksync_t *c, const clocksync_sample_t *s, int64_t mid, double x,
                            double w)
{
    c->base_board_us = s->board_us;
    c->base_host_us = mid;
    c->wsum = w;
    c->board_avg = x;
    c->host_avg = 0;
    c->board_var = c->cov = 0;
    c->slope = 1.0;
    c->intercept = -x;
}

/* Weighted least squares with exponential forgetting (West's incremental update: centred
 * sums, so large board times lose no precision). */
static void clocksync_regress(clocksync_t *c, double x, double y, double w, double dt_us)
{
    double lambda = exp(-fmax(dt_us, 0) / CLOCKSYNC_TAU_US);
    double dx = x - c->board_avg, dy = y - c->host_avg;

    c->wsum = lambda * c->wsum + w;
    c->board_avg += w / c->wsum * dx;
    c->host_avg += w / c->wsum * dy;
    c->board_var = lambda * c->board_var + w * dx * (x - c->board_avg);
    c->cov = lambda * c->cov + w * dx * (y - c->host_avg);
    if (c->board_var > 0)
        c->slope = c->cov / c->board_var;
    c->intercept = c->host_avg - c->slope * c->board_avg;
}

static void clocksync_push(clocksync_t *c, const clocksync_sample_t *s, int64_t rtt, double x,
                           double half_res)
{
    /* The board read its clock at some b* within half_res of x, and f(b*) lies in
     * [send, recv]; f(x) is then within half_res x slope of that (1 % and 1 us to spare). */
    double pad = half_res * fmax(c->slope, 1.0) * 1.01 + 1.0;
    clocksync_point_t *p = &c->win[c->win_head];

    p->x = x;
    p->lo = (double)(s->host_send_us - c->base_host_us) - pad;
    p->hi = (double)(s->host_recv_us - c->base_host_us) + pad;
    p->send = (double)(s->host_send_us - c->base_host_us);
    p->board_end = x + half_res;
    p->rtt_us = rtt;
    c->win_head = (c->win_head + 1) % CLOCKSYNC_WINDOW;
    if (c->win_len < CLOCKSYNC_WINDOW)
        c->win_len++;
}

int clocksync_add(clocksync_t *c, const clocksync_sample_t *s)
{
    int64_t rtt = s->host_recv_us - s->host_send_us, mid;
    double half_res = (s->board_res_us ? s->board_res_us : 1) / 2.0, x, y, w, resid = 0;
    int ret = 0;

    if (rtt < 0 || s->board_us < 0)
        return -EINVAL;
    c->last_rtt_us = rtt;
    mid = s->host_send_us + rtt / 2;
    if (c->samples > 0) {
        double bmid = (double)(s->board_us - c->base_board_us) + half_res;
        double elapsed = (double)(mid - c->last_host_mid_us);
        bool back = s->board_us + (int64_t)(2 * half_res) < c->last_board_us;
        bool jump = false;
        resid = (double)(mid - c->base_host_us) - clocksync_line(c, bmid);
        if (c->samples >= 2)
            jump = fabs(resid / c->slope) > CLOCKSYNC_JUMP_US + CLOCKSYNC_JUMP_FRAC * fabs(elapsed);
        if (back || jump) {
            clocksync_restart(c);
            ret = 2;
        } else if (clocksync_is_outlier(c, s, rtt, resid)) {
            /* Out of the regression, but its interval is as true as any: it stays a
             * constraint of the bound (a rate change shows there first). */
            c->rejected++;
            c->consecutive_rejects++;
            clocksync_push(c, s, rtt, bmid, half_res);
            return 1;
        }
    }
    c->consecutive_rejects = 0;
    c->samples++;
    w = 1.0 / ((double)rtt + 2 * half_res + 20.0);
    w *= w;
    if (c->samples == 1) {
        clocksync_first(c, s, mid, half_res, w);
    } else {
        x = (double)(s->board_us - c->base_board_us) + half_res;
        y = (double)(mid - c->base_host_us);
        if (c->samples > 2)
            c->pred_var =
                (1 - 1.0 / CLOCKSYNC_DECAY_N) * (c->pred_var + resid * resid / CLOCKSYNC_DECAY_N);
        clocksync_regress(c, x, y, w, (double)(mid - c->last_host_mid_us));
    }
    clocksync_push(c, s, rtt, (double)(s->board_us - c->base_board_us) + half_res, half_res);
    c->last_board_us = s->board_us;
    c->last_host_mid_us = mid;
    return ret;
}

int clocksync_map(const clocksync_t *c, int64_t board_us, uint32_t res_us, int64_t *host_us,
                  int64_t *err_us)
{
    double half_res = (res_us ? res_us : 1) / 2.0;
    double x = (double)(board_us - c->base_board_us) + half_res;
    double err;

    if (c->samples < 2)
        return -EAGAIN;
    err = clocksync_err_at(c, x) + half_res * c->slope + 1.0;
    if (!isfinite(err) || err > 9e15)
        return -EAGAIN;
    *host_us = c->base_host_us + (int64_t)llround(clocksync_line(c, x));
    *err_us = (int64_t)ceil(err);
    return 0;
}

/* The latest send time of a sample the board read its clock before board time bx, or
 * -INFINITY. */
static double clocksync_causal_lo(const clocksync_t *c, double bx)
{
    for (unsigned i = 0; i < c->win_len; i++) {
        const clocksync_point_t *p = clocksync_point(c, i);
        if (p->board_end <= bx)
            return p->send; /* newest first: the first that qualifies is the latest */
    }
    return -INFINITY;
}

int clocksync_map_event(clocksync_t *c, int64_t board_us, uint32_t res_us, int64_t arrival_us,
                        int64_t *host_us, int64_t *err_us)
{
    double hi_c = (double)(arrival_us - c->base_host_us);
    double lo_c, lo, hi;
    int64_t h, e;

    if (c->samples == 0)
        return -EAGAIN;
    lo_c = clocksync_causal_lo(c, (double)(board_us - c->base_board_us));
    /* Older than every sample of a full window: a stamp of long ago, or of the epoch before
     * a reset not noticed yet. Either way nothing bounds it honestly. */
    if (!isfinite(lo_c) && c->win_len == CLOCKSYNC_WINDOW)
        return -ERANGE;
    if (clocksync_map(c, board_us, res_us, &h, &e) == 0) {
        lo = fmax((double)(h - e - c->base_host_us), lo_c);
        hi = fmin((double)(h + e - c->base_host_us), hi_c);
        if (lo > hi) { /* the model is wrong here: say what causality alone says */
            c->misses++;
            if (isfinite(lo_c)) {
                lo = lo_c;
                hi = hi_c;
            } else { /* cover both the model's answer and the arrival */
                lo = fmin((double)(h - e - c->base_host_us), hi_c);
                hi = fmax((double)(h + e - c->base_host_us), hi_c);
            }
        }
    } else if (isfinite(lo_c)) {
        lo = lo_c;
        hi = hi_c;
    } else {
        return -EAGAIN;
    }
    *host_us = c->base_host_us + (int64_t)llround((lo + hi) / 2);
    *err_us = (int64_t)ceil((hi - lo) / 2) + 1;
    return 0;
}

int clocksync_unwrap(const clocksync_t *c, uint32_t stamp, unsigned bits, uint32_t unit_us,
                     int64_t host_us, int64_t *board_us)
{
    double pb;
    int64_t pu, diff;
    uint64_t mask;

    if (c->samples == 0 || bits == 0 || bits > 32 || unit_us == 0)
        return -EAGAIN;
    if (c->samples >= 2)
        pb = (double)c->base_board_us +
             ((double)(host_us - c->base_host_us) - c->intercept) / c->slope;
    else
        pb = (double)c->last_board_us + (double)(host_us - c->last_host_mid_us);
    if (pb < 0)
        pb = 0;
    pu = (int64_t)(pb / unit_us);
    mask = bits == 32 ? 0xffffffffu : ((1u << bits) - 1);
    diff = (int64_t)(((uint64_t)stamp - (uint64_t)pu) & mask);
    if (diff >= (int64_t)(mask / 2 + 1))
        diff -= (int64_t)mask + 1;
    *board_us = (pu + diff) * (int64_t)unit_us;
    return 0;
}

void clocksync_get_info(const clocksync_t *c, clocksync_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->synced = c->samples >= 2;
    out->samples = c->samples;
    out->rejected = c->rejected;
    out->restarts = c->restarts;
    out->misses = c->misses;
    out->last_rtt_us = c->last_rtt_us;
    out->min_rtt_us = c->win_len ? clocksync_min_rtt(c) : -1;
    out->err_us = -1;
    if (!out->synced)
        return;
    out->offset_us = (double)c->base_host_us + c->intercept - c->slope * (double)c->base_board_us;
    out->drift_ppm = (1.0 / c->slope - 1.0) * 1e6;
    double err = clocksync_err_at(c, clocksync_point(c, 0)->x);
    out->err_us = isfinite(err) && err < 9e15 ? (int64_t)ceil(err) : -1;
}
