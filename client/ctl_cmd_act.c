/*
 * ctl_cmd_act.c - picoctl's commands that act on a board or follow it: led, i2c, poll,
 * reboot, bootsel, ping, watch.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl_i2c.h"
#include "ctl_ping.h"
#include "ctl_print.h"

static void ctl_print_led(const json_t *r)
{
    const json_t *led = json_object_get(r, "led");

    printf("%s: led %s (mode %s)\n", ctl_str(r, "board", "?"),
           json_is_true(json_object_get(led, "on")) ? "on" : "off", ctl_str(led, "mode", "?"));
}

int ctl_cmd_led(ctl_t *ctl, int argc, char **argv)
{
    static const char *const modes[] = {"on", "off", "toggle", "blink", "auto"};
    const char *key;
    char *pos[4];
    json_t *args;
    long v;
    size_t i;
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 4);

    if (r)
        return r;
    if (n < 2)
        return ctl_usage_error(ctl, "led", "needs BOARD and a mode");
    for (i = 0; i < 5 && strcmp(pos[1], modes[i]) != 0; i++)
        ;
    if (i == 5)
        return ctl_usage_error(ctl, "led", "mode must be on, off, toggle, blink or auto");
    if (n > (i == 3 ? 4 : 2))
        return ctl_usage_error(ctl, "led", "too many arguments");
    if (n > 2 && !ctl_parse_long(pos[2], 10, 60000, &v))
        return ctl_usage_error(ctl, "led", "PERIOD_MS must be 10..60000");
    if (n > 3 && !ctl_parse_long(pos[3], 1, 99, &v))
        return ctl_usage_error(ctl, "led", "DUTY must be 1..99 (percent)");
    if ((r = ctl_board(ctl, pos[0], &key, NULL)))
        return r;
    args = json_pack("{s:s, s:s}", "board", key, "mode", pos[1]);
    if (n > 2 && ctl_parse_long(pos[2], 10, 60000, &v))
        json_object_set_new(args, "period_ms", json_integer(v));
    if (n > 3 && ctl_parse_long(pos[3], 1, 99, &v))
        json_object_set_new(args, "duty_pct", json_integer(v));
    return ctl_simple(ctl, "led", args, ctl_print_led);
}

/* Hex bytes given as separate words ("0a 1b") or one word ("0a1b") -> one hex string, or
 * NULL when a word is not hex or it is too long. */
static json_t *ctl_hex_words(int argc, char **argv)
{
    char buf[1024] = "";
    size_t n = 0;

    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (!strncmp(w, "0x", 2) || !strncmp(w, "0X", 2))
            w += 2;
        if (!*w || strspn(w, "0123456789abcdefABCDEF") != strlen(w))
            return NULL;
        if (strlen(w) % 2 == 1 && n + 1 < sizeof(buf))
            buf[n++] = '0'; /* "a" means 0a */
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", w);
        if (n >= sizeof(buf))
            return NULL;
    }
    return json_string(buf);
}

static void ctl_print_i2c(const json_t *r)
{
    const json_t *addrs = json_object_get(r, "addresses");

    if (addrs)
        ctl_i2c_grid(stdout, addrs);
    else if (json_integer_value(json_object_get(r, "len")))
        ctl_i2c_hex(stdout, ctl_str(r, "data", ""));
    else
        printf("ok\n");
}

/* The i2c request for pos[1..] (op and its arguments), or NULL after a usage error. */
static json_t *ctl_i2c_args(char **pos, int n)
{
    const char *op = pos[1];
    json_t *args, *data = NULL;
    long addr, len = 0;

    if (!strcmp(op, "scan"))
        return n == 2 ? json_pack("{s:s}", "op", "scan") : NULL;
    if (n < 4 || !ctl_parse_long(pos[2], 0, 0x7f, &addr))
        return NULL;
    if (!strcmp(op, "read") && n == 4 && ctl_parse_long(pos[3], 1, 128, &len))
        return json_pack("{s:s, s:i, s:i}", "op", "read", "addr", (int)addr, "len", (int)len);
    if (!strcmp(op, "write"))
        data = ctl_hex_words(n - 3, pos + 3);
    else if (!strcmp(op, "xfer") && n >= 5 && ctl_parse_long(pos[n - 1], 1, 128, &len))
        data = ctl_hex_words(n - 4, pos + 3);
    if (!data)
        return NULL;
    args = json_pack("{s:s, s:i, s:o}", "op", len ? "write_read" : "write", "addr", (int)addr,
                     "data", data);
    if (len)
        json_object_set_new(args, "len", json_integer(len));
    return args;
}

int ctl_cmd_i2c(ctl_t *ctl, int argc, char **argv)
{
    const char *key;
    char *pos[140];
    json_t *args;
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 140);

    if (r)
        return r;
    if (n < 2)
        return ctl_usage_error(ctl, "i2c", "needs BOARD and an operation");
    if (!(args = ctl_i2c_args(pos, n)))
        return ctl_usage_error(ctl, "i2c", "bad arguments (ADDR 0..0x7f, LEN 1..128, hex bytes)");
    if ((r = ctl_board(ctl, pos[0], &key, NULL))) {
        json_decref(args);
        return r;
    }
    json_object_set_new(args, "board", json_string(key));
    return ctl_simple(ctl, "i2c", args, ctl_print_i2c);
}

static void ctl_print_poll(const json_t *r)
{
    const json_t *sensor = json_object_get(r, "sensor");
    long long ms = json_integer_value(json_object_get(r, "interval_ms"));
    char which[32];

    if (json_is_integer(sensor))
        snprintf(which, sizeof(which), "sensor %lld", (long long)json_integer_value(sensor));
    else
        snprintf(which, sizeof(which), "all sensors");
    if (ms)
        printf("%s: board reads %s every %lld ms\n", ctl_str(r, "board", "?"), which, ms);
    else
        printf("%s: board polling of %s stopped\n", ctl_str(r, "board", "?"), which);
}

int ctl_cmd_poll(ctl_t *ctl, int argc, char **argv)
{
    const char *key;
    char *pos[3];
    json_t *args;
    long sensor = -1, ms;
    int n, r = ctl_args(ctl, argc, argv, NULL, 0, pos, &n, 3);

    if (r)
        return r;
    if (n < 2)
        return ctl_usage_error(ctl, "poll", "needs BOARD, optionally SENSOR, and MS");
    if (n == 3 && strcmp(pos[1], "all") != 0 && !ctl_parse_long(pos[1], 0, 255, &sensor))
        return ctl_usage_error(ctl, "poll", "SENSOR must be a sensor index or 'all'");
    if (!ctl_parse_long(pos[n - 1], 0, 0xffffffffL, &ms))
        return ctl_usage_error(ctl, "poll", "MS must be milliseconds (0 stops)");
    if ((r = ctl_board(ctl, pos[0], &key, NULL)))
        return r;
    args = json_pack("{s:s, s:I}", "board", key, "interval_ms", (json_int_t)ms);
    json_object_set_new(args, "sensor", sensor < 0 ? json_string("all") : json_integer(sensor));
    return ctl_simple(ctl, "poll", args, ctl_print_poll);
}

static void ctl_print_reboot(const json_t *r)
{
    printf("%s: rebooting (%s)\n", ctl_str(r, "board", "?"), ctl_str(r, "mode", "?"));
}

/* reboot BOARD [--bootsel], or bootsel BOARD (into_bootsel: the flag is implied, not taken). */
static int ctl_reboot(ctl_t *ctl, int argc, char **argv, bool into_bootsel)
{
    ctl_flag_t flags[] = {{"--bootsel", NULL, false, 0, {0}}};
    const char *key, *mode;
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, flags, into_bootsel ? 0 : 1, pos, &n, 1);

    if (r)
        return r;
    if (n != 1)
        return ctl_usage_error(ctl, argv[0], "needs BOARD");
    if ((r = ctl_board(ctl, pos[0], &key, NULL)))
        return r;
    mode = into_bootsel || flags[0].seen ? "bootsel" : "normal";
    return ctl_simple(ctl, "reboot", json_pack("{s:s, s:s}", "board", key, "mode", mode),
                      ctl_print_reboot);
}

int ctl_cmd_reboot(ctl_t *ctl, int argc, char **argv)
{
    return ctl_reboot(ctl, argc, argv, false);
}

int ctl_cmd_bootsel(ctl_t *ctl, int argc, char **argv)
{
    return ctl_reboot(ctl, argc, argv, true);
}

/* ---- ping --------------------------------------------------------------------------------- */

static volatile sig_atomic_t ctl_interrupted;

static void ctl_on_sigint(int sig)
{
    (void)sig;
    ctl_interrupted = 1;
}

static void ctl_sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000),
                          (long)((ms - (double)(long)(ms / 1000) * 1000) * 1e6)};

    while (!ctl_interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* One ping; the round trip in *rtt (picod's measurement through to a board, else ours).
 * 0, or the exit status of the failure (reported as a line, not as an error: ping goes on). */
static int ctl_ping_once(ctl_t *ctl, const char *key, unsigned seq, double *rtt)
{
    double t0 = ctl_mono_ms();
    json_t *resp, *result;
    int r;

    ctl->quiet = true; /* a lost reply is a line of the report, not the command's error */
    r = ctl_request(ctl, "ping", key ? json_pack("{s:s}", "board", key) : NULL, &resp, &result);
    ctl->quiet = false;
    if (r) {
        if (!ctl->json)
            printf("no reply from %s: seq=%u: %s\n", key ? key : "picod", seq, ctl->last_error);
        return r;
    }
    *rtt = key ? json_number_value(json_object_get(result, "rtt_ms")) : ctl_mono_ms() - t0;
    if (!ctl->json)
        printf("reply from %s: seq=%u time=%.3f ms\n", key ? key : "picod", seq, *rtt);
    json_decref(resp);
    return 0;
}

int ctl_cmd_ping(ctl_t *ctl, int argc, char **argv)
{
    ctl_flag_t flags[] = {{"--count", "-c", true, 0, {0}}, {"--interval", "-i", true, 0, {0}}};
    ctl_ping_stats_t st = {0};
    const char *key = NULL;
    char *pos[1];
    long count = 1, interval = 1000;
    int n, r = ctl_args(ctl, argc, argv, flags, 2, pos, &n, 1), last = 0;
    double t0;

    if (r)
        return r;
    if (flags[0].seen && !ctl_parse_long(flags[0].vals[0], 0, 1000000, &count))
        return ctl_usage_error(ctl, "ping", "-c wants a count (0: until interrupted)");
    if (flags[1].seen && !ctl_parse_long(flags[1].vals[0], 10, 3600000, &interval))
        return ctl_usage_error(ctl, "ping", "-i wants milliseconds 10..3600000");
    if (n && (r = ctl_board(ctl, pos[0], &key, NULL)))
        return r;
    signal(SIGINT, ctl_on_sigint);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!ctl->json)
        printf("PING %s%s\n", key ? key : "picod", key ? " through picod" : "");
    t0 = ctl_mono_ms();
    for (unsigned seq = 1; !ctl_interrupted && (count == 0 || seq <= (unsigned)count); seq++) {
        double rtt = 0;

        if (seq > 1)
            ctl_sleep_ms((double)interval);
        if (ctl_interrupted)
            break;
        st.sent++;
        last = ctl_ping_once(ctl, key, seq, &rtt);
        if (!last)
            ctl_ping_add(&st, rtt);
        else if (last == CTL_EXIT_UNREACHABLE)
            break;
    }
    if (ctl->json) {
        json_t *o = ctl_ping_json(&st, ctl_mono_ms() - t0);
        json_object_set_new(o, "target", json_string(key ? key : "picod"));
        if (!st.received && last) /* the failure, as an error object has it */
            json_object_set_new(
                o, "error",
                json_pack("{s:s, s:s}", "code", ctl->last_code, "message", ctl->last_error));
        ctl_emit_json(o);
        json_decref(o);
    } else {
        ctl_ping_summary(stdout, key ? key : "picod", &st, ctl_mono_ms() - t0);
    }
    if (!st.received && last) /* no reply at all: the command failed, say why */
        fprintf(stderr, "picoctl: %s\n", ctl->last_error);
    return st.received ? 0 : last ? last : CTL_EXIT_FAILED;
}

/* ---- watch -------------------------------------------------------------------------------- */

/* "a,b" words of every value of a flag, appended to arr; with resolve: boards picod knows. */
static int ctl_watch_list(ctl_t *ctl, const ctl_flag_t *fl, json_t *arr, bool resolve)
{
    for (int i = 0; i < fl->seen; i++) {
        char *copy = strdup(fl->vals[i]), *save = NULL;

        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            const char *key = w;
            /* A full id needs no board picod knows now (docs/API.md, watch "boards"). */
            bool full_id = strlen(w) == 16 && strspn(w, "0123456789abcdefABCDEF") == 16;
            int r = resolve && !full_id ? ctl_board(ctl, w, &key, NULL) : 0;

            for (char *c = w; full_id && *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);

            if (r) {
                free(copy);
                return r;
            }
            json_array_append_new(arr, json_string(key));
        }
        free(copy);
    }
    return 0;
}

int ctl_cmd_watch(ctl_t *ctl, int argc, char **argv)
{
    ctl_flag_t flags[] = {{"--count", "-n", true, 0, {0}},
                          {"--since", NULL, true, 0, {0}},
                          {"--board", "-b", true, 0, {0}},
                          {"--events", "-e", true, 0, {0}}};
    json_t *resp = NULL, *result, *args = json_object(), *boards = json_array(),
           *events = json_array();
    long count = -1, since, seen = 0;
    char *pos[1];
    int n, r = ctl_args(ctl, argc, argv, flags, 4, pos, &n, 0), err;

    if (!r && flags[0].seen && !ctl_parse_long(flags[0].vals[0], 1, 1000000000, &count))
        r = ctl_usage_error(ctl, "watch", "--count wants a number of events");
    if (!r && flags[1].seen && !ctl_parse_long(flags[1].vals[0], 0, 0x7fffffffffffffffL, &since))
        r = ctl_usage_error(ctl, "watch", "--since wants a seq (0: from the start)");
    else if (!r && flags[1].seen)
        json_object_set_new(args, "since", json_integer(since));
    if (!r)
        r = ctl_watch_list(ctl, &flags[2], boards, true);
    if (!r)
        r = ctl_watch_list(ctl, &flags[3], events, false);
    if (!r && json_array_size(boards))
        json_object_set(args, "boards", boards);
    if (!r && json_array_size(events))
        json_object_set(args, "events", events);
    json_decref(boards);
    json_decref(events);
    if (r) {
        json_decref(args);
        return r;
    }
    if ((r = ctl_request(ctl, "watch", args, &resp, &result)))
        return r;
    json_decref(resp);
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line per event, even into a pipe */
    while (count < 0 || seen < count) {
        json_t *ev = ctl_conn_recv(&ctl->conn, -1, &err);

        if (!ev)
            return ctl_error(ctl, CTL_EXIT_UNREACHABLE, "unreachable", "watch: %s",
                             err == -EPIPE ? "picod closed the connection" : strerror(-err));
        if (json_object_get(ev, "event")) {
            if (ctl->json) {
                ctl_emit_json(ev);
            } else {
                ctl_print_make_safe(ev);
                ctl_print_event(stdout, ev, ctl_now_ms());
            }
            seen++;
        }
        json_decref(ev);
    }
    return 0;
}
