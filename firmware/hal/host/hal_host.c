/*
 * hal_host.c - hal.h for picosim. Time is CLOCK_MONOTONIC since boot; hal_idle_until is a
 * ppoll() on the pty master, its inotify watch, the control socket and clients, and it
 * dispatches what it finds to the core's callbacks, like interrupt handlers would.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "picosim.h"
#include "sched.h"

static uint64_t boot_ns;
static volatile uint64_t last_feed_ns;
static volatile uint32_t wd_ms;

/* I2C transfer in flight */
static struct {
    bool active;
    bool cb_pending;
    int result;
    uint32_t done_us;
} i2c;

/* The board's clock: CLOCK_MONOTONIC since boot, running sim.clock_ppm fast (a crystal off
 * by that much; --clock-ppm), plus the forward jumps the control channel asked for. */
uint32_t hal_time_us(void)
{
    uint64_t ns = sim_now_ns() - boot_ns;
    int64_t skew_ns = (int64_t)((double)ns * sim.clock_ppm * 1e-6);
    return (uint32_t)(((uint64_t)((int64_t)ns + skew_ns)) / 1000u + sim.clock_jump_us);
}

/* Board microseconds to host microseconds of waiting (rounded up: never wake early). */
static uint64_t sim_board_to_host_us(uint32_t board_us)
{
    return (uint64_t)((double)board_us / (1.0 + sim.clock_ppm * 1e-6)) + 1;
}

static void set_connected(bool on)
{
    if (sim.connected == on)
        return;
    sim.connected = on;
    sim.tx_blocked = false;
    if (on) {
        /* Do not flush: the opener may have written its HELLO before we noticed the open. */
        struct termios tio;
        if (tcgetattr(sim.master, &tio) == 0) {
            cfmakeraw(&tio);
            tcsetattr(sim.master, TCSANOW, &tio);
        }
    }
    sim_log(2, "host %s", on ? "connected" : "disconnected");
    if (sim.ev->link_state_cb)
        sim.ev->link_state_cb(on);
}

static void watchdog_signal(int sig)
{
    (void)sig;
    if (!wd_ms)
        return;
    uint64_t now = sim_now_ns();
    if (now - last_feed_ns > (uint64_t)wd_ms * 1000000u) {
        proto_crash_t *c = &sim.crash;
        c->kind = PROTO_FAULT_WATCHDOG;
        c->task = sched_running_id;
        c->pc = 0;
        c->lr = 0;
        c->uptime_ms = (uint32_t)((now - boot_ns) / 1000000u);
        sim_reexec(PROTO_RESET_WATCHDOG);
    }
}

void hal_init(const hal_events_t *ev)
{
    sim.ev = ev;
    boot_ns = sim_now_ns();
    last_feed_ns = boot_ns;
    sim_i2c_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watchdog_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    if (sim.openers > 0)
        set_connected(true);
}

static void handle_inotify(void)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(sim.ino, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)(void *)p;
            if (e->mask & IN_OPEN)
                sim.openers++;
            if (e->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE))
                sim.openers--;
            p += sizeof(*e) + e->len;
        }
    }
    if (sim.openers < 0)
        sim.openers = 0;
    if (sim.openers > 0)
        set_connected(true);
}

bool sim_hal_deadline(uint32_t *us)
{
    bool has = false;
    if (i2c.active || i2c.cb_pending) {
        *us = i2c.done_us;
        has = true;
    }
    if (sim.click_pending && (!has || sched_time_before(sim.click_release_us, *us))) {
        *us = sim.click_release_us;
        has = true;
    }
    return has;
}

static void timers_tick(void)
{
    uint32_t now = hal_time_us();
    if (i2c.cb_pending && !sched_time_before(now, i2c.done_us)) {
        i2c.cb_pending = false;
        if (sim.ev->i2c_cb)
            sim.ev->i2c_cb();
    }
    sim_control_tick();
}

void hal_idle_until(uint32_t deadline_us, bool has_deadline)
{
    uint32_t own;
    if (sim_hal_deadline(&own) && (!has_deadline || sched_time_before(own, deadline_us))) {
        deadline_us = own;
        has_deadline = true;
    }
    struct pollfd fds[3 + SIM_MAX_CLIENTS];
    int nfds = 0;
    int master_idx = -1;
    if (sim.connected) {
        master_idx = nfds;
        fds[nfds++] =
            (struct pollfd){sim.master, (short)(POLLIN | (sim.tx_blocked ? POLLOUT : 0)), 0};
    }
    int ino_idx = nfds;
    fds[nfds++] = (struct pollfd){sim.ino, POLLIN, 0};
    int listen_idx = -1;
    if (sim.listen_fd >= 0) {
        listen_idx = nfds;
        fds[nfds++] = (struct pollfd){sim.listen_fd, POLLIN, 0};
    }
    int client_idx[SIM_MAX_CLIENTS];
    for (int i = 0; i < SIM_MAX_CLIENTS; i++) {
        client_idx[i] = -1;
        if (sim.clients[i].fd >= 0) {
            client_idx[i] = nfds;
            fds[nfds++] = (struct pollfd){sim.clients[i].fd, POLLIN, 0};
        }
    }
    struct timespec ts, *tsp = NULL;
    if (has_deadline) {
        uint32_t now = hal_time_us();
        uint64_t left =
            sched_time_before(now, deadline_us) ? sim_board_to_host_us(deadline_us - now) : 0;
        ts.tv_sec = (time_t)(left / 1000000u);
        ts.tv_nsec = (long)(left % 1000000u) * 1000;
        tsp = &ts;
    }
    int r = ppoll(fds, (nfds_t)nfds, tsp, NULL);
    if (r > 0) {
        if (fds[ino_idx].revents & POLLIN)
            handle_inotify();
        if (master_idx >= 0 && sim.connected) {
            short re = fds[master_idx].revents;
            if (re & POLLHUP) {
                sim.openers = 0;
                set_connected(false);
            } else {
                if ((re & POLLIN) && sim.ev->link_rx_cb)
                    sim.ev->link_rx_cb();
                if ((re & POLLOUT) && sim.tx_blocked) {
                    sim.tx_blocked = false;
                    if (sim.ev->link_tx_cb)
                        sim.ev->link_tx_cb();
                }
            }
        }
        if (listen_idx >= 0 && (fds[listen_idx].revents & POLLIN))
            sim_control_accept();
        for (int i = 0; i < SIM_MAX_CLIENTS; i++) {
            if (client_idx[i] >= 0 && fds[client_idx[i]].revents)
                sim_control_read(&sim.clients[i]);
        }
    }
    timers_tick();
}

uint32_t hal_irq_save(void)
{
    return 0; /* "interrupts" only happen inside hal_idle_until */
}

void hal_irq_restore(uint32_t state)
{
    (void)state;
}

void hal_led_set(bool on)
{
    if (on != sim.led)
        sim_log(3, "led %s", on ? "on" : "off");
    sim.led = on;
}

bool hal_led_get(void)
{
    return sim.led;
}

bool hal_button_is_down(void)
{
    return sim.button;
}

void sim_button_set(bool down)
{
    if (down == sim.button)
        return;
    sim.button = down;
    if (sim.ev->button_edge_cb)
        sim.ev->button_edge_cb(down, hal_time_us());
}

size_t hal_link_read(uint8_t *buf, size_t cap)
{
    if (!sim.connected)
        return 0;
    ssize_t n = read(sim.master, buf, cap);
    if (n < 0 && errno == EIO) {
        sim.openers = 0;
        set_connected(false);
    }
    if (n <= 0)
        return 0;
    if (sim.silent || sim_now_ns() - boot_ns < sim.boot_silent_ns)
        return 0; /* a hung (or still booting) board hears nothing */
    return (size_t)n;
}

size_t hal_link_write(const uint8_t *buf, size_t len)
{
    if (!sim.connected)
        return 0;
    if (sim.silent || sim_now_ns() - boot_ns < sim.boot_silent_ns)
        return len; /* a hung (or still booting) board sends nothing; pretend it went out */
    ssize_t n = write(sim.master, buf, len);
    if (n < 0) {
        if (errno == EAGAIN)
            sim.tx_blocked = true;
        return 0;
    }
    if ((size_t)n < len)
        sim.tx_blocked = true;
    return (size_t)n;
}

size_t hal_link_tx_space(void)
{
    return sim.connected && !sim.tx_blocked ? 4096 : 0;
}

bool hal_link_is_connected(void)
{
    return sim.connected;
}

void sim_link_garbage(size_t n)
{
    uint8_t b[256];
    while (n) {
        size_t k = n < sizeof(b) ? n : sizeof(b);
        for (size_t i = 0; i < k; i++)
            b[i] = (uint8_t)(random() & 0xff);
        if (sim.connected && write(sim.master, b, k) < 0)
            break;
        n -= k;
    }
}

int hal_i2c_start(const hal_i2c_xfer_t *x)
{
    if (i2c.active)
        return -HAL_E_BUSY;
    if (x->bus != 0 || x->addr > 0x7f || x->wlen + x->rlen == 0 || (x->wlen && !x->wdata) ||
        (x->rlen && !x->rdata))
        return -HAL_E_ARG;
    i2c.result = sim_i2c_transfer(x);
    /* 400 kHz: 9 bit times per byte, address byte(s) included */
    size_t bytes = 1 + x->wlen + x->rlen + (x->wlen && x->rlen ? 1 : 0);
    i2c.done_us = hal_time_us() + (uint32_t)(bytes * 23u);
    i2c.active = true;
    i2c.cb_pending = true;
    return 0;
}

int hal_i2c_poll(void)
{
    if (!i2c.active)
        return 0;
    if (sched_time_before(hal_time_us(), i2c.done_us))
        return -HAL_E_BUSY;
    i2c.active = false;
    return i2c.result;
}

void hal_watchdog_start(uint32_t timeout_ms)
{
    last_feed_ns = sim_now_ns();
    wd_ms = timeout_ms;
    struct itimerval it = {{0, 100000}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

void hal_watchdog_feed(void)
{
    last_feed_ns = sim_now_ns();
}

void hal_board_id(uint8_t id[PROTO_BOARD_ID_LEN])
{
    memcpy(id, sim.board_id, PROTO_BOARD_ID_LEN);
}

uint8_t hal_reset_cause(void)
{
    return sim.reset_cause;
}

proto_crash_t *hal_crash_record(void)
{
    return &sim.crash;
}

uint8_t hal_platform(void)
{
    return PROTO_PLATFORM_HOST_SIM;
}

int hal_reboot(uint8_t mode)
{
    if (mode != PROTO_REBOOT_NORMAL)
        return -HAL_E_UNSUPPORTED;
    sim_reexec(PROTO_RESET_SOFTWARE);
}
