/*
 * main.c - picod's top level: options, the loop, signals, systemd notification.
 *
 * Exit status: 0 after SIGTERM/SIGINT (everything closed and freed), 1 when the socket
 * cannot be served, 2 for bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "api.h"
#include "hotplug.h"
#include "log.h"
#include "picod.h"

typedef struct picod_main {
    picod_t pd;
    uv_signal_t sigterm, sigint;
    uv_timer_t status_timer;
    char last_status[128];
} picod_main_t;

static void main_handles_closed_cb(uv_handle_t *h)
{
    (void)h;
}

static void main_stopped_cb(picod_t *pd)
{
    picod_main_t *m = (picod_main_t *)pd;

    uv_close((uv_handle_t *)&m->sigterm, main_handles_closed_cb);
    uv_close((uv_handle_t *)&m->sigint, main_handles_closed_cb);
    uv_close((uv_handle_t *)&m->status_timer, main_handles_closed_cb);
    /* Closing the last uv_signal_t restores the default action, and a second SIGTERM (a
     * supervisor repeating itself) would then kill us mid-teardown with status 143. We are
     * already stopping, so from here on the request is simply satisfied. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
}

static void main_signal_cb(uv_signal_t *s, int signum)
{
    picod_main_t *m = s->data;

    if (m->pd.stopping)
        return;
    log_info("%s: shutting down", strsignal(signum));
    sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
    if (m->pd.hotplug)
        hotplug_stop(m->pd.hotplug);
    picod_stop(&m->pd, main_stopped_cb);
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
        sd_notify(0, status);
        memcpy(m->last_status, status, sizeof(status));
    }
}

/* The listening socket: from systemd if it passed exactly one, else our own path. */
static int main_listen(picod_main_t *m)
{
    picod_t *pd = &m->pd;
    int n = sd_listen_fds(1), fd = -1, r;

    if (n > 1) {
        log_err("systemd passed %d sockets, expected one", n);
        return -EINVAL;
    }
    if (n == 1) {
        fd = SD_LISTEN_FDS_START;
        log_info("using the socket passed by systemd");
    }
    r = server_listen(&pd->server, pd->loop, pd->opt.socket_path, fd, pd->opt.max_clients,
                      pd->opt.client_out_max, api_line, pd);
    if (r < 0) {
        log_err("cannot listen on %s: %s", fd >= 0 ? "the systemd socket" : pd->opt.socket_path,
                uv_strerror(r));
        return r;
    }
    if (fd < 0)
        log_info("listening on %s", pd->opt.socket_path);
    return 0;
}

static int main_start(picod_main_t *m)
{
    picod_t *pd = &m->pd;

    uv_signal_init(pd->loop, &m->sigterm);
    uv_signal_init(pd->loop, &m->sigint);
    uv_timer_init(pd->loop, &m->status_timer);
    m->sigterm.data = m->sigint.data = m->status_timer.data = m;
    uv_signal_start(&m->sigterm, main_signal_cb, SIGTERM);
    uv_signal_start(&m->sigint, main_signal_cb, SIGINT);
    if (main_listen(m) < 0)
        return -1;
    for (size_t i = 0; i < pd->opt.n_devices; i++)
        picod_add_board(pd, pd->opt.devices[i]);
    if (pd->opt.udev && hotplug_start(pd) < 0)
        log_warning("udev unavailable: only --device boards are served");
    uv_timer_start(&m->status_timer, main_status_cb, 0, 1000);
    sd_notify(0, "READY=1\nSTATUS=Serving");
    return 0;
}

int main(int argc, char **argv)
{
    static picod_main_t m; /* static: large (board table), lives for the whole run */
    picod_t *pd = &m.pd;
    uv_loop_t loop;
    int r;

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
