/* picod.c - see picod.h. */
#include "picod.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static size_t picod_index(const picod_t *pd, const board_t *b)
{
    for (size_t i = 0; i < pd->n_boards; i++)
        if (pd->boards[i] == b)
            return i;
    return PICOD_MAX_BOARDS;
}

/* Name and settings of board i from its [board NAME] section (by id; none before the board
 * said who it is). Boards without their own timings share pd->opt. */
static void picod_configure(picod_t *pd, size_t i)
{
    board_t *b = pd->boards[i];
    const options_board_t *nb = b->id[0] ? options_named_by_id(&pd->opt, b->id) : NULL;
    options_t *own = pd->board_opt[i];

    snprintf(pd->configured_id[i], sizeof(pd->configured_id[i]), "%s", b->id);
    snprintf(b->name, sizeof(b->name), "%s", nb ? nb->name : "");
    if (nb && (nb->poll_ms || nb->heartbeat_ms || nb->has_sensors)) {
        if (!own)
            own = malloc(sizeof(*own));
        if (own) {
            memcpy(own, &pd->opt, sizeof(*own));
            if (nb->poll_ms)
                own->poll_ms = nb->poll_ms;
            if (nb->heartbeat_ms)
                own->heartbeat_ms = nb->heartbeat_ms;
            if (nb->has_sensors)
                own->poll_sensors = nb->poll_sensors;
            pd->board_opt[i] = own;
            board_set_options(b, own);
            return;
        }
        log_err("board %s (%s): out of memory: using the [picod] timings", b->id, nb->name);
    }
    board_set_options(b, &pd->opt);
    free(own);
    pd->board_opt[i] = NULL;
}

void picod_configure_boards(picod_t *pd)
{
    for (size_t i = 0; i < pd->n_boards; i++)
        picod_configure(pd, i);
}

static void picod_board_event_cb(board_t *b, json_t *event)
{
    picod_t *pd = b->data;
    size_t i = picod_index(pd, b);

    /* The board said who it is (first HELLO, or another board on the tty): name it. */
    if (i < pd->n_boards && strcmp(pd->configured_id[i], b->id) != 0)
        picod_configure(pd, i);
    json_object_set_new(event, "name", b->name[0] ? json_string(b->name) : json_null());
    server_broadcast(&pd->server, event);
}

board_t *picod_board_by_path(picod_t *pd, const char *path)
{
    for (size_t i = 0; i < pd->n_boards; i++)
        if (strcmp(pd->boards[i]->link.path, path) == 0)
            return pd->boards[i];
    return NULL;
}

static void picod_board_freed_cb(board_t *b)
{
    picod_t *pd = b->data;

    free(b);
    if (pd->stopping && --pd->pending_closes == 0 && pd->stopped_cb)
        pd->stopped_cb(pd);
}

static board_t *picod_add(picod_t *pd, const char *path, bool discovered)
{
    board_t *b;

    if (pd->stopping || picod_board_by_path(pd, path))
        return NULL;
    if (pd->n_boards >= PICOD_MAX_BOARDS) {
        log_err("%s: already serving %d boards, ignored", path, PICOD_MAX_BOARDS);
        return NULL;
    }
    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (board_init(b, pd->loop, &pd->opt, path, picod_board_event_cb, pd) < 0) {
        log_err("%s: cannot watch this path", path);
        board_close(b, picod_board_freed_cb);
        return NULL;
    }
    pd->discovered[pd->n_boards] = discovered;
    pd->board_opt[pd->n_boards] = NULL;
    pd->configured_id[pd->n_boards][0] = '\0';
    pd->boards[pd->n_boards++] = b;
    log_info("%s: watching", path);
    return b;
}

board_t *picod_add_board(picod_t *pd, const char *path)
{
    return picod_add(pd, path, false);
}

board_t *picod_add_discovered_board(picod_t *pd, const char *path)
{
    return picod_add(pd, path, true);
}

bool picod_board_is_discovered(const picod_t *pd, const board_t *b)
{
    for (size_t i = 0; i < pd->n_boards; i++)
        if (pd->boards[i] == b)
            return pd->discovered[i];
    return false;
}

void picod_remove_board(picod_t *pd, board_t *b)
{
    for (size_t i = 0; i < pd->n_boards; i++) {
        if (pd->boards[i] != b)
            continue;
        /* boards[] holds pointers: moving pointers is the point. */
        memmove(&pd->boards[i], &pd->boards[i + 1],
                (pd->n_boards - i - 1) *
                    sizeof(pd->boards[0])); // NOLINT(bugprone-sizeof-expression)
        memmove(&pd->discovered[i], &pd->discovered[i + 1],
                (pd->n_boards - i - 1) * sizeof(pd->discovered[0]));
        /* Its own settings go; until closed it reads the shared ones. */
        b->opt = &pd->opt;
        free(pd->board_opt[i]);
        memmove(&pd->board_opt[i], &pd->board_opt[i + 1],
                (pd->n_boards - i - 1) *
                    sizeof(pd->board_opt[0])); // NOLINT(bugprone-sizeof-expression)
        memmove(&pd->configured_id[i], &pd->configured_id[i + 1],
                (pd->n_boards - i - 1) * sizeof(pd->configured_id[0]));
        pd->n_boards--;
        log_info("%s: removed", b->link.path);
        if (b->id[0] && board_is_reachable(b)) {
            /* Watchers learn the board left even though no heartbeat was missed. */
            b->state = BOARD_OFFLINE;
            json_t *ev = json_pack("{s:s, s:s, s:s, s:I, s:o}", "event", "board_offline", "board",
                                   b->id, "device", b->link.path, "rev", (json_int_t)++b->rev,
                                   "name", b->name[0] ? json_string(b->name) : json_null());
            if (ev)
                server_broadcast(&pd->server, ev);
            json_decref(ev);
        }
        board_close(b, picod_board_freed_cb);
        return;
    }
}

int picod_find_board(picod_t *pd, const char *key, board_t **out)
{
    board_t *match = NULL;
    size_t n = 0, klen = strlen(key);

    if (klen == 0)
        return -ENOENT;
    for (size_t i = 0; i < pd->n_boards; i++) {
        board_t *b = pd->boards[i];

        if (strcmp(b->id, key) == 0 || strcmp(b->link.path, key) == 0) {
            *out = b;
            return 0;
        }
    }
    for (size_t i = 0; i < pd->n_boards; i++) {
        board_t *b = pd->boards[i];

        if (b->name[0] && strcmp(b->name, key) == 0) {
            *out = b;
            return 0;
        }
    }
    for (size_t i = 0; i < pd->n_boards; i++) {
        board_t *b = pd->boards[i];

        if (b->id[0] && strncmp(b->id, key, klen) == 0) {
            match = b;
            n++;
        }
    }
    if (n == 0)
        return -ENOENT;
    if (n > 1)
        return -EEXIST;
    *out = match;
    return 0;
}

static void picod_server_closed_cb(server_t *s)
{
    picod_t *pd = s->data;

    if (--pd->pending_closes == 0 && pd->stopped_cb)
        pd->stopped_cb(pd);
}

void picod_stop(picod_t *pd, void (*stopped_cb)(picod_t *pd))
{
    if (pd->stopping)
        return;
    pd->stopping = true;
    pd->stopped_cb = stopped_cb;
    pd->pending_closes = 1 + (int)pd->n_boards;
    while (pd->n_boards) {
        board_t *b = pd->boards[--pd->n_boards];

        b->opt = &pd->opt;
        free(pd->board_opt[pd->n_boards]);
        pd->board_opt[pd->n_boards] = NULL;
        board_close(b, picod_board_freed_cb);
    }
    server_close(&pd->server, picod_server_closed_cb);
}
