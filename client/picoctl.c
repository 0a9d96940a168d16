/*
 * picoctl.c - the command-line client of picod: options, the command table, requests and
 * their errors. The commands are in ctl_cmd_info.c (reading) and ctl_cmd_act.c (acting).
 *
 * Global options are taken before or after the command (`picoctl status --json`); `--`
 * ends the options. Exit status: see ctl.h (and `picoctl --help`).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl_doctor.h"
#include "ctl_print.h"
#include "ctl_select.h"
#include "ctl_table.h"

#ifndef PICOD_VERSION
#define PICOD_VERSION "0.0.0"
#endif

static const ctl_cmd_t ctl_cmds[] = {
    {"status", "[BOARD] [--wide]",
     "every board (or one): state, uptime, firmware, link quality, last error, LED, button and "
     "every sensor with units and age; --wide adds a trend line of each sensor",
     "picoctl status\npicoctl status bench --wide\npicoctl status --json", ctl_cmd_status},
    {"list", "", "the boards picod serves: id, name, state, platform, firmware, device",
     "picoctl list", ctl_cmd_list},
    {"led", "BOARD on|off|toggle|blink [PERIOD_MS [DUTY]]|auto", "set the LED",
     "picoctl led bench on\npicoctl led 0123 blink 200 25\npicoctl led /dev/ttyACM0 auto",
     ctl_cmd_led},
    {"button", "BOARD", "the button's state and its recent presses (from picod's event history)",
     "picoctl button bench", ctl_cmd_button},
    {"sensor", "BOARD [N] [--history DURATION]",
     "current readings of a board's sensors (or sensor N); --history draws a chart of the "
     "last DURATION (30s, 10m, 1h, 2d)",
     "picoctl sensor bench\npicoctl sensor bench 0 --history 1h", ctl_cmd_sensor},
    {"i2c", "BOARD scan|read ADDR LEN|write ADDR HEX..|xfer ADDR HEX.. LEN",
     "raw I2C on the board's bus: scan prints i2cdetect's grid; xfer writes then reads "
     "(repeated start)",
     "picoctl i2c bench scan\npicoctl i2c bench read 0x76 2\npicoctl i2c bench write 0x76 "
     "e0 00\npicoctl i2c bench xfer 0x76 d0 1",
     ctl_cmd_i2c},
    {"watch", "[--since SEQ] [--board BOARD] [--events LIST] [--count N]",
     "print events as they happen (local time, board, event); --since replays held events "
     "after SEQ; --board (repeatable) and --events (comma list) filter",
     "picoctl watch\npicoctl watch --board bench --events button,fault\npicoctl --json watch "
     "--since 0 --count 10",
     ctl_cmd_watch},
    {"history", "BOARD SENSOR [--since DURATION] [--points N]",
     "picod's downsampled readings of one sensor (min/mean/max per time bucket)",
     "picoctl history bench 0 --since 10m --points 20", ctl_cmd_history},
    {"ping", "[BOARD] [-c N] [-i MS]",
     "round trips to picod, or through it to a board, with ping(8)'s summary; -c 0 pings "
     "until interrupted",
     "picoctl ping\npicoctl ping bench -c 5 -i 200", ctl_cmd_ping},
    {"stats", "[BOARD]",
     "counters of picod and its boards; with BOARD the link counters of both sides, the "
     "board's clock against picod's and its task timing table",
     "picoctl stats\npicoctl stats bench", ctl_cmd_stats},
    {"poll", "BOARD [SENSOR|all] MS", "make the board read its sensors every MS ms (0 stops)",
     "picoctl poll bench all 500\npicoctl poll bench 1 0", ctl_cmd_poll},
    {"reboot", "BOARD [--bootsel]", "reboot the board (--bootsel: into the USB bootloader)",
     "picoctl reboot bench", ctl_cmd_reboot},
    {"bootsel", "BOARD", "reboot the board into the USB bootloader (to copy a UF2 onto it)",
     "picoctl bootsel bench", ctl_cmd_bootsel},
    {"config", "", "picod's effective configuration: its options and [board] sections",
     "picoctl config", ctl_cmd_config},
    {"metrics", "", "picod's counters as OpenMetrics text (for scrapers)",
     "picoctl metrics > /var/lib/node_exporter/picod.prom", ctl_cmd_metrics},
    {"version", "", "versions of picoctl, picod and the protocol", "picoctl version",
     ctl_cmd_version},
    {"doctor", "[BOARD]",
     "why a board is not working: picod, its socket, the USB view, the ttys, the udev rule and "
     "each board, every finding with its fix",
     "picoctl doctor\npicoctl doctor bench\npicoctl --json doctor", ctl_cmd_doctor},
};
#define CTL_N_CMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static const ctl_cmd_t *ctl_find_cmd(const char *name)
{
    for (size_t i = 0; i < CTL_N_CMDS; i++)
        if (!strcmp(ctl_cmds[i].name, name))
            return &ctl_cmds[i];
    return NULL;
}

static void ctl_usage(FILE *f)
{
    fprintf(f, "usage: picoctl [OPTIONS] COMMAND [ARGS]   (options may also follow the "
               "command; -- ends them)\n\n"
               "Options:\n"
               "  -s, --socket PATH   picod's socket (else $PICOD_SOCKET, else "
               "/run/picod/picod.sock)\n"
               "  -j, --json          print JSON: one object (JSON lines for watch), errors "
               "too\n"
               "  -t, --timeout MS    wait at most MS for an answer (default 5000)\n"
               "      --no-color      no colour (also: NO_COLOR set, or stdout not a "
               "terminal)\n"
               "  -h, --help          this help; COMMAND --help: the command's, with "
               "examples\n"
               "  -V, --version       picoctl's version\n\n"
               "Commands:\n");
    for (size_t i = 0; i < CTL_N_CMDS; i++)
        fprintf(f, *ctl_cmds[i].usage ? "  %-8s %s\n" : "  %s\n", ctl_cmds[i].name,
                ctl_cmds[i].usage);
    fprintf(f, "  %-8s %s\n", "help", "[COMMAND]");
    fprintf(f, "\nBOARD is a board id, a unique prefix of it, its name (a [board NAME] section "
               "of\npicod's config) or its device path; `picoctl list` shows them.\n\n"
               "Exit status: 0 ok, 1 the request failed, 2 usage error, 3 picod not "
               "reachable,\n4 board not found or ambiguous, 5 denied, 6 timeout.\n");
}

static void ctl_cmd_help(const ctl_cmd_t *c)
{
    printf("usage: picoctl %s%s%s\n\n%s.\n\nExamples:\n", c->name, *c->usage ? " " : "", c->usage,
           c->help);
    for (const char *p = c->examples; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);

        printf("  %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
    printf("\nGlobal options (--json, --socket, --timeout, --no-color) may come anywhere; "
           "see picoctl --help.\n");
}

/* ---- errors and requests ------------------------------------------------------------------ */

void ctl_emit_json(const json_t *v)
{
    json_dumpf(v, stdout, CTL_JSON_FLAGS | JSON_ENCODE_ANY);
    fputc('\n', stdout);
}

/* The message with control characters escaped (it may quote a board or the user). */
static int ctl_report(ctl_t *ctl, int exit, const char *code, const char *msg)
{
    json_t *m = json_string(msg ? msg : "?");

    if (!m)
        m = json_string("(message not valid UTF-8)");
    ctl_print_make_safe(m);
    snprintf(ctl->last_error, sizeof(ctl->last_error), "%s", json_string_value(m));
    snprintf(ctl->last_code, sizeof(ctl->last_code), "%s", code);
    if (!ctl->quiet)
        fprintf(stderr, "picoctl: %s\n", json_string_value(m));
    if (ctl->json && !ctl->quiet) {
        json_t *o = json_pack("{s:b, s:{s:s, s:O}}", "ok", 0, "error", "code", code, "message", m);
        ctl_emit_json(o);
        json_decref(o);
    }
    json_decref(m);
    return exit;
}

int ctl_error(ctl_t *ctl, int exit, const char *code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return ctl_report(ctl, exit, code, msg);
}

int ctl_usage_error(ctl_t *ctl, const char *cmd, const char *why)
{
    const ctl_cmd_t *c = ctl_find_cmd(cmd);

    return ctl_error(ctl, CTL_EXIT_USAGE, "usage", "%s: %s (usage: picoctl %s %s)", cmd, why, cmd,
                     c ? c->usage : "");
}

static int ctl_connect(ctl_t *ctl)
{
    char path[256];
    int r;

    if (ctl->connected)
        return 0;
    ctl_conn_default_path(ctl->socket, path, sizeof(path));
    r = ctl_conn_open(&ctl->conn, path);
    if (r < 0)
        return ctl_error(ctl, CTL_EXIT_UNREACHABLE, "unreachable",
                         "cannot connect to picod at %s: %s (is picod running?)", path,
                         strerror(-r));
    ctl->connected = true;
    return 0;
}

/* The exit status for an error code picod answered. */
static int ctl_exit_for(const char *code)
{
    if (!code)
        return CTL_EXIT_FAILED;
    if (!strcmp(code, "denied"))
        return CTL_EXIT_DENIED;
    if (!strcmp(code, "timeout"))
        return CTL_EXIT_TIMEOUT;
    if (!strcmp(code, "unknown_board") || !strcmp(code, "ambiguous_board"))
        return CTL_EXIT_NO_BOARD;
    return CTL_EXIT_FAILED;
}

double ctl_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

long long ctl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The answer with id (events and other answers are skipped), or NULL: *exit says why. */
static json_t *ctl_wait_answer(ctl_t *ctl, const char *cmd, long long id, int *exit)
{
    double deadline = ctl_mono_ms() + ctl->timeout_ms;

    for (;;) {
        int left = (int)(deadline - ctl_mono_ms()), err = 0;
        json_t *m = left > 0 ? ctl_conn_recv(&ctl->conn, left, &err) : NULL;

        if (!m) {
            if (left <= 0 || err == -ETIMEDOUT)
                *exit = ctl_error(ctl, CTL_EXIT_TIMEOUT, "timeout",
                                  "%s: no answer from picod within %d ms", cmd, ctl->timeout_ms);
            else
                *exit = ctl_error(ctl, CTL_EXIT_UNREACHABLE, "unreachable", "%s: %s", cmd,
                                  err == -EPIPE ? "picod closed the connection" : strerror(-err));
            return NULL;
        }
        if (json_integer_value(json_object_get(m, "id")) == id && json_object_get(m, "ok"))
            return m;
        json_decref(m);
    }
}

int ctl_request(ctl_t *ctl, const char *cmd, json_t *args, json_t **resp, json_t **result)
{
    long long id = ++ctl->next_id;
    json_t *msg = args ? args : json_object(), *e;
    int r = ctl_connect(ctl);

    *resp = NULL;
    if (r) {
        json_decref(msg);
        return r;
    }
    json_object_set_new(msg, "cmd", json_string(cmd));
    json_object_set_new(msg, "id", json_integer(id));
    r = ctl_conn_send(&ctl->conn, msg);
    json_decref(msg);
    if (r < 0)
        return ctl_error(ctl, CTL_EXIT_UNREACHABLE, "unreachable", "%s: cannot send: %s", cmd,
                         strerror(-r));
    *resp = ctl_wait_answer(ctl, cmd, id, &r);
    if (!*resp)
        return r;
    if (json_is_true(json_object_get(*resp, "ok"))) {
        *result = json_object_get(*resp, "result");
        return 0;
    }
    e = json_object_get(*resp, "error");
    {
        const char *code = json_string_value(json_object_get(e, "code"));
        char msgbuf[1536];

        snprintf(msgbuf, sizeof(msgbuf), "%s: %s: %s", cmd, code ? code : "error",
                 json_string_value(json_object_get(e, "message"))
                     ? json_string_value(json_object_get(e, "message"))
                     : "");
        r = ctl_report(ctl, ctl_exit_for(code), code ? code : "error", msgbuf);
    }
    json_decref(*resp);
    *resp = NULL;
    return r;
}

int ctl_simple(ctl_t *ctl, const char *cmd, json_t *args, void (*printer)(const json_t *result))
{
    json_t *resp = NULL, *result = NULL;
    int r = ctl_request(ctl, cmd, args, &resp, &result);

    if (r)
        return r;
    if (ctl->json) {
        ctl_emit_json(result);
    } else {
        ctl_print_make_safe(resp);
        printer(result);
    }
    json_decref(resp);
    return 0;
}

int ctl_board(ctl_t *ctl, const char *arg, const char **key, const json_t **entry)
{
    const json_t *boards;
    char why[1536];
    int i;

    if (!ctl->boards) {
        json_t *resp, *result;
        int r = ctl_request(ctl, "list", NULL, &resp, &result);

        if (r)
            return r;
        ctl->boards = json_incref(json_object_get(result, "boards"));
        json_decref(resp);
    }
    boards = ctl->boards;
    i = ctl_select_board(boards, arg, why, sizeof(why));
    if (i < 0)
        return ctl_report(ctl, CTL_EXIT_NO_BOARD,
                          i == -EEXIST ? "ambiguous_board" : "unknown_board", why);
    *key = ctl_select_key(json_array_get(boards, (size_t)i));
    if (entry)
        *entry = json_array_get(boards, (size_t)i);
    return 0;
}

static ctl_flag_t *ctl_find_flag(ctl_flag_t *flags, size_t n, const char *a)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(a, flags[i].lng) || (flags[i].shrt && !strcmp(a, flags[i].shrt)))
            return &flags[i];
    return NULL;
}

int ctl_args(ctl_t *ctl, int argc, char **argv, ctl_flag_t *flags, size_t nflags, char **pos,
             int *npos, int maxpos)
{
    bool done = false;

    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        ctl_flag_t *fl;

        if (!done && !strcmp(a, "--")) {
            done = true;
        } else if (!done && a[0] == '-' && a[1]) {
            if (!(fl = ctl_find_flag(flags, nflags, a))) {
                char why[128];
                snprintf(why, sizeof(why), "unknown option '%s'", a);
                return ctl_usage_error(ctl, argv[0], why);
            }
            if (fl->value && (i + 1 >= argc || fl->seen >= CTL_FLAG_VALUES)) {
                char why[128];
                snprintf(why, sizeof(why), "%s needs a value", a);
                return ctl_usage_error(ctl, argv[0], why);
            }
            if (fl->value)
                fl->vals[fl->seen] = argv[++i];
            fl->seen++;
        } else if (*npos < maxpos) {
            pos[(*npos)++] = argv[i];
        } else {
            return ctl_usage_error(ctl, argv[0], "too many arguments");
        }
    }
    return 0;
}

bool ctl_parse_long(const char *s, long min, long max, long *out)
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

bool ctl_parse_duration(const char *s, long long *ms)
{
    static const struct {
        const char *suffix;
        long long ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return false;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcmp(end, units[i].suffix)) {
            *ms = (long long)(v * (double)units[i].ms);
            return *ms > 0 && *ms <= 400LL * 86400000;
        }
    return false;
}

/* ---- main --------------------------------------------------------------------------------- */

typedef struct ctl_opts {
    bool help, version, no_color;
    int argc; /* the command and its own arguments, global options removed */
    char **argv;
} ctl_opts_t;

/* Take the global options wherever they are; "--" ends them (what follows is kept for the
 * command, "--" included, so the command knows its arguments end there too). 0 or exit. */
static int ctl_parse_global(ctl_t *ctl, ctl_opts_t *o, int argc, char **argv)
{
    bool done = false;

    o->argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!o->argv)
        return ctl_error(ctl, CTL_EXIT_FAILED, "internal", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        bool takes = false;
        long v;

        if (done || a[0] != '-' || !a[1]) {
            o->argv[o->argc++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            done = true;
            o->argv[o->argc++] = argv[i];
        } else if (!strcmp(a, "-j") || !strcmp(a, "--json"))
            ctl->json = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            o->help = true;
        else if (!strcmp(a, "-V") || !strcmp(a, "--version"))
            o->version = true;
        else if (!strcmp(a, "--no-color") || !strcmp(a, "--no-colour"))
            o->no_color = true;
        else if (!strcmp(a, "-s") || !strcmp(a, "--socket") || !strcmp(a, "-t") ||
                 !strcmp(a, "--timeout"))
            takes = true;
        else if (!strncmp(a, "--socket=", 9) || !strncmp(a, "--timeout=", 10))
            takes = true, val = strchr(a, '=') + 1;
        else
            o->argv[o->argc++] = argv[i]; /* the command's own option */
        if (!takes)
            continue;
        if (!val && ++i >= argc)
            return ctl_error(ctl, CTL_EXIT_USAGE, "usage", "%s needs a value", a);
        val = val ? val : argv[i];
        if (a[1] == 's' || !strncmp(a, "--s", 3)) {
            ctl->socket = val;
        } else if (!ctl_parse_long(val, 1, 3600000, &v)) {
            return ctl_error(ctl, CTL_EXIT_USAGE, "usage",
                             "--timeout: expected milliseconds 1..3600000, not '%s'", val);
        } else {
            ctl->timeout_ms = (int)v;
        }
    }
    return 0;
}

int ctl_cmd_doctor(ctl_t *ctl, int argc, char **argv)
{
    ctl_doctor_opts_t o = {.socket = ctl->socket,
                           .board = argc > 1 ? argv[1] : NULL,
                           .timeout_ms = ctl->timeout_ms,
                           .json = ctl->json,
                           .color = ctl_colour_is_on()};

    if (argc > 2)
        return ctl_usage_error(ctl, "doctor", "too many arguments");
    return ctl_doctor_run(&o, stdout);
}

int main(int argc, char **argv)
{
    ctl_t ctl = {.timeout_ms = 5000, .conn = {.fd = -1}};
    ctl_opts_t o = {0};
    const ctl_cmd_t *cmd = NULL;
    int r;

    signal(SIGPIPE, SIG_IGN);
    r = ctl_parse_global(&ctl, &o, argc, argv);
    ctl_colour_init(o.no_color || ctl.json);
    if (!r && o.argc > 0 && !(cmd = ctl_find_cmd(o.argv[0])) && strcmp(o.argv[0], "help") != 0)
        r = ctl_error(&ctl, CTL_EXIT_USAGE, "usage", "unknown command '%s' (see picoctl --help)",
                      o.argv[0]);
    if (!r && o.argc > 0 && !cmd) { /* "help [COMMAND]" */
        const ctl_cmd_t *c = o.argc > 1 ? ctl_find_cmd(o.argv[1]) : NULL;
        if (c)
            ctl_cmd_help(c);
        else
            ctl_usage(stdout);
    } else if (!r && o.help) {
        if (cmd)
            ctl_cmd_help(cmd);
        else
            ctl_usage(stdout);
    } else if (!r && o.version && !cmd) {
        printf("picoctl %s\n", PICOD_VERSION);
    } else if (!r && !cmd) {
        ctl_usage(stderr);
        r = CTL_EXIT_USAGE;
    } else if (!r) {
        r = cmd->fn(&ctl, o.argc, o.argv);
    }
    if (ctl.connected)
        ctl_conn_close(&ctl.conn);
    json_decref(ctl.boards);
    free(o.argv);
    return r;
}
