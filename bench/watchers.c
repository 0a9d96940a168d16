/* watchers.c - N idle watchers on picod's socket, then the delivery latency of one event to all
 * of them. Connects N clients, each sends WATCH_LINE and waits for its answer; prints "ready" and
 * waits for a line on stdin (the driver then makes the board emit the event); from that moment
 * it reads every client until each has a line containing MATCH, and prints
 * "n first p50 p99 max" in microseconds after the go.
 *
 *     watchers SOCKET N WATCH_LINE MATCH
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Reads what fd has; returns 1 when a line containing match has been seen, 0 not yet, -1 closed.
 * Lines split across reads are joined in part (a per-connection carry of up to 64 bytes). */
static int scan(int fd, const char *match, char *carry, size_t *carry_len)
{
    static char buf[1 << 16];
    size_t ml = strlen(match);

    for (;;) {
        ssize_t r;
        size_t off = *carry_len;

        memcpy(buf, carry, off);
        r = read(fd, buf + off, sizeof(buf) - off - 1);
        if (r == 0)
            return -1;
        if (r < 0)
            return errno == EAGAIN ? 0 : -1;
        r += (ssize_t)off;
        buf[r] = 0;
        if (strstr(buf, match))
            return 1;
        *carry_len = (size_t)r < ml ? (size_t)r : ml;
        memcpy(carry, buf + r - (ssize_t)*carry_len, *carry_len);
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct rlimit rl;
    int n, ep, left;
    int *fds;
    double *lat, t0;
    char(*carry)[64];
    size_t *carry_len;
    char line[64];

    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (argc != 5 || strlen(argv[4]) >= 64) {
        fprintf(stderr, "usage: watchers SOCKET N WATCH_LINE MATCH\n");
        return 2;
    }
    n = atoi(argv[2]);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
    fds = calloc((size_t)n, sizeof(*fds));
    lat = calloc((size_t)n, sizeof(*lat));
    carry = calloc((size_t)n, sizeof(*carry));
    carry_len = calloc((size_t)n, sizeof(*carry_len));
    ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        size_t got = 0;
        char ack[4096];

        fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            fprintf(stderr, "watchers: connect %d: %s\n", i, strerror(errno));
            return 1;
        }
        if (write(fds[i], argv[3], strlen(argv[3])) < 0 || write(fds[i], "\n", 1) != 1)
            return 1;
        /* The answer to watch, read blocking: the watcher is set up before the next connects. */
        while (got == 0 || ack[got - 1] != '\n') {
            ssize_t r = read(fds[i], ack + got, sizeof(ack) - got);

            if (r <= 0 || strstr(ack, "\"ok\":false")) {
                fprintf(stderr, "watchers: watch %d refused or closed\n", i);
                return 1;
            }
            got += (size_t)r;
            if (got == sizeof(ack))
                got = 0;
        }
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    printf("ready\n");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 1;
    t0 = now_us();
    left = n;
    while (left > 0) {
        struct epoll_event evs[512];
        int k = epoll_wait(ep, evs, 512, 30000);

        if (k <= 0) {
            fprintf(stderr, "watchers: %d of %d never got the event\n", left, n);
            return 1;
        }
        for (int j = 0; j < k; j++) {
            uint32_t i = evs[j].data.u32;
            int s = scan(fds[i], argv[4], carry[i], &carry_len[i]);

            if (s != 0) {
                if (s > 0)
                    lat[i] = now_us() - t0;
                else
                    lat[i] = -1;
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                left--;
            }
        }
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_d);
    if (lat[0] < 0) {
        fprintf(stderr, "watchers: a connection closed before the event\n");
        return 1;
    }
    printf("%d %.0f %.0f %.0f %.0f\n", n, lat[0], lat[n / 2], lat[(size_t)((double)n * 0.99)],
           lat[n - 1]);
    return 0;
}
