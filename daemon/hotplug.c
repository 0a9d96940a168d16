/* hotplug.c - see hotplug.h. */
#include "hotplug.h"

#include <ctype.h>
#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "log.h"
#include "picod.h"

#define HOTPLUG_VID_RPI      0x2e8a /* Raspberry Pi */
#define HOTPLUG_PID_PICOD    0x5043 /* our firmware (docs/USB.md) */
#define HOTPLUG_IF_PICOD     "00"   /* its CDC communications interface, parent of the tty */
#define HOTPLUG_RCVBUF       (8 * 1024 * 1024)
#define HOTPLUG_MAX_NOTED    64 /* foreign devices remembered as already logged */
#define HOTPLUG_SYSPATH_MAX  256
#define HOTPLUG_RETRY_MIN_MS 100
#define HOTPLUG_RETRY_MAX_MS 10000

typedef struct hotplug {
    picod_t *pd;
    struct udev *udev;
    struct udev_monitor *mon; /* NULL while it is being re-created */
    uv_poll_t poll;           /* on the monitor's fd while poll_live */
    uv_timer_t retry;         /* re-creates a failed monitor */
    bool poll_live;
    bool stopping;
    int open_handles;
    bool has_failed;
    uint64_t failed_at_ms;
    uint32_t retry_ms; /* delay of the next re-creation: 0 unless failures repeat */
    /* Syspaths of foreign ttys already logged: each appearance is logged once. */
    char noted[HOTPLUG_MAX_NOTED][HOTPLUG_SYSPATH_MAX];
    bool noted_seen[HOTPLUG_MAX_NOTED]; /* marks for the sweep after an enumeration */
    size_t noted_next;
} hotplug_t;

/* What udev and sysfs say about a tty's USB identity. Strings borrowed from the device. */
typedef struct hotplug_ident {
    bool usb; /* vid and pid known */
    unsigned vid, pid;
    const char *ifnum; /* bInterfaceNumber of the tty's interface ("00") or NULL */
    const char *serial, *serial_short, *product;
    bool marked; /* PICOD_BOARD=1 from a udev rule */
} hotplug_ident_t;

static void hotplug_poll_cb(uv_poll_t *p, int status, int events);

/* A sysfs attribute of parent, else the udev property of dev (enumerated devices carry
 * udev's properties; events from some senders carry only the basic ones). */
static const char *hotplug_value(struct udev_device *parent, const char *attr,
                                 struct udev_device *dev, const char *prop)
{
    const char *v = parent ? udev_device_get_sysattr_value(parent, attr) : NULL;

    return v ? v : udev_device_get_property_value(dev, prop);
}

static bool hotplug_hex16(const char *s, unsigned *out)
{
    char *end;
    unsigned long v;

    if (!s || !isxdigit((unsigned char)s[0]))
        return false;
    v = strtoul(s, &end, 16);
    if (*end || v > 0xffff)
        return false;
    *out = (unsigned)v;
    return true;
}

static void hotplug_identify(struct udev_device *dev, hotplug_ident_t *id)
{
    struct udev_device *usb =
        udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device");
    struct udev_device *itf =
        udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_interface");
    const char *v = udev_device_get_property_value(dev, "PICOD_BOARD");

    memset(id, 0, sizeof(*id));
    id->marked = v && strcmp(v, "1") == 0;
    id->usb = hotplug_hex16(hotplug_value(usb, "idVendor", dev, "ID_VENDOR_ID"), &id->vid) &&
              hotplug_hex16(hotplug_value(usb, "idProduct", dev, "ID_MODEL_ID"), &id->pid);
    id->ifnum = hotplug_value(itf, "bInterfaceNumber", dev, "ID_USB_INTERFACE_NUM");
    id->serial = hotplug_value(usb, "serial", dev, "ID_SERIAL_SHORT");
    id->serial_short = udev_device_get_property_value(dev, "ID_SERIAL_SHORT");
    id->product = hotplug_value(usb, "product", dev, "ID_MODEL");
}

static bool hotplug_serial_is(const hotplug_ident_t *id, const char *serial)
{
    return (id->serial && strcmp(id->serial, serial) == 0) ||
           (id->serial_short && strcmp(id->serial_short, serial) == 0);
}

/* Is this tty ours to open? *why says why (or why not), for the log. */
static bool hotplug_is_ours(const options_t *o, const hotplug_ident_t *id, const char **why)
{
    bool rpi = id->usb && id->vid == HOTPLUG_VID_RPI;

    if (id->marked) {
        *why = "marked PICOD_BOARD=1 by a udev rule";
        return true;
    }
    if (rpi && id->pid == HOTPLUG_PID_PICOD && id->ifnum &&
        strcmp(id->ifnum, HOTPLUG_IF_PICOD) == 0) {
        *why = "picod firmware";
        return true;
    }
    for (size_t i = 0; id->usb && i < o->n_allow_usb; i++) {
        if (o->allow_usb[i].vid == id->vid && o->allow_usb[i].pid == id->pid) {
            *why = "allowed by --allow-usb";
            return true;
        }
    }
    for (size_t i = 0; i < o->n_allow_serial; i++) {
        if (hotplug_serial_is(id, o->allow_serial[i])) {
            *why = "allowed by --allow-serial";
            return true;
        }
    }
    *why = rpi && id->pid == HOTPLUG_PID_PICOD ? "picod firmware, but not its CDC interface 00"
                                               : "not picod firmware (2e8a:5043)";
    return false;
}

/* A device-provided string, fit for a log line: printable ASCII, bounded. */
static const char *hotplug_clean(const char *s, char *buf, size_t n)
{
    size_t i = 0;

    for (; s && s[i] && i + 1 < n; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

/* Remember syspath as logged; false if it already was (then it is only marked seen). */
static bool hotplug_note(hotplug_t *hp, const char *syspath)
{
    size_t slot;

    for (size_t i = 0; i < HOTPLUG_MAX_NOTED; i++) {
        if (strcmp(hp->noted[i], syspath) == 0) {
            hp->noted_seen[i] = true;
            return false;
        }
    }
    slot = hp->noted_next;
    for (size_t i = 0; i < HOTPLUG_MAX_NOTED; i++) {
        if (!hp->noted[i][0]) {
            slot = i;
            break;
        }
    }
    hp->noted_next = (slot + 1) % HOTPLUG_MAX_NOTED;
    snprintf(hp->noted[slot], HOTPLUG_SYSPATH_MAX, "%s", syspath);
    hp->noted_seen[slot] = true;
    return true;
}

static void hotplug_forget(hotplug_t *hp, const char *syspath)
{
    for (size_t i = 0; syspath && i < HOTPLUG_MAX_NOTED; i++)
        if (strcmp(hp->noted[i], syspath) == 0)
            hp->noted[i][0] = '\0';
}

/* A Raspberry Pi device that is not ours is worth one line: the operator can tell why
 * picod does not serve it and what would make it. (Other vendors' ttys are not news.) */
static void hotplug_leave_alone(hotplug_t *hp, struct udev_device *dev, const char *node,
                                const hotplug_ident_t *id, const char *why)
{
    char product[64], serial[64];
    const char *syspath = udev_device_get_syspath(dev);

    if (syspath && !hotplug_note(hp, syspath))
        return;
    hotplug_clean(id->serial, serial, sizeof(serial));
    log_info("%s: USB %04x:%04x \"%s\" serial %s: %s, left alone (never opened); to serve it: "
             "--allow-usb %04x:%04x%s%s",
             node, id->vid, id->pid, hotplug_clean(id->product, product, sizeof(product)),
             serial[0] ? serial : "(none)", why, id->vid, id->pid,
             serial[0] ? " or --allow-serial " : "", serial);
}

/* Is path one of dev's udev links? Enumerated devices have them from udev's database,
 * events in their DEVLINKS property (space-separated), which is all some senders give. */
static bool hotplug_has_link(struct udev_device *dev, const char *path)
{
    const char *links = udev_device_get_property_value(dev, "DEVLINKS");
    size_t len = strlen(path);
    struct udev_list_entry *e;

    udev_list_entry_foreach(e, udev_device_get_devlinks_list_entry(dev))
    {
        if (strcmp(udev_list_entry_get_name(e), path) == 0)
            return true;
    }
    for (const char *p = links; p && *p; p += strcspn(p, " ")) {
        p += strspn(p, " ");
        if (strncmp(p, path, len) == 0 && (p[len] == ' ' || p[len] == '\0'))
            return true;
    }
    return false;
}

/* Is node (a tty udev reports) the same device as a board given with --device, by its path,
 * one of its udev links (/dev/serial/by-id/..., /dev/pico/...) or its device number (any
 * other link to it)? */
static bool hotplug_is_explicit(hotplug_t *hp, struct udev_device *dev, const char *node)
{
    picod_t *pd = hp->pd;
    dev_t devnum = udev_device_get_devnum(dev);
    struct stat st;

    for (size_t i = 0; i < pd->n_boards; i++) {
        const char *path = pd->boards[i]->link.path;

        if (pd->discovered[i])
            continue;
        if (strcmp(path, node) == 0 || hotplug_has_link(dev, path) ||
            (devnum && stat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == devnum))
            return true;
    }
    return false;
}

/*
 * A tty that is present (enumerated, or added/changed): take it if it is ours. Returns true
 * when it is ours (served now, by a discovered board); false for explicit boards' nodes and
 * devices left alone. The (stat-ing) check for --device aliases runs only for USB ttys that
 * are ours or Raspberry Pi's, not for every console and serial port the system has.
 */
static bool hotplug_consider(hotplug_t *hp, struct udev_device *dev)
{
    const char *node = udev_device_get_devnode(dev), *why;
    hotplug_ident_t id;
    board_t *b;
    bool ours;

    if (!node)
        return false;
    b = picod_board_by_path(hp->pd, node);
    if (b && !picod_board_is_discovered(hp->pd, b))
        return false;
    hotplug_identify(dev, &id);
    ours = hotplug_is_ours(&hp->pd->opt, &id, &why);
    if (!ours && !(id.usb && id.vid == HOTPLUG_VID_RPI)) {
        if (id.usb)
            log_debug("%s: USB %04x:%04x: %s, left alone", node, id.vid, id.pid, why);
        return false;
    }
    if (!b && hotplug_is_explicit(hp, dev, node))
        return false;
    if (!ours) {
        hotplug_leave_alone(hp, dev, node, &id, why);
        return false;
    }
    if (!b) {
        log_info("%s: found by udev (%s)", node, why);
        picod_add_discovered_board(hp->pd, node);
    }
    return true;
}

static void hotplug_removed(hotplug_t *hp, struct udev_device *dev)
{
    const char *node = udev_device_get_devnode(dev);
    board_t *b;

    hotplug_forget(hp, udev_device_get_syspath(dev));
    b = node ? picod_board_by_path(hp->pd, node) : NULL;
    if (!b)
        return;
    if (!picod_board_is_discovered(hp->pd, b)) {
        log_info("%s: removed by udev; kept (given with --device), reopened when it is back", node);
        return;
    }
    log_info("%s: removed by udev", node);
    picod_remove_board(hp->pd, b);
}

static void hotplug_event(hotplug_t *hp, struct udev_device *dev)
{
    const char *action = udev_device_get_action(dev);

    if (!action)
        return;
    if (strcmp(action, "remove") == 0)
        hotplug_removed(hp, dev);
    else if (strcmp(action, "add") == 0 || strcmp(action, "change") == 0)
        hotplug_consider(hp, dev);
}

static bool hotplug_list_has(char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static int hotplug_list_push(char ***list, size_t *n, size_t *cap, const char *s)
{
    char *copy = strdup(s);

    if (!copy)
        return -ENOMEM;
    if (*n == *cap) {
        size_t c = *cap * 2 + 8;
        char **grown = realloc(*list, c * sizeof(*grown));

        if (!grown) {
            free(copy);
            return -ENOMEM;
        }
        *list = grown;
        *cap = c;
    }
    (*list)[(*n)++] = copy;
    return 0;
}

/* After events were lost: discovered boards whose node is no longer one of ours go. */
static void hotplug_reconcile(hotplug_t *hp, char **present, size_t n)
{
    picod_t *pd = hp->pd;

    for (size_t i = pd->n_boards; i-- > 0;) {
        board_t *b = pd->boards[i];

        if (!pd->discovered[i] || hotplug_list_has(present, n, b->link.path))
            continue;
        log_info("%s: gone while udev events were lost", b->link.path);
        picod_remove_board(pd, b);
    }
    /* Foreign devices no longer present may be logged again when they come back. */
    for (size_t i = 0; i < HOTPLUG_MAX_NOTED; i++)
        if (!hp->noted_seen[i])
            hp->noted[i][0] = '\0';
}

/* Take every tty of ours that is present; with reconcile, also drop discovered boards that
 * are not (only when the whole list was read: a partial one would drop boards wrongly). */
static void hotplug_enumerate(hotplug_t *hp, bool reconcile)
{
    struct udev_enumerate *en = udev_enumerate_new(hp->udev);
    struct udev_list_entry *e;
    char **present = NULL;
    size_t n = 0, cap = 0;
    bool complete;

    if (!en)
        return;
    memset(hp->noted_seen, 0, sizeof(hp->noted_seen));
    complete =
        udev_enumerate_add_match_subsystem(en, "tty") >= 0 && udev_enumerate_scan_devices(en) >= 0;
    udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en))
    {
        struct udev_device *dev =
            udev_device_new_from_syspath(hp->udev, udev_list_entry_get_name(e));

        if (!dev)
            continue;
        if (hotplug_consider(hp, dev) && reconcile && complete &&
            hotplug_list_push(&present, &n, &cap, udev_device_get_devnode(dev)) < 0)
            complete = false;
        udev_device_unref(dev);
    }
    udev_enumerate_unref(en);
    if (reconcile && complete)
        hotplug_reconcile(hp, present, n);
    for (size_t i = 0; i < n; i++)
        free(present[i]);
    free(present);
}

/* A new monitor on the udev netlink socket, polled by hp->poll. Returns 0 or -errno. */
static int hotplug_monitor_open(hotplug_t *hp)
{
    struct udev_monitor *mon = udev_monitor_new_from_netlink(hp->udev, "udev");
    int r;

    if (!mon)
        return -EIO;
    if (udev_monitor_filter_add_match_subsystem_devtype(mon, "tty", NULL) < 0 ||
        udev_monitor_enable_receiving(mon) < 0) {
        udev_monitor_unref(mon);
        return -EIO;
    }
    /* The default buffer overflows (ENOBUFS) when a hub full of boards re-enumerates. The
     * kernel caps the size at net.core.rmem_max without CAP_NET_ADMIN: best effort. */
    if (udev_monitor_set_receive_buffer_size(mon, HOTPLUG_RCVBUF) < 0)
        log_debug("udev: cannot raise the monitor's receive buffer");
    r = uv_poll_init(hp->pd->loop, &hp->poll, udev_monitor_get_fd(mon));
    if (r < 0) {
        udev_monitor_unref(mon);
        return r;
    }
    hp->mon = mon;
    hp->poll.data = hp;
    hp->poll_live = true;
    hp->open_handles++;
    uv_poll_start(&hp->poll, UV_READABLE, hotplug_poll_cb);
    return 0;
}

static void hotplug_free(hotplug_t *hp)
{
    if (hp->mon)
        udev_monitor_unref(hp->mon);
    if (hp->udev)
        udev_unref(hp->udev);
    free(hp);
}

static void hotplug_handle_closed(hotplug_t *hp)
{
    if (--hp->open_handles == 0 && hp->stopping)
        hotplug_free(hp);
}

static uint32_t hotplug_backoff(uint32_t ms)
{
    if (ms < HOTPLUG_RETRY_MIN_MS)
        return HOTPLUG_RETRY_MIN_MS;
    return ms * 2 > HOTPLUG_RETRY_MAX_MS ? HOTPLUG_RETRY_MAX_MS : ms * 2;
}

static void hotplug_retry_cb(uv_timer_t *t)
{
    hotplug_t *hp = t->data;
    int r = hotplug_monitor_open(hp);

    if (r < 0) {
        hp->retry_ms = hotplug_backoff(hp->retry_ms);
        log_warning("udev: cannot re-create the monitor (%s), retrying in %u ms", uv_strerror(r),
                    hp->retry_ms);
        uv_timer_start(&hp->retry, hotplug_retry_cb, hp->retry_ms, 0);
        return;
    }
    log_info("udev: monitor re-created, enumerating ttys again");
    hotplug_enumerate(hp, true);
}

static void hotplug_poll_closed_cb(uv_handle_t *h)
{
    hotplug_t *hp = h->data;

    udev_monitor_unref(hp->mon);
    hp->mon = NULL;
    if (!hp->stopping)
        uv_timer_start(&hp->retry, hotplug_retry_cb, hp->retry_ms, 0);
    hotplug_handle_closed(hp);
}

/* The monitor lost events or broke: libuv has stopped the poll handle (or will report the
 * same again). Replace the monitor; failures in quick succession wait longer each time. */
static void hotplug_monitor_failed(hotplug_t *hp, const char *why)
{
    uint64_t now = uv_now(hp->pd->loop);

    if (!hp->poll_live)
        return;
    hp->retry_ms = hp->has_failed && now - hp->failed_at_ms < HOTPLUG_RETRY_MAX_MS
                       ? hotplug_backoff(hp->retry_ms)
                       : 0;
    hp->has_failed = true;
    hp->failed_at_ms = now;
    log_warning("udev: monitor failed (%s), events may be lost: re-creating it in %u ms and "
                "enumerating ttys again",
                why, hp->retry_ms);
    hp->poll_live = false;
    uv_close((uv_handle_t *)&hp->poll, hotplug_poll_closed_cb);
}

static void hotplug_poll_cb(uv_poll_t *p, int status, int events)
{
    hotplug_t *hp = p->data;
    struct udev_device *dev;

    if (status < 0) {
        /* libuv reports POLLERR (netlink: ENOBUFS pending) as UV_EBADF and stops the handle. */
        hotplug_monitor_failed(hp, "the socket reported an error");
        return;
    }
    if (!(events & UV_READABLE))
        return;
    /* Drain: the monitor socket may hold several events. */
    while ((dev = udev_monitor_receive_device(hp->mon)) != NULL) {
        hotplug_event(hp, dev);
        udev_device_unref(dev);
    }
    /* NULL with ENOBUFS: the receive buffer overflowed and events were dropped. */
    if (errno == ENOBUFS)
        hotplug_monitor_failed(hp, "ENOBUFS: its receive buffer overflowed");
}

static void hotplug_timer_closed_cb(uv_handle_t *h)
{
    hotplug_handle_closed(h->data);
}

int hotplug_start(picod_t *pd)
{
    hotplug_t *hp = calloc(1, sizeof(*hp));

    if (!hp)
        return -ENOMEM;
    hp->pd = pd;
    hp->udev = udev_new();
    if (!hp->udev || hotplug_monitor_open(hp) < 0) {
        log_err("udev: cannot set up the monitor");
        hotplug_free(hp);
        return -EIO;
    }
    uv_timer_init(pd->loop, &hp->retry);
    hp->retry.data = hp;
    hp->open_handles++;
    pd->hotplug = hp;
    /* Monitor first, then enumerate: a board plugged in between is seen at least once
     * (a path already served is not added again). */
    hotplug_enumerate(hp, false);
    log_info("udev: watching ttys");
    return 0;
}

void hotplug_stop(void *p)
{
    hotplug_t *hp = p;

    if (!hp)
        return;
    hp->pd->hotplug = NULL;
    hp->stopping = true;
    uv_close((uv_handle_t *)&hp->retry, hotplug_timer_closed_cb);
    if (hp->poll_live) {
        hp->poll_live = false;
        uv_close((uv_handle_t *)&hp->poll, hotplug_poll_closed_cb);
    }
}
