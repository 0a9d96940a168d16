/*
 * ctl_doctor.h - `picoctl doctor [BOARD]`: why a board is not working, each finding with its
 * fix. Checks, in order: picod (running, its socket, permission on it); the Raspberry Pi USB
 * devices (a Pico in BOOTSEL, other firmware, a Debug Probe, ours without a tty); each tty of
 * ours (held by another process, ModemManager probing it, the udev rule not applied); the
 * udev rule; then each board picod serves (incompatible, stale/offline, not answering).
 *
 * Environment read for tests (docs/man/picoctl.1.scd, "doctor"): PICOD_DOCTOR_RULES_DIRS, the
 * udev rules directories to search instead of udev's own.
 */
#ifndef PICOCTL_CTL_DOCTOR_H
#define PICOCTL_CTL_DOCTOR_H

#include <stdbool.h>
#include <stdio.h>

typedef struct ctl_doctor_opts {
    const char *socket; /* --socket, or NULL for $PICOD_SOCKET / the default */
    const char *board;  /* only this board (id, prefix, name or device), or NULL for all */
    int timeout_ms;     /* for each request to picod */
    bool json;          /* one JSON object instead of the text report */
    bool color;         /* colour the statuses (the caller decides: a terminal, no NO_COLOR) */
} ctl_doctor_opts_t;

/* Run every check and print the report to out. Returns picoctl's exit status: 0 nothing
 * failed (warnings allowed), 1 a check failed, 3 picod is not reachable, 4 BOARD is unknown
 * or ambiguous, 5 the socket's permissions keep this user out. */
int ctl_doctor_run(const ctl_doctor_opts_t *opts, FILE *out);

#endif /* PICOCTL_CTL_DOCTOR_H */
