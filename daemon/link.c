/* link.c - see link.h. */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void link_schedule_reopen(link_t *l);
static void link_update_poll(link_t *l);
static void link_poll_cb(uv_poll_t *p, int status, int events);

/* Raw 8N1 at 115200 with no line discipline, so every byte reaches the decoder unchanged.
 * The speed is meaningless on USB CDC and on a pty but harmless. */
static int link_set_raw(int fd)
{
    struct termios t;

    if (tcgetattr(fd, &t) < 0)
        return -errno;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)HUPCL;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    if (tcsetattr(fd, TCSANOW, &t) < 0)
        return -errno;
    return 0;
}

/* Open the tty. Returns an fd or -errno. */
static int link_open_fd(const char *path)
{
    int fd, r, bits = TIOCM_DTR | TIOCM_RTS;

    fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (!isatty(fd)) {
        close(fd);
        return -ENOTTY;
    }
    /* Exclusive: a second picod (or a stray terminal program) gets EBUSY. Emulated ttys
     * (umockdev) refuse the ioctl with ENOTTY: tolerated, as for DTR below. */
    if (ioctl(fd, TIOCEXCL) < 0 && errno != ENOTTY && errno != EINVAL) {
        r = -errno;
        close(fd);
        return r;
    }
    r = link_set_raw(fd);
    if (r < 0) {
        close(fd);
        return r;
    }
    /* CDC-ACM devices (TinyUSB, ours) only send once DTR is asserted; a pty has no modem
     * lines and answers ENOTTY/EINVAL, which is fine. */
    if (ioctl(fd, TIOCMBIS, &bits) < 0 && errno != ENOTTY && errno != EINVAL) {
        r = -errno;
        close(fd);
        return r;
    }
    tcflush(fd, TCIOFLUSH);
    return fd;
}

static void link_reopen_cb(uv_timer_t *t)
{
    link_t *l = t->data;
    static const uint8_t flush = 0x00;
    int fd, r;

    if (l->closing || l->fd >= 0)
        return;
    fd = link_open_fd(l->path);
    if (fd < 0) {
        l->last_errno = -fd;
        l->stats.open_failures++;
        link_schedule_reopen(l);
        return;
    }
    r = uv_poll_init(l->loop, &l->poll, fd);
    if (r < 0) {
        close(fd);
        l->last_errno = EIO;
        l->stats.open_failures++;
        link_schedule_reopen(l);
        return;
    }
    l->poll.data = l;
    l->poll_live = true;
    l->fd = fd;
    l->up = true;
    l->last_errno = 0;
    l->stats.opens++;
    proto_decoder_init(&l->dec);
    l->tx_head = l->tx_len = 0;
    /* A lone delimiter ends whatever partial frame the board may hold from a previous host. */
    memcpy(l->txq, &flush, 1);
    l->tx_len = 1;
    link_update_poll(l);
    if (l->state_cb)
        l->state_cb(l, true);
}

static void link_schedule_reopen(link_t *l)
{
    uint32_t delay = l->backoff_ms;

    if (l->closing)
        return;
    l->backoff_ms = l->backoff_ms * 2 > l->backoff_max_ms ? l->backoff_max_ms : l->backoff_ms * 2;
    uv_timer_start(&l->reopen, link_reopen_cb, delay, 0);
}

static void link_finish_close(link_t *l)
{
    if (--l->pending_closes == 0 && l->close_cb)
        l->close_cb(l);
}

static void link_poll_closed_cb(uv_handle_t *h)
{
    link_t *l = h->data;

    close(l->fd);
    l->fd = -1;
    l->poll_live = false;
    if (l->closing)
        link_finish_close(l);
    else
        link_schedule_reopen(l);
}

/* The device errored or vanished: stop using it, close it, and (unless closing) retry.
 * Called only from the loop's callbacks (and link_close()), never from link_send(). */
static void link_lost(link_t *l, int err)
{
    if (l->failed) {
        l->failed = 0;
        uv_timer_stop(&l->fail);
    }
    if (!l->up)
        return;
    l->up = false;
    l->last_errno = err;
    l->stats.losses++;
    l->tx_len = 0;
    uv_poll_stop(&l->poll);
    if (l->closing)
        l->pending_closes++;
    uv_close((uv_handle_t *)&l->poll, link_poll_closed_cb);
    if (l->state_cb && !l->closing)
        l->state_cb(l, false);
}

static void link_fail_cb(uv_timer_t *t)
{
    link_t *l = t->data;

    if (l->failed)
        link_lost(l, l->failed);
}

/* A loss found inside a call the owner made: remember it and report it from the loop. Until
 * then the link takes no more frames and writes nothing. */
static void link_fail(link_t *l, int err)
{
    if (!l->up || l->failed)
        return;
    l->failed = err;
    l->last_errno = err;
    l->tx_len = 0;
    uv_timer_start(&l->fail, link_fail_cb, 0, 0);
}

void link_reset(link_t *l)
{
    link_fail(l, ECONNRESET);
}

static void link_update_poll(link_t *l)
{
    int events = UV_READABLE | UV_DISCONNECT;

    if (!l->up)
        return;
    if (l->tx_len)
        events |= UV_WRITABLE;
    uv_poll_start(&l->poll, events, link_poll_cb);
}

/* Write as much of the ring as the tty takes. Returns 0 or -errno on a real error. */
static int link_flush(link_t *l)
{
    while (l->tx_len) {
        size_t chunk = LINK_TXQ_SIZE - l->tx_head;
        ssize_t n;

        if (chunk > l->tx_len)
            chunk = l->tx_len;
        n = write(l->fd, l->txq + l->tx_head, chunk);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -errno;
        }
        l->stats.tx_bytes += (uint64_t)n;
        l->tx_head = (l->tx_head + (size_t)n) % LINK_TXQ_SIZE;
        l->tx_len -= (size_t)n;
    }
    l->tx_head = 0;
    return 0;
}

/* Feed received bytes through the decoder; deliver each good frame. */
static void link_feed(link_t *l, const uint8_t *p, size_t n)
{
    while (n && l->up) {
        proto_frame_t f;
        size_t used = 0;
        int r = proto_decoder_feed(&l->dec, p, n, &used, &f);

        if (used == 0 && r == 0)
            break;
        p += used;
        n -= used;
        if (r == 1) {
            l->backoff_ms = LINK_BACKOFF_MIN; /* a board answered: the device is healthy */
            l->frame_cb(l, 1, &f);
        } else if (r == -PROTO_E_VERSION) {
            l->frame_cb(l, r, &f);
        }
    }
}

static int link_read(link_t *l)
{
    uint8_t buf[LINK_RX_CHUNK];

    for (int i = 0; i < LINK_RX_MAX_READ && l->up; i++) {
        ssize_t n = read(l->fd, buf, sizeof(buf));

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -errno;
        }
        if (n == 0)
            return -EPIPE; /* hangup */
        l->stats.rx_bytes += (uint64_t)n;
        link_feed(l, buf, (size_t)n);
    }
    return 0;
}

static void link_poll_cb(uv_poll_t *p, int status, int events)
{
    link_t *l = p->data;
    int r = 0;

    if (status < 0) {
        link_lost(l, EIO);
        return;
    }
    if (l->failed) {
        link_lost(l, l->failed);
        return;
    }
    if (events & UV_READABLE)
        r = link_read(l);
    if (r == 0 && l->up && (events & UV_WRITABLE))
        r = link_flush(l);
    if (r == 0 && l->up && (events & UV_DISCONNECT) && !(events & UV_READABLE))
        r = -EPIPE;
    if (r < 0) {
        link_lost(l, -r);
        return;
    }
    link_update_poll(l);
}

int link_init(link_t *l, uv_loop_t *loop, const char *path, uint32_t backoff_max_ms,
              link_frame_cb frame_cb, link_state_cb state_cb, void *data)
{
    int r;

    memset(l, 0, sizeof(*l));
    if (strlen(path) >= sizeof(l->path))
        return UV_ENAMETOOLONG;
    memcpy(l->path, path, strlen(path) + 1);
    l->loop = loop;
    l->fd = -1;
    l->frame_cb = frame_cb;
    l->state_cb = state_cb;
    l->data = data;
    l->backoff_ms = LINK_BACKOFF_MIN;
    l->backoff_max_ms = backoff_max_ms < LINK_BACKOFF_MIN ? LINK_BACKOFF_MIN : backoff_max_ms;
    proto_decoder_init(&l->dec);
    r = uv_timer_init(loop, &l->reopen);
    if (r < 0)
        return r;
    l->reopen.data = l;
    r = uv_timer_init(loop, &l->fail);
    if (r < 0)
        return r; /* link_close() still closes the reopen timer */
    l->fail.data = l;
    l->fail_live = true;
    uv_timer_start(&l->reopen, link_reopen_cb, 0, 0);
    return 0;
}

int link_send(link_t *l, uint8_t type, uint16_t seq, const uint8_t *body, size_t len)
{
    uint8_t frame[PROTO_MAX_FRAME];
    size_t tail;
    int n, r;

    if (len > PROTO_MAX_BODY)
        return -EINVAL;
    if (!l->up || l->failed)
        return -ENOTCONN;
    n = proto_frame_encode(frame, sizeof(frame), type, seq, body, len);
    if (n < 0)
        return -EINVAL;
    if (l->tx_len + (size_t)n > LINK_TXQ_SIZE) {
        l->stats.tx_overflows++;
        return -ENOBUFS;
    }
    tail = (l->tx_head + l->tx_len) % LINK_TXQ_SIZE;
    for (int i = 0; i < n; i++)
        l->txq[(tail + (size_t)i) % LINK_TXQ_SIZE] = frame[i];
    l->tx_len += (size_t)n;
    l->stats.tx_frames++;
    r = link_flush(l);
    if (r < 0) {
        link_fail(l, -r); /* the owner hears of it from the loop, not from inside this call */
        return -ENOTCONN;
    }
    link_update_poll(l);
    return 0;
}

static void link_timer_closed_cb(uv_handle_t *h)
{
    link_finish_close(h->data);
}

void link_close(link_t *l, link_close_cb cb)
{
    if (l->closing)
        return;
    l->close_cb = cb;
    l->closing = true;
    l->pending_closes = 1;
    uv_close((uv_handle_t *)&l->reopen, link_timer_closed_cb);
    if (l->up) {
        link_lost(l, ECANCELED);
    } else if (l->poll_live) {
        /* A close started by link_lost() is still in flight: wait for it too. */
        l->pending_closes++;
    }
    if (l->fail_live) {
        l->pending_closes++;
        uv_close((uv_handle_t *)&l->fail, link_timer_closed_cb);
    }
}
