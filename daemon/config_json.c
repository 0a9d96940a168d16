/* config_json.c - see config_json.h. */
#include "config_json.h"

#include <stdio.h>

/* "all", "none", or the indices of the set bits of a poll_sensors mask. */
static json_t *config_json_sensors(uint32_t mask)
{
    json_t *a;

    if ((mask & OPTIONS_SENSORS_ALL) == OPTIONS_SENSORS_ALL)
        return json_string("all");
    if ((mask & OPTIONS_SENSORS_ALL) == 0)
        return json_string("none");
    a = json_array();
    for (int i = 0; i < 8; i++)
        if (mask & (1u << i))
            json_array_append_new(a, json_integer(i));
    return a;
}

static json_t *config_json_picod(const options_t *o)
{
    json_t *p = json_object(), *dev = json_array(), *usb = json_array(), *ser = json_array();
    static const struct {
        const char *key;
        size_t off;
    } nums[] = {
        {"heartbeat-ms", offsetof(options_t, heartbeat_ms)},
        {"poll-ms", offsetof(options_t, poll_ms)},
        {"request-timeout-ms", offsetof(options_t, request_timeout_ms)},
        {"stale-misses", offsetof(options_t, stale_misses)},
        {"offline-misses", offsetof(options_t, offline_misses)},
        {"host-timeout-ms", offsetof(options_t, host_timeout_ms)},
        {"max-clients", offsetof(options_t, max_clients)},
        {"client-out-max", offsetof(options_t, client_out_max)},
        {"out-budget", offsetof(options_t, out_budget)},
        {"client-requests-max", offsetof(options_t, client_requests_max)},
        {"history-events", offsetof(options_t, history_events)},
        {"history-readings", offsetof(options_t, history_readings)},
        {"history-budget", offsetof(options_t, history_budget)},
    };

    json_object_set_new(p, "socket", json_string(o->socket_path));
    for (size_t i = 0; i < o->n_devices; i++)
        json_array_append_new(dev, json_string(o->devices[i]));
    json_object_set_new(p, "device", dev);
    json_object_set_new(p, "udev", json_boolean(o->udev));
    for (size_t i = 0; i < o->n_allow_usb; i++) {
        char id[10];
        snprintf(id, sizeof(id), "%04x:%04x", o->allow_usb[i].vid, o->allow_usb[i].pid);
        json_array_append_new(usb, json_string(id));
    }
    json_object_set_new(p, "allow-usb", usb);
    for (size_t i = 0; i < o->n_allow_serial; i++)
        json_array_append_new(ser, json_string(o->allow_serial[i]));
    json_object_set_new(p, "allow-serial", ser);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        json_object_set_new(p, nums[i].key,
                            json_integer(*(const uint32_t *)((const char *)o + nums[i].off)));
    json_object_set_new(p, "sensors", config_json_sensors(o->poll_sensors));
    json_object_set_new(p, "actuate-group",
                        o->actuate_group[0] ? json_string(o->actuate_group) : json_null());
    json_object_set_new(p, "log-level", json_integer(o->log_level));
    return p;
}

json_t *config_json(const options_t *o)
{
    json_t *boards = json_array();

    for (size_t i = 0; i < o->n_named; i++) {
        const options_board_t *b = &o->named[i];

        json_array_append_new(
            boards,
            json_pack("{s:s, s:s, s:I, s:I, s:o}", "name", b->name, "id", b->id, "poll-ms",
                      (json_int_t)(b->poll_ms ? b->poll_ms : o->poll_ms), "heartbeat-ms",
                      (json_int_t)(b->heartbeat_ms ? b->heartbeat_ms : o->heartbeat_ms), "sensors",
                      config_json_sensors(b->has_sensors ? b->poll_sensors : o->poll_sensors)));
    }
    return json_pack("{s:o, s:o, s:o}", "path",
                     o->config_path[0] ? json_string(o->config_path) : json_null(), "picod",
                     config_json_picod(o), "boards", boards);
}
