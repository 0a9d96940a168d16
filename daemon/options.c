/* options.c - see options.h. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PICOD_HAVE_INIH
#include <ini.h>
#endif

#include "board_text.h"
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
    o->poll_sensors = OPTIONS_SENSORS_ALL;
}

/* Say what is wrong: "FILE:LINE: msg" inside a config file, "picod: msg" on the command
 * line; to stderr, and the first one into o->error for `stats`. */
__attribute__((format(printf, 2, 3))) static void options_fail(options_t *o, const char *fmt, ...)
{
    char msg[OPTIONS_ERROR_MAX - 64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", o->where[0] ? o->where : "picod", msg);
    if (!o->error[0] &&
        snprintf(o->error, sizeof(o->error), "%s: %s", o->where[0] ? o->where : "picod", msg) < 0)
        o->error[0] = '\0';
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
               "  -c, --config FILE        INI file: [picod] keys = these long options, and\n"
               "                           [board NAME] sections (picod.conf.example)\n"
               "      --check-config FILE  validate FILE, print file:line: reason, exit\n"
               "      --heartbeat-ms N     heartbeat period (default 1000)\n"
               "      --poll-ms N          sensor/state poll period (default 2000)\n"
               "      --request-timeout-ms N  per attempt, one retry (default 500)\n"
               "      --stale-misses N     heartbeats missed before stale (default 3)\n"
               "      --offline-misses N   heartbeats missed before offline (default 8)\n"
               "      --host-timeout-ms N  board's host watchdog, sent in HELLO (default 5000)\n"
               "      --sensors LIST       sensors the periodic poll reads: all (default),\n"
               "                           none, or indices (0,2)\n"
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
               "  -v, --verbose            more logging (config file: log-level = 0..7)\n"
               "  -q, --quiet              warnings and errors only\n"
               "  -h, --help, -V, --version\n");
}

static int options_u32(options_t *o, const char *name, const char *val, uint32_t min, uint32_t max,
                       uint32_t *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(val, &end, 10);
    if (errno || end == val || *end || val[0] == '-' || v < min || v > max) {
        options_fail(o, "%s: expected an integer %u..%u, got '%s'", name, min, max, val);
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Text picod shows in JSON (stats' config, status' device) must be UTF-8: jansson makes no
 * string of anything else, and the whole answer would fail. */
static int options_check_utf8(options_t *o, const char *name, const char *val, size_t n)
{
    if (board_text_is_utf8(val, n))
        return 0;
    options_fail(o, "%s: not valid UTF-8", name);
    return -EINVAL;
}

static int options_copy_path(options_t *o, const char *name, const char *val, char *dst)
{
    if (strlen(val) == 0 || strlen(val) >= OPTIONS_PATH_MAX) {
        options_fail(o, "%s: path empty or longer than %d bytes", name, OPTIONS_PATH_MAX - 1);
        return -EINVAL;
    }
    if (options_check_utf8(o, name, val, strlen(val)) < 0)
        return -EINVAL;
    memcpy(dst, val, strlen(val) + 1);
    return 0;
}

static int options_add_device(options_t *o, const char *val)
{
    if (o->n_devices >= OPTIONS_MAX_DEVICES) {
        options_fail(o, "at most %d --device options", OPTIONS_MAX_DEVICES);
        return -EINVAL;
    }
    if (options_copy_path(o, "device", val, o->devices[o->n_devices]) < 0)
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
        options_fail(o, "%s: at most %d entries", key, OPTIONS_MAX_ALLOW);
        return -EINVAL;
    }
    if (usb) {
        if (options_parse_usb_id(s, n, &o->allow_usb[o->n_allow_usb]) < 0) {
            options_fail(o, "%s: expected VID:PID in hex (e.g. 2e8a:0005), got '%.*s'", key, (int)n,
                         s);
            return -EINVAL;
        }
        o->n_allow_usb++;
        return 0;
    }
    if (n >= OPTIONS_SERIAL_MAX) {
        options_fail(o, "%s: a USB serial has at most %d bytes", key, OPTIONS_SERIAL_MAX - 1);
        return -EINVAL;
    }
    if (options_check_utf8(o, key, s, n) < 0)
        return -EINVAL;
    memcpy(o->allow_serial[o->n_allow_serial], s, n);
    o->allow_serial[o->n_allow_serial++][n] = '\0';
    return 0;
}

/* The next item of a list separated by commas or blanks: *p moves past it, *n is its length.
 * Returns false at the end of the list. */
static bool options_next_item(const char **p, const char **item, size_t *n)
{
    *p += strspn(*p, ", \t");
    *n = strcspn(*p, ", \t");
    *item = *p;
    *p += *n;
    return *n != 0;
}

/* --allow-usb / --allow-serial. A value may list several entries separated by commas or
 * blanks, so one config line ("allow-usb = 2e8a:0005, 2e8a:000a") can name them all. */
static int options_add_allowed(options_t *o, const char *key, const char *val)
{
    const char *p = val, *item;
    int added = 0;
    size_t n;

    while (options_next_item(&p, &item, &n)) {
        if (options_add_allowed_one(o, key, item, n) < 0)
            return -EINVAL;
        added++;
    }
    if (added == 0) {
        options_fail(o, "%s: empty value", key);
        return -EINVAL;
    }
    return 0;
}

/* "sensors": "all", "none", or sensor indices separated by commas or blanks ("0, 2"). */
static int options_sensors(options_t *o, const char *key, const char *val, uint32_t *out)
{
    const char *p = val, *item;
    uint32_t mask = 0;
    size_t n;

    if (strcmp(val, "all") == 0) {
        *out = OPTIONS_SENSORS_ALL;
        return 0;
    }
    if (strcmp(val, "none") == 0) {
        *out = 0;
        return 0;
    }
    while (options_next_item(&p, &item, &n)) {
        if (n != 1 || item[0] < '0' || item[0] > '7') {
            options_fail(o, "%s: expected all, none or sensor indices 0..7, got '%s'", key, val);
            return -EINVAL;
        }
        mask |= 1u << (item[0] - '0');
    }
    if (!mask) {
        options_fail(o, "%s: empty value (say none for no sensors)", key);
        return -EINVAL;
    }
    *out = mask;
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
            return options_u32(o, key, val, nums[i].min, nums[i].max,
                               (uint32_t *)((char *)o + nums[i].off));
    if (strcmp(key, "actuate-group") == 0) {
        if (strlen(val) >= sizeof(o->actuate_group)) {
            options_fail(o, "actuate-group: name longer than %zu bytes",
                         sizeof(o->actuate_group) - 1);
            return -EINVAL;
        }
        if (options_check_utf8(o, key, val, strlen(val)) < 0)
            return -EINVAL;
        memcpy(o->actuate_group, val, strlen(val) + 1);
        return 0;
    }
    if (strcmp(key, "device") == 0)
        return options_add_device(o, val);
    if (strcmp(key, "socket") == 0)
        return options_copy_path(o, key, val, o->socket_path);
    if (strcmp(key, "allow-usb") == 0 || strcmp(key, "allow-serial") == 0)
        return options_add_allowed(o, key, val);
    if (strcmp(key, "udev") == 0) {
        o->udev = strcmp(val, "1") == 0 || strcmp(val, "yes") == 0 || strcmp(val, "true") == 0;
        return 0;
    }
    if (strcmp(key, "log-level") == 0) {
        uint32_t lvl;
        if (options_u32(o, key, val, 0, 7, &lvl) < 0)
            return -EINVAL;
        o->log_level = (int)lvl;
        return 0;
    }
    if (strcmp(key, "sensors") == 0)
        return options_sensors(o, key, val, &o->poll_sensors);
    options_fail(o, "unknown setting '%s'", key);
    return -EINVAL;
}

bool options_name_valid(const char *name)
{
    size_t n = strlen(name), hex = 0;

    if (n == 0 || n >= OPTIONS_NAME_MAX || !isalpha((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return false;
        hex += isxdigit(c) != 0;
    }
    return !(n == OPTIONS_ID_LEN && hex == n); /* would read as a board id */
}

const options_board_t *options_named_by_id(const options_t *o, const char *id)
{
    for (size_t i = 0; i < o->n_named; i++)
        if (strcmp(o->named[i].id, id) == 0)
            return &o->named[i];
    return NULL;
}

const options_board_t *options_named_by_name(const options_t *o, const char *name)
{
    for (size_t i = 0; i < o->n_named; i++)
        if (strcmp(o->named[i].name, name) == 0)
            return &o->named[i];
    return NULL;
}

int options_validate(options_t *o)
{
    if (o->offline_misses <= o->stale_misses) {
        options_fail(o, "offline-misses (%u) must be larger than stale-misses (%u)",
                     (unsigned)o->offline_misses, (unsigned)o->stale_misses);
        return -EINVAL;
    }
    if (o->out_budget < o->client_out_max) {
        options_fail(o, "out-budget (%u) must be at least client-out-max (%u)",
                     (unsigned)o->out_budget, (unsigned)o->client_out_max);
        return -EINVAL;
    }
    return 0;
}

#ifdef PICOD_HAVE_INIH
typedef struct options_ini {
    options_t *o;
    const char *path;
    FILE *f;
    int line;               /* of the line inih has just read */
    char section[64];       /* of the previous callback, to notice a new section */
    options_board_t *board; /* the [board NAME] being read, or NULL */
    size_t first_named;     /* named[] entries before this file */
} options_ini_t;

/* fgets() that counts lines, so the handler can say where it is (the system's inih is built
 * without INI_HANDLER_LINENO). inih calls the handler for a line before reading the next. */
static char *options_ini_reader(char *str, int num, void *stream)
{
    options_ini_t *c = stream;
    char *r = fgets(str, num, c->f);

    if (r && r[strspn(r, " \t")] == '[')
        c->section[0] = '\0'; /* a section header: the next key starts a new section */
    if (r && (strchr(r, '\n') || feof(c->f)))
        c->line++; /* a whole line, or the last one without a newline */
    snprintf(c->o->where, sizeof(c->o->where), "%s:%d", c->path, c->line);
    return r;
}

static int options_board_key(options_ini_t *c, const char *key, const char *val)
{
    options_t *o = c->o;
    options_board_t *nb = c->board;

    if (strcmp(key, "id") == 0) {
        size_t n = strlen(val);
        const options_board_t *other;

        if (n != OPTIONS_ID_LEN || strspn(val, "0123456789abcdefABCDEF") != n) {
            options_fail(o,
                         "[board %s] id: expected %d hex digits (as `picoctl list` shows), "
                         "got '%s'",
                         nb->name, OPTIONS_ID_LEN, val);
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
            nb->id[i] = (char)tolower((unsigned char)val[i]);
        nb->id[n] = '\0';
        other = options_named_by_id(o, nb->id);
        if (other && other != nb) {
            options_fail(o, "[board %s] id %s is already named '%s' (line %d)", nb->name, nb->id,
                         other->name, other->line);
            nb->id[0] = '\0';
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "poll-ms") == 0)
        return options_u32(o, key, val, 50, 3600000, &nb->poll_ms);
    if (strcmp(key, "heartbeat-ms") == 0)
        return options_u32(o, key, val, 50, 600000, &nb->heartbeat_ms);
    if (strcmp(key, "sensors") == 0) {
        nb->has_sensors = true;
        return options_sensors(o, key, val, &nb->poll_sensors);
    }
    options_fail(o, "[board %s]: unknown key '%s' (id, poll-ms, heartbeat-ms, sensors)", nb->name,
                 key);
    return -EINVAL;
}

/* A new [board NAME] section. */
static int options_board_section(options_ini_t *c, const char *section)
{
    options_t *o = c->o;
    const char *name = section + strlen("board");
    const options_board_t *other;
    options_board_t *nb;
    size_t n;

    c->board = NULL;
    name += strspn(name, " \t");
    n = strlen(name);
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
        n--;
    if (n >= OPTIONS_NAME_MAX) {
        options_fail(o, "[%s]: a board name has at most %d characters", section,
                     OPTIONS_NAME_MAX - 1);
        return -EINVAL;
    }
    if (o->n_named >= OPTIONS_MAX_NAMED) {
        options_fail(o, "at most %d [board NAME] sections", OPTIONS_MAX_NAMED);
        return -EINVAL;
    }
    nb = &o->named[o->n_named];
    memset(nb, 0, sizeof(*nb));
    memcpy(nb->name, name, n);
    nb->name[n] = '\0';
    if (!options_name_valid(nb->name)) {
        options_fail(o,
                     "[%s]: a board name is 1..%d of A-Z a-z 0-9 _ . -, starting with a "
                     "letter, and not 16 hex digits",
                     section, OPTIONS_NAME_MAX - 1);
        return -EINVAL;
    }
    other = options_named_by_name(o, nb->name);
    if (other) {
        options_fail(o, "[board %s] appears twice (first at line %d)", nb->name, other->line);
        return -EINVAL;
    }
    nb->line = c->line;
    o->n_named++;
    c->board = nb;
    return 0;
}

static int options_ini_cb(void *user, const char *raw_section, const char *name, const char *value)
{
    options_ini_t *c = user;
    char key[64], section[64];
    size_t n;

    /* actuate_group and actuate-group are the same key. */
    snprintf(key, sizeof(key), "%s", name);
    for (char *p = key; *p; p++)
        if (*p == '_')
            *p = '-';
    /* inih keeps the blanks inside the brackets: "[ board x ]" is "board x". */
    raw_section += strspn(raw_section, " \t");
    snprintf(section, sizeof(section), "%s", raw_section);
    n = strlen(section);
    while (n && (section[n - 1] == ' ' || section[n - 1] == '\t'))
        section[--n] = '\0';
    if (strcmp(section, c->section) != 0) {
        snprintf(c->section, sizeof(c->section), "%s", section);
        c->board = NULL;
        if (strncmp(section, "board", 5) == 0 && (section[5] == ' ' || section[5] == '\t')) {
            if (options_board_section(c, section) < 0)
                return 0;
        } else if (strcmp(section, "picod") != 0) {
            options_fail(c->o, "unknown section [%s] (expected [picod] or [board NAME])", section);
            return 0;
        }
    }
    if (strcmp(section, "picod") == 0)
        return options_set(c->o, key, value) == 0;
    if (c->board)
        return options_board_key(c, key, value) == 0;
    return 0; /* the rest of a section already refused */
}

int options_load_file(options_t *o, const char *path)
{
    options_ini_t c = {.o = o, .path = path, .first_named = o->n_named};
    int r, e;

    c.f = fopen(path, "re");
    if (!c.f) {
        e = errno;
        o->where[0] = '\0';
        options_fail(o, "config %s: %s", path, strerror(e));
        return -e;
    }
    r = ini_parse_stream(options_ini_reader, &c, options_ini_cb, &c);
    fclose(c.f);
    if (r > 0 && !o->error[0]) {
        snprintf(o->where, sizeof(o->where), "%s:%d", path, r);
        options_fail(o, "syntax error (expected [section], key = value, or a ; comment)");
    }
    for (size_t i = c.first_named; r == 0 && i < o->n_named; i++) {
        if (!o->named[i].id[0]) {
            snprintf(o->where, sizeof(o->where), "%s:%d", path, o->named[i].line);
            options_fail(o, "[board %s] has no id = <16 hex digits>", o->named[i].name);
            r = o->named[i].line;
        }
    }
    o->where[0] = '\0';
    if (r != 0 || o->error[0]) {
        if (!o->error[0])
            options_fail(o, "config %s: error on line %d", path, r);
        return -EINVAL;
    }
    return 0;
}
#else
int options_load_file(options_t *o, const char *path)
{
    options_fail(o, "config %s: built without inih", path);
    return -ENOTSUP;
}
#endif

/* --check-config FILE: the file alone over the defaults, as picod would read it. Prints
 * "FILE: ok" (returns 1: exit 0) or the reason (-EINVAL: exit 2). */
static int options_check_file(const char *path)
{
    options_t *t = malloc(sizeof(*t)); /* large: not on the stack */
    int r;

    if (!t) {
        fprintf(stderr, "picod: out of memory\n");
        return -EINVAL;
    }
    options_defaults(t);
    r = options_load_file(t, path);
    if (r == 0) {
        snprintf(t->where, sizeof(t->where), "%s", path);
        r = options_validate(t);
        t->where[0] = '\0';
    }
    if (r == 0)
        printf("%s: ok (%zu board name(s))\n", path, t->n_named);
    free(t);
    return r == 0 ? 1 : -EINVAL;
}

enum { OPT_FIRST_LONG = 1000, OPT_CHECK_CONFIG };

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
        {"sensors", required_argument, NULL, OPT_FIRST_LONG},
        {"check-config", required_argument, NULL, OPT_CHECK_CONFIG},
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
            r = options_copy_path(o, "socket", optarg, o->socket_path);
            break;
        case 'c':
            r = options_copy_path(o, "config", optarg, o->config_path);
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
        case OPT_CHECK_CONFIG:
            return options_check_file(optarg);
        default:
            options_usage(stderr);
            return -EINVAL;
        }
        if (r < 0)
            return -EINVAL;
    }
    if (optind < argc) {
        options_fail(o, "unexpected argument '%s' (see --help)", argv[optind]);
        return -EINVAL;
    }
    return options_validate(o);
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
