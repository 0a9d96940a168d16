/* picod_link.c - see picod_link.h. */
#include "picod_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "picod_client.h"

#define PL_BACKOFF_MIN_MS 100
#define PL_BACKOFF_MAX_MS 5000
#define PL_WATCH_ID       0 /* the watch request; others count from 1 */

typedef struct pl_pending {
    json_int_t id; /* 0: free */
    picod_link_reply_cb cb;
    void *data;
} pl_pending_t;

typedef struct pl_conn {
    uv_pipe_t pipe;
    uv_connect_t connect;
    picod_link_t *link; /* NULL once the link gave it up */
    bool connected;
} pl_conn_t;

struct picod_link {
    uv_loop_t *loop;
    char *path;
    picod_link_cbs_t cbs;
    void *data;
    pl_conn_t *conn; /* the current connection, NULL between attempts */
    uv_timer_t retry;
    int backoff_ms;
    bool up, closing;
    picod_client_buf_t in;
    pl_pending_t pending[PICOD_LINK_PENDING_MAX];
    json_int_t next_id;
    uint64_t seq;
    char boot_id[64];
    void (*close_cb)(void *data);
    void *close_data;
};

static void pl_conn_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

/* Drop the current connection: its requests are answered NULL, a retry is scheduled. */
static void pl_down(picod_link_t *l, const char *why)
{
    pl_conn_t *c = l->conn;
    bool was_up = l->up;

    l->conn = NULL;
    l->up = false;
    l->in.len = 0;
    if (c) {
        c->link = NULL;
        uv_close((uv_handle_t *)&c->pipe, pl_conn_closed_cb);
    }
    for (size_t i = 0; i < PICOD_LINK_PENDING_MAX; i++) {
        pl_pending_t p = l->pending[i];
        if (!p.id)
            continue;
        l->pending[i].id = 0;
        if (!l->closing) /* never into the owner from inside its own picod_link_close */
            p.cb(l, NULL, p.data);
    }
    if (l->closing)
        return;
    if (l->cbs.down_cb && (was_up || l->backoff_ms == PL_BACKOFF_MIN_MS))
        l->cbs.down_cb(l, why, l->data);
}

static void pl_retry_cb(uv_timer_t *t);

static void pl_schedule(picod_link_t *l)
{
    uv_timer_start(&l->retry, pl_retry_cb, (uint64_t)l->backoff_ms, 0);
    l->backoff_ms = l->backoff_ms * 2 > PL_BACKOFF_MAX_MS ? PL_BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void pl_fail(picod_link_t *l, const char *fmt, int err)
{
    char why[512];

    snprintf(why, sizeof(why), fmt, l->path, uv_strerror(err));
    pl_down(l, why);
    if (!l->closing)
        pl_schedule(l);
}

static void pl_write_cb(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows as a failed read: that path handles it */
    free(w->data);
    free(w);
}

static int pl_send(picod_link_t *l, const char *cmd, json_int_t id, const json_t *args)
{
    size_t len;
    char *line = picod_client_encode(cmd, id, args, &len);
    uv_write_t *w = malloc(sizeof(*w));
    uv_buf_t buf;
    int r;

    if (!line || !w) {
        free(line);
        free(w);
        return -ENOMEM;
    }
    w->data = line;
    buf = uv_buf_init(line, (unsigned)len);
    r = uv_write(w, (uv_stream_t *)&l->conn->pipe, &buf, 1, pl_write_cb);
    if (r < 0) {
        free(line);
        free(w);
    }
    return r;
}

static void pl_send_watch(picod_link_t *l)
{
    json_t *args = json_object();

    if (l->boot_id[0]) {
        json_object_set_new(args, "since", json_integer((json_int_t)l->seq));
        json_object_set_new(args, "boot_id", json_string(l->boot_id));
    }
    if (pl_send(l, "watch", PL_WATCH_ID, args) < 0)
        pl_fail(l, "picod at %s: cannot send watch: %s", UV_ENOMEM);
    json_decref(args);
}

static void pl_response(picod_link_t *l, const json_t *msg)
{
    json_int_t id = picod_client_response_id(msg);

    if (id == PL_WATCH_ID) {
        const json_t *res = json_object_get(msg, "result");
        const char *boot = json_string_value(json_object_get(res, "boot_id"));

        if (!json_is_true(json_object_get(msg, "ok"))) {
            pl_fail(l, "picod at %s refused watch: %s", UV_EPROTO);
            return;
        }
        if (boot && strcmp(boot, l->boot_id) != 0) {
            /* another picod run: its events start again at 1, and it replays them from 0 */
            snprintf(l->boot_id, sizeof(l->boot_id), "%s", boot);
            l->seq = 0;
        }
        if (json_is_true(json_object_get(res, "restarted")))
            l->seq = 0;
        l->up = true;
        l->backoff_ms = PL_BACKOFF_MIN_MS;
        if (l->cbs.up_cb)
            l->cbs.up_cb(l, res, l->data);
        return;
    }
    for (size_t i = 0; i < PICOD_LINK_PENDING_MAX; i++) {
        pl_pending_t p = l->pending[i];
        if (p.id != id)
            continue;
        l->pending[i].id = 0;
        p.cb(l, msg, p.data);
        return;
    }
}

static void pl_line(picod_link_t *l, const json_t *msg)
{
    switch (picod_client_classify(msg)) {
    case PICOD_MSG_RESPONSE:
        pl_response(l, msg);
        break;
    case PICOD_MSG_EVENT: {
        const json_t *seq = json_object_get(msg, "seq");
        if (json_is_integer(seq) && (uint64_t)json_integer_value(seq) > l->seq)
            l->seq = (uint64_t)json_integer_value(seq);
        if (l->cbs.event_cb)
            l->cbs.event_cb(l, msg, l->data);
        break;
    }
    case PICOD_MSG_INVALID:
        break;
    }
}

static void pl_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    pl_conn_t *c = h->data;
    picod_link_t *l = c->link;

    (void)suggested;
    if (!l || picod_client_buf_reserve(&l->in, 65536) < 0) {
        *buf = uv_buf_init(NULL, 0); /* UV_ENOBUFS in read_cb */
        return;
    }
    *buf = uv_buf_init(l->in.data + l->in.len, (unsigned)(l->in.cap - l->in.len));
}

static void pl_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    pl_conn_t *c = s->data;
    picod_link_t *l = c->link;
    json_t *msg;
    int r;

    (void)buf;
    if (!l || n == 0)
        return;
    if (n < 0) {
        pl_fail(l,
                n == UV_EOF ? "picod at %s closed the connection (%s)"
                            : "lost the connection to picod at %s: %s",
                (int)n);
        return;
    }
    l->in.len += (size_t)n;
    while ((r = picod_client_buf_take(&l->in, &msg)) != 0) {
        if (r < 0)
            continue; /* not JSON: not picod's, skip the line */
        pl_line(l, msg);
        json_decref(msg);
        if (l->conn != c)
            return; /* a callback closed the link */
    }
}

static void pl_connect_cb(uv_connect_t *req, int status)
{
    pl_conn_t *c = req->data;
    picod_link_t *l = c->link;

    if (!l)
        return;
    if (status < 0) {
        pl_fail(l, "cannot connect to picod at %s: %s", status);
        return;
    }
    c->connected = true;
    uv_read_start((uv_stream_t *)&c->pipe, pl_alloc_cb, pl_read_cb);
    pl_send_watch(l);
}

static void pl_retry_cb(uv_timer_t *t)
{
    picod_link_t *l = t->data;
    pl_conn_t *c = calloc(1, sizeof(*c));

    if (!c || uv_pipe_init(l->loop, &c->pipe, 0) < 0) {
        free(c);
        pl_schedule(l);
        return;
    }
    c->link = l;
    c->pipe.data = c;
    c->connect.data = c;
    l->conn = c;
    uv_pipe_connect(&c->connect, &c->pipe, l->path, pl_connect_cb);
}

int picod_link_new(uv_loop_t *loop, const char *path, const picod_link_cbs_t *cbs, void *data,
                   picod_link_t **out)
{
    picod_link_t *l = calloc(1, sizeof(*l));

    if (!l || !(l->path = strdup(path))) {
        free(l);
        return -ENOMEM;
    }
    l->loop = loop;
    l->cbs = *cbs;
    l->data = data;
    l->backoff_ms = PL_BACKOFF_MIN_MS;
    l->next_id = 1;
    uv_timer_init(loop, &l->retry);
    l->retry.data = l;
    *out = l;
    return 0;
}

void picod_link_start(picod_link_t *l)
{
    uv_timer_start(&l->retry, pl_retry_cb, 0, 0);
}

bool picod_link_is_up(const picod_link_t *l)
{
    return l->up;
}

uint64_t picod_link_seq(const picod_link_t *l)
{
    return l->seq;
}

int picod_link_request(picod_link_t *l, const char *cmd, const json_t *args,
                       picod_link_reply_cb reply_cb, void *req_data)
{
    pl_pending_t *slot = NULL;
    int r;

    if (!l->up || !l->conn)
        return -ENOTCONN;
    for (size_t i = 0; i < PICOD_LINK_PENDING_MAX && !slot; i++)
        if (!l->pending[i].id)
            slot = &l->pending[i];
    if (!slot)
        return -EBUSY;
    r = pl_send(l, cmd, l->next_id, args);
    if (r < 0)
        return r == UV_ENOMEM ? -ENOMEM : -ENOTCONN;
    slot->id = l->next_id++;
    slot->cb = reply_cb;
    slot->data = req_data;
    return 0;
}

static void pl_timer_closed_cb(uv_handle_t *h)
{
    picod_link_t *l = h->data;
    void (*cb)(void *) = l->close_cb;
    void *d = l->close_data;

    picod_client_buf_free(&l->in);
    free(l->path);
    free(l);
    if (cb)
        cb(d);
}

void picod_link_close(picod_link_t *l, void (*close_cb)(void *data), void *data)
{
    l->closing = true;
    l->close_cb = close_cb;
    l->close_data = data;
    pl_down(l, "closing");
    uv_close((uv_handle_t *)&l->retry, pl_timer_closed_cb);
}
