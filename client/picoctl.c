/*
 * picoctl.c - the command-line client of picod.
 *
 * Exit status: 0 success, 1 the request failed (picod answered an error, or no answer in
 * time), 2 usage error, 3 picod is not reachable on its socket.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_doctor.h"
#include "ctl_print.h"

#ifndef PICOD_VERSION
#define PICOD_VERSION "0.0.0"
#endif

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NO_DAEMON = 3 };

typedef struct ctl {
    const char *socket;
    bool json;
    int timeout_ms;
    ctl_conn_t conn;
} ctl_t;

typedef struct ctl_cmd {
    const char *name;
    const char *usage;
    const char *help;
    int (*fn)(ctl_t *ctl, int argc, char **argv);
} ctl_cmd_t;

static const ctl_cmd_t *ctl_find_cmd(const char *name);

static void ctl_usage(FILE *f);

static int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("picoctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILED;
}

static int ctl_connect(ctl_t *ctl)
{
    char path[256];
    int r;

    ctl_conn_default_path(ctl->socket, path, sizeof(path));
    r = ctl_conn_open(&ctl->conn, path);
    if (r < 0) {
        fprintf(stderr, "picoctl: cannot connect to picod at %s: %s (is picod running?)\n", path,
                strerror(-r));
        return EXIT_NO_DAEMON;
    }
    return 0;
}

/* Run one request; on success *result is a borrowed view into *resp (caller decrefs resp). */
static int ctl_call(ctl_t *ctl, const char *cmd, json_t *args, json_t **resp, json_t **result)
{
    int err, r = ctl_connect(ctl);
    json_t *e;

    if (r)
        return r;
    *resp = ctl_conn_call(&ctl->conn, cmd, args, ctl->timeout_ms, &err);
    if (!*resp) {
        if (err == -ETIMEDOUT)
            return ctl_fail("%s: no answer from picod within %d ms", cmd, ctl->timeout_ms);
        return ctl_fail("%s: %s", cmd,
                        err == -EPIPE ? "picod closed the connection" : strerror(-err));
    }
    if (json_is_true(json_object_get(*resp, "ok"))) {
        *result = json_object_get(*resp, "result");
        return 0;
    }
    e = json_object_get(*resp, "error");
    if (ctl->json) {
        json_dumpf(*resp, stdout, JSON_COMPACT);
        fputc('\n', stdout);
    }
    ctl_print_make_safe(e); /* the message goes to a terminal */
    r = ctl_fail("%s: %s: %s", cmd, json_string_value(json_object_get(e, "code")),
                 json_string_value(json_object_get(e, "message")));
    json_decref(*resp);
    *resp = NULL;
    return r;
}

/* Call, then print the result as JSON (--json) or with printer. args is consumed. */
static int ctl_simple(ctl_t *ctl, const char *cmd, json_t *args,
                      void (*printer)(ctl_t *ctl, const json_t *result))
{
    json_t *resp = NULL, *result = NULL;
    int r = ctl_call(ctl, cmd, args, &resp, &result);

    json_decref(args);
    if (r)
        return r;
    if (ctl->json) {
        json_dumpf(result, stdout, JSON_COMPACT);
        fputc('\n', stdout);
    } else {
        ctl_print_make_safe(resp);
        printer(ctl, result);
    }
    json_decref(resp);
    return 0;
}

static bool ctl_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    return false;
}

static int ctl_bad_usage(const char *cmd, const char *why)
{
    const ctl_cmd_t *c = ctl_find_cmd(cmd);

    fprintf(stderr, "picoctl: %s: %s\nusage: picoctl %s %s\n", cmd, why, cmd, c ? c->usage : "");
    return EXIT_USAGE;
}

static bool ctl_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 0);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- printers ----------------------------------------------------------------------------- */

static void ctl_print_status_cb(ctl_t *ctl, const json_t *r)
{
    (void)ctl;
    ctl_print_status(stdout, r);
}

static void ctl_print_list_cb(ctl_t *ctl, const json_t *r)
{
    (void)ctl;
    ctl_print_list(stdout, r);
}

static void ctl_print_tree_cb(ctl_t *ctl, const json_t *r)
{
    (void)ctl;
    ctl_print_tree(stdout, r, "");
}

static void ctl_print_version_cb(ctl_t *ctl, const json_t *r)
{
    (void)ctl;
    printf("picoctl %s\npicod %s (protocol %s, api %lld)\n", PICOD_VERSION,
           json_string_value(json_object_get(r, "version")),
           json_string_value(json_object_get(r, "protocol")),
           (long long)json_integer_value(json_object_get(r, "api")));
}

static void ctl_print_led_cb(ctl_t *ctl, const json_t *r)
{
    const json_t *led = json_object_get(r, "led");

    (void)ctl;
    printf("%s: led %s (mode %s)\n", json_string_value(json_object_get(r, "board")),
           json_is_true(json_object_get(led, "on")) ? "on" : "off",
           json_string_value(json_object_get(led, "mode")));
}

static void ctl_print_ping_cb(ctl_t *ctl, const json_t *r)
{
    (void)ctl;
    if (json_object_get(r, "board"))
        printf("%s: reply in %.3f ms\n", json_string_value(json_object_get(r, "board")),
               json_number_value(json_object_get(r, "rtt_ms")));
    else
        printf("picod is alive\n");
}

static void ctl_print_i2c_cb(ctl_t *ctl, const json_t *r)
{
    const json_t *addrs = json_object_get(r, "addresses"), *a;
    size_t i;

    (void)ctl;
    if (addrs) {
        if (json_array_size(addrs) == 0)
            printf("no devices\n");
        for (i = 0; i < json_array_size(addrs) && (a = json_array_get(addrs, i)); i++)
            printf("0x%02llx\n", (long long)json_integer_value(a));
        return;
    }
    printf("%s\n", json_integer_value(json_object_get(r, "len"))
                       ? json_string_value(json_object_get(r, "data"))
                       : "ok");
}

/* ---- commands ----------------------------------------------------------------------------- */

static int ctl_cmd_version(ctl_t *ctl, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return ctl_bad_usage("version", "takes no arguments");
    return ctl_simple(ctl, "version", NULL, ctl_print_version_cb);
}

static int ctl_cmd_list(ctl_t *ctl, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return ctl_bad_usage("list", "takes no arguments");
    return ctl_simple(ctl, "list", NULL, ctl_print_list_cb);
}

static json_t *ctl_board_arg(int argc, char **argv)
{
    return argc > 1 ? json_pack("{s:s}", "board", argv[1]) : json_object();
}

static int ctl_cmd_status(ctl_t *ctl, int argc, char **argv)
{
    if (argc > 2)
        return ctl_bad_usage("status", "too many arguments");
    return ctl_simple(ctl, "status", ctl_board_arg(argc, argv), ctl_print_status_cb);
}

static void ctl_print_board_stats_cb(ctl_t *ctl, const json_t *r)
{
    (void)ctl;
    ctl_print_board_stats(stdout, r);
}

static int ctl_cmd_stats(ctl_t *ctl, int argc, char **argv)
{
    if (argc > 2)
        return ctl_bad_usage("stats", "too many arguments");
    /* One board: a readable report with its task table; all: every counter, one per line. */
    return ctl_simple(ctl, "stats", ctl_board_arg(argc, argv),
                      argc == 2 ? ctl_print_board_stats_cb : ctl_print_tree_cb);
}

static void ctl_print_poll_cb(ctl_t *ctl, const json_t *r)
{
    const json_t *sensor = json_object_get(r, "sensor");
    long long ms = json_integer_value(json_object_get(r, "interval_ms"));
    char which[32];

    (void)ctl;
    if (json_is_integer(sensor))
        snprintf(which, sizeof(which), "sensor %lld", (long long)json_integer_value(sensor));
    else
        snprintf(which, sizeof(which), "all sensors");
    if (ms)
        printf("%s: board reads %s every %lld ms\n", json_string_value(json_object_get(r, "board")),
               which, ms);
    else
        printf("%s: board polling of %s stopped\n", json_string_value(json_object_get(r, "board")),
               which);
}

static int ctl_cmd_poll(ctl_t *ctl, int argc, char **argv)
{
    json_t *args;
    long sensor = -1, ms;

    if (argc < 3 || argc > 4)
        return ctl_bad_usage("poll", "needs BOARD, optionally SENSOR, and MS");
    if (argc == 4 && strcmp(argv[2], "all") != 0 && !ctl_parse_long(argv[2], 0, 255, &sensor))
        return ctl_bad_usage("poll", "SENSOR must be a sensor index or 'all'");
    if (!ctl_parse_long(argv[argc - 1], 0, 0xffffffffL, &ms))
        return ctl_bad_usage("poll", "MS must be milliseconds (0 stops)");
    args = json_pack("{s:s, s:I}", "board", argv[1], "interval_ms", (json_int_t)ms);
    json_object_set_new(args, "sensor", sensor < 0 ? json_string("all") : json_integer(sensor));
    return ctl_simple(ctl, "poll", args, ctl_print_poll_cb);
}

static void ctl_print_reboot_cb(ctl_t *ctl, const json_t *r)
{
    (void)ctl;
    printf("%s: rebooting (%s)\n", json_string_value(json_object_get(r, "board")),
           json_string_value(json_object_get(r, "mode")));
}

static int ctl_cmd_reboot(ctl_t *ctl, int argc, char **argv)
{
    const char *mode = "normal";

    if (argc == 3 && !strcmp(argv[2], "--bootsel"))
        mode = "bootsel";
    else if (argc != 2)
        return ctl_bad_usage("reboot", argc < 2 ? "needs BOARD" : "unexpected argument");
    return ctl_simple(ctl, "reboot", json_pack("{s:s, s:s}", "board", argv[1], "mode", mode),
                      ctl_print_reboot_cb);
}

static int ctl_cmd_ping(ctl_t *ctl, int argc, char **argv)
{
    if (argc > 2)
        return ctl_bad_usage("ping", "too many arguments");
    return ctl_simple(ctl, "ping", ctl_board_arg(argc, argv), ctl_print_ping_cb);
}

static int ctl_cmd_led(ctl_t *ctl, int argc, char **argv)
{
    static const char *const modes[] = {"on", "off", "toggle", "blink", "auto"};
    json_t *args;
    long v;
    size_t i;

    if (argc < 3)
        return ctl_bad_usage("led", "needs BOARD and a mode");
    for (i = 0; i < 5 && strcmp(argv[2], modes[i]) != 0; i++)
        ;
    if (i == 5)
        return ctl_bad_usage("led", "mode must be on, off, toggle, blink or auto");
    if (argc > (i == 3 ? 5 : 3))
        return ctl_bad_usage("led", "too many arguments");
    args = json_pack("{s:s, s:s}", "board", argv[1], "mode", argv[2]);
    if (argc > 3) {
        if (!ctl_parse_long(argv[3], 10, 60000, &v)) {
            json_decref(args);
            return ctl_bad_usage("led", "PERIOD_MS must be 10..60000");
        }
        json_object_set_new(args, "period_ms", json_integer(v));
    }
    if (argc > 4) {
        if (!ctl_parse_long(argv[4], 1, 99, &v)) {
            json_decref(args);
            return ctl_bad_usage("led", "DUTY must be 1..99 (percent)");
        }
        json_object_set_new(args, "duty_pct", json_integer(v));
    }
    return ctl_simple(ctl, "led", args, ctl_print_led_cb);
}

/* Hex bytes given as separate words ("0a 1b") or one word ("0a1b") -> one hex string. */
static json_t *ctl_hex_words(int argc, char **argv)
{
    char buf[1024] = "";
    size_t n = 0;

    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (!strncmp(w, "0x", 2) || !strncmp(w, "0X", 2))
            w += 2;
        if (strlen(w) % 2 == 1 && n + 1 < sizeof(buf))
            buf[n++] = '0'; /* "a" means 0a */
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", w);
        if (n >= sizeof(buf))
            return NULL;
    }
    return json_string(buf);
}

static int ctl_cmd_i2c(ctl_t *ctl, int argc, char **argv)
{
    json_t *args;
    long addr, len;
    const char *op;

    if (argc < 3)
        return ctl_bad_usage("i2c", "needs BOARD and an operation");
    op = argv[2];
    args = json_pack("{s:s}", "board", argv[1]);
    if (!strcmp(op, "scan") && argc == 3) {
        json_object_set_new(args, "op", json_string("scan"));
        return ctl_simple(ctl, "i2c", args, ctl_print_i2c_cb);
    }
    if (argc < 5 || !ctl_parse_long(argv[3], 0, 0x7f, &addr)) {
        json_decref(args);
        return ctl_bad_usage("i2c", "bad arguments");
    }
    json_object_set_new(args, "addr", json_integer(addr));
    if (!strcmp(op, "read") && argc == 5 && ctl_parse_long(argv[4], 1, 128, &len)) {
        json_object_set_new(args, "op", json_string("read"));
        json_object_set_new(args, "len", json_integer(len));
    } else if (!strcmp(op, "write")) {
        json_object_set_new(args, "op", json_string("write"));
        json_object_set_new(args, "data", ctl_hex_words(argc - 4, argv + 4));
    } else if (!strcmp(op, "xfer") && argc >= 6 && ctl_parse_long(argv[argc - 1], 1, 128, &len)) {
        json_object_set_new(args, "op", json_string("write_read"));
        json_object_set_new(args, "data", ctl_hex_words(argc - 5, argv + 4));
        json_object_set_new(args, "len", json_integer(len));
    } else {
        json_decref(args);
        return ctl_bad_usage("i2c", "bad arguments");
    }
    return ctl_simple(ctl, "i2c", args, ctl_print_i2c_cb);
}

static int ctl_cmd_watch(ctl_t *ctl, int argc, char **argv)
{
    json_t *resp = NULL, *result;
    long count = -1, seen = 0;
    int r, err;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc &&
            ctl_parse_long(argv[i + 1], 1, 1000000000, &count))
            i++;
        else
            return ctl_bad_usage("watch", "unexpected argument");
    }
    r = ctl_call(ctl, "watch", NULL, &resp, &result);
    if (r)
        return r;
    json_decref(resp);
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line per event, even into a pipe */
    while (count < 0 || seen < count) {
        json_t *ev = ctl_conn_recv(&ctl->conn, -1, &err);

        if (!ev)
            return ctl_fail("watch: %s",
                            err == -EPIPE ? "picod closed the connection" : strerror(-err));
        if (json_object_get(ev, "event")) {
            if (ctl->json) {
                json_dumpf(ev, stdout, JSON_COMPACT);
                fputc('\n', stdout);
            } else {
                ctl_print_make_safe(ev);
                ctl_print_event(stdout, ev);
            }
            seen++;
        }
        json_decref(ev);
    }
    return 0;
}

/* OpenMetrics text as picod wrote it, e.g. for node_exporter's textfile collector. Raw:
 * the lines are the format; any other control character (none expected: picod escapes label
 * values) is shown as '?' so nothing reaches the terminal as a control sequence. */
static int ctl_cmd_metrics(ctl_t *ctl, int argc, char **argv)
{
    json_t *resp = NULL, *result = NULL;
    const char *text;
    int r;

    (void)argv;
    if (argc != 1)
        return ctl_bad_usage("metrics", "takes no arguments");
    if (ctl->json)
        return ctl_simple(ctl, "metrics", NULL, ctl_print_tree_cb);
    r = ctl_call(ctl, "metrics", NULL, &resp, &result);
    if (r)
        return r;
    text = json_string_value(json_object_get(result, "text"));
    for (const char *p = text ? text : ""; *p; p++)
        fputc((unsigned char)*p < 0x20 && *p != '\n' ? '?' : *p, stdout);
    json_decref(resp);
    return 0;
}

static int ctl_cmd_doctor(ctl_t *ctl, int argc, char **argv)
{
    ctl_doctor_opts_t o = {.socket = ctl->socket,
                           .board = argc > 1 ? argv[1] : NULL,
                           .timeout_ms = ctl->timeout_ms,
                           .json = ctl->json,
                           .color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};

    if (argc > 2)
        return ctl_bad_usage("doctor", "too many arguments");
    return ctl_doctor_run(&o, stdout);
}

static const ctl_cmd_t ctl_cmds[] = {
    {"status", "[BOARD]", "boards with state, LED, button and sensor readings", ctl_cmd_status},
    {"list", "", "boards picod knows, with device and firmware", ctl_cmd_list},
    {"led", "BOARD on|off|toggle|blink [PERIOD_MS [DUTY]]|auto", "set the LED", ctl_cmd_led},
    {"watch", "[--count N]", "print events (button, sensor, board_*) as they happen",
     ctl_cmd_watch},
    {"i2c", "BOARD scan|read ADDR LEN|write ADDR HEX..|xfer ADDR HEX.. LEN",
     "raw I2C on the board's bus", ctl_cmd_i2c},
    {"ping", "[BOARD]", "round trip to picod, or through it to a board", ctl_cmd_ping},
    {"stats", "[BOARD]", "counters of picod and its boards; with BOARD also the board's tasks",
     ctl_cmd_stats},
    {"poll", "BOARD [SENSOR|all] MS", "make the board read its sensors every MS ms (0 stops)",
     ctl_cmd_poll},
    {"reboot", "BOARD [--bootsel]", "reboot the board (--bootsel: into the USB bootloader)",
     ctl_cmd_reboot},
    {"metrics", "", "picod's counters as OpenMetrics text (for scrapers)", ctl_cmd_metrics},
    {"version", "", "versions of picoctl, picod and the protocol", ctl_cmd_version},
    {"doctor", "[BOARD]", "why a board is not working, and the fix for each finding",
     ctl_cmd_doctor},
};

static const ctl_cmd_t *ctl_find_cmd(const char *name)
{
    for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
        if (!strcmp(ctl_cmds[i].name, name))
            return &ctl_cmds[i];
    return NULL;
}

static void ctl_usage(FILE *f)
{
    fprintf(f, "usage: picoctl [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS]\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
        fprintf(f, "  %-8s %s\n           %s\n", ctl_cmds[i].name, ctl_cmds[i].usage,
                ctl_cmds[i].help);
    fprintf(f, "\nBOARD is a board id, its device path, its name (a [board NAME] section of\n"
               "picod's config), or a unique prefix of the id.\n"
               "Socket: --socket, else $PICOD_SOCKET, else /run/picod/picod.sock.\n"
               "Exit status: 0 ok, 1 request failed, 2 usage, 3 picod not reachable.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},  {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    ctl_t ctl = {.timeout_ms = 5000};
    const ctl_cmd_t *cmd;
    long v;
    int c, r;

    signal(SIGPIPE, SIG_IGN);
    while ((c = getopt_long(argc, argv, "+s:jt:hV", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            ctl.socket = optarg;
            break;
        case 'j':
            ctl.json = true;
            break;
        case 't':
            if (!ctl_parse_long(optarg, 1, 3600000, &v)) {
                fprintf(stderr, "picoctl: --timeout: expected milliseconds 1..3600000\n");
                return EXIT_USAGE;
            }
            ctl.timeout_ms = (int)v;
            break;
        case 'h':
            ctl_usage(stdout);
            return 0;
        case 'V':
            printf("picoctl %s\n", PICOD_VERSION);
            return 0;
        default:
            ctl_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        ctl_usage(stderr);
        return EXIT_USAGE;
    }
    cmd = ctl_find_cmd(argv[optind]);
    if (!cmd) {
        fprintf(stderr, "picoctl: unknown command '%s' (see picoctl --help)\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (ctl_wants_help(argc - optind, argv + optind)) {
        printf("usage: picoctl %s %s\n%s\n", cmd->name, cmd->usage, cmd->help);
        return 0;
    }
    ctl.conn.fd = -1;
    r = cmd->fn(&ctl, argc - optind, argv + optind);
    ctl_conn_close(&ctl.conn);
    return r;
}
