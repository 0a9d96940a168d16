/*
 * main.c - picod's top level: options, the loop, signals, systemd notification.
 *
 * Exit status: 0 after SIGTERM/SIGINT (everything closed and freed), 1 when the socket
 * cannot be served (another picod already serves it, for one), 2 for bad usage.
 * --check-config FILE: 0 when FILE is valid, 2 (with FILE:LINE: reason) when not.
 * SIGHUP re-reads the --config file and applies the settings that can change at runtime
 * (everything but the socket and the device/udev settings), between RELOADING=1 and READY=1.
 * Under a systemd watchdog (WatchdogSec=), WATCHDOG=1 goes out at half the interval.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "board_text.h"
#include "hotplug.h"
#include "log.h"
#include "picod.h"

typedef struct picod_main {
    picod_t pd;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t status_timer, watchdog_timer;
    char last_status[128];
    int argc; /* kept for SIGHUP: the reload parses them again, config file included */
    char **argv;
} picod_main_t;

/* sd_notify() without blocking the loop, for STATUS= and STOPPING=1: libsystemd's socket
 * is blocking, and a notification socket that is not read (a supervisor that is busy, or a
 * test harness that only waits for READY=1) fills after net.unix.max_dgram_qlen messages
 * (10 by default) and would then stop picod in sendmsg(), SIGTERM included. A status line
 * is worth losing; the loop is not. READY=1, sent once before serving, uses sd_notify(). */
static void main_notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n;
    int fd;

    if (!path || (path[0] != '/' && path[0] != '@') || (n = strlen(path)) >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    (void)!sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    close(fd);
}

static void main_handles_closed_cb(uv_handle_t *h)
{
    (void)h;
}

static void main_stopped_cb(picod_t *pd)
{
    picod_main_t *m = (picod_main_t *)pd;

    uv_close((uv_handle_t *)&m->sigterm, main_handles_closed_cb);
    uv_close((uv_handle_t *)&m->sigint, main_handles_closed_cb);
    uv_close((uv_handle_t *)&m->sighup, main_handles_closed_cb);
    uv_close((uv_handle_t *)&m->status_timer, main_handles_closed_cb);
    uv_close((uv_handle_t *)&m->watchdog_timer, main_handles_closed_cb);
    /* Closing the last uv_signal_t restores the default action, and a second SIGTERM (a
     * supervisor repeating itself) would then kill us mid-teardown with status 143. We are
     * already stopping, so from here on the request is simply satisfied. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
}

static void main_signal_cb(uv_signal_t *s, int signum)
{
    picod_main_t *m = s->data;

    if (m->pd.stopping)
        return;
    log_info("%s: shutting down", strsignal(signum));
    main_notify("STOPPING=1\nSTATUS=Shutting down");
    if (m->pd.hotplug)
        hotplug_stop(m->pd.hotplug);
    picod_stop(&m->pd, main_stopped_cb);
}

/* --actuate-group: a group name, or a number. Returns 0 (*has false for ""), or -ENOENT.
 * getgrnam_r may consult NSS: done at start and on SIGHUP only, never per connection. */
static int main_resolve_group(const char *name, bool *has, gid_t *gid)
{
    struct group gr, *res = NULL;
    char buf[4096], *end;
    unsigned long v;

    *has = false;
    if (!name[0])
        return 0;
    if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
        *gid = res->gr_gid;
        *has = true;
        return 0;
    }
    errno = 0;
    v = strtoul(name, &end, 10);
    if (errno || *end || end == name || v >= (gid_t)-1)
        return -ENOENT;
    *gid = (gid_t)v;
    *has = true;
    return 0;
}

static server_limits_t main_limits(const options_t *o)
{
    return (server_limits_t){
        .max_clients = o->max_clients, .out_max = o->client_out_max, .out_budget = o->out_budget};
}

static uint64_t main_unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Settings a reload does not apply (the socket and discovery keep what they started with).
 * Say which changed, so nobody waits for them. */
/* File descriptors picod keeps for everything but clients: every board's tty (a reopen must
 * never find the table full of clients), the listener, udev, timers' fds, the log. */
#define MAIN_FDS_RESERVED (PICOD_MAX_BOARDS + 64)

/* A service gets a soft RLIMIT_NOFILE of 1024 by default (the hard limit is higher): raise the
 * soft limit to the hard one, once, at start. */
static void main_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warning("cannot raise the open-file limit: %s", strerror(errno));
    }
}

/* --max-clients against the open-file limit, leaving MAIN_FDS_RESERVED for the boards and
 * picod itself: lowered (with a warning) when it would not fit. */
static void main_fit_max_clients(uint32_t *max_clients)
{
    struct rlimit rl;
    rlim_t room;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    room = rl.rlim_cur > MAIN_FDS_RESERVED ? rl.rlim_cur - MAIN_FDS_RESERVED : 1;
    if (*max_clients > room) {
        log_warning("--max-clients %u does not fit the open-file limit %llu (%d kept for boards "
                    "and picod): serving %llu clients at most (raise LimitNOFILE=)",
                    *max_clients, (unsigned long long)rl.rlim_cur, MAIN_FDS_RESERVED,
                    (unsigned long long)room);
        *max_clients = (uint32_t)room;
    }
}

static void main_reload_report_fixed(const options_t *cur, const options_t *fresh)
{
    if (strcmp(cur->socket_path, fresh->socket_path) != 0 || cur->udev != fresh->udev ||
        cur->n_devices != fresh->n_devices ||
        memcmp(cur->devices, fresh->devices, sizeof(cur->devices)) != 0 ||
        cur->n_allow_usb != fresh->n_allow_usb ||
        memcmp(cur->allow_usb, fresh->allow_usb, sizeof(cur->allow_usb)) != 0 ||
        cur->n_allow_serial != fresh->n_allow_serial ||
        memcmp(cur->allow_serial, fresh->allow_serial, sizeof(cur->allow_serial)) != 0)
        log_warning("reload: socket, device, udev or allow-list settings changed: take effect "
                    "after a restart");
    if (cur->history_events != fresh->history_events ||
        cur->history_readings != fresh->history_readings ||
        cur->history_budget != fresh->history_budget)
        log_warning("reload: history sizes changed: take effect after a restart (the history "
                    "is allocated once, at start)");
}

static void main_reload_failed(picod_main_t *m, const char *why)
{
    picod_t *pd = &m->pd;

    pd->config.reload_failures++;
    pd->config.last_error_unix_ms = main_unix_ms();
    /* Cut to fit (a long path), and valid UTF-8 for stats' JSON (the reason may quote the
     * file: a key or value in another encoding). */
    board_text_clean((const uint8_t *)why, strlen(why), pd->config.last_error,
                     sizeof(pd->config.last_error));
    log_err("SIGHUP: %s: keeping the current settings", why);
}

/* SIGHUP: parse the command line again (which re-reads the --config file in its place, so
 * precedence is as at start) and apply everything but the socket and discovery: logging,
 * client limits, quota, access group, the boards' timings and names. Boards and clients stay
 * connected. An invalid file changes nothing; its file:line goes to the log and `stats`. */
static void main_reload_apply(picod_main_t *m)
{
    picod_t *pd = &m->pd;
    options_t *fresh = malloc(sizeof(*fresh)); /* large (device table): not on the stack */
    server_limits_t lim;
    bool has_group;
    gid_t gid = 0;
    char why[OPTIONS_ERROR_MAX + 128];

    if (!fresh) {
        main_reload_failed(m, "out of memory");
        return;
    }
    options_defaults(fresh);
    if (options_parse(fresh, m->argc, m->argv) != 0) {
        main_reload_failed(m, fresh->error[0] ? fresh->error : "invalid settings");
        free(fresh);
        return;
    }
    options_resolve_socket(fresh);
    if (main_resolve_group(fresh->actuate_group, &has_group, &gid) < 0) {
        snprintf(why, sizeof(why), "%s: actuate-group '%s' does not exist", pd->opt.config_path,
                 fresh->actuate_group);
        main_reload_failed(m, why);
        free(fresh);
        return;
    }
    main_reload_report_fixed(&pd->opt, fresh);
    pd->opt.log_level = fresh->log_level;
    main_fit_max_clients(&fresh->max_clients);
    pd->opt.max_clients = fresh->max_clients;
    pd->opt.client_out_max = fresh->client_out_max;
    pd->opt.out_budget = fresh->out_budget;
    pd->opt.client_requests_max = fresh->client_requests_max;
    memcpy(pd->opt.actuate_group, fresh->actuate_group, sizeof(pd->opt.actuate_group));
    /* The boards read these through their options pointer; picod_configure_boards() below
     * restarts their timers and gives named boards their own values. */
    pd->opt.heartbeat_ms = fresh->heartbeat_ms;
    pd->opt.poll_ms = fresh->poll_ms;
    pd->opt.request_timeout_ms = fresh->request_timeout_ms;
    pd->opt.stale_misses = fresh->stale_misses;
    pd->opt.offline_misses = fresh->offline_misses;
    pd->opt.host_timeout_ms = fresh->host_timeout_ms; /* sent with the next HELLO */
    pd->opt.poll_sensors = fresh->poll_sensors;
    memcpy(pd->opt.named, fresh->named, sizeof(pd->opt.named));
    pd->opt.n_named = fresh->n_named;
    free(fresh);
    log_set_level(pd->opt.log_level);
    lim = main_limits(&pd->opt);
    server_set_limits(&pd->server, &lim);
    server_set_peer_group(&pd->server, has_group, gid);
    picod_configure_boards(pd);
    pd->config.loaded_unix_ms = main_unix_ms();
    pd->config.reloads++;
    pd->config.last_error[0] = '\0';
    log_info("SIGHUP: re-read %s (%zu board name(s); limits, quota and access group apply to "
             "new messages and connections, timings at once)",
             pd->opt.config_path, pd->opt.n_named);
}

static void main_reload(picod_main_t *m)
{
    struct timespec ts;
    char msg[96];

    if (!m->pd.opt.config_path[0]) {
        log_notice("SIGHUP: no --config file given: nothing to re-read, settings unchanged");
        return;
    }
    /* MONOTONIC_USEC= is what systemd 253+ pairs RELOADING=1 with; older ones ignore it. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
    main_notify(msg);
    main_reload_apply(m);
    m->last_status[0] = '\0'; /* the status timer says STATUS= again */
    main_notify(m->pd.config.last_error[0] ? "READY=1\nSTATUS=Reload refused (see the log)"
                                           : "READY=1");
}

static void main_sighup_cb(uv_signal_t *s, int signum)
{
    picod_main_t *m = s->data;

    (void)signum;
    if (!m->pd.stopping)
        main_reload(m);
}

/* STATUS= for `systemctl status`, sent only when it changes. */
static void main_status_cb(uv_timer_t *t)
{
    picod_main_t *m = t->data;
    size_t online = 0;
    char status[128];

    for (size_t i = 0; i < m->pd.n_boards; i++)
        online += board_is_reachable(m->pd.boards[i]);
    snprintf(status, sizeof(status), "STATUS=%zu board(s), %zu online, %u client(s)",
             m->pd.n_boards, online, m->pd.server.n_clients);
    if (strcmp(status, m->last_status) != 0) {
        main_notify(status);
        memcpy(m->last_status, status, sizeof(status));
    }
}

static void main_watchdog_cb(uv_timer_t *t)
{
    (void)t;
    main_notify("WATCHDOG=1");
}

/* WatchdogSec= in the unit: ping at half the interval systemd expects, from the loop (a
 * stuck loop stops the pings, which is the point). */
static void main_watchdog_start(picod_main_t *m)
{
    uint64_t usec = 0;
    uint64_t ms;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return;
    ms = usec / 2000u;
    if (ms == 0)
        ms = 1;
    uv_timer_start(&m->watchdog_timer, main_watchdog_cb, ms, ms);
    log_info("systemd watchdog: %llu ms, pinging every %llu ms", (unsigned long long)(usec / 1000u),
             (unsigned long long)ms);
}

/* The listening socket: from systemd if it passed exactly one, else our own path. */
static int main_listen(picod_main_t *m)
{
    picod_t *pd = &m->pd;
    int n = sd_listen_fds(1), fd = -1, r;
    server_limits_t lim;
    bool has_group;
    gid_t gid = 0;

    /* Before listening: a typo in the group must not leave a socket nobody may act on. */
    if (main_resolve_group(pd->opt.actuate_group, &has_group, &gid) < 0) {
        log_err("--actuate-group %s: no such group", pd->opt.actuate_group);
        return -ENOENT;
    }

    if (n > 1) {
        log_err("systemd passed %d sockets, expected one", n);
        return -EINVAL;
    }
    if (n == 1) {
        fd = SD_LISTEN_FDS_START;
        log_info("using the socket passed by systemd");
    }
    lim = main_limits(&pd->opt);
    r = server_listen(&pd->server, pd->loop, pd->opt.socket_path, fd, &lim, api_line, pd);
    if (r == UV_EADDRINUSE && fd < 0) {
        log_err("cannot listen on %s: another process (a running picod?) is serving it; "
                "leaving it alone. Stop that one first, or use another --socket",
                pd->opt.socket_path);
        return r;
    }
    if (r < 0) {
        log_err("cannot listen on %s: %s", fd >= 0 ? "the systemd socket" : pd->opt.socket_path,
                uv_strerror(r));
        return r;
    }
    if (fd < 0)
        log_info("listening on %s", pd->opt.socket_path);
    server_set_peer_group(&pd->server, has_group, gid);
    return 0;
}

static int main_start(picod_main_t *m)
{
    picod_t *pd = &m->pd;

    uv_signal_init(pd->loop, &m->sigterm);
    uv_signal_init(pd->loop, &m->sigint);
    uv_signal_init(pd->loop, &m->sighup);
    uv_timer_init(pd->loop, &m->status_timer);
    uv_timer_init(pd->loop, &m->watchdog_timer);
    m->sigterm.data = m->sigint.data = m->sighup.data = m->status_timer.data = m;
    m->watchdog_timer.data = m;
    uv_signal_start(&m->sigterm, main_signal_cb, SIGTERM);
    uv_signal_start(&m->sigint, main_signal_cb, SIGINT);
    uv_signal_start(&m->sighup, main_sighup_cb, SIGHUP);
    main_raise_nofile();
    main_fit_max_clients(&pd->opt.max_clients);
    if (main_listen(m) < 0 || picod_history_start(pd) < 0)
        return -1;
    for (size_t i = 0; i < pd->opt.n_devices; i++)
        picod_add_board(pd, pd->opt.devices[i]);
    if (pd->opt.udev && hotplug_start(pd) < 0)
        log_warning("udev unavailable: only --device boards are served");
    uv_timer_start(&m->status_timer, main_status_cb, 0, 1000);
    main_watchdog_start(m);
    sd_notify(0, "READY=1\nSTATUS=Serving");
    return 0;
}

int main(int argc, char **argv)
{
    static picod_main_t m; /* static: large (board table), lives for the whole run */
    picod_t *pd = &m.pd;
    uv_loop_t loop;
    int r;

    m.argc = argc;
    m.argv = argv;
    options_defaults(&pd->opt);
    r = options_parse(&pd->opt, argc, argv);
    if (r != 0)
        return r > 0 ? 0 : 2;
    options_resolve_socket(&pd->opt);
    log_set_level(pd->opt.log_level);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up mid-write must not kill us */
    if (uv_loop_init(&loop) < 0)
        return 1;
    pd->loop = &loop;
    pd->started_ms = uv_now(&loop);
    pd->config.loaded_unix_ms = main_unix_ms();
    r = main_start(&m);
    if (r < 0) {
        picod_stop(pd, main_stopped_cb);
        if (pd->hotplug)
            hotplug_stop(pd->hotplug);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    r = uv_loop_close(&loop) == 0 ? (r < 0 ? 1 : 0) : 1;
    if (r == 0)
        log_info("stopped");
    return r;
}
