/*
 * ctl_doctor_sys.h - what `picoctl doctor` looks at on the machine itself, without picod: the
 * Raspberry Pi USB devices udev knows (an lsusb-level view with their ttys), which processes
 * hold a tty open (as fuser(1) finds them: /proc/PID/fd), whether a process runs (by its
 * /proc/PID/comm), and where udev would read a rules file from.
 *
 * Plain data out, no printing; every function returns 0 or a negative errno.
 */
#ifndef PICOCTL_CTL_DOCTOR_SYS_H
#define PICOCTL_CTL_DOCTOR_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define DOCTOR_USB_MAX    32
#define DOCTOR_HOLDER_MAX 8

/* One USB device of vendor 2e8a (Raspberry Pi) and the tty of its interface 00, if any. */
typedef struct doctor_usb {
    char port[32];         /* sysfs name of the device, e.g. "1-1.4" */
    char vid[8], pid[8];   /* 4 lowercase hex digits, lsusb spelling */
    char manufacturer[64]; /* USB strings ("" when absent) */
    char product[64];
    char serial[64];
    char tty[64];     /* devnode of the tty ("/dev/ttyACM0"), "" when it has none */
    bool picod_board; /* udev property PICOD_BOARD=1 on the tty: our rule marked it */
    bool mm_ignore;   /* udev property ID_MM_DEVICE_IGNORE=1 on the tty */
} doctor_usb_t;

/* Every 2e8a USB device (devtype usb_device) udev knows, in udev's enumeration order, at most
 * cap. Sets *n. Returns 0, or -ENOMEM / -errno when udev cannot be asked. */
int doctor_usb_scan(doctor_usb_t *out, size_t cap, size_t *n);

typedef struct doctor_proc {
    pid_t pid;
    char comm[32]; /* /proc/PID/comm, "?" when unreadable */
} doctor_proc_t;

/* Processes other than this one with path open: a descriptor in /proc/PID/fd whose link is
 * path or what path resolves to (symlinks followed by readlink, so a /dev/pico/<id> link or
 * a test's link to a pty counts). Processes whose fds cannot be read (another user's, without
 * privileges) are not seen. Sets *n (at most cap). Returns 0 or -errno. */
int doctor_holders(const char *path, doctor_proc_t *out, size_t cap, size_t *n);

/* The first process whose comm is name, or 0 when none runs. */
pid_t doctor_proc_find(const char *name);

enum { DOCTOR_RULE_MISSING = 0, DOCTOR_RULE_FOUND = 1, DOCTOR_RULE_MASKED = 2 };

/* Where udev reads rules file name from. udev's search path is systemd 252's
 * CONF_PATHS("udev/rules.d") (src/basic/constants.h): /etc, /run, /usr/local/lib, /usr/lib,
 * and /lib on a split-/usr system; $PICOD_DOCTOR_RULES_DIRS (colon-separated) replaces it, for
 * tests. A file in an earlier directory replaces one of the same name in a later one; one that
 * is a symlink to /dev/null masks the name. Writes the directories searched (", " joined) to
 * searched. Returns DOCTOR_RULE_FOUND (its path in found), DOCTOR_RULE_MASKED (the mask's path
 * in found) or DOCTOR_RULE_MISSING. */
int doctor_rule_find(const char *name, char *found, size_t found_cap, char *searched,
                     size_t searched_cap);

#endif /* PICOCTL_CTL_DOCTOR_SYS_H */
