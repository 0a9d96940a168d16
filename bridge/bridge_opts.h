/*
 * bridge_opts.h - picod-mqtt's settings: command line over the [mqtt] section of a config file
 * (--config FILE, inih), over the defaults. docs/MQTT.md lists them.
 */
#ifndef BRIDGE_OPTS_H
#define BRIDGE_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#define BRIDGE_ID_MAX 64 /* node id: at most this many of [A-Za-z0-9_-] */

typedef struct bridge_opts {
    char socket[256];
    char host[256];
    int port; /* 0: 1883, or 8883 with TLS */
    char node_id[BRIDGE_ID_MAX + 1];
    char discovery_prefix[128];
    char base_topic[128];
    char client_id[128]; /* "" : picod-mqtt-<node_id> */
    char username[128];
    char password_file[256];
    char password[256]; /* read from password_file */
    char tls_ca[256], tls_cert[256], tls_key[256];
    int keepalive_s;
    int stats_ms; /* how often link quality is refreshed from picod's stats */
    int verbose;
    char config[256];
} bridge_opts_t;

/* Fill o from defaults, the config file and argv. Returns 0, 1 when --help/--version was
 * handled (exit 0), or -EINVAL with a sentence in err (exit 2). */
int bridge_opts_parse(bridge_opts_t *o, int argc, char **argv, char *err, size_t err_cap);

/* The node id rule: every character outside [A-Za-z0-9_-] becomes '_', cut to BRIDGE_ID_MAX;
 * an empty result is "picod". Writes into out (cap >= BRIDGE_ID_MAX + 1). */
void bridge_opts_sanitise_id(const char *in, char *out, size_t cap);

/* Whether s is a valid id already (1..BRIDGE_ID_MAX of [A-Za-z0-9_-]). */
bool bridge_opts_is_valid_id(const char *s);

#endif /* BRIDGE_OPTS_H */
