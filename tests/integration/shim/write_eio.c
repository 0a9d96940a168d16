/*
 * write_eio.c - LD_PRELOAD fault injector: a tty write that repeats one of the last
 * SHIM_HISTORY tty writes byte for byte fails with EIO.
 *
 * picod writes each frame to a board's tty as it is queued, and every request has its own
 * seq, so the only repeated writes of a whole frame are retries (same seq, same body).
 * Failing exactly those is what a USB unplug landing just before a retry looks like to
 * picod: the device is gone at the moment the retry is written. Writes to anything but a
 * tty, and short writes (a lone delimiter), pass through untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SHIM_MAX_FD  64
#define SHIM_MAX_LEN 512
#define SHIM_HISTORY 32

typedef ssize_t (*write_fn)(int, const void *, size_t);

static struct {
    unsigned char data[SHIM_HISTORY][SHIM_MAX_LEN];
    size_t len[SHIM_HISTORY];
    unsigned next;
} hist[SHIM_MAX_FD];

static int seen_before(int fd, const void *buf, size_t n)
{
    for (unsigned i = 0; i < SHIM_HISTORY; i++)
        if (hist[fd].len[i] == n && memcmp(hist[fd].data[i], buf, n) == 0)
            return 1;
    return 0;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static write_fn real;
    int saved = errno;

    if (!real)
        real = (write_fn)dlsym(RTLD_NEXT, "write");
    if (fd < 0 || fd >= SHIM_MAX_FD || n <= 4 || n > SHIM_MAX_LEN || !isatty(fd)) {
        errno = saved;
        return real(fd, buf, n);
    }
    if (seen_before(fd, buf, n)) {
        static const char msg[] = "shim: failing a repeated tty write with EIO\n";

        memset(hist[fd].len, 0, sizeof(hist[fd].len)); /* a new device: a new history */
        (void)!real(2, msg, sizeof(msg) - 1);
        errno = EIO;
        return -1;
    }
    memcpy(hist[fd].data[hist[fd].next], buf, n);
    hist[fd].len[hist[fd].next] = n;
    hist[fd].next = (hist[fd].next + 1) % SHIM_HISTORY;
    errno = saved;
    return real(fd, buf, n);
}
