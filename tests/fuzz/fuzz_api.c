/*
 * fuzz_api.c - fuzz target for picod's socket request handling: the real server (server.c:
 * accept, linebuf, flow control, output queues) and API (api.c: JSON parsing, every command,
 * access checks) of picod_core, on a real libuv loop and a real Unix socket, with one board in
 * the table (a --device whose tty does not exist: it stays offline, so board commands take
 * their argument checks and the board_offline answers).
 *
 * Each input is what one client writes: it connects, writes the input, shuts down its write
 * side and reads until picod closes the connection (picod answers every request before it
 * closes; a watcher is cut off after the loop goes idle). Checked: no sanitizer error, every
 * line picod writes is one JSON object, and there are at least as many of them as request
 * lines that were not blank.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "log.h"
#include "picod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static picod_t *pd;
static char dir[] = "/tmp/picod-fuzz-XXXXXX";
static char sock_path[108];

static void cleanup(void)
{
    unlink(sock_path);
    rmdir(dir);
}

static void start(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_LEVEL_ERR - 1); /* nothing: the board's tty errors would flood */
    if (!mkdtemp(dir) || uv_loop_init(&loop) != 0)
        abort();
    snprintf(sock_path, sizeof(sock_path), "%s/picod.sock", dir);
    pd = calloc(1, sizeof(*pd));
    if (!pd)
        abort();
    options_defaults(&pd->opt);
    pd->loop = &loop;
    pd->started_ms = uv_now(&loop);
    server_limits_t lim = {.max_clients = pd->opt.max_clients,
                           .out_max = pd->opt.client_out_max,
                           .out_budget = pd->opt.out_budget};
    if (server_listen(&pd->server, &loop, sock_path, -1, &lim, api_line, pd) != 0 ||
        picod_history_start(pd) != 0)
        abort();
    atexit(cleanup);
    if (!picod_add_board(pd, "/nonexistent/picod-fuzz-tty"))
        abort();
}

/* Check one line picod wrote. */
static void check_line(const char *line, size_t len)
{
    json_error_t e;
    if (getenv("FUZZ_API_DEBUG"))
        fprintf(stderr, "< %.*s\n", (int)len, line);
    json_t *j = json_loadb(line, len, 0, &e);
    if (!j || !json_is_object(j))
        abort(); /* every line picod writes is a JSON object */
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        start();
        started = true;
    }
    if (size > 256 * 1024)
        return -1;
    /* Request lines (not blank): the answers expected at least. */
    size_t requests = 0;
    bool text = false;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\n') {
            requests += text;
            text = false;
        } else if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r') {
            text = true;
        }
    }
    requests += text; /* a last line without its newline counts once picod sees EOF */

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        /* (once, after 466,590 inputs of a run: not reproduced from the input alone, hence
         * what picod's side looked like) */
        fprintf(stderr, "fuzz_api: %s: %s; picod: %u clients, %llu accepted, %llu closed\n",
                fd < 0 ? "socket" : "connect", strerror(errno), (unsigned)pd->server.n_clients,
                (unsigned long long)pd->server.stats.accepted,
                (unsigned long long)pd->server.stats.closed);
        abort();
    }

    static char out[1 << 20];
    size_t out_len = 0, sent = 0, lines = 0;
    uint64_t too_long = pd->server.stats.lines_too_long;
    bool eof = false, shut = false;
    int idle = 0;
    while (!eof && idle < 50) {
        bool progress = false;
        if (sent < size) {
            ssize_t n = write(fd, data + sent, size - sent);
            if (n > 0) {
                sent += (size_t)n;
                progress = true;
            } else if (n < 0 && errno != EAGAIN) {
                break; /* picod closed on us (e.g. too many lines too long) */
            }
        } else if (!shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        (void)uv_run(&loop, UV_RUN_NOWAIT); /* nonzero while anything is active: always */
        for (;;) {
            ssize_t n = read(fd, out + out_len, sizeof(out) - out_len);
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                eof = true;
                break;
            }
            if (n < 0)
                break;
            progress = true;
            out_len += (size_t)n;
            /* whole lines: check and forget them */
            size_t start_at = 0;
            for (size_t i = 0; i < out_len; i++) {
                if (out[i] == '\n') {
                    check_line(out + start_at, i - start_at);
                    lines++;
                    start_at = i + 1;
                }
            }
            memmove(out, out + start_at, out_len - start_at);
            out_len -= start_at;
            if (out_len == sizeof(out))
                abort(); /* a line of 1 MiB */
        }
        idle = progress ? 0 : idle + 1;
    }
    close(fd);
    if (eof && sent == size && out_len != 0)
        abort(); /* the last line picod wrote was cut */
    if (eof && sent == size && lines < requests && pd->server.stats.lines_too_long == too_long)
        abort(); /* a request went unanswered */
    /* Let picod see the close before the next client. It does not read from a client after
     * its EOF, so a watcher that then closed is only noticed when something is sent to it
     * (the next event it watches; docs/RELIABILITY.md "Fuzzing"): send it a line now, or
     * closed watchers would pile up to --max-clients over a run. */
    json_t *poke = json_pack("{s:s}", "event", "fuzz");
    for (client_t *c = pd->server.clients; c && poke; c = c->next)
        if (c->watching && !c->closing)
            (void)server_send(c, poke);
    json_decref(poke);
    for (int i = 0; i < 8; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
