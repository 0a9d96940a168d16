/*
 * hotplug.h - find boards with libudev: enumerate ttys at start, then follow add/remove.
 *
 * Only our boards. A tty is taken when, from what udev and sysfs say about it (the device
 * is never opened to find out):
 *   - a udev rule marked it PICOD_BOARD=1 (systemd/60-picod.rules marks our firmware; an
 *     administrator's rule may mark more), or
 *   - it is the tty of our firmware's CDC interface: USB 2e8a:5043, bInterfaceNumber 00, or
 *   - its USB vendor:product is in --allow-usb, or its USB serial in --allow-serial.
 * Anything else is left alone: never opened, never written to. Other Raspberry Pi (2e8a)
 * devices (MicroPython's REPL, the Debug Probe, pico-sdk stdio) are logged once per
 * appearance, at info level, with the option that would take them.
 *
 * Add -> picod_add_discovered_board(devnode). Remove -> a discovered board is dropped at once
 * (a removed pty does not hang up, so waiting for EIO is not enough); a board named with
 * --device stays (its link reopens the node when it is back). A node that is an explicit
 * board's path, or one of its udev links, is not added a second time.
 *
 * Monitor failures (POLLERR on the netlink socket, recvmsg ENOBUFS after its receive buffer
 * overflowed in an event storm) lose events: the monitor is re-created and the ttys are
 * enumerated again, which adds what was missed and removes discovered boards whose node is
 * gone (reconcile). Repeated failures back off up to 10 s.
 */
#ifndef PICOD_HOTPLUG_H
#define PICOD_HOTPLUG_H

struct picod;

/* Start; stores the handle in pd->hotplug. Returns 0 or negative errno. */
int hotplug_start(struct picod *pd);

/* Stop and free (asynchronously); pd->hotplug becomes NULL. */
void hotplug_stop(void *hp);

#endif /* PICOD_HOTPLUG_H */
