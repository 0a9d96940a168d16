/*
 * ha_discovery.h - topic names and Home Assistant MQTT discovery payloads (docs/MQTT.md).
 *
 * Pure functions: build strings and JSON, never publish. Topic layout, for base topic B, node
 * id N and board id I (16 hex digits):
 *   B/N/bridge/state            online|offline, retained; the MQTT Last Will says offline
 *   B/N/I/availability          online|offline, retained (picod's state: only online is online)
 *   B/N/I/state                 retained JSON: state, led, effect, link_quality, ...
 *   B/N/I/sensor/S              retained JSON: one sensor's reading
 *   B/N/I/action                button_short_press|button_long_press|button_double_press
 *   B/N/I/led/set, .../led/effect/set   commands (ON|OFF; solid|blink|heartbeat)
 *   B/N/bridge/request/CMD -> B/N/bridge/response/CMD
 * Discovery: P/<component>/N_I/<object>/config, retained.
 */
#ifndef BRIDGE_HA_DISCOVERY_H
#define BRIDGE_HA_DISCOVERY_H

#include <jansson.h>
#include <stddef.h>

typedef struct ha_ctx {
    const char *prefix; /* discovery prefix */
    const char *base;   /* base topic */
    const char *node;   /* node id */
    const char *version;
} ha_ctx_t;

/* What discovery needs to know of a board. */
typedef struct ha_board {
    const char *id;
    const char *name;     /* [board NAME] or NULL */
    const char *firmware; /* may be NULL */
    const char *platform; /* rp2040, picosim or NULL */
} ha_board_t;

/* Quantities a sensor reading may carry. */
enum ha_quantity { HA_TEMPERATURE, HA_HUMIDITY, HA_PRESSURE, HA_QUANTITIES };

/* The picod field of a quantity (temp_c, ...) and the state JSON key (temperature, ...). */
const char *ha_quantity_field(enum ha_quantity q);
const char *ha_quantity_key(enum ha_quantity q);

/* B/N/<suffix> into out. */
void ha_topic(const ha_ctx_t *c, char *out, size_t cap, const char *suffix);
/* B/N/I/<suffix> (suffix "" gives B/N/I). */
void ha_board_topic(const ha_ctx_t *c, const char *id, char *out, size_t cap, const char *suffix);
/* P/<component>/N_<id>/<object>/config (id "bridge" for the bridge's own). */
void ha_config_topic(const ha_ctx_t *c, const char *component, const char *id, const char *object,
                     char *out, size_t cap);

/* Discovery payloads (new references). */
json_t *ha_bridge_config(const ha_ctx_t *c);
json_t *ha_sensor_config(const ha_ctx_t *c, const ha_board_t *b, int sensor, enum ha_quantity q);
json_t *ha_light_config(const ha_ctx_t *c, const ha_board_t *b);
json_t *ha_trigger_config(const ha_ctx_t *c, const ha_board_t *b, const char *type);
json_t *ha_state_config(const ha_ctx_t *c, const ha_board_t *b);
json_t *ha_link_quality_config(const ha_ctx_t *c, const ha_board_t *b);

/* The trigger types, in a fixed order (HA_TRIGGERS of them). */
#define HA_TRIGGERS 3
extern const char *const ha_trigger_types[HA_TRIGGERS];

#endif /* BRIDGE_HA_DISCOVERY_H */
