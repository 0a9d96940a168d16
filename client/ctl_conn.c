/* ctl_conn.c - see ctl_conn.h. */
#include "ctl_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void ctl_conn_default_path(const char *explicit_path, char *out, size_t cap)
{
    picod_client_default_path(explicit_path, out, cap);
}

int ctl_conn_open(ctl_conn_t *c, const char *path)
{
    int fd;

    memset(c, 0, sizeof(*c));
    snprintf(c->path, sizeof(c->path), "%s", path);
    fd = picod_client_connect(path, false);
    c->fd = fd < 0 ? -1 : fd;
    return fd < 0 ? fd : 0;
}

void ctl_conn_close(ctl_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    picod_client_buf_free(&c->in);
}

static int ctl_send_all(ctl_conn_t *c, const char *s, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    return 0;
}

int ctl_conn_send(ctl_conn_t *c, const json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    size_t len;
    int r;

    if (!s)
        return -ENOMEM;
    len = strlen(s);
    s[len++] = '\n'; /* replaces the NUL; we track the length ourselves */
    r = ctl_send_all(c, s, len);
    free(s);
    return r;
}

static long long ctl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until readable within the deadline, then read what is there into the buffer. */
static int ctl_fill(ctl_conn_t *c, int timeout_ms, long long deadline)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int wait = -1, r;
    ssize_t n;

    if (timeout_ms >= 0) {
        long long left = deadline - ctl_now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        wait = (int)left;
    }
    r = poll(&pfd, 1, wait);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (r == 0)
        return 0;
    r = picod_client_buf_reserve(&c->in, 65536);
    if (r < 0)
        return r == -EMSGSIZE ? -ENOMEM : r;
    n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return -EPIPE;
    c->in.len += (size_t)n;
    return 0;
}

json_t *ctl_conn_recv(ctl_conn_t *c, int timeout_ms, int *err)
{
    long long deadline = ctl_now_ms() + timeout_ms;

    *err = 0;
    for (;;) {
        json_t *j = NULL;
        int r = picod_client_buf_take(&c->in, &j);

        if (r > 0)
            return j;
        if (r < 0) {
            *err = r;
            return NULL;
        }
        r = ctl_fill(c, timeout_ms, deadline);
        if (r < 0) {
            *err = r;
            return NULL;
        }
    }
}

json_t *ctl_conn_call(ctl_conn_t *c, const char *cmd, json_t *args, int timeout_ms, int *err)
{
    size_t len;
    char *line = picod_client_encode(cmd, 1, args, &len);
    int r;

    if (!line) {
        *err = -ENOMEM;
        return NULL;
    }
    r = ctl_send_all(c, line, len);
    free(line);
    if (r < 0) {
        *err = r;
        return NULL;
    }
    for (;;) {
        json_t *resp = ctl_conn_recv(c, timeout_ms, err);

        if (!resp)
            return NULL;
        if (picod_client_classify(resp) == PICOD_MSG_RESPONSE &&
            picod_client_response_id(resp) == 1)
            return resp;
        json_decref(resp); /* an event or someone else's line: not ours */
    }
}
