/*
 * main.c - picod-mqtt: options, the loop, signals. SIGTERM/SIGINT stop it cleanly (the bridge
 * says offline itself; the MQTT Last Will says it when picod-mqtt dies any other way).
 */
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "bridge.h"
#include "bridge_opts.h"

typedef struct main_ctx {
    bridge_t *bridge;
    uv_signal_t sigterm, sigint;
    int stopping;
} main_ctx_t;

static void main_signal_closed_cb(uv_handle_t *h)
{
    (void)h;
}

static void main_bridge_done_cb(void *data)
{
    main_ctx_t *m = data;

    uv_close((uv_handle_t *)&m->sigterm, main_signal_closed_cb);
    uv_close((uv_handle_t *)&m->sigint, main_signal_closed_cb);
}

static void main_signal_cb(uv_signal_t *s, int signum)
{
    main_ctx_t *m = s->data;

    if (m->stopping++)
        return;
    fprintf(stderr, "picod-mqtt: info: %s: stopping\n", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    bridge_close(m->bridge, main_bridge_done_cb, m);
}

int main(int argc, char **argv)
{
    static bridge_opts_t opts;
    main_ctx_t m = {0};
    char err[512];
    uv_loop_t *loop = uv_default_loop();
    int r = bridge_opts_parse(&opts, argc, argv, err, sizeof(err));

    if (r > 0)
        return 0;
    if (r < 0) {
        fprintf(stderr, "picod-mqtt: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    if (bridge_new(loop, &opts, &m.bridge) < 0) {
        mosquitto_lib_cleanup();
        return 1;
    }
    uv_signal_init(loop, &m.sigterm);
    uv_signal_init(loop, &m.sigint);
    m.sigterm.data = m.sigint.data = &m;
    uv_signal_start(&m.sigterm, main_signal_cb, SIGTERM);
    uv_signal_start(&m.sigint, main_signal_cb, SIGINT);
    bridge_start(m.bridge);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    mosquitto_lib_cleanup();
    return 0;
}
