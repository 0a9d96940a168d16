/*
 * ctl_cmd_info.c - picoctl's reading commands: status, list, sensor, button, history, stats,
 * config, metrics, version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_plot.h"
#include "ctl_print.h"
#include "ctl_select.h"
#include "ctl_table.h"

#ifndef PICOD_VERSION
#define PICOD_VERSION "0.0.0"
#endif

#define CTL_TREND_POINTS 20
#define CTL_TREND_MS     (10LL * 60 * 1000) /* status --wide: the last 10 minutes */
#define CTL_CHART_W      60                 /* characters; 2 points each */
#define CTL_CHART_H      10

static json_t *ctl_board_args(const char *key)
{
    return key ? json_pack("{s:s}", "board", key) : json_object();
}

/* picod's history of one sensor since since_ms, max points; NULL on error (reported). */
static json_t *ctl_history(ctl_t *ctl, const char *key, long long sensor, long long since_ms,
                           int points, int *exit)
{
    json_t *resp, *result,
        *args = json_pack("{s:s, s:I, s:I, s:i}", "board", key, "sensor", (json_int_t)sensor,
                          "since_ms", (json_int_t)since_ms, "max_points", points);

    *exit = ctl_request(ctl, "history", args, &resp, &result);
    if (*exit)
        return NULL;
    json_incref(result);
    json_decref(resp);
    return result;
}

/* The first quantity the history's points carry (CTL_N_QUANTITIES when none). */
static size_t ctl_history_quantity(const json_t *h, size_t from)
{
    const json_t *p = json_array_get(json_object_get(h, "points"), 0);

    for (size_t q = from; q < CTL_N_QUANTITIES; q++)
        if (json_object_get(p, ctl_quantities[q].key))
            return q;
    return CTL_N_QUANTITIES;
}

/* Sparklines of each sensor's first quantity, for status --wide (empty on any error). */
static char **ctl_trends(ctl_t *ctl, const json_t *b)
{
    const json_t *sensors = json_object_get(b, "sensors");
    size_t n = json_array_size(sensors);
    char **t = calloc(n + 1, sizeof(char *));
    const char *key = ctl_str(b, "board", NULL);

    for (size_t i = 0; t && key && i < n; i++) {
        int exit;
        json_t *h = ctl_history(
            ctl, key, json_integer_value(json_object_get(json_array_get(sensors, i), "sensor")),
            ctl_now_ms() - CTL_TREND_MS, CTL_TREND_POINTS, &exit);
        size_t q = ctl_history_quantity(h, 0);
        const json_t *pts = json_object_get(h, "points");
        double v[CTL_TREND_POINTS];
        size_t k = 0;

        for (; q < CTL_N_QUANTITIES && k < json_array_size(pts) && k < CTL_TREND_POINTS; k++)
            v[k] = json_number_value(json_object_get(
                       json_object_get(json_array_get(pts, k), ctl_quantities[q].key), "mean")) *
                   ctl_quantities[q].scale;
        t[i] = malloc(3 * CTL_TREND_POINTS + 1);
        if (t[i])
            ctl_sparkline(t[i], 3 * CTL_TREND_POINTS + 1, v, k);
        json_decref(h);
    }
    return t;
}

static void ctl_free_trends(char **t)
{
    for (size_t i = 0; t && t[i]; i++)
        free(t[i]);
    free(t);
}

int ctl_cmd_status(ctl_t *ctl, int argc, char **argv)
{
    ctl_flag_t flags[] = {{"--wide", "-w", false, 0, {0}}};
    json_t *resp, *result, *sresp = NULL, *sres = NULL;
    const char *key = NULL;
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, flags, 1, pos, &n, 1);

    if (r || (n && (r = ctl_board(ctl, pos[0], &key, NULL))))
        return r;
    if ((r = ctl_request(ctl, "status", ctl_board_args(key), &resp, &result)))
        return r;
    if (ctl->json) {
        ctl_emit_json(result);
        json_decref(resp);
        return 0;
    }
    ctl->quiet = true; /* without stats the link line shows what status has */
    if (ctl_request(ctl, "stats", NULL, &sresp, &sres))
        sres = NULL;
    ctl->quiet = false;
    ctl_print_make_safe(resp);
    {
        const json_t *boards = json_object_get(result, "boards");

        if (json_array_size(boards) == 0)
            printf("no boards\n");
        for (size_t i = 0; i < json_array_size(boards); i++) {
            char **trends;

            ctl->quiet = true; /* a sensor without history gets an empty trend */
            trends = flags[0].seen ? ctl_trends(ctl, json_array_get(boards, i)) : NULL;
            ctl->quiet = false;

            printf("%s", i ? "\n" : "");
            ctl_print_status_board(stdout, json_array_get(boards, i), sres,
                                   (const char *const *)trends);
            ctl_free_trends(trends);
        }
    }
    json_decref(sresp);
    json_decref(resp);
    return 0;
}

static void ctl_print_list_cb(const json_t *r)
{
    ctl_print_list(stdout, r);
}

int ctl_cmd_list(ctl_t *ctl, int argc, char **argv)
{
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 0);

    return r ? r : ctl_simple(ctl, "list", NULL, ctl_print_list_cb);
}

/* The status entry of one board (a new reference), or NULL with *exit set. */
static json_t *ctl_status_of(ctl_t *ctl, const char *key, int *exit)
{
    json_t *resp, *result, *b;

    *exit = ctl_request(ctl, "status", ctl_board_args(key), &resp, &result);
    if (*exit)
        return NULL;
    b = json_incref(json_array_get(json_object_get(result, "boards"), 0));
    json_decref(resp);
    if (!b)
        *exit = ctl_error(ctl, CTL_EXIT_NO_BOARD, "unknown_board", "board %s is gone", key);
    return b;
}

/* Charts of every quantity of one sensor's history h. */
static void ctl_chart_history(const json_t *b, const json_t *h, const char *dur)
{
    const json_t *pts = json_object_get(h, "points");
    size_t n = json_array_size(pts);
    int64_t *t = calloc(n + 1, sizeof(*t));
    double *v = calloc(n + 1, sizeof(*v));

    for (size_t q = ctl_history_quantity(h, 0); t && v && q < CTL_N_QUANTITIES;
         q = ctl_history_quantity(h, q + 1)) {
        char title[160];
        ctl_series_t s = {
            .t_ms = t, .v = v, .n = n, .unit = ctl_quantities[q].unit, .title = title};

        for (size_t i = 0; i < n; i++) {
            const json_t *p = json_array_get(pts, i);
            t[i] = (int64_t)json_integer_value(json_object_get(p, "t_ms"));
            v[i] = json_number_value(
                       json_object_get(json_object_get(p, ctl_quantities[q].key), "mean")) *
                   ctl_quantities[q].scale;
        }
        s.since_ms = (int64_t)json_integer_value(json_object_get(h, "since_ms"));
        s.until_ms = (int64_t)json_integer_value(json_object_get(h, "until_ms"));
        s.gap_ms = 3 * (int64_t)json_integer_value(json_object_get(h, "bucket_ms"));
        snprintf(title, sizeof(title), "%s sensor %lld %s, last %s (%lld readings)",
                 ctl_str(b, "name", ctl_str(b, "board", "?")),
                 (long long)json_integer_value(json_object_get(h, "sensor")),
                 ctl_quantities[q].label, dur,
                 (long long)json_integer_value(json_object_get(h, "samples")));
        ctl_plot_chart(stdout, &s, CTL_CHART_W, CTL_CHART_H);
    }
    if (ctl_history_quantity(h, 0) == CTL_N_QUANTITIES)
        printf("%s sensor %lld: no readings in the last %s\n",
               ctl_str(b, "name", ctl_str(b, "board", "?")),
               (long long)json_integer_value(json_object_get(h, "sensor")), dur);
    free(t);
    free(v);
}

/* sensor BOARD [N] --history DUR: one history per sensor, charted or as JSON. */
static int ctl_sensor_history(ctl_t *ctl, const json_t *b, const json_t *sensors, const char *dur)
{
    long long ms;
    json_t *all = json_array();
    int r = 0;

    if (!ctl_parse_duration(dur, &ms))
        r = ctl_usage_error(ctl, "sensor", "--history wants a duration such as 30s, 10m, 1h, 2d");
    for (size_t i = 0; !r && i < json_array_size(sensors); i++) {
        long long idx = json_integer_value(json_object_get(json_array_get(sensors, i), "sensor"));
        json_t *h =
            ctl_history(ctl, ctl_select_key(b), idx, ctl_now_ms() - ms, 2 * CTL_CHART_W, &r);

        if (h && !ctl->json) {
            ctl_print_make_safe(h);
            printf("%s", i ? "\n" : "");
            ctl_chart_history(b, h, dur);
        }
        if (h)
            json_array_append_new(all, h);
    }
    if (!r && ctl->json) {
        json_t *o = json_pack("{s:s, s:O}", "board", ctl_select_key(b), "history", all);
        ctl_emit_json(o);
        json_decref(o);
    }
    json_decref(all);
    return r;
}

int ctl_cmd_sensor(ctl_t *ctl, int argc, char **argv)
{
    ctl_flag_t flags[] = {{"--history", NULL, true, 0, {0}}};
    const char *key;
    json_t *b, *sensors;
    char *pos[2];
    long idx = -1;
    int n, r = ctl_args(ctl, argc, argv, flags, 1, pos, &n, 2);

    if (r)
        return r;
    if (n < 1)
        return ctl_usage_error(ctl, "sensor", "needs BOARD");
    if (n == 2 && !ctl_parse_long(pos[1], 0, 7, &idx))
        return ctl_usage_error(ctl, "sensor", "N must be a sensor index 0..7");
    if ((r = ctl_board(ctl, pos[0], &key, NULL)) || !(b = ctl_status_of(ctl, key, &r)))
        return r;
    sensors = json_array();
    for (size_t i = 0; i < json_array_size(json_object_get(b, "sensors")); i++) {
        json_t *s = json_array_get(json_object_get(b, "sensors"), i);
        if (idx < 0 || json_integer_value(json_object_get(s, "sensor")) == idx)
            json_array_append(sensors, s);
    }
    if (idx >= 0 && json_array_size(sensors) == 0)
        r = ctl_error(ctl, CTL_EXIT_FAILED, "no_sensor", "sensor: board %s has no sensor %ld", key,
                      idx);
    else if (flags[0].seen)
        r = ctl_sensor_history(ctl, b, sensors, flags[0].vals[flags[0].seen - 1]);
    else if (ctl->json) {
        json_t *o = json_pack("{s:s, s:O}", "board", key, "sensors", sensors);
        ctl_emit_json(o);
        json_decref(o);
    } else {
        ctl_print_make_safe(sensors);
        ctl_print_sensors(stdout, sensors, NULL, 0);
    }
    json_decref(sensors);
    json_decref(b);
    return r;
}

/* The button events of board key held in picod's event history, oldest first: a watch
 * from seq 0 without filters, read up to the seq its answer names (every held event up to
 * there is replayed before anything newer, so that is where the replay ends). */
static json_t *ctl_button_events(ctl_t *ctl, const char *key, int *exit)
{
    json_t *resp, *result, *events = json_array();
    long long last;
    double deadline;

    *exit = ctl_request(ctl, "watch", json_pack("{s:i}", "since", 0), &resp, &result);
    if (*exit) {
        json_decref(events);
        return NULL;
    }
    last = (long long)json_integer_value(json_object_get(result, "seq"));
    json_decref(resp);
    deadline = ctl_mono_ms() + ctl->timeout_ms;
    for (long long seq = 0; seq < last;) {
        int err, left = (int)(deadline - ctl_mono_ms());
        json_t *ev = left > 0 ? ctl_conn_recv(&ctl->conn, left, &err) : NULL;

        if (!ev)
            break; /* what arrived is what there is */
        if (json_is_integer(json_object_get(ev, "seq")))
            seq = (long long)json_integer_value(json_object_get(ev, "seq"));
        if (!strcmp(ctl_str(ev, "event", ""), "button") && !strcmp(ctl_str(ev, "board", ""), key) &&
            seq <= last)
            json_array_append(events, ev);
        json_decref(ev);
    }
    return events;
}

int ctl_cmd_button(ctl_t *ctl, int argc, char **argv)
{
    const size_t recent = 10;
    const char *key;
    json_t *b, *events, *btn, *tail = json_array();
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 1);

    if (r || (!n && (r = ctl_usage_error(ctl, "button", "needs BOARD"))))
        goto out;
    if ((r = ctl_board(ctl, pos[0], &key, NULL)) || !(b = ctl_status_of(ctl, key, &r)))
        goto out;
    events = ctl_button_events(ctl, key, &r);
    btn = json_object_get(b, "button");
    for (size_t i = json_array_size(events) > recent ? json_array_size(events) - recent : 0;
         i < json_array_size(events); i++)
        json_array_append(tail, json_array_get(events, i));
    if (!r && ctl->json) {
        json_t *o = json_pack("{s:s, s:O, s:O}", "board", key, "button", btn ? btn : json_null(),
                              "recent", tail);
        ctl_emit_json(o);
        json_decref(o);
    } else if (!r) {
        ctl_print_make_safe(b);
        ctl_print_make_safe(tail);
        if (json_is_object(btn))
            printf("%s: button %s, %lld press%s since boot\n", key,
                   json_is_true(json_object_get(btn, "down")) ? "down" : "up",
                   (long long)json_integer_value(json_object_get(btn, "presses")),
                   json_integer_value(json_object_get(btn, "presses")) == 1 ? "" : "es");
        else
            printf("%s: button state not known yet\n", key);
        if (json_array_size(tail) == 0)
            printf("no button events in picod's history\n");
        else
            printf("recent button events (oldest first):\n");
        for (size_t i = 0; i < json_array_size(tail); i++)
            ctl_print_event(stdout, json_array_get(tail, i), ctl_now_ms());
    }
    json_decref(events);
    json_decref(b);
out:
    json_decref(tail);
    return r;
}

static void ctl_print_history(const json_t *h)
{
    const json_t *pts = json_object_get(h, "points");
    int64_t span = json_integer_value(json_object_get(h, "until_ms")) -
                   json_integer_value(json_object_get(h, "since_ms"));
    ctl_table_t t;

    printf("board %s sensor %lld: %lld readings in range, %lld held, buckets of %lld ms\n",
           ctl_str(h, "board", "?"), (long long)json_integer_value(json_object_get(h, "sensor")),
           (long long)json_integer_value(json_object_get(h, "samples")),
           (long long)json_integer_value(json_object_get(h, "held")),
           (long long)json_integer_value(json_object_get(h, "bucket_ms")));
    if (json_array_size(pts) == 0)
        return;
    ctl_table_init(&t, 2 + 3 * CTL_N_QUANTITIES);
    ctl_table_cellf(&t, "TIME");
    ctl_table_cellf(&t, "N");
    for (size_t q = 0; q < CTL_N_QUANTITIES; q++) {
        ctl_table_cellf(&t, "%s_MIN", q == 0 ? "TEMP" : q == 1 ? "HUM" : "PRESS");
        ctl_table_cellf(&t, "MEAN");
        ctl_table_cellf(&t, "MAX");
    }
    for (size_t i = 0; i < json_array_size(pts); i++) {
        const json_t *p = json_array_get(pts, i);
        char when[32];

        ctl_plot_time(when, sizeof(when), json_integer_value(json_object_get(p, "t_ms")), span);
        ctl_table_cellf(&t, "%s", when);
        ctl_table_cellf(&t, "%lld", (long long)json_integer_value(json_object_get(p, "n")));
        for (size_t q = 0; q < CTL_N_QUANTITIES; q++) {
            const json_t *o = json_object_get(p, ctl_quantities[q].key);
            for (int k = 0; k < 3; k++) {
                const json_t *v = json_object_get(o, k == 0 ? "min" : k == 1 ? "mean" : "max");
                if (json_is_number(v))
                    ctl_table_cellf(&t, "%.*f", ctl_quantities[q].decimals,
                                    json_number_value(v) * ctl_quantities[q].scale);
                else
                    ctl_table_cellf(&t, "-");
            }
        }
    }
    t.right = ~1u;
    ctl_table_print(&t, stdout);
    ctl_table_free(&t);
}

int ctl_cmd_history(ctl_t *ctl, int argc, char **argv)
{
    ctl_flag_t flags[] = {{"--since", NULL, true, 0, {0}}, {"--points", NULL, true, 0, {0}}};
    const char *key;
    char *pos[2];
    long sensor, points = 30;
    long long since = 0;
    json_t *args;
    int n, r = ctl_args(ctl, argc, argv, flags, 2, pos, &n, 2);

    if (r)
        return r;
    if (n != 2 || !ctl_parse_long(pos[1], 0, 7, &sensor))
        return ctl_usage_error(ctl, "history", "needs BOARD and a SENSOR index 0..7");
    if (flags[0].seen && !ctl_parse_duration(flags[0].vals[0], &since))
        return ctl_usage_error(ctl, "history", "--since wants a duration such as 10m");
    if (flags[1].seen && !ctl_parse_long(flags[1].vals[0], 1, 2000, &points))
        return ctl_usage_error(ctl, "history", "--points wants 1..2000");
    if ((r = ctl_board(ctl, pos[0], &key, NULL)))
        return r;
    args = json_pack("{s:s, s:i, s:i}", "board", key, "sensor", (int)sensor, "max_points",
                     (int)points);
    if (since)
        json_object_set_new(args, "since_ms", json_integer(ctl_now_ms() - since));
    return ctl_simple(ctl, "history", args, ctl_print_history);
}

static void ctl_print_board_stats_cb(const json_t *r)
{
    ctl_print_board_stats(stdout, r);
}

static void ctl_print_stats_cb(const json_t *r)
{
    ctl_print_stats_all(stdout, r);
}

int ctl_cmd_stats(ctl_t *ctl, int argc, char **argv)
{
    const char *key = NULL;
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 1);

    if (r || (n && (r = ctl_board(ctl, pos[0], &key, NULL))))
        return r;
    return ctl_simple(ctl, "stats", ctl_board_args(key),
                      key ? ctl_print_board_stats_cb : ctl_print_stats_cb);
}

static void ctl_print_ini_value(const char *k, const json_t *v)
{
    char *s;

    if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
        return; /* not set (an empty list: none) */
    if (json_is_string(v)) {
        printf("%s = %s\n", k, json_string_value(v));
        return;
    }
    if (json_is_array(v)) {
        printf("%s =", k);
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            s = json_dumps(e, JSON_ENCODE_ANY | CTL_JSON_FLAGS);
            printf("%s %s", i ? "," : "", json_is_string(e) ? json_string_value(e) : s);
            free(s);
        }
        printf("\n");
        return;
    }
    s = json_dumps(v, JSON_ENCODE_ANY | CTL_JSON_FLAGS);
    printf("%s = %s\n", k, json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : s);
    free(s);
}

/* The config result in the config file's own form (systemd/picod.conf.example). */
static void ctl_print_config(const json_t *r)
{
    const json_t *opts = json_object_get(r, "picod"), *boards = json_object_get(r, "boards");

    printf("# picod's effective configuration (config file: %s)\n[picod]\n",
           ctl_str(r, "path", "none"));
    for (void *it = json_object_iter((json_t *)opts); it;
         it = json_object_iter_next((json_t *)opts, it))
        ctl_print_ini_value(json_object_iter_key(it), json_object_iter_value(it));
    for (size_t i = 0; i < json_array_size(boards); i++) {
        const json_t *b = json_array_get(boards, i);

        printf("\n[board %s]\n", ctl_str(b, "name", "?"));
        for (void *it = json_object_iter((json_t *)b); it;
             it = json_object_iter_next((json_t *)b, it))
            if (strcmp(json_object_iter_key(it), "name") != 0)
                ctl_print_ini_value(json_object_iter_key(it), json_object_iter_value(it));
    }
}

int ctl_cmd_config(ctl_t *ctl, int argc, char **argv)
{
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 0);

    return r ? r : ctl_simple(ctl, "config", NULL, ctl_print_config);
}

/* OpenMetrics text as picod wrote it, e.g. for node_exporter's textfile collector. Raw:
 * the lines are the format; any other control character (none expected: picod escapes label
 * values) is shown as '?' so nothing reaches the terminal as a control sequence. */
int ctl_cmd_metrics(ctl_t *ctl, int argc, char **argv)
{
    json_t *resp = NULL, *result = NULL;
    const char *text;
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 0);

    if (r)
        return r;
    if ((r = ctl_request(ctl, "metrics", NULL, &resp, &result)))
        return r;
    if (ctl->json) {
        ctl_emit_json(result);
    } else {
        text = json_string_value(json_object_get(result, "text"));
        for (const char *p = text ? text : ""; *p; p++)
            fputc((unsigned char)*p < 0x20 && *p != '\n' ? '?' : *p, stdout);
    }
    json_decref(resp);
    return 0;
}

static void ctl_print_version(const json_t *r)
{
    printf("picoctl %s\npicod %s (protocol %s, api %lld)\n", PICOD_VERSION,
           ctl_str(r, "version", "?"), ctl_str(r, "protocol", "?"),
           (long long)json_integer_value(json_object_get(r, "api")));
}

int ctl_cmd_version(ctl_t *ctl, int argc, char **argv)
{
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 0);

    return r ? r : ctl_simple(ctl, "version", NULL, ctl_print_version);
}
