/* picod_client.c - see picod_client.h. */
#include "picod_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void picod_client_default_path(const char *explicit_path, char *out, size_t cap)
{
    const char *env = getenv("PICOD_SOCKET");

    if (explicit_path && *explicit_path)
        snprintf(out, cap, "%s", explicit_path);
    else if (env && *env)
        snprintf(out, cap, "%s", env);
    else /* not $RUNTIME_DIRECTORY: that is the directory of whatever service runs the client */
        snprintf(out, cap, "/run/picod/picod.sock");
}

int picod_client_connect(const char *path, bool nonblock)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    int fd, r;

    if (len >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, len + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

char *picod_client_encode(const char *cmd, json_int_t id, const json_t *args, size_t *len)
{
    json_t *req = json_is_object(args) ? json_deep_copy(args) : json_object();
    char *s;

    if (!req)
        return NULL;
    json_object_set_new(req, "cmd", json_string(cmd));
    json_object_set_new(req, "id", json_integer(id));
    s = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(req);
    if (!s)
        return NULL;
    *len = strlen(s);
    s[(*len)++] = '\n'; /* replaces the NUL: the length is what counts */
    return s;
}

void picod_client_buf_init(picod_client_buf_t *b)
{
    memset(b, 0, sizeof(*b));
}

void picod_client_buf_free(picod_client_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    picod_client_buf_init(b);
}

int picod_client_buf_reserve(picod_client_buf_t *b, size_t want)
{
    size_t cap = b->cap ? b->cap : 131072;
    char *p;

    if (b->cap - b->len >= want)
        return 0;
    while (cap - b->len < want)
        cap *= 2;
    if (cap > PICOD_CLIENT_LINE_MAX)
        return -EMSGSIZE;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int picod_client_buf_take(picod_client_buf_t *b, json_t **out)
{
    for (;;) {
        char *nl = b->len ? memchr(b->data, '\n', b->len) : NULL;
        size_t n;
        json_t *j;

        if (!nl)
            return 0;
        n = (size_t)(nl - b->data);
        j = n ? json_loadb(b->data, n, 0, NULL) : NULL;
        memmove(b->data, nl + 1, b->len - n - 1);
        b->len -= n + 1;
        if (n == 0)
            continue;
        if (!j)
            return -EBADMSG;
        *out = j;
        return 1;
    }
}

enum picod_msg_kind picod_client_classify(const json_t *msg)
{
    if (!json_is_object(msg))
        return PICOD_MSG_INVALID;
    if (json_is_string(json_object_get(msg, "event")))
        return PICOD_MSG_EVENT;
    if (json_is_boolean(json_object_get(msg, "ok")) && json_object_get(msg, "id"))
        return PICOD_MSG_RESPONSE;
    return PICOD_MSG_INVALID;
}

json_int_t picod_client_response_id(const json_t *msg)
{
    const json_t *id = json_object_get(msg, "id");

    return json_is_integer(id) ? json_integer_value(id) : -1;
}

bool picod_client_error(const json_t *msg, const char **code, const char **message)
{
    const json_t *e = json_object_get(msg, "error");
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));

    if (json_is_true(json_object_get(msg, "ok")))
        return false;
    *code = c ? c : "internal";
    *message = m ? m : "";
    return true;
}
