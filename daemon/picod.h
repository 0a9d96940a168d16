/*
 * picod.h - the daemon object: the loop, the options, the boards and the socket server.
 *
 * main.c creates one picod_t; the API (api.c) and hotplug (hotplug.c) reach boards
 * through it. Boards live in a fixed-size table (PICOD_MAX_BOARDS), each allocated once.
 */
#ifndef PICOD_PICOD_H
#define PICOD_PICOD_H

#include <stdbool.h>
#include <uv.h>

#include "board.h"
#include "history.h"
#include "options.h"
#include "server.h"

#define PICOD_MAX_BOARDS 256

typedef struct picod {
    uv_loop_t *loop;
    options_t opt;
    server_t server;
    board_t *boards[PICOD_MAX_BOARDS];
    bool discovered[PICOD_MAX_BOARDS]; /* parallel to boards[]: found by udev, not --device */
    /* Parallel to boards[]: the board's own settings when its [board NAME] section overrides
     * poll-ms/heartbeat-ms/sensors (else NULL: it uses opt), and the id they were chosen for. */
    options_t *board_opt[PICOD_MAX_BOARDS];
    char configured_id[PICOD_MAX_BOARDS][OPTIONS_ID_LEN + 1];
    size_t n_boards;
    uint64_t started_ms;
    bool stopping;
    int pending_closes;
    void (*stopped_cb)(struct picod *pd);
    void *hotplug; /* hotplug_t *, NULL when not using udev */
    struct {
        uint64_t loaded_unix_ms; /* when the settings in use were read (start or reload) */
        uint32_t reloads;        /* successful SIGHUP reloads */
        uint32_t reload_failures;
        char last_error[OPTIONS_ERROR_MAX]; /* of the last refused reload, "" none */
        uint64_t last_error_unix_ms;
    } config;
    /* Events and history (picod_emit; docs/API.md "History"). The daemon-wide seq of the
     * last event is hist.last_seq. */
    history_t hist;
    bool hist_ready;
    char boot_id[33];       /* 128 random bits in hex, chosen at start */
    int64_t wall_offset_ms; /* Unix ms minus loop ms, taken once at start */
} picod_t;

/* Start watching a board on path, named explicitly (--device): it stays in the table when
 * udev says its node was removed, and its link reopens it when it comes back. Returns the
 * board, or NULL (logged) when the table is full, path is already served, or allocation
 * failed. */
board_t *picod_add_board(picod_t *pd, const char *path);

/* The same for a board hotplug found (udev): udev's "remove" drops it. */
board_t *picod_add_discovered_board(picod_t *pd, const char *path);

/* Was b added by picod_add_discovered_board()? */
bool picod_board_is_discovered(const picod_t *pd, const board_t *b);

/* Stop serving a board (device removed). Outstanding client requests fail. */
void picod_remove_board(picod_t *pd, board_t *b);

board_t *picod_board_by_path(picod_t *pd, const char *path);

/* Give every board its name and settings from pd->opt again (after a reload changed them). */
void picod_configure_boards(picod_t *pd);

/* Resolve a client's BOARD argument: full id, device path, a name from a [board NAME]
 * config section (its board must be present), or a unique id prefix, in that order.
 * Returns 0 with *out set, -ENOENT (unknown) or -EEXIST (prefix matches several). */
int picod_find_board(picod_t *pd, const char *key, board_t **out);

/* After server_listen(): the boot id, the history (sized by the options) and the replay
 * pump. Returns 0 or -ENOMEM (logged). */
int picod_history_start(picod_t *pd);

/* Emit an event (borrowed; picod adds "seq"): serialised once, recorded in the history and
 * sent to every watcher whose filters it passes. Every event picod sends goes through here. */
void picod_emit(picod_t *pd, board_t *b, json_t *ev);

/* c starts watching (its filters already set): with replay, everything held after since is
 * sent first (a gap line when since+1 is no longer held), then live events. */
void picod_watch_start(picod_t *pd, client_t *c, bool replay, uint64_t since);

/* Loop time (uv_now) to Unix ms, by the offset taken at start. */
int64_t picod_wall_ms(const picod_t *pd, uint64_t loop_ms);

/* Close everything (boards, server); stopped_cb runs when the last handle is closed. */
void picod_stop(picod_t *pd, void (*stopped_cb)(picod_t *pd));

#endif /* PICOD_PICOD_H */
