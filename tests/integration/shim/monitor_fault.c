/*
 * monitor_fault.c - LD_PRELOAD shim for test_hotplug.TestMonitorFailure.
 *
 * What a netlink uevent socket does when its receive buffer overflows in an event storm:
 * the events that did not fit are dropped and the socket reports an error (ENOBUFS), which
 * epoll shows as EPOLLERR and libuv turns into a stopped poll handle with status UV_EBADF.
 * umockdev delivers uevents over a Unix datagram socket that cannot do that, so this shim
 * does it on request: on SIGUSR2 the udev monitor's socket (the fd udev_monitor_get_fd()
 * last returned) loses whatever it holds, and the next epoll_wait reports EPOLLERR on it,
 * once. Nothing else changes: after that the process sees the real system again.
 *
 * Built without sanitizers: it is preloaded into a sanitized picod.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <libudev.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static int shim_mon_fd = -1;
static volatile sig_atomic_t shim_fault;

int udev_monitor_get_fd(struct udev_monitor *m)
{
    static int (*real)(struct udev_monitor *);

    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "udev_monitor_get_fd");
    shim_mon_fd = real(m);
    return shim_mon_fd;
}

static void shim_sigusr2(int sig)
{
    (void)sig;
    shim_fault = 1;
}

__attribute__((constructor)) static void shim_init(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = shim_sigusr2;
    sigaction(SIGUSR2, &sa, NULL);
}

/* The overflow: queued events are lost, the socket reports an error. Returns 1 event. */
static int shim_inject(struct epoll_event *ev, int max)
{
    char buf[8192];

    if (!shim_fault || shim_mon_fd < 0 || max < 1)
        return 0;
    shim_fault = 0;
    while (recv(shim_mon_fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
        ;
    memset(&ev[0], 0, sizeof(ev[0]));
    ev[0].events = EPOLLERR;
    ev[0].data.fd = shim_mon_fd; /* libuv keys its watchers by fd */
    return 1;
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    static int (*real)(int, struct epoll_event *, int, int);
    int n;

    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "epoll_wait");
    n = shim_inject(ev, max);
    if (n)
        return n;
    n = real(epfd, ev, max, timeout);
    if (n < 0 && errno == EINTR && shim_inject(ev, max))
        return 1;
    return n;
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
    static int (*real)(int, struct epoll_event *, int, int, const sigset_t *);
    int n;

    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "epoll_pwait");
    n = shim_inject(ev, max);
    if (n)
        return n;
    n = real(epfd, ev, max, timeout, mask);
    if (n < 0 && errno == EINTR && shim_inject(ev, max))
        return 1;
    return n;
}
