/* ha_discovery.c - see ha_discovery.h. Field names as Home Assistant's MQTT integration
 * documents them (sensor, light, device_automation, binary_sensor; device, origin). */
#include "ha_discovery.h"

#include <stdio.h>
#include <string.h>

const char *const ha_trigger_types[HA_TRIGGERS] = {"button_short_press", "button_long_press",
                                                   "button_double_press"};

static const struct {
    const char *field, *key, *name, *device_class, *unit;
} ha_q[HA_QUANTITIES] = {
    [HA_TEMPERATURE] = {"temp_c", "temperature", "Temperature", "temperature", "\u00b0C"},
    [HA_HUMIDITY] = {"humidity_pct", "humidity", "Humidity", "humidity", "%"},
    [HA_PRESSURE] = {"pressure_pa", "pressure", "Pressure", "pressure", "Pa"},
};

const char *ha_quantity_field(enum ha_quantity q)
{
    return ha_q[q].field;
}

const char *ha_quantity_key(enum ha_quantity q)
{
    return ha_q[q].key;
}

void ha_topic(const ha_ctx_t *c, char *out, size_t cap, const char *suffix)
{
    snprintf(out, cap, "%s/%s/%s", c->base, c->node, suffix);
}

void ha_board_topic(const ha_ctx_t *c, const char *id, char *out, size_t cap, const char *suffix)
{
    snprintf(out, cap, "%s/%s/%s%s%s", c->base, c->node, id, *suffix ? "/" : "", suffix);
}

void ha_config_topic(const ha_ctx_t *c, const char *component, const char *id, const char *object,
                     char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/%s_%s/%s/config", c->prefix, component, c->node, id, object);
}

static json_t *ha_origin(const ha_ctx_t *c)
{
    return json_pack("{s:s, s:s}", "name", "picod-mqtt", "sw_version", c->version);
}

static void ha_bridge_ident(const ha_ctx_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "picod-mqtt_%s", c->node);
}

static json_t *ha_device(const ha_ctx_t *c, const ha_board_t *b)
{
    char via[128], name[96];
    json_t *d;

    ha_bridge_ident(c, via, sizeof(via));
    if (b->name)
        snprintf(name, sizeof(name), "%s", b->name);
    else
        snprintf(name, sizeof(name), "Pico %s", b->id);
    d = json_pack("{s:[s+], s:s, s:s, s:s, s:s, s:s}", "identifiers", "picod_", b->id, "name", name,
                  "manufacturer", "Raspberry Pi", "model",
                  b->platform && strcmp(b->platform, "picosim") == 0 ? "picosim (simulated Pico)"
                                                                     : "Pico (RP2040)",
                  "serial_number", b->id, "via_device", via);
    if (d && b->firmware)
        json_object_set_new(d, "sw_version", json_string(b->firmware));
    return d;
}

/* The fields every entity of a board has: unique_id, device, origin, and (unless
 * bridge_only) availability = the bridge and the board, both must be online. */
static json_t *ha_entity(const ha_ctx_t *c, const ha_board_t *b, const char *object,
                         const char *name, int bridge_only)
{
    char uid[128], bridge[256], avail[256];
    json_t *j, *a;

    snprintf(uid, sizeof(uid), "picod_%s_%s", b->id, object);
    ha_topic(c, bridge, sizeof(bridge), "bridge/state");
    ha_board_topic(c, b->id, avail, sizeof(avail), "availability");
    a = bridge_only ? json_pack("[{s:s}]", "topic", bridge)
                    : json_pack("[{s:s},{s:s}]", "topic", bridge, "topic", avail);
    j = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:i}", "name", name, "unique_id", uid,
                  "availability", a, "availability_mode", "all", "device", ha_device(c, b),
                  "origin", ha_origin(c), "qos", 1);
    return j;
}

json_t *ha_bridge_config(const ha_ctx_t *c)
{
    char ident[128], uid[160], name[128], state[256];

    ha_bridge_ident(c, ident, sizeof(ident));
    snprintf(uid, sizeof(uid), "%s_connection", ident);
    snprintf(name, sizeof(name), "picod-mqtt %s", c->node);
    ha_topic(c, state, sizeof(state), "bridge/state");
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:[s], s:s, s:s, s:s, s:s}, s:o}",
                     "name", "Connection", "unique_id", uid, "device_class", "connectivity",
                     "entity_category", "diagnostic", "state_topic", state, "payload_on", "online",
                     "payload_off", "offline", "device", "identifiers", ident, "name", name,
                     "manufacturer", "picod", "model", "picod-mqtt", "sw_version", c->version,
                     "origin", ha_origin(c));
}

json_t *ha_sensor_config(const ha_ctx_t *c, const ha_board_t *b, int sensor, enum ha_quantity q)
{
    char object[64], name[64], topic[256], tmpl[96];
    json_t *j;

    snprintf(object, sizeof(object), "s%d_%s", sensor, ha_q[q].key);
    if (sensor == 0)
        snprintf(name, sizeof(name), "%s", ha_q[q].name);
    else
        snprintf(name, sizeof(name), "%s %d", ha_q[q].name, sensor);
    snprintf(tmpl, sizeof(tmpl), "sensor/%d", sensor);
    ha_board_topic(c, b->id, topic, sizeof(topic), tmpl);
    snprintf(tmpl, sizeof(tmpl), "{{ value_json.%s }}", ha_q[q].key);
    j = ha_entity(c, b, object, name, 0);
    json_object_set_new(j, "state_topic", json_string(topic));
    json_object_set_new(j, "value_template", json_string(tmpl));
    json_object_set_new(j, "device_class", json_string(ha_q[q].device_class));
    json_object_set_new(j, "unit_of_measurement", json_string(ha_q[q].unit));
    json_object_set_new(j, "state_class", json_string("measurement"));
    return j;
}

json_t *ha_light_config(const ha_ctx_t *c, const ha_board_t *b)
{
    char state[256], cmd[256], effect[256];
    json_t *j = ha_entity(c, b, "led", "LED", 0);

    ha_board_topic(c, b->id, state, sizeof(state), "state");
    ha_board_topic(c, b->id, cmd, sizeof(cmd), "led/set");
    ha_board_topic(c, b->id, effect, sizeof(effect), "led/effect/set");
    json_object_set_new(j, "command_topic", json_string(cmd));
    json_object_set_new(j, "state_topic", json_string(state));
    json_object_set_new(j, "state_value_template", json_string("{{ value_json.led }}"));
    json_object_set_new(j, "payload_on", json_string("ON"));
    json_object_set_new(j, "payload_off", json_string("OFF"));
    json_object_set_new(j, "effect_command_topic", json_string(effect));
    json_object_set_new(j, "effect_state_topic", json_string(state));
    json_object_set_new(j, "effect_value_template", json_string("{{ value_json.effect }}"));
    json_object_set_new(j, "effect_list", json_pack("[s,s,s]", "solid", "blink", "heartbeat"));
    json_object_set_new(j, "supported_color_modes", json_pack("[s]", "onoff"));
    return j;
}

json_t *ha_trigger_config(const ha_ctx_t *c, const ha_board_t *b, const char *type)
{
    char topic[256];

    ha_board_topic(c, b->id, topic, sizeof(topic), "action");
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o}", "automation_type", "trigger",
                     "type", type, "subtype", "button_1", "topic", topic, "payload", type, "qos", 1,
                     "device", ha_device(c, b), "origin", ha_origin(c));
}

json_t *ha_state_config(const ha_ctx_t *c, const ha_board_t *b)
{
    char topic[256];
    json_t *j = ha_entity(c, b, "state", "State", 1); /* shown also while the board is away */

    ha_board_topic(c, b->id, topic, sizeof(topic), "state");
    json_object_set_new(j, "state_topic", json_string(topic));
    json_object_set_new(j, "value_template", json_string("{{ value_json.state }}"));
    json_object_set_new(j, "device_class", json_string("enum"));
    json_object_set_new(j, "options",
                        json_pack("[s,s,s,s,s,s]", "connecting", "hello", "online", "stale",
                                  "offline", "incompatible"));
    json_object_set_new(j, "entity_category", json_string("diagnostic"));
    return j;
}

json_t *ha_link_quality_config(const ha_ctx_t *c, const ha_board_t *b)
{
    char topic[256];
    json_t *j = ha_entity(c, b, "link_quality", "Link quality", 0);

    ha_board_topic(c, b->id, topic, sizeof(topic), "state");
    json_object_set_new(j, "state_topic", json_string(topic));
    json_object_set_new(j, "value_template", json_string("{{ value_json.link_quality }}"));
    json_object_set_new(j, "unit_of_measurement", json_string("%"));
    json_object_set_new(j, "state_class", json_string("measurement"));
    json_object_set_new(j, "entity_category", json_string("diagnostic"));
    json_object_set_new(j, "icon", json_string("mdi:usb"));
    return j;
}
