/* ctl_conn.c - see ctl_conn.h. */
#include "ctl_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_LINE_MAX ((size_t)16 * 1024 * 1024) /* a status of hundreds of boards fits easily */

void ctl_conn_default_path(const char *explicit_path, char *out, size_t cap)
{
    const char *env = getenv("PICOD_SOCKET");

    if (explicit_path && *explicit_path)
        snprintf(out, cap, "%s", explicit_path);
    else if (env && *env)
        snprintf(out, cap, "%s", env);
    else /* not $RUNTIME_DIRECTORY: that is the directory of whatever service runs picoctl */
        snprintf(out, cap, "/run/picod/picod.sock");
}

int ctl_conn_open(ctl_conn_t *c, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int r;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    snprintf(c->path, sizeof(c->path), "%s", path);
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        close(c->fd);
        c->fd = -1;
        return r;
    }
    return 0;
}

void ctl_conn_close(ctl_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

int ctl_conn_send(ctl_conn_t *c, const json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    size_t len, off = 0;

    if (!s)
        return -ENOMEM;
    len = strlen(s);
    s[len++] = '\n'; /* replaces the NUL; we track the length ourselves */
    while (off < len) {
        ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            free(s);
            return e;
        }
        off += (size_t)n;
    }
    free(s);
    return 0;
}

static long long ctl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pop one complete line from the buffer as JSON, if there is one. */
static json_t *ctl_take_line(ctl_conn_t *c, int *err, int *have)
{
    char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
    size_t n;
    json_t *j;

    *have = nl != NULL;
    if (!nl)
        return NULL;
    n = (size_t)(nl - c->buf);
    j = json_loadb(c->buf, n, 0, NULL);
    memmove(c->buf, nl + 1, c->len - n - 1);
    c->len -= n + 1;
    if (!j)
        *err = -EBADMSG;
    return j;
}

json_t *ctl_conn_recv(ctl_conn_t *c, int timeout_ms, int *err)
{
    long long deadline = ctl_now_ms() + timeout_ms;
    int have;

    *err = 0;
    for (;;) {
        json_t *j = ctl_take_line(c, err, &have);
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int wait = -1, r;
        ssize_t n;

        if (have)
            return j;
        if (timeout_ms >= 0) {
            long long left = deadline - ctl_now_ms();
            if (left <= 0) {
                *err = -ETIMEDOUT;
                return NULL;
            }
            wait = (int)left;
        }
        r = poll(&pfd, 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *err = -errno;
            return NULL;
        }
        if (r == 0)
            continue;
        if (c->cap - c->len < 65536) {
            size_t cap = c->cap ? c->cap * 2 : 131072;
            char *p = cap <= CTL_LINE_MAX ? realloc(c->buf, cap) : NULL;
            if (!p) {
                *err = -ENOMEM;
                return NULL;
            }
            c->buf = p;
            c->cap = cap;
        }
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = n == 0 ? -EPIPE : -errno;
            return NULL;
        }
        c->len += (size_t)n;
    }
}

json_t *ctl_conn_call(ctl_conn_t *c, const char *cmd, json_t *args, int timeout_ms, int *err)
{
    json_t *req = args ? json_deep_copy(args) : json_object();
    int r;

    json_object_set_new(req, "cmd", json_string(cmd));
    json_object_set_new(req, "id", json_integer(1));
    r = ctl_conn_send(c, req);
    json_decref(req);
    if (r < 0) {
        *err = r;
        return NULL;
    }
    for (;;) {
        json_t *resp = ctl_conn_recv(c, timeout_ms, err);
        json_t *id;

        if (!resp)
            return NULL;
        id = json_object_get(resp, "id");
        if (json_is_integer(id) && json_integer_value(id) == 1)
            return resp;
        json_decref(resp); /* an event or someone else's line: not ours */
    }
}
