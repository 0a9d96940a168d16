/* picod.c - see picod.h. */
#include "picod.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "json_out.h"
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

/* ---- events, history and replay ------------------------------------------------------------ */

/* 128 random bits in hex: the kernel's boot-independent random uuid, else getrandom(). */
static void picod_make_boot_id(picod_t *pd)
{
    unsigned char raw[16] = {0};
    char uuid[40];
    size_t n = 0;
    ssize_t got = -1;
    int fd = open("/proc/sys/kernel/random/uuid", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        got = read(fd, uuid, sizeof(uuid) - 1);
        close(fd);
    }
    for (ssize_t i = 0; i < got && n < 32; i++)
        if ((uuid[i] >= '0' && uuid[i] <= '9') || (uuid[i] >= 'a' && uuid[i] <= 'f'))
            pd->boot_id[n++] = uuid[i];
    if (n == 32) {
        pd->boot_id[32] = '\0';
        return;
    }
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        for (size_t i = 0; i < sizeof(raw); i++) /* never reached on Linux >= 3.17 */
            raw[i] = (unsigned char)(rand() ^ (int)getpid());
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(pd->boot_id + 2 * i, 3, "%02x", raw[i]);
}

int64_t picod_wall_ms(const picod_t *pd, uint64_t loop_ms)
{
    return (int64_t)loop_ms + pd->wall_offset_ms;
}

/* Queue what c's replay still owes it, until its output reaches the high-water mark (the
 * server's drain callback brings us back as it reads) or it has caught up (then it is live:
 * picod_emit() sends it new events directly). Live events that arrive meanwhile are in the
 * history, behind what it is being sent, so the seam has no hole and no repeat. */
static void picod_pump(picod_t *pd, client_t *c)
{
    server_t *s = &pd->server;
    const hist_event_t *e;
    uint64_t from, to;

    while (c->replaying && !c->closing) {
        if (c->out_bytes > server_out_high(s))
            return;
        if (c->replay_next > pd->hist.last_seq) {
            c->replaying = false;
            return;
        }
        if (history_gap(&pd->hist, c->replay_next - 1, &from, &to)) {
            json_t *gap = json_pack("{s:s, s:I, s:I}", "event", "gap", "from", (json_int_t)from,
                                    "to", (json_int_t)to);

            c->replay_next = to + 1;
            if (gap && server_send(c, gap) == 0)
                s->stats.events++;
            json_decref(gap);
            continue;
        }
        e = history_event(&pd->hist, c->replay_next++);
        if (e && hist_filter_pass(c->filter, e) && server_send_line(c, e->line) == 0)
            s->stats.events++;
    }
}

static void picod_drain_cb(server_t *s, client_t *c)
{
    picod_pump(s->data, c);
}

void picod_watch_start(picod_t *pd, client_t *c, bool replay, uint64_t since)
{
    c->watching = true;
    c->replaying = replay;
    c->replay_next = since + 1;
    if (replay)
        picod_pump(pd, c);
}

int picod_history_start(picod_t *pd)
{
    struct timespec ts;
    int r;

    picod_make_boot_id(pd);
    clock_gettime(CLOCK_REALTIME, &ts);
    pd->wall_offset_ms =
        (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - (int64_t)uv_now(pd->loop);
    r = history_init(&pd->hist, pd->opt.history_events, pd->opt.history_readings,
                     pd->opt.history_budget);
    if (r < 0) {
        log_err("cannot allocate the history of %u events: %s", (unsigned)pd->opt.history_events,
                strerror(-r));
        return r;
    }
    pd->hist_ready = true;
    server_set_drain_cb(&pd->server, picod_drain_cb);
    return 0;
}

/* What the filters and the reading history need from an event. */
static void picod_describe(picod_t *pd, board_t *b, const json_t *ev, hist_event_t *e)
{
    const char *kind = json_string_value(json_object_get(ev, "event"));
    const char *board = json_string_value(json_object_get(ev, "board"));
    json_t *sensor = json_object_get(ev, "sensor");
    const proto_reading_t *r;
    json_int_t idx;

    snprintf(e->kind, sizeof(e->kind), "%s", kind ? kind : "");
    snprintf(e->board, sizeof(e->board), "%s", board ? board : "");
    if (!b || !kind || strcmp(kind, "sensor") != 0 || !json_is_integer(sensor))
        return;
    idx = json_integer_value(sensor);
    if (idx < 0 || idx >= PROTO_MAX_READINGS || !b->sensors[idx].valid)
        return;
    r = &b->sensors[idx].r;
    e->is_sensor = true;
    e->sensor = (uint8_t)idx;
    e->v.status = r->status;
    /* The protocol's bits are not the history's (PRESSURE and HUMIDITY swap places). */
    e->v.flags = r->status ? 0
                           : (uint8_t)((r->flags & PROTO_READING_TEMP ? HIST_HAS_TEMP : 0) |
                                       (r->flags & PROTO_READING_HUMIDITY ? HIST_HAS_HUMIDITY : 0) |
                                       (r->flags & PROTO_READING_PRESSURE ? HIST_HAS_PRESSURE : 0));
    e->v.temp_centi_c = r->temp_centi_c;
    e->v.humidity_mpc = r->humidity_milli_pct;
    e->v.pressure_pa = r->pressure_pa;
    if (e->v.flags && pd->hist_ready)
        (void)history_add_reading(&pd->hist, e->board, e->sensor,
                                  picod_wall_ms(pd, b->sensors[idx].host_ms), &e->v);
}

void picod_emit(picod_t *pd, board_t *b, json_t *ev)
{
    server_t *s = &pd->server;
    hist_event_t e = {.seq = pd->hist.last_seq + 1};
    client_t *c, *next;
    size_t len;

    if (json_object_set_new(ev, "seq", json_integer((json_int_t)e.seq)) < 0)
        return;
    len = json_dumpb(ev, NULL, 0, PICOD_JSON_FLAGS);
    e.line = len ? hist_line_new(NULL, len + 1) : NULL;
    if (!e.line) {
        json_object_del(ev, "seq"); /* not emitted: the seq stays free, no hole */
        return;
    }
    json_dumpb(ev, e.line->data, len, PICOD_JSON_FLAGS);
    e.line->data[len] = '\n';
    picod_describe(pd, b, ev, &e);
    if (pd->hist_ready)
        (void)history_add_event(&pd->hist, &e);
    else
        pd->hist.last_seq = e.seq;
    /* Sending may unlink c, or another client (the largest backlog). An unlinked client keeps
     * its memory and its next pointer until the loop closes it, so following next from it
     * still reaches every client after it. */
    for (c = s->clients; c; c = next) {
        next = c->next;
        if (!c->watching || c->closing)
            continue;
        if (c->replaying)
            picod_pump(pd, c); /* e is in the history, behind what c is still owed */
        else if (hist_filter_pass(c->filter, &e) && server_send_line(c, e.line) == 0)
            s->stats.events++;
    }
    hist_line_unref(e.line);
}

static void picod_board_event_cb(board_t *b, json_t *event)
{
    picod_t *pd = b->data;
    size_t i = picod_index(pd, b);

    /* The board said who it is (first HELLO, or another board on the tty): name it. */
    if (i < pd->n_boards && strcmp(pd->configured_id[i], b->id) != 0)
        picod_configure(pd, i);
    json_object_set_new(event, "name", b->name[0] ? json_string(b->name) : json_null());
    picod_emit(pd, b, event);
}

/* The last handle closed: release the history, then tell the owner. */
static void picod_stopped(picod_t *pd)
{
    if (pd->hist_ready) {
        history_free(&pd->hist);
        pd->hist_ready = false;
    }
    if (pd->stopped_cb)
        pd->stopped_cb(pd);
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
    if (pd->stopping && --pd->pending_closes == 0)
        picod_stopped(pd);
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
                picod_emit(pd, b, ev);
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

    if (--pd->pending_closes == 0)
        picod_stopped(pd);
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
