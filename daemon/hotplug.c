/* hotplug.c - see hotplug.h. */
#include "hotplug.h"

#include <errno.h>
#include <libudev.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "log.h"
#include "picod.h"

typedef struct hotplug {
    picod_t *pd;
    struct udev *udev;
    struct udev_monitor *mon;
    uv_poll_t poll;
} hotplug_t;

/* Is this tty a board we serve? The udev rule's property, else the USB vendor id. */
static bool hotplug_is_board(struct udev_device *dev)
{
    const char *v = udev_device_get_property_value(dev, "PICOD_BOARD");
    struct udev_device *usb;

    if (v && strcmp(v, "1") == 0)
        return true;
    v = udev_device_get_property_value(dev, "ID_VENDOR_ID");
    if (v && strcasecmp(v, "2e8a") == 0)
        return true;
    usb = udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device");
    v = usb ? udev_device_get_sysattr_value(usb, "idVendor") : NULL;
    return v && strcasecmp(v, "2e8a") == 0;
}

static void hotplug_device(hotplug_t *hp, struct udev_device *dev, const char *action)
{
    const char *node = udev_device_get_devnode(dev);
    board_t *b;

    if (!node)
        return;
    if (strcmp(action, "remove") == 0) {
        b = picod_board_by_path(hp->pd, node);
        if (b) {
            log_info("%s: removed by udev", node);
            picod_remove_board(hp->pd, b);
        }
        return;
    }
    if ((strcmp(action, "add") == 0 || strcmp(action, "change") == 0) && hotplug_is_board(dev) &&
        !picod_board_by_path(hp->pd, node)) {
        log_info("%s: found by udev", node);
        picod_add_board(hp->pd, node);
    }
}

static void hotplug_poll_cb(uv_poll_t *p, int status, int events)
{
    hotplug_t *hp = p->data;
    struct udev_device *dev;

    if (status < 0 || !(events & UV_READABLE))
        return;
    /* Drain: the monitor socket may hold several events. */
    while ((dev = udev_monitor_receive_device(hp->mon)) != NULL) {
        const char *action = udev_device_get_action(dev);

        if (action)
            hotplug_device(hp, dev, action);
        udev_device_unref(dev);
    }
}

static void hotplug_enumerate(hotplug_t *hp)
{
    struct udev_enumerate *en = udev_enumerate_new(hp->udev);
    struct udev_list_entry *e;

    if (!en)
        return;
    udev_enumerate_add_match_subsystem(en, "tty");
    udev_enumerate_scan_devices(en);
    udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en))
    {
        struct udev_device *dev =
            udev_device_new_from_syspath(hp->udev, udev_list_entry_get_name(e));

        if (dev) {
            hotplug_device(hp, dev, "add");
            udev_device_unref(dev);
        }
    }
    udev_enumerate_unref(en);
}

static void hotplug_free(hotplug_t *hp)
{
    if (hp->mon)
        udev_monitor_unref(hp->mon);
    if (hp->udev)
        udev_unref(hp->udev);
    free(hp);
}

int hotplug_start(picod_t *pd)
{
    hotplug_t *hp = calloc(1, sizeof(*hp));

    if (!hp)
        return -ENOMEM;
    hp->pd = pd;
    hp->udev = udev_new();
    if (!hp->udev)
        goto fail;
    hp->mon = udev_monitor_new_from_netlink(hp->udev, "udev");
    if (!hp->mon || udev_monitor_filter_add_match_subsystem_devtype(hp->mon, "tty", NULL) < 0 ||
        udev_monitor_enable_receiving(hp->mon) < 0)
        goto fail;
    if (uv_poll_init(pd->loop, &hp->poll, udev_monitor_get_fd(hp->mon)) < 0)
        goto fail;
    hp->poll.data = hp;
    uv_poll_start(&hp->poll, UV_READABLE, hotplug_poll_cb);
    pd->hotplug = hp;
    /* Monitor first, then enumerate: a board plugged in between is seen at least once
     * (picod_add_board ignores a path it already serves). */
    hotplug_enumerate(hp);
    log_info("udev: watching ttys");
    return 0;
fail:
    log_err("udev: cannot set up the monitor");
    hotplug_free(hp);
    return -EIO;
}

static void hotplug_closed_cb(uv_handle_t *h)
{
    hotplug_free(h->data);
}

void hotplug_stop(void *p)
{
    hotplug_t *hp = p;

    if (!hp)
        return;
    hp->pd->hotplug = NULL;
    uv_close((uv_handle_t *)&hp->poll, hotplug_closed_cb);
}
