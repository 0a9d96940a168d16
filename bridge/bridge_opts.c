/* bridge_opts.c - see bridge_opts.h. */
#include "bridge_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef PICOD_HAVE_INIH
#include <ini.h>
#endif

#include "picod_client.h"

static const char bridge_usage[] =
    "usage: picod-mqtt [OPTIONS]\n"
    "Publishes the boards of one picod to an MQTT broker, with Home Assistant discovery.\n"
    "  --socket PATH            picod's socket (default $PICOD_SOCKET, /run/picod/picod.sock)\n"
    "  --broker HOST[:PORT]     the broker (default localhost:1883; 8883 with --tls-ca)\n"
    "  --node-id ID             this host in topics and ids (default: the host name, sanitised)\n"
    "  --discovery-prefix P     Home Assistant's discovery prefix (default homeassistant)\n"
    "  --base-topic T           state and command topics under T/NODE_ID (default picod)\n"
    "  --client-id ID           MQTT client id (default picod-mqtt-NODE_ID)\n"
    "  --username U             broker user\n"
    "  --password-file FILE     the broker password: the file's first line\n"
    "  --tls-ca FILE            TLS, trusting this CA; --tls-cert FILE --tls-key FILE: client "
    "cert\n"
    "  --keepalive S            MQTT keepalive in seconds (5..3600, default 60)\n"
    "  --stats-ms MS            link quality refresh period (1000..3600000, default 10000)\n"
    "  --config FILE            an INI file whose [mqtt] section sets the same keys\n"
    "  -v, --verbose            log every message (debug)\n"
    "  --help, --version\n";

enum {
    OPT_SOCKET = 256,
    OPT_BROKER,
    OPT_NODE,
    OPT_PREFIX,
    OPT_BASE,
    OPT_CLIENT,
    OPT_USER,
    OPT_PWFILE,
    OPT_CA,
    OPT_CERT,
    OPT_KEY,
    OPT_KEEPALIVE,
    OPT_STATS,
    OPT_CONFIG,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option bridge_long[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"broker", required_argument, NULL, OPT_BROKER},
    {"node-id", required_argument, NULL, OPT_NODE},
    {"discovery-prefix", required_argument, NULL, OPT_PREFIX},
    {"base-topic", required_argument, NULL, OPT_BASE},
    {"client-id", required_argument, NULL, OPT_CLIENT},
    {"username", required_argument, NULL, OPT_USER},
    {"password-file", required_argument, NULL, OPT_PWFILE},
    {"tls-ca", required_argument, NULL, OPT_CA},
    {"tls-cert", required_argument, NULL, OPT_CERT},
    {"tls-key", required_argument, NULL, OPT_KEY},
    {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
    {"stats-ms", required_argument, NULL, OPT_STATS},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void bridge_opts_sanitise_id(const char *in, char *out, size_t cap)
{
    size_t n = 0;

    for (; in && *in && n < BRIDGE_ID_MAX && n + 1 < cap; in++) {
        char ch = *in;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        out[n++] = ok ? ch : '_';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "picod");
}

bool bridge_opts_is_valid_id(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= BRIDGE_ID_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static int bridge_str(char *dst, size_t cap, const char *val, const char *key, char *err,
                      size_t err_cap)
{
    if (strlen(val) >= cap) {
        snprintf(err, err_cap, "%s: too long (at most %zu characters)", key, cap - 1);
        return -EINVAL;
    }
    snprintf(dst, cap, "%s", val);
    return 0;
}

static int bridge_int(int *dst, const char *val, long min, long max, const char *key, char *err,
                      size_t err_cap)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < min || v > max) {
        snprintf(err, err_cap, "%s: expected an integer %ld..%ld, got '%s'", key, min, max, val);
        return -EINVAL;
    }
    *dst = (int)v;
    return 0;
}

static int bridge_broker(bridge_opts_t *o, const char *val, char *err, size_t err_cap)
{
    const char *colon = strrchr(val, ':');
    size_t n = colon ? (size_t)(colon - val) : strlen(val);

    if (n == 0 || n >= sizeof(o->host)) {
        snprintf(err, err_cap, "broker: expected HOST[:PORT], got '%s'", val);
        return -EINVAL;
    }
    memcpy(o->host, val, n);
    o->host[n] = '\0';
    o->port = 0;
    return colon ? bridge_int(&o->port, colon + 1, 1, 65535, "broker port", err, err_cap) : 0;
}

/* One setting by its long name, from the command line or the config file. */
static int bridge_set(bridge_opts_t *o, int opt, const char *val, char *err, size_t cap)
{
    switch (opt) {
    case OPT_SOCKET:
        return bridge_str(o->socket, sizeof(o->socket), val, "socket", err, cap);
    case OPT_BROKER:
        return bridge_broker(o, val, err, cap);
    case OPT_NODE:
        if (!bridge_opts_is_valid_id(val)) {
            snprintf(err, cap,
                     "node-id: '%s' is not 1..%d characters of A-Z a-z 0-9 _ - (Home "
                     "Assistant's id rule)",
                     val, BRIDGE_ID_MAX);
            return -EINVAL;
        }
        return bridge_str(o->node_id, sizeof(o->node_id), val, "node-id", err, cap);
    case OPT_PREFIX:
        return bridge_str(o->discovery_prefix, sizeof(o->discovery_prefix), val, "discovery-prefix",
                          err, cap);
    case OPT_BASE:
        return bridge_str(o->base_topic, sizeof(o->base_topic), val, "base-topic", err, cap);
    case OPT_CLIENT:
        return bridge_str(o->client_id, sizeof(o->client_id), val, "client-id", err, cap);
    case OPT_USER:
        return bridge_str(o->username, sizeof(o->username), val, "username", err, cap);
    case OPT_PWFILE:
        return bridge_str(o->password_file, sizeof(o->password_file), val, "password-file", err,
                          cap);
    case OPT_CA:
        return bridge_str(o->tls_ca, sizeof(o->tls_ca), val, "tls-ca", err, cap);
    case OPT_CERT:
        return bridge_str(o->tls_cert, sizeof(o->tls_cert), val, "tls-cert", err, cap);
    case OPT_KEY:
        return bridge_str(o->tls_key, sizeof(o->tls_key), val, "tls-key", err, cap);
    case OPT_KEEPALIVE:
        return bridge_int(&o->keepalive_s, val, 5, 3600, "keepalive", err, cap);
    case OPT_STATS:
        return bridge_int(&o->stats_ms, val, 1000, 3600000, "stats-ms", err, cap);
    default:
        snprintf(err, cap, "unknown setting");
        return -EINVAL;
    }
}

#ifdef PICOD_HAVE_INIH
typedef struct bridge_ini {
    bridge_opts_t *o;
    char *err;
    size_t cap;
    int failed;
} bridge_ini_t;

static int bridge_ini_cb(void *user, const char *section, const char *name, const char *value)
{
    bridge_ini_t *c = user;
    char why[300];

    if (c->failed || strcmp(section, "mqtt") != 0)
        return 1; /* other sections belong to others (the file may be picod.conf) */
    for (const struct option *opt = bridge_long; opt->name; opt++) {
        if (strcmp(opt->name, name) != 0 || opt->has_arg != required_argument ||
            opt->val == OPT_CONFIG)
            continue;
        if (bridge_set(c->o, opt->val, value, why, sizeof(why)) < 0) {
            snprintf(c->err, c->cap, "%s: [mqtt] %s", c->o->config, why);
            c->failed = 1;
            return 0;
        }
        return 1;
    }
    snprintf(c->err, c->cap, "%s: [mqtt]: unknown key '%s' (see picod-mqtt --help)", c->o->config,
             name);
    c->failed = 1;
    return 0;
}

static int bridge_load_config(bridge_opts_t *o, char *err, size_t cap)
{
    bridge_ini_t c = {o, err, cap, 0};
    int r = ini_parse(o->config, bridge_ini_cb, &c);

    if (c.failed)
        return -EINVAL;
    if (r < 0) {
        snprintf(err, cap, "config %s: cannot read it", o->config);
        return -EINVAL;
    }
    if (r > 0) {
        snprintf(err, cap, "%s:%d: not an INI line", o->config, r);
        return -EINVAL;
    }
    return 0;
}
#else
static int bridge_load_config(bridge_opts_t *o, char *err, size_t cap)
{
    snprintf(err, cap, "config %s: built without inih", o->config);
    return -EINVAL;
}
#endif

static int bridge_read_password(bridge_opts_t *o, char *err, size_t cap)
{
    FILE *f = fopen(o->password_file, "re");
    size_t n;

    if (!f) {
        snprintf(err, cap, "password-file %s: %s", o->password_file, strerror(errno));
        return -EINVAL;
    }
    if (!fgets(o->password, sizeof(o->password), f))
        o->password[0] = '\0';
    fclose(f);
    n = strcspn(o->password, "\r\n");
    o->password[n] = '\0';
    return 0;
}

static void bridge_defaults(bridge_opts_t *o)
{
    char host[256] = "";

    memset(o, 0, sizeof(*o));
    snprintf(o->host, sizeof(o->host), "localhost");
    snprintf(o->discovery_prefix, sizeof(o->discovery_prefix), "homeassistant");
    snprintf(o->base_topic, sizeof(o->base_topic), "picod");
    o->keepalive_s = 60;
    o->stats_ms = 10000;
    if (gethostname(host, sizeof(host) - 1) < 0)
        host[0] = '\0';
    bridge_opts_sanitise_id(host, o->node_id, sizeof(o->node_id));
}

/* One getopt pass; config_only: just find --config (and --help/--version). */
static int bridge_pass(bridge_opts_t *o, int argc, char **argv, bool config_only, char *err,
                       size_t cap)
{
    int opt;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "v", bridge_long, NULL)) != -1) {
        if (opt == '?') {
            snprintf(err, cap, "unknown option or missing value: %s (see --help)",
                     argv[optind - 1]);
            return -EINVAL;
        }
        if (opt == OPT_HELP || opt == OPT_VERSION) {
            fputs(opt == OPT_HELP ? bridge_usage : "picod-mqtt " PICOD_VERSION "\n", stdout);
            return 1;
        }
        if (opt == OPT_CONFIG) {
            if (config_only)
                snprintf(o->config, sizeof(o->config), "%s", optarg);
            continue;
        }
        if (config_only)
            continue;
        if (opt == 'v')
            o->verbose++;
        else if (bridge_set(o, opt, optarg, err, cap) < 0)
            return -EINVAL;
    }
    if (optind < argc) {
        snprintf(err, cap, "unexpected argument '%s' (see --help)", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

int bridge_opts_parse(bridge_opts_t *o, int argc, char **argv, char *err, size_t cap)
{
    int r;

    bridge_defaults(o);
    r = bridge_pass(o, argc, argv, true, err, cap);
    if (r != 0)
        return r;
    if (o->config[0] && bridge_load_config(o, err, cap) < 0)
        return -EINVAL;
    r = bridge_pass(o, argc, argv, false, err, cap);
    if (r != 0)
        return r;
    {
        char given[sizeof(o->socket)];
        snprintf(given, sizeof(given), "%s", o->socket);
        picod_client_default_path(given, o->socket, sizeof(o->socket));
    }
    if (!o->port)
        o->port = o->tls_ca[0] ? 8883 : 1883;
    if (!o->client_id[0])
        snprintf(o->client_id, sizeof(o->client_id), "picod-mqtt-%s", o->node_id);
    if ((o->tls_cert[0] != 0) != (o->tls_key[0] != 0)) {
        snprintf(err, cap, "tls-cert and tls-key go together");
        return -EINVAL;
    }
    if (o->tls_cert[0] && !o->tls_ca[0]) {
        snprintf(err, cap, "tls-cert needs tls-ca (the CA that signed the broker's cert)");
        return -EINVAL;
    }
    if (o->password_file[0] && bridge_read_password(o, err, cap) < 0)
        return -EINVAL;
    return 0;
}
