/*
 * picosim.h - internals of picosim, the firmware core on Linux (hal/host).
 *
 * main.c parses the command line, creates the pty and the control socket and calls
 * app_main(); hal_host.c implements hal.h on top of them (its hal_idle_until is the
 * "interrupt controller": poll() on every fd, then the matching callback); sim_i2c.c models
 * the I2C bus with a BME280 and an SHT3x; control.c serves the test control channel.
 */
#ifndef PICOSIM_H
#define PICOSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal.h"

#define SIM_MAX_CLIENTS 8
#define SIM_LINE_MAX    512

typedef struct sim_client {
    int fd; /* -1 = free */
    size_t len;
    char buf[SIM_LINE_MAX];
} sim_client_t;

typedef struct sim_env {
    double temp_c, humidity_pct, pressure_pa; /* BME280 at 0x76 */
    double sht_temp_c, sht_humidity_pct;      /* SHT3x at 0x44 */
    bool nack;
} sim_env_t;

typedef struct sim {
    /* set up by main.c */
    char pty_link[256];  /* --pty PATH (symlink) */
    char slave_name[64]; /* /dev/pts/N */
    char ctl_path[256];  /* --control SOCKPATH, "" = none */
    int master;          /* pty master */
    int ino;             /* inotify on the slave: opens and closes */
    int ino_wd;
    int listen_fd; /* control socket, -1 = none */
    sim_client_t clients[SIM_MAX_CLIENTS];
    int log_level;
    uint8_t board_id[8];
    uint8_t reset_cause;
    proto_crash_t crash;
    char **argv;

    /* HAL state */
    const hal_events_t *ev;
    int openers;    /* slave opens minus closes seen by inotify */
    bool connected; /* a host has the slave open */
    bool tx_blocked;
    bool silent;
    uint64_t boot_silent_ns; /* after `reset BOOT_MS`: deaf and mute for the first BOOT_MS of
                              * the board's own uptime */
    bool led;
    bool button;
    uint32_t wd_timeout_ms;

    /* click: release pending */
    bool click_pending;
    uint32_t click_release_us;
    int click_fd;

    sim_env_t env;

    /* the board clock: runs clock_ppm fast (--clock-ppm), plus forward jumps (clock-jump) */
    double clock_ppm;
    uint64_t clock_jump_us;
} sim_t;

extern sim_t sim;

/* main.c */
void sim_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reboot picosim: re-exec itself keeping the pty and control fds (async-signal-safe). */
void sim_reexec(uint8_t cause) __attribute__((noreturn));
void sim_cleanup(void);
uint64_t sim_now_ns(void);

/* hal_host.c */
void sim_button_set(bool down);
void sim_link_garbage(size_t n);
/* Earliest pending internal deadline (I2C completion, click release), if any. */
bool sim_hal_deadline(uint32_t *us);

/* sim_i2c.c */
void sim_i2c_init(void);
int sim_i2c_transfer(const hal_i2c_xfer_t *x);
bool sim_i2c_deadline(uint32_t *us);
void sim_i2c_tick(void);

/* control.c */
void sim_control_accept(void);
void sim_control_read(sim_client_t *c);
void sim_control_reply(int fd, const char *line);
void sim_control_tick(void);

#endif /* PICOSIM_H */
