/* options.c - see options.h. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PICOD_HAVE_INIH
#include <ini.h>
#endif

#include "log.h"

#ifndef PICOD_VERSION
#define PICOD_VERSION "0.0.0"
#endif

void options_defaults(options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->heartbeat_ms = 1000;
    o->poll_ms = 2000;
    o->request_timeout_ms = 500;
    o->stale_misses = 3;
    o->offline_misses = 8;
    o->host_timeout_ms = 5000;
    o->reopen_max_ms = 5000;
    o->max_clients = 256;
    o->client_out_max = 1024 * 1024;
    o->out_budget = 16 * 1024 * 1024;
    o->client_requests_max = 8;
    o->history_events = 10000;
    o->history_readings = 43200;            /* 24 h at the default 2 s poll */
    o->history_budget = 8u * 1024u * 1024u; /* 8 one-day rings of 24-byte samples */
    o->log_level = LOG_LEVEL_INFO;
}

static void options_usage(FILE *f)
{
    fprintf(f, "usage: picod [OPTIONS]\n"
               "Serve RP2040 picod boards on a Unix socket (JSON lines, see docs/API.md).\n\n"
               "  -d, --device PATH        tty of a board (repeatable)\n"
               "  -u, --udev               find boards with udev: picod firmware (2e8a:5043)\n"
               "                           and ttys a udev rule marked PICOD_BOARD=1\n"
               "      --allow-usb VID:PID  udev: also take this USB device (repeatable)\n"
               "      --allow-serial SERIAL  udev: also take the device with this USB serial\n"
               "  -s, --socket PATH        socket path (default $PICOD_SOCKET,\n"
               "                           $RUNTIME_DIRECTORY/picod.sock, /run/picod/picod.sock)\n"
               "  -c, --config FILE        INI file, section [picod], keys = long options\n"
               "      --heartbeat-ms N     heartbeat period (default 1000)\n"
               "      --poll-ms N          sensor/state poll period (default 2000)\n"
               "      --request-timeout-ms N  per attempt, one retry (default 500)\n"
               "      --stale-misses N     heartbeats missed before stale (default 3)\n"
               "      --offline-misses N   heartbeats missed before offline (default 8)\n"
               "      --host-timeout-ms N  board's host watchdog, sent in HELLO (default 5000)\n"
               "      --max-clients N      (default 256)\n"
               "      --client-out-max N   bytes queued to a client before dropping it (1 MiB)\n"
               "      --out-budget N       bytes queued to all clients together (16 MiB)\n"
               "      --client-requests-max N  board requests outstanding per client (8)\n"
               "      --actuate-group GROUP  may act (led, i2c, poll, reboot) besides root and\n"
               "                           picod's own user (default: nobody else)\n"
               "      --history-events N   events held for watch \"since\" (10000)\n"
               "      --history-readings N readings held per board and sensor (43200)\n"
               "      --history-budget N   bytes of all reading histories together (8 MiB)\n"
               "  -v, --verbose            more logging (repeatable)\n"
               "  -q, --quiet              warnings and errors only\n"
               "  -h, --help, -V, --version\n");
}

static int options_u32(const char *name, const char *val, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(val, &end, 10);
    if (errno || end == val || *end || val[0] == '-' || v < min || v > max) {
        fprintf(stderr, "picod: %s: expected an integer %u..%u, got '%s'\n", name, min, max, val);
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

static int options_copy_path(const char *name, const char *val, char *dst)
{
    if (strlen(val) == 0 || strlen(val) >= OPTIONS_PATH_MAX) {
        fprintf(stderr, "picod: %s: path empty or longer than %d bytes\n", name,
                OPTIONS_PATH_MAX - 1);
        return -EINVAL;
    }
    memcpy(dst, val, strlen(val) + 1);
    return 0;
}

static int options_add_device(options_t *o, const char *val)
{
    if (o->n_devices >= OPTIONS_MAX_DEVICES) {
        fprintf(stderr, "picod: at most %d --device options\n", OPTIONS_MAX_DEVICES);
        return -EINVAL;
    }
    if (options_copy_path("device", val, o->devices[o->n_devices]) < 0)
        return -EINVAL;
    o->n_devices++;
    return 0;
}

/* "vvvv:pppp", four hex digits each, as lsusb prints it. */
static int options_parse_usb_id(const char *s, size_t n, options_usb_id_t *out)
{
    char buf[10];

    if (n != 9)
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (i == 4 ? buf[i] != ':' : !isxdigit((unsigned char)buf[i]))
            return -EINVAL;
    out->vid = (uint16_t)strtoul(buf, NULL, 16);
    out->pid = (uint16_t)strtoul(buf + 5, NULL, 16);
    return 0;
}

/* One allow-list entry (n bytes at s, not NUL-terminated). */
static int options_add_allowed_one(options_t *o, const char *key, const char *s, size_t n)
{
    bool usb = strcmp(key, "allow-usb") == 0;

    if ((usb ? o->n_allow_usb : o->n_allow_serial) >= OPTIONS_MAX_ALLOW) {
        fprintf(stderr, "picod: %s: at most %d entries\n", key, OPTIONS_MAX_ALLOW);
        return -EINVAL;
    }
    if (usb) {
        if (options_parse_usb_id(s, n, &o->allow_usb[o->n_allow_usb]) < 0) {
            fprintf(stderr, "picod: %s: expected VID:PID in hex (e.g. 2e8a:0005), got '%.*s'\n",
                    key, (int)n, s);
            return -EINVAL;
        }
        o->n_allow_usb++;
        return 0;
    }
    if (n >= OPTIONS_SERIAL_MAX) {
        fprintf(stderr, "picod: %s: a USB serial has at most %d bytes\n", key,
                OPTIONS_SERIAL_MAX - 1);
        return -EINVAL;
    }
    memcpy(o->allow_serial[o->n_allow_serial], s, n);
    o->allow_serial[o->n_allow_serial++][n] = '\0';
    return 0;
}

/* --allow-usb / --allow-serial. A value may list several entries separated by commas or
 * blanks, so one config line ("allow-usb = 2e8a:0005, 2e8a:000a") can name them all. */
static int options_add_allowed(options_t *o, const char *key, const char *val)
{
    const char *p = val;
    int added = 0;

    for (;;) {
        size_t n;

        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (n == 0)
            break;
        if (options_add_allowed_one(o, key, p, n) < 0)
            return -EINVAL;
        added++;
        p += n;
    }
    if (added == 0) {
        fprintf(stderr, "picod: %s: empty value\n", key);
        return -EINVAL;
    }
    return 0;
}

/* One setting by its long name; shared by the command line and the config file. */
static int options_set(options_t *o, const char *key, const char *val)
{
    static const struct {
        const char *key;
        size_t off;
        uint32_t min, max;
    } nums[] = {
        {"heartbeat-ms", offsetof(options_t, heartbeat_ms), 50, 600000},
        {"poll-ms", offsetof(options_t, poll_ms), 50, 3600000},
        {"request-timeout-ms", offsetof(options_t, request_timeout_ms), 10, 60000},
        {"stale-misses", offsetof(options_t, stale_misses), 1, 1000},
        {"offline-misses", offsetof(options_t, offline_misses), 2, 10000},
        {"host-timeout-ms", offsetof(options_t, host_timeout_ms), 0, 65535},
        {"max-clients", offsetof(options_t, max_clients), 1, 100000},
        {"client-out-max", offsetof(options_t, client_out_max), 4096, 1u << 30},
        {"out-budget", offsetof(options_t, out_budget), 4096, 1u << 30},
        {"client-requests-max", offsetof(options_t, client_requests_max), 1, 1024},
        {"history-events", offsetof(options_t, history_events), 1, 10000000},
        {"history-readings", offsetof(options_t, history_readings), 1, 100000000},
        {"history-budget", offsetof(options_t, history_budget), 0, 4000u << 20},
    };

    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (strcmp(key, nums[i].key) == 0)
            return options_u32(key, val, nums[i].min, nums[i].max,
                               (uint32_t *)((char *)o + nums[i].off));
    if (strcmp(key, "actuate-group") == 0) {
        if (strlen(val) >= sizeof(o->actuate_group)) {
            fprintf(stderr, "picod: actuate-group: name longer than %zu bytes\n",
                    sizeof(o->actuate_group) - 1);
            return -EINVAL;
        }
        memcpy(o->actuate_group, val, strlen(val) + 1);
        return 0;
    }
    if (strcmp(key, "device") == 0)
        return options_add_device(o, val);
    if (strcmp(key, "socket") == 0)
        return options_copy_path(key, val, o->socket_path);
    if (strcmp(key, "allow-usb") == 0 || strcmp(key, "allow-serial") == 0)
        return options_add_allowed(o, key, val);
    if (strcmp(key, "udev") == 0) {
        o->udev = strcmp(val, "1") == 0 || strcmp(val, "yes") == 0 || strcmp(val, "true") == 0;
        return 0;
    }
    if (strcmp(key, "log-level") == 0) {
        uint32_t lvl;
        if (options_u32(key, val, 0, 7, &lvl) < 0)
            return -EINVAL;
        o->log_level = (int)lvl;
        return 0;
    }
    fprintf(stderr, "picod: unknown setting '%s'\n", key);
    return -EINVAL;
}

#ifdef PICOD_HAVE_INIH
static int options_ini_cb(void *user, const char *section, const char *name, const char *value)
{
    char key[64];

    if (strcmp(section, "picod") != 0) {
        fprintf(stderr, "picod: config: unknown section [%s]\n", section);
        return 0;
    }
    /* actuate_group and actuate-group are the same key. */
    snprintf(key, sizeof(key), "%s", name);
    for (char *p = key; *p; p++)
        if (*p == '_')
            *p = '-';
    return options_set(user, key, value) == 0;
}

int options_load_file(options_t *o, const char *path)
{
    int r = ini_parse(path, options_ini_cb, o);

    if (r == -1) {
        fprintf(stderr, "picod: config %s: %s\n", path, strerror(errno));
        return -errno;
    }
    if (r != 0) {
        fprintf(stderr, "picod: config %s: error on line %d\n", path, r);
        return -EINVAL;
    }
    return 0;
}
#else
int options_load_file(options_t *o, const char *path)
{
    (void)o;
    fprintf(stderr, "picod: config %s: built without inih\n", path);
    return -ENOTSUP;
}
#endif

enum { OPT_FIRST_LONG = 1000 };

int options_parse(options_t *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"device", required_argument, NULL, 'd'},
        {"udev", no_argument, NULL, 'u'},
        {"socket", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"heartbeat-ms", required_argument, NULL, OPT_FIRST_LONG},
        {"poll-ms", required_argument, NULL, OPT_FIRST_LONG},
        {"request-timeout-ms", required_argument, NULL, OPT_FIRST_LONG},
        {"stale-misses", required_argument, NULL, OPT_FIRST_LONG},
        {"offline-misses", required_argument, NULL, OPT_FIRST_LONG},
        {"host-timeout-ms", required_argument, NULL, OPT_FIRST_LONG},
        {"max-clients", required_argument, NULL, OPT_FIRST_LONG},
        {"client-out-max", required_argument, NULL, OPT_FIRST_LONG},
        {"allow-usb", required_argument, NULL, OPT_FIRST_LONG},
        {"allow-serial", required_argument, NULL, OPT_FIRST_LONG},
        {"out-budget", required_argument, NULL, OPT_FIRST_LONG},
        {"client-requests-max", required_argument, NULL, OPT_FIRST_LONG},
        {"actuate-group", required_argument, NULL, OPT_FIRST_LONG},
        {"history-events", required_argument, NULL, OPT_FIRST_LONG},
        {"history-readings", required_argument, NULL, OPT_FIRST_LONG},
        {"history-budget", required_argument, NULL, OPT_FIRST_LONG},
        {NULL, 0, NULL, 0},
    };
    int c, idx, r = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:us:c:vqhV", longopts, &idx)) != -1) {
        switch (c) {
        case 'd':
            r = options_add_device(o, optarg);
            break;
        case 'u':
            o->udev = true;
            break;
        case 's':
            r = options_copy_path("socket", optarg, o->socket_path);
            break;
        case 'c':
            r = options_copy_path("config", optarg, o->config_path);
            if (r == 0)
                r = options_load_file(o, optarg);
            break;
        case 'v':
            o->log_level = LOG_LEVEL_DEBUG;
            break;
        case 'q':
            o->log_level = LOG_LEVEL_WARNING;
            break;
        case 'h':
            options_usage(stdout);
            return 1;
        case 'V':
            printf("picod %s\n", PICOD_VERSION);
            return 1;
        case OPT_FIRST_LONG:
            r = options_set(o, longopts[idx].name, optarg);
            break;
        default:
            options_usage(stderr);
            return -EINVAL;
        }
        if (r < 0)
            return -EINVAL;
    }
    if (optind < argc) {
        fprintf(stderr, "picod: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -EINVAL;
    }
    if (o->offline_misses <= o->stale_misses) {
        fprintf(stderr, "picod: --offline-misses must be larger than --stale-misses\n");
        return -EINVAL;
    }
    if (o->out_budget < o->client_out_max) {
        fprintf(stderr, "picod: --out-budget must be at least --client-out-max\n");
        return -EINVAL;
    }
    return 0;
}

void options_resolve_socket(options_t *o)
{
    const char *env;

    if (o->socket_path[0])
        return;
    env = getenv("PICOD_SOCKET");
    if (env && *env && strlen(env) < OPTIONS_PATH_MAX) {
        memcpy(o->socket_path, env, strlen(env) + 1);
        return;
    }
    env = getenv("RUNTIME_DIRECTORY");
    if (env && *env) {
        /* systemd may list several directories separated by ':'; use the first. */
        size_t n = strcspn(env, ":");
        if (n + sizeof("/picod.sock") <= OPTIONS_PATH_MAX) {
            snprintf(o->socket_path, OPTIONS_PATH_MAX, "%.*s/picod.sock", (int)n, env);
            return;
        }
    }
    snprintf(o->socket_path, OPTIONS_PATH_MAX, "%s", "/run/picod/picod.sock");
}
