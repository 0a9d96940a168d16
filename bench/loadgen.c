/* loadgen.c - closed-loop load on a JSON-lines Unix socket: N connections, each sends one request
 * line, waits for the full answer line, sends the next. Counts answers in a timed window after a
 * warm-up and prints "answers seconds rate".
 *
 *     loadgen SOCKET CONNECTIONS SECONDS REQUEST_LINE [DEPTH]
 *
 * DEPTH (default 1) requests are kept in flight per connection (pipelining).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            /* Closed-loop with small requests: the send buffer is practically never full. */
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n, ep, depth = 1;
    double secs, t0, t_end, t_start;
    const char *req;
    size_t req_len;
    char *reqbuf;
    uint64_t counted = 0;
    int *fds;
    static char buf[1 << 16];

    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    if (argc < 5) {
        fprintf(stderr, "usage: loadgen SOCKET CONNECTIONS SECONDS REQUEST_LINE [DEPTH]\n");
        return 2;
    }
    n = atoi(argv[2]);
    secs = atof(argv[3]);
    req = argv[4];
    if (argc > 5)
        depth = atoi(argv[5]);
    req_len = strlen(req) + 1;
    reqbuf = malloc(req_len * (size_t)depth);
    for (int i = 0; i < depth; i++) {
        memcpy(reqbuf + (size_t)i * req_len, req, req_len - 1);
        reqbuf[(size_t)i * req_len + req_len - 1] = '\n';
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
    ep = epoll_create1(0);
    fds = calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN};

        fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            perror("connect");
            return 1;
        }
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        ev.data.u32 = (uint32_t)i;
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    for (int i = 0; i < n; i++)
        if (send_all(fds[i], reqbuf, req_len * (size_t)depth) < 0) {
            perror("send");
            return 1;
        }
    t0 = now_s();
    t_start = t0 + (secs > 2 ? 1.0 : secs / 4); /* warm-up */
    t_end = t_start + secs;
    int started = 0;
    double t_counted_from = t_start;
    for (;;) {
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 100);
        double t = now_s();

        if (!started && t >= t_start) {
            started = 1;
            counted = 0;
            t_counted_from = t;
        }
        if (t >= t_end)
            break;
        for (int j = 0; j < k; j++) {
            int fd = fds[evs[j].data.u32];
            ssize_t r = read(fd, buf, sizeof(buf));
            unsigned lines = 0;

            if (r == 0) {
                fprintf(stderr, "loadgen: server closed a connection\n");
                return 1;
            }
            if (r < 0)
                continue;
            for (ssize_t q = 0; q < r; q++)
                lines += buf[q] == '\n';
            counted += lines;
            for (unsigned q = 0; q < lines; q++)
                if (send_all(fd, reqbuf, req_len) < 0)
                    return 1;
        }
    }
    {
        double dt = now_s() - t_counted_from;
        printf("%llu %.3f %.0f\n", (unsigned long long)counted, dt, (double)counted / dt);
    }
    return 0;
}
