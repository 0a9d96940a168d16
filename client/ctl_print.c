/* ctl_print.c - see ctl_print.h. */
#include "ctl_print.h"
#include "ctl_table.h"

#include <inttypes.h>
#include <stdbool.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* Does s hold a control character? s is valid UTF-8 (jansson's strings are). */
static bool ctl_has_control(const unsigned char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s == 0x7f || (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f))
            return true;
    return false;
}

static void ctl_escape_string(json_t *v)
{
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t n = json_string_length(v), o = 0;
    char *out = malloc(4 * n + 1);

    if (!out)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            o += (size_t)snprintf(out + o, 5, "\\x%02x", s[i]);
        } else if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
            o += (size_t)snprintf(out + o, 5, "\\x%02x", s[i + 1]);
            i++;
        } else {
            out[o++] = (char)s[i];
        }
    }
    out[o] = '\0';
    json_string_set(v, out);
    free(out);
}

void ctl_print_make_safe(json_t *v)
{
    if (json_is_string(v)) {
        /* json_string_length: a string may hold "\u0000", which ends it for strlen. */
        if (ctl_has_control((const unsigned char *)json_string_value(v)) ||
            strlen(json_string_value(v)) != json_string_length(v))
            ctl_escape_string(v);
    } else if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it))
            ctl_print_make_safe(json_object_iter_value(it));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            ctl_print_make_safe(json_array_get(v, i));
    }
}

const char *ctl_str(const json_t *o, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : def;
}

static long long ctl_int(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

void ctl_fmt_duration(char *out, size_t cap, long long ms)
{
    long long s = ms / 1000;

    if (ms < 0)
        snprintf(out, cap, "-");
    else if (ms < 60000)
        snprintf(out, cap, "%.1fs", (double)ms / 1000.0);
    else if (s < 3600)
        snprintf(out, cap, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, cap, "%lldh%02lldm", s / 3600, s / 60 % 60);
    else
        snprintf(out, cap, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

/* "-" for a missing (null) age. */
static void ctl_age(char *out, size_t cap, const json_t *ms)
{
    if (json_is_integer(ms))
        ctl_fmt_duration(out, cap, (long long)json_integer_value(ms));
    else
        snprintf(out, cap, "-");
}

const ctl_quantity_t ctl_quantities[CTL_N_QUANTITIES] = {
    {"temp_c", "temperature", "°C", 1.0, 2},
    {"humidity_pct", "humidity", "%RH", 1.0, 1},
    {"pressure_pa", "pressure", "hPa", 0.01, 2},
};

void ctl_fmt_quantity(char *out, size_t cap, const json_t *reading, size_t q)
{
    const ctl_quantity_t *k = &ctl_quantities[q];
    const json_t *v = json_object_get(reading, k->key);

    if (!json_is_number(v))
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%.*f %s", k->decimals, json_number_value(v) * k->scale, k->unit);
}

void ctl_print_list(FILE *f, const json_t *result)
{
    const json_t *boards = json_object_get(result, "boards"), *b;
    ctl_table_t t;
    char paint[96];

    if (json_array_size(boards) == 0) {
        fprintf(f, "no boards\n");
        return;
    }
    ctl_table_init(&t, 6);
    ctl_table_row(
        &t, (const char *const[]){"BOARD", "NAME", "STATE", "PLATFORM", "FIRMWARE", "DEVICE"});
    for (size_t i = 0; i < json_array_size(boards) && (b = json_array_get(boards, i)); i++) {
        const char *state = ctl_str(b, "state", "?");

        ctl_table_row(
            &t, (const char *const[]){ctl_str(b, "board", "-"), ctl_str(b, "name", "-"),
                                      ctl_paint(paint, sizeof(paint), ctl_state_tone(state), state),
                                      ctl_str(b, "platform", "-"), ctl_str(b, "firmware", "-"),
                                      ctl_str(b, "device", "?")});
    }
    ctl_table_print(&t, f);
    ctl_table_free(&t);
}

/* The stats entry (host-side counters) of board b, or NULL. */
static const json_t *ctl_stats_of(const json_t *stats, const json_t *b)
{
    const json_t *list = json_object_get(stats, "boards");

    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *s = json_array_get(list, i);
        if (!strcmp(ctl_str(s, "device", ""), ctl_str(b, "device", "?")))
            return s;
    }
    return NULL;
}

static void ctl_status_link(FILE *f, const json_t *b, const json_t *st)
{
    const json_t *dec = json_object_get(st, "decoder"), *req = json_object_get(st, "requests");
    const json_t *rtt = json_object_get(req, "last_rtt_ms");
    char age[24];

    ctl_age(age, sizeof(age), json_object_get(b, "last_rx_age_ms"));
    fprintf(f, "  %-10s last frame %s ago", "link", age);
    if (dec)
        fprintf(f, ", %lld frames in, %lld CRC / %lld COBS errors", ctl_int(dec, "frames"),
                ctl_int(dec, "crc_errors"), ctl_int(dec, "cobs_errors"));
    if (req)
        fprintf(f, ", %lld timeouts, %lld retries", ctl_int(req, "timeouts"),
                ctl_int(req, "retries"));
    if (json_is_number(rtt) && json_number_value(rtt) >= 0)
        fprintf(f, ", rtt %.2f ms", json_number_value(rtt));
    fputc('\n', f);
}

/* The most telling problem: an incompatible board's reason, a crash, a sensor error. */
static void ctl_status_error(FILE *f, const json_t *b)
{
    const json_t *crash = json_object_get(b, "last_crash"),
                 *sensors = json_object_get(b, "sensors");
    char up[24];

    if (json_is_string(json_object_get(b, "error"))) {
        fprintf(f, "  %-10s %s\n", "error", ctl_str(b, "error", ""));
        return;
    }
    if (json_is_object(crash)) {
        ctl_fmt_duration(up, sizeof(up), ctl_int(crash, "uptime_ms"));
        fprintf(f, "  %-10s %s in task %lld at uptime %s (pc 0x%08llx)\n", "last crash",
                ctl_str(crash, "kind", "?"), ctl_int(crash, "task"), up, ctl_int(crash, "pc"));
    }
    for (size_t i = 0; i < json_array_size(sensors); i++) {
        const json_t *s = json_array_get(sensors, i);
        if (strcmp(ctl_str(s, "status", "ok"), "ok") != 0) {
            fprintf(f, "  %-10s sensor %lld (%s): %s\n", "error", ctl_int(s, "sensor"),
                    ctl_str(s, "kind", "?"), ctl_str(s, "status", "?"));
            return;
        }
    }
    if (!json_is_object(crash))
        fprintf(f, "  %-10s none\n", "error");
}

void ctl_print_sensors(FILE *f, const json_t *sensors, const char *const *trends, unsigned indent)
{
    ctl_table_t t;
    char addr[8], age[24], q[CTL_N_QUANTITIES][32], paint[64];

    if (json_array_size(sensors) == 0) {
        fprintf(f, "%*sno sensor readings yet\n", (int)indent, "");
        return;
    }
    ctl_table_init(&t, trends ? 9 : 8);
    t.indent = indent;
    ctl_table_row(&t, (const char *const[]){"SENSOR", "KIND", "ADDR", "STATUS", "TEMPERATURE",
                                            "HUMIDITY", "PRESSURE", "AGE", "TREND"});
    for (size_t i = 0; i < json_array_size(sensors); i++) {
        const json_t *s = json_array_get(sensors, i);
        const char *status = ctl_str(s, "status", "?");
        char idx[8];

        snprintf(idx, sizeof(idx), "%lld", ctl_int(s, "sensor"));
        snprintf(addr, sizeof(addr), "0x%02llx", ctl_int(s, "addr"));
        ctl_age(age, sizeof(age), json_object_get(s, "age_ms"));
        for (size_t k = 0; k < CTL_N_QUANTITIES; k++)
            ctl_fmt_quantity(q[k], sizeof(q[k]), s, k);
        ctl_table_row(&t, (const char *const[]){
                              idx, ctl_str(s, "kind", "?"), addr,
                              ctl_paint(paint, sizeof(paint), ctl_state_tone(status), status), q[0],
                              q[1], q[2], age, trends ? trends[i] : NULL});
    }
    t.right = 1u << 0;
    ctl_table_print(&t, f);
    ctl_table_free(&t);
}

void ctl_print_status_board(FILE *f, const json_t *b, const json_t *stats,
                            const char *const *trends)
{
    const json_t *led = json_object_get(b, "led"), *btn = json_object_get(b, "button");
    const char *state = ctl_str(b, "state", "?"), *name = ctl_str(b, "name", NULL);
    char paint[64], age[24], up[24];

    ctl_age(age, sizeof(age), json_object_get(b, "state_age_ms"));
    fprintf(f, "%s%s%s%s  %s for %s\n", ctl_str(b, "board", "(no id yet)"), name ? " (" : "",
            name ? name : "", name ? ")" : "",
            ctl_paint(paint, sizeof(paint), ctl_state_tone(state), state), age);
    fprintf(f, "  %-10s %s\n", "device", ctl_str(b, "device", "?"));
    if (json_object_get(b, "firmware")) {
        ctl_age(up, sizeof(up), json_object_get(b, "uptime_ms"));
        fprintf(f, "  %-10s %s on %s (build \"%s\")\n", "firmware", ctl_str(b, "firmware", "?"),
                ctl_str(b, "platform", "?"), ctl_str(b, "build", "?"));
        fprintf(f, "  %-10s %s, last reset: %s\n", "uptime", up, ctl_str(b, "reset_cause", "?"));
    }
    ctl_status_link(f, b, ctl_stats_of(stats, b));
    if (json_is_object(led))
        fprintf(f, "  %-10s %s (mode %s)\n", "led",
                json_is_true(json_object_get(led, "on")) ? "on" : "off", ctl_str(led, "mode", "?"));
    if (json_is_object(btn))
        fprintf(f, "  %-10s %s, %lld press%s since boot\n", "button",
                json_is_true(json_object_get(btn, "down")) ? "down" : "up", ctl_int(btn, "presses"),
                ctl_int(btn, "presses") == 1 ? "" : "es");
    ctl_status_error(f, b);
    ctl_print_sensors(f, json_object_get(b, "sensors"), trends, 2);
}

void ctl_print_event(FILE *f, const json_t *ev, long long now_ms)
{
    static const char *const skip[] = {"board", "name",      "event",           "rev",
                                       "seq",   "host_time", "host_time_err_us"};
    const json_t *ht = json_object_get(ev, "host_time");
    long long t_ms = json_is_integer(ht) ? (long long)json_integer_value(ht) / 1000 : now_ms;
    time_t secs = (time_t)(t_ms / 1000);
    struct tm tm;
    char when[32] = "?";

    if (localtime_r(&secs, &tm))
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
    fprintf(f, "%s.%03lld %s %s", when, t_ms % 1000, ctl_str(ev, "name", ctl_str(ev, "board", "-")),
            ctl_str(ev, "event", "?"));
    for (void *it = json_object_iter((json_t *)ev); it;
         it = json_object_iter_next((json_t *)ev, it)) {
        const char *key = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        bool skipped = false;
        char *s;

        for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
            skipped = skipped || !strcmp(key, skip[i]);
        if (skipped)
            continue;
        if (json_is_string(v)) {
            fprintf(f, " %s=%s", key, json_string_value(v));
            continue;
        }
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        fprintf(f, " %s=%s", key, s ? s : "?");
        free(s);
    }
    if (json_is_integer(json_object_get(ev, "seq")))
        fprintf(f, " seq=%lld", ctl_int(ev, "seq"));
    fputc('\n', f);
}

void ctl_print_tree(FILE *f, const json_t *v, const char *prefix)
{
    char sub[512];
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            key = json_object_iter_key(it);
            child = json_object_iter_value(it);
            snprintf(sub, sizeof(sub), "%s%s%s", prefix, *prefix ? "." : "", key);
            ctl_print_tree(f, child, sub);
        }
    } else if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
        for (i = 0; i < json_array_size(v); i++) {
            child = json_array_get(v, i);
            const char *name = ctl_str(child, "board", NULL);
            if (name)
                snprintf(sub, sizeof(sub), "%s[%s]", prefix, name);
            else
                snprintf(sub, sizeof(sub), "%s[%zu]", prefix, i);
            ctl_print_tree(f, child, sub);
        }
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        fprintf(f, "%s = %s\n", prefix, s ? s : "?");
        free(s);
    }
}

/* A scalar as text: integers, yes/no, reals with 3 decimals, strings; NULL otherwise. */
static const char *ctl_scalar(char *out, size_t cap, const json_t *v)
{
    if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_real(v))
        snprintf(out, cap, "%.3f", json_real_value(v));
    else if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_null(v))
        snprintf(out, cap, "-");
    else
        return NULL;
    return out;
}

/* Counter groups as one table: the group's title on its first row, then key and value. */
static void ctl_print_groups(FILE *f, const char *const *titles, const json_t *const *groups,
                             size_t n)
{
    ctl_table_t t;

    ctl_table_init(&t, 3);
    for (size_t g = 0; g < n; g++) {
        bool first = true;

        for (void *it = json_object_iter((json_t *)groups[g]); it;
             it = json_object_iter_next((json_t *)groups[g], it)) {
            char val[64];

            if (!ctl_scalar(val, sizeof(val), json_object_iter_value(it)))
                continue;
            ctl_table_row(
                &t, (const char *const[]){first ? titles[g] : NULL, json_object_iter_key(it), val});
            first = false;
        }
    }
    t.right = 1u << 2;
    ctl_table_print(&t, f);
    ctl_table_free(&t);
}

static void ctl_print_tasks(FILE *f, const json_t *tasks)
{
    ctl_table_t t;

    ctl_table_init(&t, 8);
    ctl_table_row(&t, (const char *const[]){"TASK", "NAME", "STATE", "RUNS", "TOTAL_US", "MAX_US",
                                            "MAX_LATE_US", "STACK_HWM"});
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        const json_t *k = json_array_get(tasks, i);
        long long hwm = ctl_int(k, "stack_hwm");

        ctl_table_cellf(&t, "%lld", ctl_int(k, "index"));
        ctl_table_cellf(&t, "%s", ctl_str(k, "name", "?"));
        ctl_table_cellf(&t, "%s", ctl_str(k, "state", "?"));
        ctl_table_cellf(&t, "%lld", ctl_int(k, "runs"));
        ctl_table_cellf(&t, "%lld", ctl_int(k, "total_us"));
        ctl_table_cellf(&t, "%lld", ctl_int(k, "max_us"));
        ctl_table_cellf(&t, "%lld", ctl_int(k, "max_late_us"));
        if (hwm > 0)
            ctl_table_cellf(&t, "%lld", hwm);
        else
            ctl_table_cellf(&t, "-");
    }
    t.right = ~(1u << 1 | 1u << 2);
    ctl_table_print(&t, f);
    ctl_table_free(&t);
}

static void ctl_print_clock(FILE *f, const json_t *c)
{
    char when[32] = "?";

    if (!json_is_true(json_object_get(c, "synced"))) {
        fprintf(f, "clock: not synced yet (%lld heartbeats timed)\n", ctl_int(c, "samples"));
        return;
    }
    {
        long long off = ctl_int(c, "offset_us");
        time_t boot = (time_t)(off / 1000000);
        struct tm tm;

        if (localtime_r(&boot, &tm))
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(f,
                "clock: board time 0 = %s.%06lld (offset_us %lld), drift %+.3f ppm, "
                "error bound %lld us; %lld heartbeats, %lld rejected, rtt %lld us (min %lld)\n",
                when, off % 1000000, off, json_number_value(json_object_get(c, "drift_ppm")),
                ctl_int(c, "err_us"), ctl_int(c, "samples"), ctl_int(c, "rejected"),
                ctl_int(c, "last_rtt_us"), ctl_int(c, "min_rtt_us"));
    }
}

void ctl_print_board_stats(FILE *f, const json_t *result)
{
    const json_t *boards = json_object_get(result, "boards");

    for (size_t i = 0; i < json_array_size(boards); i++) {
        const json_t *b = json_array_get(boards, i), *tasks = json_object_get(b, "tasks");
        const char *const titles[] = {"board says", "picod link", "picod decoder", "picod requests",
                                      "picod board"};
        const json_t *groups[] = {json_object_get(b, "board_reported"), json_object_get(b, "link"),
                                  json_object_get(b, "decoder"), json_object_get(b, "requests"),
                                  json_object_get(b, "board_counters")};
        size_t first = json_is_object(groups[0]) ? 0 : 1;

        fprintf(f, "%s  %s  %s  %s  %s\n", ctl_str(b, "board", "-"), ctl_str(b, "state", "?"),
                ctl_str(b, "platform", "-"), ctl_str(b, "firmware", "-"),
                ctl_str(b, "device", "?"));
        ctl_print_groups(f, titles + first, groups + first, 5 - first);
        ctl_print_clock(f, json_object_get(b, "clock"));
        if (json_is_array(tasks))
            ctl_print_tasks(f, tasks);
        else
            fprintf(f, "no board-side counters or tasks: the board is %s\n",
                    ctl_str(b, "state", "not reachable"));
    }
}

void ctl_print_stats_all(FILE *f, const json_t *result)
{
    const json_t *d = json_object_get(result, "daemon"),
                 *boards = json_object_get(result, "boards");
    const json_t *hist = json_object_get(d, "history");
    const char *const titles[] = {"picod", "limits", "config", "history", "readings"};
    const json_t *groups[] = {d, json_object_get(d, "limits"), json_object_get(d, "config"), hist,
                              json_object_get(hist, "readings")};
    ctl_table_t t;

    ctl_print_groups(f, titles, groups, 5);
    if (json_array_size(boards) == 0)
        return;
    fputc('\n', f);
    ctl_table_init(&t, 11);
    ctl_table_row(&t, (const char *const[]){"BOARD", "STATE", "RX_BYTES", "TX_BYTES", "FRAMES",
                                            "CRC_ERR", "COBS_ERR", "TIMEOUTS", "RETRIES", "RTT_MS",
                                            "DRIFT_PPM"});
    for (size_t i = 0; i < json_array_size(boards); i++) {
        const json_t *b = json_array_get(boards, i), *link = json_object_get(b, "link");
        const json_t *dec = json_object_get(b, "decoder"), *req = json_object_get(b, "requests");
        const json_t *clk = json_object_get(b, "clock");

        ctl_table_cellf(&t, "%s",
                        ctl_str(b, "name", ctl_str(b, "board", ctl_str(b, "device", "?"))));
        ctl_table_cellf(&t, "%s", ctl_str(b, "state", "?"));
        ctl_table_cellf(&t, "%lld", ctl_int(link, "rx_bytes"));
        ctl_table_cellf(&t, "%lld", ctl_int(link, "tx_bytes"));
        ctl_table_cellf(&t, "%lld", ctl_int(dec, "frames"));
        ctl_table_cellf(&t, "%lld", ctl_int(dec, "crc_errors"));
        ctl_table_cellf(&t, "%lld", ctl_int(dec, "cobs_errors"));
        ctl_table_cellf(&t, "%lld", ctl_int(req, "timeouts"));
        ctl_table_cellf(&t, "%lld", ctl_int(req, "retries"));
        ctl_table_cellf(&t, "%.2f", json_number_value(json_object_get(req, "last_rtt_ms")));
        if (json_is_true(json_object_get(clk, "synced")))
            ctl_table_cellf(&t, "%+.3f", json_number_value(json_object_get(clk, "drift_ppm")));
        else
            ctl_table_cellf(&t, "-");
    }
    t.right = ~3u;
    ctl_table_print(&t, f);
    ctl_table_free(&t);
}
