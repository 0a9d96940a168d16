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
#include "options.h"
#include "server.h"

#define PICOD_MAX_BOARDS 256

typedef struct picod {
    uv_loop_t *loop;
    options_t opt;
    server_t server;
    board_t *boards[PICOD_MAX_BOARDS];
    bool discovered[PICOD_MAX_BOARDS]; /* parallel to boards[]: found by udev, not --device */
    size_t n_boards;
    uint64_t started_ms;
    bool stopping;
    int pending_closes;
    void (*stopped_cb)(struct picod *pd);
    void *hotplug; /* hotplug_t *, NULL when not using udev */
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

/* Resolve a client's BOARD argument: full id, device path, or a unique id prefix.
 * Returns 0 with *out set, -ENOENT (unknown) or -EEXIST (prefix matches several). */
int picod_find_board(picod_t *pd, const char *key, board_t **out);

/* Close everything (boards, server); stopped_cb runs when the last handle is closed. */
void picod_stop(picod_t *pd, void (*stopped_cb)(picod_t *pd));

#endif /* PICOD_PICOD_H */
