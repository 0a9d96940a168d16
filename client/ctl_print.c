/* ctl_print.c - see ctl_print.h. */
#include "ctl_print.h"

#include <stdbool.h>
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

static const char *ctl_str(const json_t *o, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : def;
}

/* "1.2s" style age, or "-" when unknown. */
static void ctl_age(char *out, size_t cap, const json_t *ms)
{
    double s;

    if (!json_is_integer(ms)) {
        snprintf(out, cap, "-");
        return;
    }
    s = (double)json_integer_value(ms) / 1000.0;
    if (s < 100)
        snprintf(out, cap, "%.1fs", s);
    else
        snprintf(out, cap, "%.0fs", s);
}

/* First sensor reading that has the quantity key, and its age. */
static const json_t *ctl_find_quantity(const json_t *board, const char *key)
{
    const json_t *sensors = json_object_get(board, "sensors"), *s;
    size_t i;

    for (i = 0; i < json_array_size(sensors); i++) {
        s = json_array_get(sensors, i);
        if (json_object_get(s, key))
            return s;
    }
    return NULL;
}

static void ctl_quantity(char *out, size_t cap, const json_t *board, const char *key,
                         const char *fmt)
{
    const json_t *s = ctl_find_quantity(board, key);
    char age[16];

    if (!s) {
        /* No value: say why if a sensor reported an error (e.g. "i2c_nack_addr"). */
        const json_t *sensors = json_object_get(board, "sensors");
        const char *why = NULL;

        for (size_t i = 0; i < json_array_size(sensors) && !why; i++) {
            why = ctl_str(json_array_get(sensors, i), "status", NULL);
            if (why && strcmp(why, "ok") == 0)
                why = NULL;
        }
        snprintf(out, cap, "%s", why ? why : "-");
        return;
    }
    ctl_age(age, sizeof(age), json_object_get(s, "age_ms"));
    snprintf(out, cap, fmt, json_number_value(json_object_get(s, key)), age);
}

void ctl_print_status(FILE *f, const json_t *result)
{
    const json_t *boards = json_object_get(result, "boards"), *b;
    size_t i;

    if (json_array_size(boards) == 0) {
        fprintf(f, "no boards\n");
        return;
    }
    fprintf(f, "%-16s  %-10s  %-10s  %-6s  %-14s  %-15s  %-17s\n", "BOARD", "STATE", "LED",
            "BUTTON", "TEMPERATURE", "HUMIDITY", "PRESSURE");
    for (i = 0; i < json_array_size(boards); i++) {
        b = json_array_get(boards, i);
        const json_t *led = json_object_get(b, "led"), *btn = json_object_get(b, "button");
        char ledtxt[24] = "-", btntxt[16] = "-", t[32], h[32], p[40];

        if (json_is_object(led))
            snprintf(ledtxt, sizeof(ledtxt), "%s(%s)",
                     json_is_true(json_object_get(led, "on")) ? "on" : "off",
                     ctl_str(led, "mode", "?"));
        if (json_is_object(btn))
            snprintf(btntxt, sizeof(btntxt), "%s",
                     json_is_true(json_object_get(btn, "down")) ? "down" : "up");
        ctl_quantity(t, sizeof(t), b, "temp_c", "%.2f C %s");
        ctl_quantity(h, sizeof(h), b, "humidity_pct", "%.1f %% %s");
        ctl_quantity(p, sizeof(p), b, "pressure_pa", "%.0f Pa %s");
        fprintf(f, "%-16s  %-10s  %-10s  %-6s  %-14s  %-15s  %-17s\n",
                ctl_str(b, "board", ctl_str(b, "device", "?")), ctl_str(b, "state", "?"), ledtxt,
                btntxt, t, h, p);
    }
}

void ctl_print_list(FILE *f, const json_t *result)
{
    const json_t *boards = json_object_get(result, "boards"), *b;
    size_t i;

    if (json_array_size(boards) == 0) {
        fprintf(f, "no boards\n");
        return;
    }
    fprintf(f, "%-16s  %-12s  %-10s  %-8s  %-8s  %s\n", "BOARD", "NAME", "STATE", "PLATFORM",
            "FIRMWARE", "DEVICE");
    for (i = 0; i < json_array_size(boards) && (b = json_array_get(boards, i)); i++)
        fprintf(f, "%-16s  %-12s  %-10s  %-8s  %-8s  %s\n", ctl_str(b, "board", "-"),
                ctl_str(b, "name", "-"), ctl_str(b, "state", "?"), ctl_str(b, "platform", "-"),
                ctl_str(b, "firmware", "-"), ctl_str(b, "device", "?"));
}

void ctl_print_event(FILE *f, const json_t *ev)
{
    const char *key;
    json_t *v;

    fprintf(f, "%s %s", ctl_str(ev, "board", "?"), ctl_str(ev, "event", "?"));
    for (void *it = json_object_iter((json_t *)ev); it;
         it = json_object_iter_next((json_t *)ev, it)) {
        key = json_object_iter_key(it);
        v = json_object_iter_value(it);
        char *s;

        if (!strcmp(key, "board") || !strcmp(key, "event") || !strcmp(key, "rev"))
            continue;
        if (json_is_string(v)) {
            fprintf(f, " %s=%s", key, json_string_value(v));
            continue;
        }
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
        fprintf(f, " %s=%s", key, s ? s : "?");
        free(s);
    }
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
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
        fprintf(f, "%s = %s\n", prefix, s ? s : "?");
        free(s);
    }
}

/* "label  key=value key=value ..." for every scalar of obj, wrapped under the label. */
static void ctl_print_counters(FILE *f, const char *label, const json_t *obj)
{
    const int indent = 16, width = 100;
    int col;

    if (!json_is_object(obj))
        return;
    col = fprintf(f, "%-*s", indent, label);
    for (void *it = json_object_iter((json_t *)obj); it;
         it = json_object_iter_next((json_t *)obj, it)) {
        const json_t *v = json_object_iter_value(it);
        char item[96];
        int n;

        if (json_is_integer(v))
            n = snprintf(item, sizeof(item), "%s=%lld", json_object_iter_key(it),
                         (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            n = snprintf(item, sizeof(item), "%s=%s", json_object_iter_key(it),
                         json_is_true(v) ? "yes" : "no");
        else if (json_is_real(v))
            n = snprintf(item, sizeof(item), "%s=%.3f", json_object_iter_key(it),
                         json_real_value(v));
        else
            continue;
        if (col > indent && col + 1 + n > width)
            col = fprintf(f, "\n%-*s", indent, "") - 1;
        col += fprintf(f, "%s%s", col > indent ? " " : "", item);
    }
    fputc('\n', f);
}

static void ctl_print_tasks(FILE *f, const json_t *tasks)
{
    fprintf(f, "%-5s  %-8s  %-8s  %10s  %12s  %8s  %11s  %9s\n", "TASK", "NAME", "STATE", "RUNS",
            "TOTAL_US", "MAX_US", "MAX_LATE_US", "STACK_HWM");
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        const json_t *t = json_array_get(tasks, i);
        long long hwm = json_integer_value(json_object_get(t, "stack_hwm"));
        char hwmtxt[24] = "-";

        if (hwm > 0)
            snprintf(hwmtxt, sizeof(hwmtxt), "%lld", hwm);
        fprintf(f, "%-5lld  %-8s  %-8s  %10lld  %12lld  %8lld  %11lld  %9s\n",
                (long long)json_integer_value(json_object_get(t, "index")), ctl_str(t, "name", "?"),
                ctl_str(t, "state", "?"), (long long)json_integer_value(json_object_get(t, "runs")),
                (long long)json_integer_value(json_object_get(t, "total_us")),
                (long long)json_integer_value(json_object_get(t, "max_us")),
                (long long)json_integer_value(json_object_get(t, "max_late_us")), hwmtxt);
    }
}

void ctl_print_board_stats(FILE *f, const json_t *result)
{
    const json_t *boards = json_object_get(result, "boards");

    for (size_t i = 0; i < json_array_size(boards); i++) {
        const json_t *b = json_array_get(boards, i), *tasks = json_object_get(b, "tasks");

        fprintf(f, "%s  %s  %s  %s  %s\n", ctl_str(b, "board", "-"), ctl_str(b, "state", "?"),
                ctl_str(b, "platform", "-"), ctl_str(b, "firmware", "-"),
                ctl_str(b, "device", "?"));
        ctl_print_counters(f, "board says", json_object_get(b, "board_reported"));
        ctl_print_counters(f, "picod link", json_object_get(b, "link"));
        ctl_print_counters(f, "picod decoder", json_object_get(b, "decoder"));
        ctl_print_counters(f, "picod requests", json_object_get(b, "requests"));
        ctl_print_counters(f, "picod board", json_object_get(b, "board_counters"));
        ctl_print_counters(f, "picod clock", json_object_get(b, "clock"));
        if (json_is_array(tasks))
            ctl_print_tasks(f, tasks);
        else
            fprintf(f, "no board-side counters or tasks: the board is %s\n",
                    ctl_str(b, "state", "not reachable"));
    }
}
