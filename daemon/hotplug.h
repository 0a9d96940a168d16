/*
 * hotplug.h - find boards with libudev: enumerate ttys at start, then follow add/remove.
 *
 * A tty is ours when udev tagged it with PICOD_BOARD=1 (systemd/60-picod.rules) or its USB
 * vendor is 2e8a (Raspberry Pi). Add -> picod_add_board(devnode); remove -> the board is
 * dropped at once (a removed pty does not hang up, so waiting for EIO is not enough).
 */
#ifndef PICOD_HOTPLUG_H
#define PICOD_HOTPLUG_H

struct picod;

/* Start; stores the handle in pd->hotplug. Returns 0 or negative errno. */
int hotplug_start(struct picod *pd);

/* Stop and free (asynchronously); pd->hotplug becomes NULL. */
void hotplug_stop(void *hp);

#endif /* PICOD_HOTPLUG_H */
