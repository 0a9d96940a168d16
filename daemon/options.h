/*
 * options.h - picod's settings: defaults, command line, optional INI config file.
 *
 * Precedence: command line > config file (--config) > environment > built-in defaults.
 * The socket path is resolved by options_resolve_socket(): --socket, else $PICOD_SOCKET,
 * else $RUNTIME_DIRECTORY/picod.sock, else /run/picod/picod.sock.
 */
#ifndef PICOD_OPTIONS_H
#define PICOD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPTIONS_MAX_DEVICES 64
#define OPTIONS_PATH_MAX    256

/* Hotplug: which udev-found devices besides our own firmware picod may take (hotplug.h). */
#define OPTIONS_MAX_ALLOW  32
#define OPTIONS_SERIAL_MAX 128 /* bytes, NUL included; a USB string has at most 126 chars */

/* Board names: [board NAME] sections of the config file (systemd/picod.conf.example). */
#define OPTIONS_MAX_NAMED   64
#define OPTIONS_NAME_MAX    32 /* bytes, NUL included: names have 1..31 characters */
#define OPTIONS_ID_LEN      16 /* hex digits of a board id */
#define OPTIONS_ERROR_MAX   384
#define OPTIONS_SENSORS_ALL 0xffu /* poll_sensors: bit i = sensor i (PROTO_MAX_READINGS = 8) */

typedef struct options_board {
    char name[OPTIONS_NAME_MAX];
    char id[OPTIONS_ID_LEN + 1]; /* lower-case hex, as picod prints ids */
    uint32_t poll_ms;            /* 0: the [picod] poll-ms */
    uint32_t heartbeat_ms;       /* 0: the [picod] heartbeat-ms */
    uint32_t poll_sensors;       /* with has_sensors: which sensors the periodic poll reads */
    bool has_sensors;
    int line; /* where its section starts (for messages) */
} options_board_t;

typedef struct options_usb_id {
    uint16_t vid, pid;
} options_usb_id_t;

typedef struct options {
    char socket_path[OPTIONS_PATH_MAX]; /* "" until resolved */
    char devices[OPTIONS_MAX_DEVICES][OPTIONS_PATH_MAX];
    size_t n_devices;
    bool udev; /* discover boards with libudev (hotplug) */

    /* Hotplug takes our firmware (2e8a:5043, CDC interface 00) and ttys the udev rule marked
     * PICOD_BOARD=1; these name further devices explicitly (--allow-usb, --allow-serial). */
    options_usb_id_t allow_usb[OPTIONS_MAX_ALLOW];
    size_t n_allow_usb;
    char allow_serial[OPTIONS_MAX_ALLOW][OPTIONS_SERIAL_MAX];
    size_t n_allow_serial;

    uint32_t heartbeat_ms;       /* HEARTBEAT period; HELLO retry period while not online */
    uint32_t poll_ms;            /* READ_SENSORS + GET_STATE period while online */
    uint32_t request_timeout_ms; /* one attempt; a request is retried once with the same seq */
    uint32_t stale_misses;       /* heartbeat periods without any frame before "stale" */
    uint32_t offline_misses;     /* ... and before "offline" */
    uint32_t host_timeout_ms;    /* sent in HELLO: board's host watchdog */
    uint32_t reopen_max_ms;      /* ceiling of the tty reopen backoff */

    /* Clients: limits and access (docs/API.md "Limits" and "Access"). The product of
     * max_clients and the per-client bounds plus out_budget is what picod.service's
     * MemoryMax= is sized for (see the comment there). */
    uint32_t max_clients;
    uint32_t client_out_max;      /* bytes queued to one client before it is disconnected */
    uint32_t out_budget;          /* bytes queued to all clients together; >= client_out_max */
    uint32_t client_requests_max; /* board requests outstanding per connection, then busy */
    char actuate_group[64];       /* group (name or number) allowed to act; "" none */
    /* History (docs/API.md "History"): events held for watch "since", and per board and
     * sensor the readings held for "history", within a memory budget for the readings. */
    uint32_t history_events;
    uint32_t history_readings;          /* samples per board and sensor */
    uint32_t history_budget;            /* bytes of all reading rings together */
    char config_path[OPTIONS_PATH_MAX]; /* the last --config, "" none: SIGHUP re-reads it */
    int log_level;
    uint32_t poll_sensors; /* bit i: the periodic poll reads sensor i (default all) */

    options_board_t named[OPTIONS_MAX_NAMED]; /* [board NAME] sections */
    size_t n_named;

    /* The first error met while parsing ("FILE:LINE: message" for the config file), for
     * `stats` after a refused reload; "" when none. where: the current file:line, "" on the
     * command line. */
    char error[OPTIONS_ERROR_MAX];
    char where[OPTIONS_PATH_MAX + 16];
} options_t;

/* Fill o with defaults. */
void options_defaults(options_t *o);

/*
 * Parse argv into o (after options_defaults()). A --config file is read when seen, so later
 * command-line options override it. Returns 0 to run, 1 when --help/--version was printed
 * or --check-config FILE found FILE valid (exit 0), or -EINVAL after printing a one-line
 * reason to stderr and keeping it in o->error (exit 2).
 */
int options_parse(options_t *o, int argc, char **argv);

/* Read an INI file ([picod] section: keys as the long options without "--"; [board NAME]
 * sections: id, poll-ms, heartbeat-ms, sensors). Returns 0, or -errno / -EINVAL with a
 * "FILE:LINE: message" on stderr and in o->error. */
int options_load_file(options_t *o, const char *path);

/* Checks across settings (offline > stale misses, budget >= per-client bound). 0 / -EINVAL
 * with the message on stderr and in o->error. options_parse() runs it. */
int options_validate(options_t *o);

/* Is name a valid board name (1..31 of [A-Za-z0-9_.-], first a letter, not 16 hex digits)? */
bool options_name_valid(const char *name);

/* The [board NAME] section naming board id (lower-case hex), or NULL. */
const options_board_t *options_named_by_id(const options_t *o, const char *id);

/* The [board NAME] section called name, or NULL. */
const options_board_t *options_named_by_name(const options_t *o, const char *name);

/* Fill o->socket_path from the environment when no --socket was given. */
void options_resolve_socket(options_t *o);

#endif /* PICOD_OPTIONS_H */
