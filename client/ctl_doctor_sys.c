/*
 * ctl_doctor_sys.c - the machine-side views of `picoctl doctor` (see ctl_doctor_sys.h).
 */
#include "ctl_doctor_sys.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOCTOR_LINKS_MAX 8

static void doctor_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static bool doctor_prop_is_1(struct udev_device *d, const char *key)
{
    const char *v = udev_device_get_property_value(d, key);

    return v && !strcmp(v, "1");
}

/* The tty whose USB device is usb: the one on interface 00 if there is one, else any. */
static void doctor_usb_tty(struct udev *u, struct udev_device *usb, doctor_usb_t *o)
{
    struct udev_enumerate *e = udev_enumerate_new(u);
    struct udev_list_entry *it;
    bool have00 = false;

    if (!e)
        return;
    udev_enumerate_add_match_subsystem(e, "tty");
    udev_enumerate_scan_devices(e);
    udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e))
    {
        struct udev_device *t = udev_device_new_from_syspath(u, udev_list_entry_get_name(it));
        struct udev_device *dev, *intf;
        const char *num;

        if (!t)
            continue;
        dev = udev_device_get_parent_with_subsystem_devtype(t, "usb", "usb_device");
        intf = udev_device_get_parent_with_subsystem_devtype(t, "usb", "usb_interface");
        num = intf ? udev_device_get_sysattr_value(intf, "bInterfaceNumber") : NULL;
        if (dev && !strcmp(udev_device_get_syspath(dev), udev_device_get_syspath(usb)) &&
            udev_device_get_devnode(t) && !have00) {
            have00 = num && !strcmp(num, "00");
            doctor_copy(o->tty, sizeof(o->tty), udev_device_get_devnode(t));
            o->picod_board = doctor_prop_is_1(t, "PICOD_BOARD");
            o->mm_ignore = doctor_prop_is_1(t, "ID_MM_DEVICE_IGNORE");
        }
        udev_device_unref(t);
    }
    udev_enumerate_unref(e);
}

static void doctor_usb_fill(struct udev *u, struct udev_device *d, doctor_usb_t *o)
{
    memset(o, 0, sizeof(*o));
    doctor_copy(o->port, sizeof(o->port), udev_device_get_sysname(d));
    doctor_copy(o->vid, sizeof(o->vid), udev_device_get_sysattr_value(d, "idVendor"));
    doctor_copy(o->pid, sizeof(o->pid), udev_device_get_sysattr_value(d, "idProduct"));
    doctor_copy(o->manufacturer, sizeof(o->manufacturer),
                udev_device_get_sysattr_value(d, "manufacturer"));
    doctor_copy(o->product, sizeof(o->product), udev_device_get_sysattr_value(d, "product"));
    doctor_copy(o->serial, sizeof(o->serial), udev_device_get_sysattr_value(d, "serial"));
    for (char *p = o->pid; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    doctor_usb_tty(u, d, o);
}

int doctor_usb_scan(doctor_usb_t *out, size_t cap, size_t *n)
{
    struct udev *u = udev_new();
    struct udev_enumerate *e = u ? udev_enumerate_new(u) : NULL;
    struct udev_list_entry *it;
    size_t k = 0;

    if (!e) {
        udev_unref(u);
        return -ENOMEM;
    }
    udev_enumerate_add_match_subsystem(e, "usb");
    udev_enumerate_add_match_sysattr(e, "idVendor", "2e8a");
    udev_enumerate_scan_devices(e);
    udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e))
    {
        struct udev_device *d = udev_device_new_from_syspath(u, udev_list_entry_get_name(it));
        const char *type = d ? udev_device_get_devtype(d) : NULL;

        if (type && !strcmp(type, "usb_device") && k < cap)
            doctor_usb_fill(u, d, &out[k++]);
        udev_device_unref(d);
    }
    udev_enumerate_unref(e);
    udev_unref(u);
    *n = k;
    return 0;
}

/* path and what it resolves to, one readlink at a time (relative links resolved against the
 * link's directory). Returns the number of names written. */
static size_t doctor_link_chain(const char *path, char names[][256], size_t cap)
{
    size_t n = 0;

    doctor_copy(names[n++], sizeof(names[0]), path);
    while (n < cap) {
        char target[256];
        ssize_t len = readlink(names[n - 1], target, sizeof(target) - 1);
        const char *slash;

        if (len <= 0)
            break;
        target[len] = '\0';
        slash = strrchr(names[n - 1], '/');
        if (target[0] != '/' && slash) { /* relative to the link's directory */
            size_t dirlen = (size_t)(slash - names[n - 1]) + 1;

            if (dirlen + (size_t)len >= sizeof(names[0]))
                break;
            memcpy(names[n], names[n - 1], dirlen);
            memcpy(names[n] + dirlen, target, (size_t)len + 1);
        } else {
            doctor_copy(names[n], sizeof(names[0]), target);
        }
        n++;
    }
    return n;
}

/* A /proc entry that is a process: its pid, else 0. */
static pid_t doctor_pid_of(const char *s)
{
    char *end;
    long v;

    if (!isdigit((unsigned char)*s))
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno || *end || v <= 0 ? 0 : (pid_t)v;
}

static void doctor_comm(pid_t pid, char *out, size_t cap)
{
    char path[64];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    doctor_copy(out, cap, "?");
    f = fopen(path, "re");
    if (!f)
        return;
    if (fgets(out, (int)cap, f))
        out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* Does process pid have one of names open? */
static bool doctor_pid_holds(pid_t pid, char names[][256], size_t n)
{
    char dir[64];
    struct dirent *fd;
    bool held = false;
    DIR *d;

    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    d = opendir(dir);
    if (!d)
        return false;
    while (!held && (fd = readdir(d))) {
        char link[320], target[256];
        ssize_t len;

        if (fd->d_name[0] == '.')
            continue;
        snprintf(link, sizeof(link), "%s/%s", dir, fd->d_name);
        len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        for (size_t i = 0; i < n && !held; i++)
            held = !strcmp(target, names[i]);
    }
    closedir(d);
    return held;
}

int doctor_holders(const char *path, doctor_proc_t *out, size_t cap, size_t *n)
{
    char names[DOCTOR_LINKS_MAX][256];
    size_t nn = doctor_link_chain(path, names, DOCTOR_LINKS_MAX), k = 0;
    struct dirent *p;
    DIR *d = opendir("/proc");

    if (!d)
        return -errno;
    while ((p = readdir(d)) && k < cap) {
        pid_t pid = doctor_pid_of(p->d_name);

        if (!pid || !doctor_pid_holds(pid, names, nn))
            continue;
        if (pid == getpid())
            continue;
        out[k].pid = pid;
        doctor_comm(pid, out[k].comm, sizeof(out[k].comm));
        k++;
    }
    closedir(d);
    *n = k;
    return 0;
}

/* A zombie (exited, not yet reaped) keeps its comm but runs no more. */
static bool doctor_is_zombie(pid_t pid)
{
    char path[64], buf[256];
    const char *paren;
    FILE *f;
    bool z = false;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return true; /* gone meanwhile */
    if (fgets(buf, sizeof(buf), f) && (paren = strrchr(buf, ')')))
        z = paren[1] == ' ' && paren[2] == 'Z';
    fclose(f);
    return z;
}

pid_t doctor_proc_find(const char *name)
{
    struct dirent *p;
    pid_t found = 0;
    DIR *d = opendir("/proc");

    if (!d)
        return 0;
    while (!found && (p = readdir(d))) {
        pid_t pid = doctor_pid_of(p->d_name);
        char comm[32];

        if (!pid)
            continue;
        doctor_comm(pid, comm, sizeof(comm));
        if (!strcmp(comm, name) && !doctor_is_zombie(pid))
            found = pid;
    }
    closedir(d);
    return found;
}

static const char doctor_rules_dirs[] =
    "/etc/udev/rules.d:/run/udev/rules.d:/usr/local/lib/udev/rules.d:/usr/lib/udev/rules.d:"
    "/lib/udev/rules.d";

int doctor_rule_find(const char *name, char *found, size_t found_cap, char *searched,
                     size_t searched_cap)
{
    const char *env = getenv("PICOD_DOCTOR_RULES_DIRS");
    const char *dirs = env && *env ? env : doctor_rules_dirs;
    size_t used = 0;

    searched[0] = '\0';
    for (const char *p = dirs; *p;) {
        size_t len = strcspn(p, ":");
        char path[512], target[64];
        struct stat st;
        ssize_t tl;

        snprintf(path, sizeof(path), "%.*s/%s", (int)len, p, name);
        if (used < searched_cap)
            used += (size_t)snprintf(searched + used, searched_cap - used, "%s%.*s",
                                     used ? ", " : "", (int)len, p);
        p += len + (p[len] == ':');
        if (lstat(path, &st) < 0)
            continue;
        doctor_copy(found, found_cap, path);
        tl = readlink(path, target, sizeof(target) - 1);
        if (tl > 0 && (target[tl] = '\0', !strcmp(target, "/dev/null")))
            return DOCTOR_RULE_MASKED;
        return DOCTOR_RULE_FOUND;
    }
    return DOCTOR_RULE_MISSING;
}
