/*
 * bridge.h - picod-mqtt's logic: picod's boards as MQTT topics with Home Assistant discovery,
 * MQTT commands as picod requests (docs/MQTT.md).
 *
 * Owns a picod_link (the socket API) and an mqtt_link (the broker). The top level of the
 * program: it logs (stderr, "picod-mqtt: LEVEL: ...").
 */
#ifndef BRIDGE_BRIDGE_H
#define BRIDGE_BRIDGE_H

#include <uv.h>

#include "bridge_opts.h"

typedef struct bridge bridge_t;

/* Returns 0 or -errno (a sentence logged). opts is copied. */
int bridge_new(uv_loop_t *loop, const bridge_opts_t *opts, bridge_t **out);
void bridge_start(bridge_t *b);

/* Says offline (bridge state), disconnects both sides; done_cb(data) when everything is
 * closed and freed. */
void bridge_close(bridge_t *b, void (*done_cb)(void *data), void *data);

#endif /* BRIDGE_BRIDGE_H */
