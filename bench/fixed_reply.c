/* fixed_reply.c - the benchmark baseline: a minimal libuv server on a Unix socket that answers
 * every line it reads with one fixed line (the bytes of a file), nothing parsed, nothing built.
 *
 *     fixed_reply SOCKET REPLY_FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

static char *reply;
static size_t reply_len;
static uv_loop_t *loop;

typedef struct {
    uv_write_t req;
    char data[];
} wr_t;

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char b[65536];

    (void)h;
    (void)hint;
    *buf = uv_buf_init(b, sizeof(b));
}

static void on_write(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    size_t lines = 0;

    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        lines += buf->base[i] == '\n';
    if (!lines)
        return;
    /* One write per batch of lines, as picod writes one buffer per answer. */
    for (size_t i = 0; i < lines; i++) {
        wr_t *w = malloc(sizeof(*w) + reply_len);
        uv_buf_t out;

        if (!w)
            return;
        memcpy(w->data, reply, reply_len);
        out = uv_buf_init(w->data, (unsigned int)reply_len);
        if (uv_write(&w->req, s, &out, 1, on_write) < 0)
            free(w);
    }
}

static void on_conn(uv_stream_t *srv, int status)
{
    uv_pipe_t *c;

    if (status < 0)
        return;
    c = malloc(sizeof(*c));
    uv_pipe_init(loop, c, 0);
    if (uv_accept(srv, (uv_stream_t *)c) == 0)
        uv_read_start((uv_stream_t *)c, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)c, on_close);
}

int main(int argc, char **argv)
{
    uv_pipe_t srv;
    FILE *f;
    long sz;

    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    if (argc != 3) {
        fprintf(stderr, "usage: fixed_reply SOCKET REPLY_FILE\n");
        return 2;
    }
    f = fopen(argv[2], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) <= 0) {
        perror(argv[2]);
        return 1;
    }
    rewind(f);
    reply_len = (size_t)sz;
    reply = malloc(reply_len);
    if (!reply || fread(reply, 1, reply_len, f) != reply_len)
        return 1;
    fclose(f);
    loop = uv_default_loop();
    uv_pipe_init(loop, &srv, 0);
    unlink(argv[1]);
    if (uv_pipe_bind(&srv, argv[1]) < 0 || uv_listen((uv_stream_t *)&srv, 4096, on_conn) < 0) {
        perror("bind/listen");
        return 1;
    }
    fprintf(stderr, "fixed_reply: ready\n");
    return uv_run(loop, UV_RUN_DEFAULT);
}
