/* history.c - see history.h. */
#include "history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared lines ------------------------------------------------------------------------- */

hist_line_t *hist_line_new(const char *data, size_t len)
{
    hist_line_t *l = malloc(sizeof(*l) + len);

    if (!l)
        return NULL;
    l->refs = 1;
    l->len = len;
    if (data)
        memcpy(l->data, data, len);
    return l;
}

void hist_line_ref(hist_line_t *l)
{
    l->refs++;
}

void hist_line_unref(hist_line_t *l)
{
    if (l && --l->refs == 0)
        free(l);
}

/* ---- events ------------------------------------------------------------------------------- */

int history_init(history_t *h, size_t max_events, size_t samples_per_series, size_t budget_bytes)
{
    memset(h, 0, sizeof(*h));
    if (max_events == 0 || samples_per_series == 0)
        return -EINVAL;
    h->ev = calloc(max_events, sizeof(*h->ev));
    if (!h->ev)
        return -ENOMEM;
    h->max_events = max_events;
    h->samples_per_series = samples_per_series;
    h->budget_bytes = budget_bytes;
    return 0;
}

void history_free(history_t *h)
{
    for (size_t i = 0; h->ev && i < h->max_events; i++)
        hist_line_unref(h->ev[i].line);
    free(h->ev);
    for (size_t i = 0; i < h->n_series; i++)
        free(h->series[i].s);
    free(h->series);
    memset(h, 0, sizeof(*h));
}

static hist_event_t *history_slot(const history_t *h, uint64_t seq)
{
    return &h->ev[(seq - 1) % h->max_events];
}

int history_add_event(history_t *h, const hist_event_t *e)
{
    hist_event_t *slot;

    if (e->seq != h->last_seq + 1 || !e->line)
        return -EINVAL;
    slot = history_slot(h, e->seq);
    if (slot->line) {
        h->event_bytes -= slot->line->len;
        hist_line_unref(slot->line);
    }
    *slot = *e;
    hist_line_ref(slot->line);
    h->event_bytes += e->line->len;
    h->last_seq = e->seq;
    if (h->n_events < h->max_events)
        h->n_events++;
    return 0;
}

uint64_t history_first_seq(const history_t *h)
{
    return h->last_seq - h->n_events + 1;
}

const hist_event_t *history_event(const history_t *h, uint64_t seq)
{
    if (seq == 0 || seq > h->last_seq || seq < history_first_seq(h))
        return NULL;
    return history_slot(h, seq);
}

bool history_gap(const history_t *h, uint64_t since, uint64_t *from, uint64_t *to)
{
    uint64_t first = history_first_seq(h);

    if (since + 1 >= first)
        return false;
    *from = since + 1;
    *to = first - 1;
    return true;
}

size_t history_event_mem(const history_t *h)
{
    /* Each held line is one malloc block of its header and bytes. */
    return h->max_events * sizeof(*h->ev) + h->event_bytes + h->n_events * sizeof(hist_line_t);
}

size_t history_reading_mem(const history_t *h)
{
    return h->n_series * h->samples_per_series * sizeof(hist_sample_t) +
           h->cap_series * sizeof(*h->series);
}

/* ---- readings ----------------------------------------------------------------------------- */

const hist_series_t *history_series(const history_t *h, const char *board, uint8_t sensor)
{
    for (size_t i = 0; i < h->n_series; i++)
        if (h->series[i].sensor == sensor && strcmp(h->series[i].board, board) == 0)
            return &h->series[i];
    return NULL;
}

const hist_sample_t *history_sample(const hist_series_t *s, size_t samples_per_series, size_t i)
{
    size_t oldest = (s->head + samples_per_series - s->count) % samples_per_series;

    return &s->s[(oldest + i) % samples_per_series];
}

static hist_series_t *history_new_series(history_t *h, const char *board, uint8_t sensor)
{
    size_t ring = h->samples_per_series * sizeof(hist_sample_t);
    hist_series_t *s;

    if (h->n_series == h->cap_series) {
        size_t cap = h->cap_series ? 2 * h->cap_series : 16;
        hist_series_t *n;

        if ((h->n_series + 1) * ring + cap * sizeof(*n) > h->budget_bytes)
            return NULL;
        n = realloc(h->series, cap * sizeof(*n));
        if (!n)
            return NULL;
        h->series = n;
        h->cap_series = cap;
    }
    if (history_reading_mem(h) + ring > h->budget_bytes)
        return NULL;
    s = &h->series[h->n_series];
    memset(s, 0, sizeof(*s));
    s->s = malloc(ring);
    if (!s->s)
        return NULL;
    memcpy(s->board, board, strnlen(board, sizeof(s->board) - 1));
    s->sensor = sensor;
    h->n_series++;
    return s;
}

int history_add_reading(history_t *h, const char *board, uint8_t sensor, int64_t t_ms,
                        const hist_values_t *v)
{
    hist_series_t *s = (hist_series_t *)history_series(h, board, sensor);
    hist_sample_t *p;

    if (!s) {
        s = history_new_series(h, board, sensor);
        if (!s) {
            h->readings_refused++;
            return -ENOSPC;
        }
    }
    if (s->count && s->last_t_ms > t_ms)
        return 0; /* never backwards: downsampling relies on the order */
    s->last_t_ms = t_ms;
    p = &s->s[s->head];
    p->t_ms = t_ms;
    p->temp_centi_c = v->temp_centi_c;
    p->humidity_mpc = v->humidity_mpc;
    p->pressure_pa = v->pressure_pa;
    p->flags = v->flags;
    s->head = (s->head + 1) % h->samples_per_series;
    if (s->count < h->samples_per_series)
        s->count++;
    h->samples++;
    return 0;
}

/* The first sample index with t >= t_ms (count if none). */
static size_t history_lower_bound(const history_t *h, const hist_series_t *s, int64_t t_ms)
{
    size_t lo = 0, hi = s->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (history_sample(s, h->samples_per_series, mid)->t_ms < t_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void hist_stat_add(hist_stat_t *st, double v)
{
    if (st->n == 0 || v < st->min)
        st->min = v;
    if (st->n == 0 || v > st->max)
        st->max = v;
    st->sum += v;
    st->n++;
}

size_t history_downsample(const history_t *h, const hist_series_t *s, int64_t since_ms,
                          int64_t until_ms, size_t max_points, hist_point_t *out,
                          int64_t *bucket_ms, size_t *in_range)
{
    size_t n_out = 0, i;
    int64_t width;

    *bucket_ms = 0;
    *in_range = 0;
    if (!s || max_points == 0 || until_ms < since_ms)
        return 0;
    /* ceil((until - since + 1) / max_points) */
    width = (until_ms - since_ms + (int64_t)max_points) / (int64_t)max_points;
    *bucket_ms = width;
    for (i = history_lower_bound(h, s, since_ms); i < s->count; i++) {
        const hist_sample_t *p = history_sample(s, h->samples_per_series, i);
        int64_t start;
        hist_point_t *pt;

        if (p->t_ms > until_ms)
            break;
        start = since_ms + (p->t_ms - since_ms) / width * width;
        if (n_out == 0 || out[n_out - 1].t_ms != start) {
            if (n_out == max_points)
                break; /* cannot happen: at most max_points buckets span the range */
            pt = &out[n_out++];
            memset(pt, 0, sizeof(*pt));
            pt->t_ms = start;
        }
        pt = &out[n_out - 1];
        pt->n++;
        (*in_range)++;
        if (p->flags & HIST_HAS_TEMP)
            hist_stat_add(&pt->temp, p->temp_centi_c);
        if (p->flags & HIST_HAS_HUMIDITY)
            hist_stat_add(&pt->humidity, p->humidity_mpc);
        if (p->flags & HIST_HAS_PRESSURE)
            hist_stat_add(&pt->pressure, p->pressure_pa);
    }
    return n_out;
}

/* ---- filters ------------------------------------------------------------------------------ */

static uint32_t hist_absdiff(int64_t a, int64_t b)
{
    return (uint32_t)(a > b ? a - b : b - a);
}

bool hist_values_changed(const hist_values_t *a, const hist_values_t *b)
{
    if (a->flags != b->flags || a->status != b->status)
        return true;
    if ((a->flags & HIST_HAS_TEMP) &&
        hist_absdiff(a->temp_centi_c, b->temp_centi_c) > HIST_CHANGE_TEMP_CENTI_C)
        return true;
    if ((a->flags & HIST_HAS_HUMIDITY) &&
        hist_absdiff(a->humidity_mpc, b->humidity_mpc) > HIST_CHANGE_HUMIDITY_MPC)
        return true;
    return (a->flags & HIST_HAS_PRESSURE) &&
           hist_absdiff(a->pressure_pa, b->pressure_pa) > HIST_CHANGE_PRESSURE_PA;
}

/* changes_only: is e a change against the last one sent? Remembers e when it is. */
static bool hist_filter_changed(hist_filter_t *f, const hist_event_t *e)
{
    hist_last_t *l = NULL;

    for (size_t i = 0; i < f->n_last && !l; i++)
        if (f->last[i].sensor == e->sensor && strcmp(f->last[i].board, e->board) == 0)
            l = &f->last[i];
    if (l) {
        if (!hist_values_changed(&l->v, &e->v))
            return false;
        l->v = e->v;
        return true;
    }
    if (f->n_last == f->cap_last) {
        size_t cap = f->cap_last ? 2 * f->cap_last : 8;
        hist_last_t *n = realloc(f->last, cap * sizeof(*n));

        if (!n)
            return true; /* cannot remember it: sending too much beats losing a change */
        f->last = n;
        f->cap_last = cap;
    }
    l = &f->last[f->n_last++];
    memset(l, 0, sizeof(*l));
    memcpy(l->board, e->board, sizeof(l->board));
    l->sensor = e->sensor;
    l->v = e->v;
    return true;
}

bool hist_filter_pass(hist_filter_t *f, const hist_event_t *e)
{
    bool found;

    if (!f)
        return true;
    if (f->n_boards && e->board[0]) {
        found = false;
        for (size_t i = 0; i < f->n_boards && !found; i++)
            found = strcmp(f->boards[i], e->board) == 0;
        if (!found)
            return false;
    }
    if (f->n_kinds) {
        found = false;
        for (size_t i = 0; i < f->n_kinds && !found; i++)
            found = strcmp(f->kinds[i], e->kind) == 0;
        if (!found)
            return false;
    }
    if (f->changes_only && e->is_sensor)
        return hist_filter_changed(f, e);
    return true;
}

void hist_filter_free(hist_filter_t *f)
{
    if (!f)
        return;
    free(f->last);
    free(f);
}
