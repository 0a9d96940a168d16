/* board_json.c - see board_json.h. */
#include "board_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "board_text.h"
#include "json_out.h"

const char *board_json_led_mode(uint8_t op)
{
    static const char *const names[] = {"off", "on", "toggle", "blink", "auto", "pattern"};

    return op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}

const char *board_json_sensor_kind(uint8_t kind)
{
    switch (kind) {
    case PROTO_SENSOR_BME280:
        return "bme280";
    case PROTO_SENSOR_SHT3X:
        return "sht3x";
    case PROTO_SENSOR_HTU21D:
        return "htu21d";
    }
    return "unknown";
}

static const char *board_json_platform(uint8_t p)
{
    return p == PROTO_PLATFORM_RP2040     ? "rp2040"
           : p == PROTO_PLATFORM_HOST_SIM ? "picosim"
                                          : "unknown";
}

static const char *board_json_reset_cause(uint8_t c)
{
    static const char *const names[] = {"unknown", "power_on", "watchdog", "software",
                                        "fault",   "debug",    "bootrom",  "run_pin"};

    return c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

static const char *board_json_fault_kind(uint8_t k)
{
    static const char *const names[] = {"none",         "hardfault",  "watchdog",
                                        "task_overrun", "stack",      "host_lost",
                                        "host_back",    "queue_drop", "clock"};

    return k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

static const char *board_json_button_kind(uint8_t k)
{
    static const char *const names[] = {"unknown", "press", "release", "long", "double"};

    return k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

/* RP2040 SYSINFO CHIP_ID revision, as the errata name the silicon. */
static json_t *board_json_chip(uint8_t rev)
{
    return rev == 0 ? json_null() : json_string(rev == 1 ? "B0/B1" : rev == 2 ? "B2" : "newer");
}

static json_t *board_json_clock_faults(uint8_t faults)
{
    static const char *const names[] = {"xosc", "pll_sys", "pll_usb", "measure"};
    json_t *a = json_array();

    for (size_t i = 0; a && i < sizeof(names) / sizeof(names[0]); i++)
        if (faults & (1u << i))
            json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *board_json_caps(uint32_t caps)
{
    static const char *const names[] = {"led", "button", "i2c", "bootsel", "stats", "debug"};
    json_t *a = json_array();

    for (size_t i = 0; a && i < sizeof(names) / sizeof(names[0]); i++)
        if (caps & (1u << i))
            json_array_append_new(a, json_string(names[i]));
    return a;
}

json_t *board_json_summary(const board_t *b)
{
    json_t *o = json_pack("{s:o, s:s, s:s, s:I}", "board",
                          b->id[0] ? json_string(b->id) : json_null(), "device", b->link.path,
                          "state", board_state_name(b->state), "rev", (json_int_t)b->rev);

    if (o) /* [board NAME] in the config, null when unnamed */
        json_object_set_new(o, "name", b->name[0] ? json_string(b->name) : json_null());
    if (o && b->has_hello) {
        char fw[16];

        snprintf(fw, sizeof(fw), "%u.%u.%u", b->hello.fw_major, b->hello.fw_minor,
                 b->hello.fw_patch);
        json_object_set_new(o, "firmware", json_string(fw));
        json_object_set_new(o, "build", json_string(b->build));
        json_object_set_new(o, "platform", json_string(board_json_platform(b->hello.platform)));
    }
    if (o && b->state == BOARD_INCOMPATIBLE) {
        char why[96];
        unsigned major = PROTO_VERSION_MAJOR_OF(b->peer_version);
        unsigned minor = PROTO_VERSION_MINOR_OF(b->peer_version);

        if (major == PROTO_VERSION_MAJOR)
            snprintf(why, sizeof(why), "board refused picod's protocol %u.%u",
                     (unsigned)PROTO_VERSION_MAJOR, (unsigned)PROTO_VERSION_MINOR);
        else
            snprintf(why, sizeof(why), "board speaks protocol %u.%u, picod speaks %u.%u", major,
                     minor, (unsigned)PROTO_VERSION_MAJOR, (unsigned)PROTO_VERSION_MINOR);
        json_object_set_new(o, "error", json_string(why));
    }
    return o;
}

/* Time-dependent integers of a status answer: when building the cached bytes they are written
 * as distinct sentinels (BJ_HOLE(kind)), found again in the dump and filled per answer. */
#define BJ_HOLE_BASE   (-4611686018427387904LL) /* -2^62: no real age, uptime or count */
#define BJ_HOLE(k)     (BJ_HOLE_BASE - (long long)(k))
#define BJ_STATE_AGE   0
#define BJ_LAST_RX_AGE 1
#define BJ_UPTIME      2
#define BJ_MIRROR_AGE  3
#define BJ_SENSOR_AGE  4 /* + sensor index */
#define BJ_HOLES_MAX   (BJ_SENSOR_AGE + PROTO_MAX_READINGS)

static json_t *board_json_reading_at(const board_t *b, const board_sensor_t *s, bool holes)
{
    const proto_reading_t *r = &s->r;
    json_t *o = json_pack("{s:i, s:s, s:i, s:s, s:I, s:I}", "sensor", r->sensor, "kind",
                          board_json_sensor_kind(r->kind), "addr", r->addr, "status",
                          r->status ? proto_err_name(r->status) : "ok", "board_ms",
                          (json_int_t)r->t_ms, "age_ms",
                          holes ? (json_int_t)BJ_HOLE(BJ_SENSOR_AGE + r->sensor)
                                : (json_int_t)(uv_now(b->loop) - s->host_ms));

    if (!o || r->status)
        return o;
    if (r->flags & PROTO_READING_TEMP)
        json_object_set_new(o, "temp_c", json_real(r->temp_centi_c / 100.0));
    if (r->flags & PROTO_READING_HUMIDITY)
        json_object_set_new(o, "humidity_pct", json_real(r->humidity_milli_pct / 1000.0));
    if (r->flags & PROTO_READING_PRESSURE)
        json_object_set_new(o, "pressure_pa", json_integer((json_int_t)r->pressure_pa));
    return o;
}

json_t *board_json_reading(const board_t *b, const board_sensor_t *s)
{
    return board_json_reading_at(b, s, false);
}

static json_t *board_json_sensors(const board_t *b, bool holes)
{
    json_t *a = json_array();

    for (uint8_t i = 0; a && i < b->sensor_count; i++)
        if (b->sensors[i].valid)
            json_array_append_new(a, board_json_reading_at(b, &b->sensors[i], holes));
    return a;
}

/* holes: the time-dependent integers as BJ_HOLE sentinels, for the cached bytes. A field added
 * here that can change without b->rev changing must be a hole (filled in board_json_status_append)
 * or part of the cache key in bj_cache(), or status would show it stale. */
static json_t *board_json_status_at(const board_t *b, bool holes)
{
    json_t *o = board_json_summary(b);
    uint64_t now = uv_now(b->loop);

    if (!o)
        return NULL;
    json_object_set_new(
        o, "state_age_ms",
        json_integer(holes ? BJ_HOLE(BJ_STATE_AGE) : (json_int_t)(now - b->state_since_ms)));
    json_object_set_new(o, "last_rx_age_ms",
                        holes           ? json_integer(BJ_HOLE(BJ_LAST_RX_AGE))
                        : b->last_rx_ms ? json_integer((json_int_t)(now - b->last_rx_ms))
                                        : json_null());
    if (b->has_hello) {
        json_object_set_new(o, "reset_cause",
                            json_string(board_json_reset_cause(b->hello.reset_cause)));
        json_object_set_new(o, "caps", board_json_caps(b->hello.caps));
        json_object_set_new(o, "chip_rev", json_integer(b->hello.chip_rev));
        json_object_set_new(o, "chip", board_json_chip(b->hello.chip_rev));
        json_object_set_new(o, "clock_faults", board_json_clock_faults(b->hello.clock_faults));
        /* Board uptime extrapolated from the last report. */
        json_object_set_new(
            o, "uptime_ms",
            json_integer(holes ? BJ_HOLE(BJ_UPTIME)
                               : (json_int_t)b->uptime_ms + (json_int_t)(now - b->uptime_at_ms)));
        if (b->hello.crash.kind)
            json_object_set_new(o, "last_crash",
                                json_pack("{s:s, s:i, s:I, s:I}", "kind",
                                          board_json_fault_kind(b->hello.crash.kind), "task",
                                          b->hello.crash.task, "pc", (json_int_t)b->hello.crash.pc,
                                          "uptime_ms", (json_int_t)b->hello.crash.uptime_ms));
    }
    if (b->has_state) {
        json_object_set_new(o, "led",
                            json_pack("{s:b, s:s}", "on", b->st.led_on, "mode",
                                      board_json_led_mode(b->st.led_mode)));
        json_object_set_new(o, "button",
                            json_pack("{s:b, s:I}", "down", b->st.button_down, "presses",
                                      (json_int_t)b->st.button_presses));
        json_object_set_new(
            o, "mirror_age_ms",
            json_integer(holes ? BJ_HOLE(BJ_MIRROR_AGE) : (json_int_t)(now - b->st_ms)));
    } else {
        json_object_set_new(o, "led", json_null());
        json_object_set_new(o, "button", json_null());
    }
    json_object_set_new(o, "sensors", board_json_sensors(b, holes));
    return o;
}

json_t *board_json_status(const board_t *b)
{
    return board_json_status_at(b, false);
}

/* ---- status/list from bytes --------------------------------------------------------------- */

typedef struct bj_hole {
    size_t off, len; /* the sentinel's text in status */
    int kind;
} bj_hole_t;

struct board_json_cache {
    bool valid;
    uint64_t rev; /* the key: rev, HELLOs (a repeated HELLO may change fields), name */
    uint32_t hellos;
    uint8_t peer_version;
    char name[sizeof(((board_t *)0)->name)];
    char *status, *summary;
    size_t status_len, summary_len;
    bj_hole_t holes[BJ_HOLES_MAX];
    size_t n_holes;
};

int board_json_buf_add(board_json_buf_t *o, const char *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 1024;
        char *d;

        while (cap < o->len + n)
            cap *= 2;
        d = realloc(o->data, cap);
        if (!d)
            return -ENOMEM;
        o->data = d;
        o->cap = cap;
    }
    memcpy(o->data + o->len, p, n);
    o->len += n;
    return 0;
}

static char *bj_dump(const json_t *v, size_t *len)
{
    size_t n = v ? json_dumpb(v, NULL, 0, PICOD_JSON_FLAGS) : 0;
    char *d = n ? malloc(n) : NULL;

    if (d)
        json_dumpb(v, d, n, PICOD_JSON_FLAGS);
    *len = d ? n : 0;
    return d;
}

void board_json_cache_free(board_t *b)
{
    if (!b->json_cache)
        return;
    free(b->json_cache->status);
    free(b->json_cache->summary);
    free(b->json_cache);
    b->json_cache = NULL;
}

/* "%lld" without printf's machinery (a status answer fills about ten of these). */
static size_t bj_itoa(long long v, char *out)
{
    char tmp[24];
    size_t n = 0, len = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}

static int bj_hole_cmp(const void *x, const void *y)
{
    const bj_hole_t *a = x, *c = y;

    return a->off < c->off ? -1 : a->off > c->off;
}

/* The cache for b's current rev, rebuilt when stale; NULL when out of memory. */
static struct board_json_cache *bj_cache(board_t *b)
{
    struct board_json_cache *k = b->json_cache;
    json_t *st, *sum;

    if (k && k->valid && k->rev == b->rev && k->hellos == b->cnt.hellos &&
        k->peer_version == b->peer_version && strcmp(k->name, b->name) == 0)
        return k;
    if (!k && !(k = b->json_cache = calloc(1, sizeof(*k))))
        return NULL;
    free(k->status);
    free(k->summary);
    k->status = k->summary = NULL;
    k->valid = false;
    st = board_json_status_at(b, true);
    sum = board_json_summary(b);
    k->status = bj_dump(st, &k->status_len);
    k->summary = bj_dump(sum, &k->summary_len);
    json_decref(st);
    json_decref(sum);
    if (!k->status || !k->summary)
        return NULL;
    k->n_holes = 0;
    for (int kind = 0; kind < BJ_HOLES_MAX; kind++) {
        char text[32];
        int n = snprintf(text, sizeof(text), "%lld", BJ_HOLE(kind));
        const char *at = memmem(k->status, k->status_len, text, (size_t)n);

        if (!at)
            continue;
        k->holes[k->n_holes++] = (bj_hole_t){(size_t)(at - k->status), (size_t)n, kind};
    }
    qsort(k->holes, k->n_holes, sizeof(k->holes[0]), bj_hole_cmp);
    k->rev = b->rev;
    k->hellos = b->cnt.hellos;
    k->peer_version = b->peer_version;
    snprintf(k->name, sizeof(k->name), "%s", b->name);
    k->valid = true;
    return k;
}

int board_json_summary_append(board_t *b, board_json_buf_t *out)
{
    struct board_json_cache *k = bj_cache(b);

    return k ? board_json_buf_add(out, k->summary, k->summary_len) : -ENOMEM;
}

int board_json_status_append(board_t *b, board_json_buf_t *out)
{
    struct board_json_cache *k = bj_cache(b);
    uint64_t now = uv_now(b->loop);
    size_t at = 0;

    if (!k)
        return -ENOMEM;
    for (size_t i = 0; i < k->n_holes; i++) {
        const bj_hole_t *h = &k->holes[i];
        char text[32];
        long long v = 0;

        if (board_json_buf_add(out, k->status + at, h->off - at) < 0)
            return -ENOMEM;
        at = h->off + h->len;
        switch (h->kind) {
        case BJ_STATE_AGE:
            v = (long long)(now - b->state_since_ms);
            break;
        case BJ_LAST_RX_AGE:
            if (!b->last_rx_ms) {
                if (board_json_buf_add(out, "null", 4) < 0)
                    return -ENOMEM;
                continue;
            }
            v = (long long)(now - b->last_rx_ms);
            break;
        case BJ_UPTIME:
            v = (long long)b->uptime_ms + (long long)(now - b->uptime_at_ms);
            break;
        case BJ_MIRROR_AGE:
            v = (long long)(now - b->st_ms);
            break;
        default:
            v = (long long)(now - b->sensors[h->kind - BJ_SENSOR_AGE].host_ms);
            break;
        }
        if (board_json_buf_add(out, text, bj_itoa(v, text)) < 0)
            return -ENOMEM;
    }
    return board_json_buf_add(out, k->status + at, k->status_len - at);
}

static json_t *board_json_decoder(const proto_decoder_stats_t *d)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "frames", (json_int_t)d->frames,
                     "bytes", (json_int_t)d->bytes, "crc_errors", (json_int_t)d->crc_errors,
                     "cobs_errors", (json_int_t)d->cobs_errors, "oversize", (json_int_t)d->oversize,
                     "short_frames", (json_int_t)d->short_frames, "version_errors",
                     (json_int_t)d->version_errors);
}

/* The board's clock against the host's (clocksync.h); offset in Unix us (board time 0). */
static json_t *board_json_clock(const board_t *b)
{
    clocksync_info_t in;
    struct timespec mono, rt;
    json_t *o;

    clocksync_get_info(&b->clock, &in);
    o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "synced", in.synced, "samples",
                  (json_int_t)in.samples, "rejected", (json_int_t)in.rejected, "restarts",
                  (json_int_t)in.restarts, "misses", (json_int_t)in.misses, "last_rtt_us",
                  (json_int_t)in.last_rtt_us, "min_rtt_us", (json_int_t)in.min_rtt_us);
    if (!o || !in.synced)
        return o;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &rt);
    double shift =
        (double)(rt.tv_sec - mono.tv_sec) * 1e6 + (double)(rt.tv_nsec - mono.tv_nsec) / 1e3;
    json_object_set_new(o, "offset_us", json_integer((json_int_t)llround(in.offset_us + shift)));
    json_object_set_new(o, "drift_ppm", json_real(round(in.drift_ppm * 1000) / 1000));
    json_object_set_new(o, "err_us", json_integer((json_int_t)in.err_us));
    return o;
}

/* {"samples","last","max","mean"} of a periodic timer's lateness (board.h, board_jitter_t). */
static json_t *board_json_jitter(const board_jitter_t *j)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "samples", (json_int_t)j->samples, "last",
                     (json_int_t)j->last_us, "max", (json_int_t)j->max_us, "mean",
                     (json_int_t)(j->samples ? j->sum_us / j->samples : 0));
}

json_t *board_json_stats(const board_t *b)
{
    const link_stats_t *l = &b->link.stats;
    const reqtrack_stats_t *r = &b->rt.stats;
    const board_counters_t *c = &b->cnt;
    json_t *o = board_json_summary(b);

    if (!o)
        return NULL;
    json_object_set_new(o, "decoder", board_json_decoder(&b->link.dec.stats));
    json_object_set_new(o, "link",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "rx_bytes",
                                  (json_int_t)l->rx_bytes, "tx_bytes", (json_int_t)l->tx_bytes,
                                  "tx_frames", (json_int_t)l->tx_frames, "opens",
                                  (json_int_t)l->opens, "open_failures",
                                  (json_int_t)l->open_failures, "losses", (json_int_t)l->losses,
                                  "tx_overflows", (json_int_t)l->tx_overflows, "up", b->link.up));
    json_object_set_new(
        o, "requests",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sent",
                  (json_int_t)r->sent, "acked", (json_int_t)r->acked, "errors",
                  (json_int_t)r->errors, "timeouts", (json_int_t)r->timeouts, "retries",
                  (json_int_t)r->retries, "retries_forbidden", (json_int_t)r->retries_forbidden,
                  "unmatched", (json_int_t)r->unmatched, "cancelled", (json_int_t)r->cancelled,
                  "table_full", (json_int_t)r->full, "pending",
                  (json_int_t)reqtrack_pending(&b->rt), "last_rtt_ms", (json_int_t)r->last_rtt_ms,
                  "max_rtt_ms", (json_int_t)r->max_rtt_ms));
    json_object_set_new(
        o, "board_counters",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "hellos",
                  (json_int_t)c->hellos, "resets", (json_int_t)c->resets, "resyncs",
                  (json_int_t)c->resyncs, "identity_changes", (json_int_t)c->identity_changes,
                  "version_errors", (json_int_t)c->version_errors, "events", (json_int_t)c->events,
                  "unexpected", (json_int_t)c->unexpected, "bad_bodies", (json_int_t)c->bad_bodies,
                  "stale_count", (json_int_t)c->stale_count, "offline_count",
                  (json_int_t)c->offline_count));
    json_object_set_new(o, "clock", board_json_clock(b));
    json_object_set_new(o, "timing",
                        json_pack("{s:o, s:o}", "heartbeat_jitter_us",
                                  board_json_jitter(&b->hb_jitter), "poll_jitter_us",
                                  board_json_jitter(&b->poll_jitter)));
    return o;
}

json_t *board_json_button(const proto_button_event_t *e)
{
    return json_pack("{s:s, s:i, s:I, s:I, s:I}", "kind", board_json_button_kind(e->kind), "button",
                     e->button, "t_us", (json_int_t)e->t_us, "duration_us",
                     (json_int_t)e->duration_us, "count", (json_int_t)e->count);
}

json_t *board_json_fault(const proto_fault_event_t *e)
{
    return json_pack("{s:s, s:i, s:I}", "kind", board_json_fault_kind(e->kind), "task", e->task,
                     "detail", (json_int_t)e->detail);
}

json_t *board_json_log(const uint8_t *body, size_t len)
{
    char text[BOARD_TEXT_CAP(PROTO_MAX_BODY)];

    board_text_clean(body + 1, len - 1, text, sizeof(text)); /* untrusted */
    return json_pack("{s:i, s:s}", "level", body[0], "text", text);
}

json_t *board_json_board_stats(const proto_stats_t *s)
{
    const proto_hw_info_t *h = &s->hw;
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:i}",
        "uptime_ms", (json_int_t)s->uptime_ms, "rx_frames", (json_int_t)s->rx_frames,
        "rx_crc_errors", (json_int_t)s->rx_crc_errors, "rx_cobs_errors",
        (json_int_t)s->rx_cobs_errors, "rx_oversize", (json_int_t)s->rx_oversize, "rx_short",
        (json_int_t)s->rx_short, "rx_version", (json_int_t)s->rx_version, "rx_unknown",
        (json_int_t)s->rx_unknown, "rx_duplicates", (json_int_t)s->rx_duplicates, "tx_frames",
        (json_int_t)s->tx_frames, "tx_events_dropped", (json_int_t)s->tx_events_dropped,
        "host_lost_count", (json_int_t)s->host_lost_count, "i2c_errors", (json_int_t)s->i2c_errors,
        "ram_used", (json_int_t)s->ram_used, "ram_total", (json_int_t)s->ram_total, "task_count",
        s->task_count);

    /* Protocol 1.1: silicon facts (0 = unknown, e.g. a 1.0 board or picosim). Integers, so that
     * `picoctl stats BOARD` prints them on its "board says" line. */
    if (o)
        json_object_update_new(
            o, json_pack("{s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "chip_rev", h->chip_rev,
                         "clock_faults", h->clock_faults, "wd_reason", h->wd_reason, "chip_reset",
                         (json_int_t)h->chip_reset, "clk_sys_khz", (json_int_t)h->clk_sys_khz,
                         "clk_ref_khz", (json_int_t)h->clk_ref_khz, "clk_peri_khz",
                         (json_int_t)h->clk_peri_khz, "clk_usb_khz", (json_int_t)h->clk_usb_khz,
                         "rosc_khz", (json_int_t)h->rosc_khz));
    return o;
}

/* PROTOCOL.md gives TASK_STATS.state as a u8 without naming its values; these are the
 * firmware scheduler's (enum sched_state in firmware/core/sched.h). */
static const char *board_json_task_state(uint8_t st)
{
    static const char *const names[] = {"ready", "running", "sleeping", "waiting", "done"};

    return st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

json_t *board_json_task(const proto_task_stats_t *t, bool idle)
{
    char name[BOARD_TEXT_CAP(PROTO_TASK_NAME_LEN)];

    /* NUL-padded on the wire, not necessarily terminated, untrusted. */
    board_text_clean((const uint8_t *)t->name, PROTO_TASK_NAME_LEN, name, sizeof(name));
    return json_pack("{s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:i}", "index", t->index, "name", name,
                     "state", idle ? "idle" : board_json_task_state(t->state), "runs",
                     (json_int_t)t->runs, "total_us", (json_int_t)t->total_us, "max_us",
                     (json_int_t)t->max_us, "max_late_us", (json_int_t)t->max_late_us, "stack_hwm",
                     t->stack_hwm);
}
