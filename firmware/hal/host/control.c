/*
 * control.c - the test control channel: a Unix stream socket with one text command per line,
 * each answered by one line "ok[ detail]" or "error <message>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "picosim.h"
#include "sched.h"

void sim_control_reply(int fd, const char *line)
{
    char buf[SIM_LINE_MAX + 2];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    if (n > 0)
        (void)send(fd, buf, (size_t)n, MSG_NOSIGNAL);
}

static void client_close(sim_client_t *c)
{
    if (sim.click_pending && sim.click_fd == c->fd)
        sim.click_fd = -1;
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

void sim_control_accept(void)
{
    int fd = accept(sim.listen_fd, NULL, NULL);
    if (fd < 0)
        return;
    for (int i = 0; i < SIM_MAX_CLIENTS; i++) {
        if (sim.clients[i].fd < 0) {
            sim.clients[i].fd = fd;
            sim.clients[i].len = 0;
            return;
        }
    }
    sim_control_reply(fd, "error too many control connections");
    close(fd);
}

/* Parse a number argument; false if missing or malformed. */
static bool parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_onoff(const char *s, bool *out)
{
    if (s && strcmp(s, "on") == 0)
        *out = true;
    else if (s && strcmp(s, "off") == 0)
        *out = false;
    else
        return false;
    return true;
}

static const char *cmd_set(char *what, char *val)
{
    double v;
    if (!what || !parse_double(val, &v))
        return "error usage: set temp|humidity|pressure|sht-temp|sht-humidity VALUE";
    if (strcmp(what, "temp") == 0 && v >= -40 && v <= 85)
        sim.env.temp_c = v;
    else if (strcmp(what, "humidity") == 0 && v >= 0 && v <= 100)
        sim.env.humidity_pct = v;
    else if (strcmp(what, "pressure") == 0 && v >= 30000 && v <= 110000)
        sim.env.pressure_pa = v;
    else if (strcmp(what, "sht-temp") == 0 && v >= -40 && v <= 125)
        sim.env.sht_temp_c = v;
    else if (strcmp(what, "sht-humidity") == 0 && v >= 0 && v <= 100)
        sim.env.sht_humidity_pct = v;
    else
        return "error unknown quantity or value out of the sensor's range";
    return "ok";
}

/* Execute one command line; returns the reply, or NULL if the reply comes later. */
static const char *execute(sim_client_t *c, char *line)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " \t\r", &save);
    char *a1 = strtok_r(NULL, " \t\r", &save);
    char *a2 = strtok_r(NULL, " \t\r", &save);
    bool on;
    double v;
    sim_log(2, "control: %s %s %s", cmd ? cmd : "", a1 ? a1 : "", a2 ? a2 : "");
    if (!cmd)
        return "error empty command";
    if (strcmp(cmd, "press") == 0) {
        sim_button_set(true);
        return "ok";
    }
    if (strcmp(cmd, "release") == 0) {
        sim_button_set(false);
        return "ok";
    }
    if (strcmp(cmd, "click") == 0) {
        double ms = 100;
        if (a1 && (!parse_double(a1, &ms) || ms < 0 || ms > 600000))
            return "error usage: click [HOLD_MS]";
        if (sim.click_pending)
            return "error a click is in progress";
        sim_button_set(true);
        sim.click_pending = true;
        sim.click_release_us = hal_time_us() + (uint32_t)(ms * 1000.0);
        sim.click_fd = c->fd;
        return NULL;
    }
    if (strcmp(cmd, "set") == 0)
        return cmd_set(a1, a2);
    if (strcmp(cmd, "silent") == 0) {
        if (!parse_onoff(a1, &on))
            return "error usage: silent on|off";
        sim.silent = on;
        return "ok";
    }
    if (strcmp(cmd, "nack") == 0) {
        if (!parse_onoff(a1, &on))
            return "error usage: nack on|off";
        sim.env.nack = on;
        return "ok";
    }
    if (strcmp(cmd, "garbage") == 0) {
        if (!parse_double(a1, &v) || v < 0 || v > 1048576)
            return "error usage: garbage N (0..1048576)";
        sim_link_garbage((size_t)v);
        return "ok";
    }
    if (strcmp(cmd, "led") == 0)
        return hal_led_get() ? "ok on" : "ok off";
    if (strcmp(cmd, "reset") == 0) {
        /* reset [BOOT_MS]: the new boot stays deaf and mute for BOOT_MS, as a real board does
         * while it boots and re-enumerates on USB. */
        double boot_ms = 0;
        if (a1 && (!parse_double(a1, &boot_ms) || boot_ms < 0 || boot_ms > 60000))
            return "error usage: reset [BOOT_MS] (0..60000)";
        if (boot_ms > 0) {
            char ms[16];
            snprintf(ms, sizeof(ms), "%u", (unsigned)boot_ms);
            setenv("PICOSIM_BOOT_SILENT_MS", ms, 1);
        }
        sim_control_reply(c->fd, "ok");
        sim_reexec(PROTO_RESET_SOFTWARE);
    }
    if (strcmp(cmd, "clock-jump") == 0) {
        /* clock-jump MS: the board clock leaps MS forward (a glitch; a reset restarts it) */
        if (!parse_double(a1, &v) || v < 0 || v > 3600000)
            return "error usage: clock-jump MS (0..3600000)";
        sim.clock_jump_us += (uint64_t)(v * 1000.0);
        return "ok";
    }
    if (strcmp(cmd, "quit") == 0) {
        sim_control_reply(c->fd, "ok");
        sim_cleanup();
        exit(0);
    }
    return "error unknown command (press, release, click, set, silent, garbage, nack, reset, "
           "clock-jump, led, quit)";
}

void sim_control_read(sim_client_t *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            client_close(c);
        return;
    }
    c->len += (size_t)n;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (!nl) {
            if (c->len >= sizeof(c->buf) - 1) {
                sim_control_reply(c->fd, "error line too long");
                c->len = 0;
            }
            return;
        }
        *nl = '\0';
        const char *reply = execute(c, c->buf);
        if (reply)
            sim_control_reply(c->fd, reply);
        size_t used = (size_t)(nl - c->buf) + 1;
        memmove(c->buf, nl + 1, c->len - used);
        c->len -= used;
    }
}

void sim_control_tick(void)
{
    if (sim.click_pending && !sched_time_before(hal_time_us(), sim.click_release_us)) {
        sim.click_pending = false;
        sim_button_set(false);
        if (sim.click_fd >= 0)
            sim_control_reply(sim.click_fd, "ok");
    }
}
