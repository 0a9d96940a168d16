/*
 * ctl_doctor.c - `picoctl doctor`: checks in the order a user would look, each finding with
 * the command that fixes it (see ctl_doctor.h). Findings are collected as JSON objects
 * {"check","subject","status","message","fix"}, so --json and the text report are one list.
 */
#include "ctl_doctor.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_doctor_sys.h"
#include "ctl_print.h"

#ifndef PICOD_FIRMWARE_DIR
#define PICOD_FIRMWARE_DIR "/usr/local/share/picod/firmware"
#endif

enum { DR_EXIT_FAILED = 1, DR_EXIT_NO_DAEMON = 3, DR_EXIT_NO_BOARD = 4, DR_EXIT_DENIED = 5 };

typedef struct dr {
    const ctl_doctor_opts_t *o;
    json_t *checks;
    ctl_conn_t conn;
    bool up;       /* picod answered */
    json_t *list;  /* picod's "list" result boards (owned), NULL when not asked */
    json_t *stats; /* picod's "stats" result boards (owned) */
    int rule;      /* DOCTOR_RULE_* for 60-picod.rules */
    char rule_path[512], rule_dirs[512];
    int exit;
} dr_t;

static const char dr_rule_name[] = "60-picod.rules";
static const char dr_flash[] = "hold BOOTSEL while plugging it in, then copy " PICOD_FIRMWARE_DIR
                               "/firmware.uf2 to the RPI-RP2 drive it shows";

/* Add one finding; status is "ok", "info", "warn" or "fail". fix may be NULL. */
static void dr_add(dr_t *d, const char *check, const char *subject, const char *status,
                   const char *fix, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void dr_add(dr_t *d, const char *check, const char *subject, const char *status,
                   const char *fix, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(d->checks,
                          json_pack("{s:s, s:s, s:s, s:s, s:s?}", "check", check, "subject",
                                    subject, "status", status, "message", msg, "fix", fix));
    if (!strcmp(status, "fail") && !d->exit)
        d->exit = DR_EXIT_FAILED;
}

static json_t *dr_call(dr_t *d, const char *cmd, json_t *args, int *err)
{
    json_t *resp = ctl_conn_call(&d->conn, cmd, args, d->o->timeout_ms, err);

    json_decref(args);
    return resp;
}

/* ---- picod and its socket ------------------------------------------------------------------ */

static bool dr_in_groups(gid_t gid)
{
    gid_t groups[256];
    int n = getgroups(256, groups);

    if (getegid() == gid)
        return true;
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return true;
    return false;
}

static bool dr_in_group_db(const struct passwd *pw, const struct group *gr)
{
    if (!pw || !gr)
        return false;
    if (pw->pw_gid == gr->gr_gid)
        return true;
    for (char **m = gr->gr_mem; m && *m; m++)
        if (!strcmp(*m, pw->pw_name))
            return true;
    return false;
}

static void dr_denied(dr_t *d, const char *path)
{
    const struct passwd *pw = getpwuid(geteuid());
    const char *user = pw ? pw->pw_name : "?";
    struct group *gr;
    struct stat st;
    char gname[64], fix[512];

    d->exit = DR_EXIT_DENIED;
    if (stat(path, &st) < 0) { /* the directory on the way keeps us out */
        dr_add(d, "picod", path, "fail",
               "ask the administrator to let you reach it (picod.socket's DirectoryMode=)",
               "permission denied: a directory above the socket does not let user %s in", user);
        return;
    }
    gr = getgrgid(st.st_gid);
    snprintf(gname, sizeof(gname), "%s", gr ? gr->gr_name : "?");
    if (dr_in_groups(st.st_gid)) {
        dr_add(d, "picod", path, "fail",
               "let the group in: systemctl edit picod.socket, [Socket] SocketMode=0660 (or 0666)",
               "permission denied: mode %04o, group %s: you are in group %s but the mode keeps "
               "it out",
               (unsigned)(st.st_mode & 07777), gname, gname);
    } else if (dr_in_group_db(pw, gr)) {
        snprintf(fix, sizeof(fix),
                 "log out and in again (groups take effect at login), or run: newgrp %s", gname);
        dr_add(d, "picod", path, "fail", fix,
               "permission denied: mode %04o, group %s: user %s is in group %s, but not this "
               "login session (it started before the group was added)",
               (unsigned)(st.st_mode & 07777), gname, user, gname);
    } else {
        snprintf(fix, sizeof(fix), "sudo usermod -aG %s %s, then log out and in (or: newgrp %s)",
                 gname, user, gname);
        dr_add(d, "picod", path, "fail", fix,
               "permission denied: mode %04o, group %s: user %s (uid %u) is not in group %s",
               (unsigned)(st.st_mode & 07777), gname, user, (unsigned)geteuid(), gname);
    }
}

static void dr_connect_failed(dr_t *d, const char *path, int r)
{
    char fix[512];

    d->exit = DR_EXIT_NO_DAEMON;
    if (r == -EACCES || r == -EPERM) {
        dr_denied(d, path);
    } else if (r == -ENOENT) {
        snprintf(fix, sizeof(fix),
                 "start it: sudo systemctl start picod.socket picod.service (installed), or "
                 "picod --socket %s; a picod on another socket: picoctl --socket PATH or "
                 "PICOD_SOCKET=PATH",
                 path);
        dr_add(d, "picod", path, "fail", fix, "no socket there: picod is not running");
    } else if (r == -ECONNREFUSED) {
        dr_add(d, "picod", path, "fail",
               "sudo systemctl restart picod.socket picod.service (journalctl -u picod -b says why "
               "it stopped); started by hand: start picod again, it replaces the dead socket",
               "the socket exists but nothing accepts connections on it: picod stopped or died");
    } else {
        dr_add(d, "picod", path, "fail", NULL, "cannot connect to %s: %s", path, strerror(-r));
    }
}

/* Connect and ask "version". Sets d->up. */
static void dr_check_picod(dr_t *d)
{
    char path[256];
    json_t *resp, *res;
    int r, err;

    ctl_conn_default_path(d->o->socket, path, sizeof(path));
    r = ctl_conn_open(&d->conn, path);
    if (r < 0) {
        dr_connect_failed(d, path, r);
        return;
    }
    resp = dr_call(d, "version", NULL, &err);
    if (!resp) {
        d->exit = DR_EXIT_NO_DAEMON;
        if (err == -ETIMEDOUT)
            dr_add(d, "picod", path, "fail",
                   "a hung picod is restarted by systemd's watchdog (WatchdogSec=30s) or: sudo "
                   "systemctl restart picod; a stopped one (Ctrl-Z, a debugger): kill -CONT it",
                   "picod accepts connections but did not answer within %d ms: it is stopped or "
                   "hung",
                   d->o->timeout_ms);
        else
            dr_add(d, "picod", path, "fail", NULL, "picod: %s",
                   err == -EPIPE ? "closed the connection" : strerror(-err));
        return;
    }
    res = json_object_get(resp, "result");
    dr_add(d, "picod", path, "ok", NULL, "picod %s (protocol %s) answers",
           json_string_value(json_object_get(res, "version")),
           json_string_value(json_object_get(res, "protocol")));
    json_decref(resp);
    d->up = true;
}

/* "list" and "stats" boards, kept for the USB and board checks. */
static json_t *dr_boards(dr_t *d, const char *cmd)
{
    int err;
    json_t *resp = dr_call(d, cmd, NULL, &err), *b;

    if (!resp || !json_is_true(json_object_get(resp, "ok"))) {
        json_decref(resp);
        return json_array();
    }
    b = json_incref(json_object_get(json_object_get(resp, "result"), "boards"));
    json_decref(resp);
    return json_is_array(b) ? b : (json_decref(b), json_array());
}

/* ---- ttys ------------------------------------------------------------------------------------ */

/* Processes other than picod holding tty: one finding each. Returns how many. */
static int dr_check_holders(dr_t *d, const char *tty)
{
    doctor_proc_t who[DOCTOR_HOLDER_MAX];
    size_t n = 0;
    int found = 0;
    char fix[256];

    if (doctor_holders(tty, who, DOCTOR_HOLDER_MAX, &n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(who[i].comm, "picod"))
            continue;
        snprintf(fix, sizeof(fix), "close %s (kill %d): picod must be the only program on it",
                 who[i].comm, (int)who[i].pid);
        dr_add(d, "tty", tty, "fail", fix,
               "held open by %s (pid %d): it takes the bytes meant for picod, or keeps picod "
               "from opening it (busy)",
               who[i].comm, (int)who[i].pid);
        found++;
    }
    return found;
}

static bool dr_served(const dr_t *d, const doctor_usb_t *u)
{
    char link[128];
    size_t i;
    json_t *b;

    snprintf(link, sizeof(link), "/dev/pico/%s", u->serial);
    json_array_foreach(d->list, i, b)
    {
        const char *id = json_string_value(json_object_get(b, "board"));
        const char *dev = json_string_value(json_object_get(b, "device"));

        if ((id && u->serial[0] && !strcmp(id, u->serial)) ||
            (dev && (!strcmp(dev, u->tty) || !strcmp(dev, link))))
            return true;
    }
    return false;
}

/* A device of ours (2e8a:5043): its tty, picod serving it, other holders, ModemManager, and
 * whether the udev rule marked it. */
static void dr_check_ours(dr_t *d, const doctor_usb_t *u)
{
    pid_t mm = doctor_proc_find("ModemManager");
    int problems = 0;
    char fix[512];

    if (!u->tty[0]) {
        dr_add(d, "usb", u->port, "fail",
               "sudo modprobe cdc_acm, then replug it; dmesg shows USB errors if it fails",
               "2e8a:5043 (picod firmware, serial %s) has no tty: the kernel's cdc_acm driver "
               "did not bind to it",
               u->serial);
        return;
    }
    if (d->up && !dr_served(d, u)) {
        snprintf(fix, sizeof(fix),
                 "run picod with --udev (picod.service does), or add --device /dev/pico/%s",
                 u->serial);
        dr_add(d, "tty", u->tty, "fail", fix,
               "picod does not serve this tty (2e8a:5043, serial %s): not in picod's list",
               u->serial);
        problems++;
    }
    problems += dr_check_holders(d, u->tty);
    if (mm && !u->mm_ignore) {
        dr_add(d, "tty", u->tty, "fail",
               "install the udev rule (it sets ID_MM_DEVICE_IGNORE=1) and replug the board; or, "
               "with no modem here: sudo systemctl disable --now ModemManager",
               "ModemManager (pid %d) runs and the tty has no ID_MM_DEVICE_IGNORE: it probes new "
               "ttys with AT commands and holds them meanwhile",
               (int)mm);
        problems++;
    }
    if (!u->picod_board) {
        dr_add(d, "tty", u->tty, "warn",
               d->rule == DOCTOR_RULE_FOUND
                   ? "sudo udevadm control --reload && sudo udevadm trigger --action=add "
                     "--subsystem-match=tty, or replug the board"
                   : "install the udev rule (see the udev check), then replug the board",
               "udev did not mark the tty as picod's (no PICOD_BOARD=1): no /dev/pico/%s link, "
               "no ID_MM_DEVICE_IGNORE",
               u->serial);
        problems++;
    }
    if (!problems)
        dr_add(d, "usb", u->port, "ok", NULL, "2e8a:5043 picod firmware, serial %s, tty %s",
               u->serial, u->tty);
}

/* ---- USB devices ----------------------------------------------------------------------------- */

typedef struct dr_product {
    const char *pid;
    const char *what;
    const char *status;
    const char *fix;
} dr_product_t;

/* Raspberry Pi's product ids (github.com/raspberrypi/usb-pid). */
static const dr_product_t dr_products[] = {
    {"0003", "a Pico in BOOTSEL mode (the RP2040 boot ROM: a USB drive RPI-RP2, no tty)", "fail",
     "copy " PICOD_FIRMWARE_DIR "/firmware.uf2 to its RPI-RP2 drive (it then restarts into "
     "picod's firmware); if it has picod's firmware already, replug it without holding BOOTSEL"},
    {"000f", "an RP2350 in BOOTSEL mode: picod's firmware is built for the RP2040", "fail",
     "use an RP2040 board (Raspberry Pi Pico, Pico W)"},
    {"0005", "runs MicroPython, not picod's firmware: picod leaves it alone", "warn", dr_flash},
    {"000b", "runs CircuitPython, not picod's firmware: picod leaves it alone", "warn", dr_flash},
    {"0009", "runs a pico-sdk program (USB stdio), not picod's firmware: picod leaves it alone",
     "warn", dr_flash},
    {"000a", "runs a pico-sdk program (USB stdio), not picod's firmware: picod leaves it alone",
     "warn", dr_flash},
    {"000c", "a Debug Probe (CMSIS-DAP and a UART bridge), not a board: picod leaves it alone",
     "info", NULL},
    {"0004", "a Picoprobe (CMSIS-DAP), not a board: picod leaves it alone", "info", NULL},
};

static void dr_check_usb_one(dr_t *d, const doctor_usb_t *u)
{
    char tty[96] = "";

    if (!strcmp(u->pid, "5043")) {
        dr_check_ours(d, u);
        return;
    }
    if (u->tty[0])
        snprintf(tty, sizeof(tty), ", tty %s", u->tty);
    for (size_t i = 0; i < sizeof(dr_products) / sizeof(dr_products[0]); i++) {
        const dr_product_t *p = &dr_products[i];

        if (!strcmp(u->pid, p->pid)) {
            dr_add(d, "usb", u->port, p->status, p->fix, "2e8a:%s \"%s\"%s: %s", u->pid, u->product,
                   tty, p->what);
            return;
        }
    }
    dr_add(d, "usb", u->port, "info",
           "if it runs picod-compatible firmware: picod --allow-usb 2e8a:<pid>",
           "2e8a:%s \"%s\"%s: not picod's firmware (2e8a:5043): picod leaves it alone", u->pid,
           u->product, tty);
}

static void dr_check_usb(dr_t *d)
{
    doctor_usb_t usb[DOCTOR_USB_MAX];
    size_t n = 0;
    int r = doctor_usb_scan(usb, DOCTOR_USB_MAX, &n);

    if (r < 0) {
        dr_add(d, "usb", "udev", "warn", NULL, "cannot ask udev for USB devices: %s", strerror(-r));
        return;
    }
    if (n == 0)
        dr_add(d, "usb", "udev", "info",
               "plug the board in (a data cable, not a charge-only one); lsusb lists it",
               "no Raspberry Pi USB device (vendor 2e8a) is plugged in");
    for (size_t i = 0; i < n; i++)
        dr_check_usb_one(d, &usb[i]);
}

static void dr_check_rule(dr_t *d)
{
    if (d->rule == DOCTOR_RULE_FOUND)
        dr_add(d, "udev", dr_rule_name, "ok", NULL, "udev rule installed: %s", d->rule_path);
    else if (d->rule == DOCTOR_RULE_MASKED)
        dr_add(d, "udev", dr_rule_name, "fail",
               "sudo rm the link, then sudo udevadm control --reload and replug the board",
               "%s is masked: %s links to /dev/null", dr_rule_name, d->rule_path);
    else
        dr_add(d, "udev", dr_rule_name, "warn",
               "cmake --install puts it in PREFIX/lib/udev/rules.d, or: sudo install -m 644 "
               "systemd/60-picod.rules /etc/udev/rules.d/; then sudo udevadm control --reload "
               "and replug the board",
               "udev rule %s is not installed (searched %s): boards get no /dev/pico/<id> link "
               "and ModemManager is not told to keep off",
               dr_rule_name, d->rule_dirs);
}

/* ---- boards picod serves --------------------------------------------------------------------- */

static const json_t *dr_find_stats(const dr_t *d, const json_t *b)
{
    const json_t *s;
    size_t i;

    json_array_foreach(d->stats, i, s)
    {
        if (json_equal(json_object_get(s, "device"), json_object_get(b, "device")))
            return s;
    }
    return NULL;
}

static long long dr_int(const json_t *o, const char *a, const char *b)
{
    return json_integer_value(json_object_get(json_object_get(o, a), b));
}

/* "last heard 3.2 s ago; errors: 1 tty loss, 4 request timeouts" */
static void dr_heard(const dr_t *d, const json_t *b, char *out, size_t cap)
{
    const json_t *age = json_object_get(b, "last_rx_age_ms"), *s = dr_find_stats(d, b);
    long long v[4] = {dr_int(s, "link", "losses"), dr_int(s, "link", "open_failures"),
                      dr_int(s, "decoder", "crc_errors") + dr_int(s, "decoder", "cobs_errors"),
                      dr_int(s, "requests", "timeouts")};
    static const char *const what[4] = {"tty losses", "open failures", "bad frames",
                                        "request timeouts"};
    size_t n;

    if (json_is_integer(age))
        n = (size_t)snprintf(out, cap, "last heard %.1f s ago",
                             (double)json_integer_value(age) / 1000.0);
    else
        n = (size_t)snprintf(out, cap, "never heard from");
    for (int i = 0, first = 1; i < 4 && n < cap; i++)
        if (v[i]) {
            n += (size_t)snprintf(out + n, cap - n, "%s%lld %s", first ? "; errors: " : ", ", v[i],
                                  what[i]);
            first = 0;
        }
}

static void dr_check_board(dr_t *d, const json_t *b)
{
    const char *id = json_string_value(json_object_get(b, "board"));
    const char *dev = json_string_value(json_object_get(b, "device"));
    const char *state = json_string_value(json_object_get(b, "state"));
    const char *fw = json_string_value(json_object_get(b, "firmware"));
    const char *subject = id ? id : dev;
    char heard[256];

    dr_heard(d, b, heard, sizeof(heard));
    if (!strcmp(state, "online")) {
        dr_add(d, "board", subject, "ok", NULL, "online on %s, firmware %s, %s", dev, fw ? fw : "?",
               heard);
    } else if (!strcmp(state, "incompatible")) {
        dr_add(d, "board", subject, "fail",
               "flash the firmware this picod was built with: " PICOD_FIRMWARE_DIR
               "/firmware.uf2 (hold BOOTSEL while plugging the board in, copy the file to "
               "RPI-RP2); or update picod to the board's version",
               "incompatible on %s: %s", dev, json_string_value(json_object_get(b, "error")));
    } else if (!strcmp(state, "stale") || !strcmp(state, "offline")) {
        dr_add(d, "board", subject, "fail",
               "check its USB cable and power; a hung board restarts by its watchdog; "
               "otherwise unplug and replug it (or: picoctl reboot BOARD while it answers)",
               "%s on %s: %s", state, dev, heard);
    } else {
        dr_add(d, "board", subject, "fail",
               "is picod's firmware on it? (" PICOD_FIRMWARE_DIR "/firmware.uf2); is the path "
               "the board's tty?",
               "has not answered picod's HELLO on %s (state %s): %s", dev, state, heard);
    }
    /* Each check walks /proc: for every board that is not working, or the one asked about
     * (a second program on an online board's tty shows as lost bytes: errors above). */
    if (strcmp(state, "online") != 0 || d->o->board)
        dr_check_holders(d, dev);
}

static void dr_check_boards(dr_t *d)
{
    json_t *args = d->o->board ? json_pack("{s:s}", "board", d->o->board) : NULL;
    json_t *resp, *boards, *b;
    size_t i;
    int err;

    resp = dr_call(d, "status", args, &err);
    if (!resp)
        return;
    if (!json_is_true(json_object_get(resp, "ok"))) {
        const json_t *e = json_object_get(resp, "error");

        dr_add(d, "board", d->o->board ? d->o->board : "*", "fail",
               "picoctl list shows the boards picod knows; a board not there may be in BOOTSEL "
               "mode or running other firmware (see the usb checks)",
               "%s", json_string_value(json_object_get(e, "message")));
        d->exit = DR_EXIT_NO_BOARD;
    }
    boards = json_object_get(json_object_get(resp, "result"), "boards");
    if (json_is_array(boards) && json_array_size(boards) == 0 && !d->o->board)
        dr_add(d, "board", "*", "info", NULL, "picod serves no board");
    json_array_foreach(boards, i, b)
    {
        dr_check_board(d, b);
    }
    json_decref(resp);
}

/* ---- report ---------------------------------------------------------------------------------- */

static void dr_print_text(const dr_t *d, FILE *out)
{
    static const struct {
        const char *status, *label, *color;
    } labels[] = {{"ok", "ok  ", "\033[32m"},
                  {"info", "info", ""},
                  {"warn", "warn", "\033[33m"},
                  {"fail", "FAIL", "\033[1;31m"}};
    int fails = 0, warns = 0;
    const json_t *c;
    size_t i;

    json_array_foreach(d->checks, i, c)
    {
        const char *st = json_string_value(json_object_get(c, "status"));
        const char *fix = json_string_value(json_object_get(c, "fix"));
        size_t k = 0;

        while (k < 3 && strcmp(labels[k].status, st) != 0)
            k++;
        fails += k == 3;
        warns += k == 2;
        fprintf(out, "%s%s%s  %s %s: %s\n", d->o->color ? labels[k].color : "", labels[k].label,
                d->o->color && labels[k].color[0] ? "\033[0m" : "",
                json_string_value(json_object_get(c, "check")),
                json_string_value(json_object_get(c, "subject")),
                json_string_value(json_object_get(c, "message")));
        if (fix && strcmp(st, "ok") != 0)
            fprintf(out, "      fix: %s\n", fix);
    }
    if (fails || warns)
        fprintf(out, "%d problem%s, %d warning%s\n", fails, fails == 1 ? "" : "s", warns,
                warns == 1 ? "" : "s");
    else
        fprintf(out, "no problems found\n");
}

int ctl_doctor_run(const ctl_doctor_opts_t *opts, FILE *out)
{
    dr_t d = {.o = opts, .checks = json_array(), .conn = {.fd = -1}};
    int fails = 0;
    const json_t *c;
    size_t i;

    dr_check_picod(&d);
    if (d.up) {
        d.list = dr_boards(&d, "list");
        d.stats = dr_boards(&d, "stats");
    } else {
        d.list = json_array();
        d.stats = json_array();
    }
    d.rule = doctor_rule_find(dr_rule_name, d.rule_path, sizeof(d.rule_path), d.rule_dirs,
                              sizeof(d.rule_dirs));
    dr_check_usb(&d);
    dr_check_rule(&d);
    if (d.up)
        dr_check_boards(&d);
    json_array_foreach(d.checks, i, c)
    {
        fails += !strcmp(json_string_value(json_object_get(c, "status")), "fail");
    }
    if (opts->json) {
        json_t *o =
            json_pack("{s:b, s:i, s:O}", "ok", !fails, "problems", fails, "checks", d.checks);
        json_dumpf(o, out, JSON_COMPACT);
        fputc('\n', out);
        json_decref(o);
    } else {
        ctl_print_make_safe(d.checks); /* USB strings and board text reach the terminal */
        dr_print_text(&d, out);
    }
    ctl_conn_close(&d.conn);
    json_decref(d.list);
    json_decref(d.stats);
    json_decref(d.checks);
    return d.exit;
}
