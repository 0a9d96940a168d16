/* bridge.c - see bridge.h. */
#include "bridge.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ha_discovery.h"
#include "mqtt_link.h"
#include "picod_client.h"
#include "picod_link.h"

#define BR_BOARDS_MAX 256
#define BR_SENSORS    8
#define BR_TXN_MAX    256 /* transactions remembered, for answering a repeat without acting */
#define BR_TOPIC      384

typedef struct br_board {
    bool used, seen;
    char id[17];
    char name[32];
    char firmware[64];
    char platform[16];
    char state[16];
    int led; /* -1 unknown, 0 off, 1 on */
    char led_mode[12];
    unsigned sensor_q[BR_SENSORS]; /* quantities announced, bit per ha_quantity */
    bool sensor_seen[BR_SENSORS];
    bool long_since_press, double_since_press;
    bool have_counters;
    json_int_t frames, bad;
    int link_quality; /* -1 unknown */
} br_board_t;

typedef struct br_txn {
    char key[192];  /* "" free */
    char *response; /* NULL while the request is under way */
} br_txn_t;

enum br_req_kind { BR_REQ_MQTT, BR_REQ_LED, BR_REQ_STATUS, BR_REQ_STATS };

typedef struct br_req {
    struct br_req *next, **pprev; /* in b->reqs: freed at close if picod never answered */
    struct bridge *b;
    enum br_req_kind kind;
    char cmd[16];
    char board[17];
    json_t *transaction; /* MQTT: echoed; NULL none */
    int txn;             /* slot in b->txn, -1 none */
} br_req_t;

struct bridge {
    uv_loop_t *loop;
    bridge_opts_t o;
    ha_ctx_t ha;
    picod_link_t *picod;
    mqtt_link_t *mqtt;
    uv_timer_t stats_timer;
    br_board_t boards[BR_BOARDS_MAX];
    br_txn_t txn[BR_TXN_MAX];
    size_t txn_next;
    bool status_pending, status_again;
    uint64_t dropped_logged;
    br_req_t *reqs; /* under way */
    char last_mqtt_why[256];
    int closing;
    void (*done_cb)(void *data);
    void *done_data;
};

/* ---- logging (the top level) ---- */

static int br_verbose;

static void br_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void br_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;

    if (level > 2 + br_verbose)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (getenv("JOURNAL_STREAM")) /* the journal: its priorities, err=3 ... debug=7 */
        fprintf(stderr, "<%d>%s\n", level == 0 ? 3 : level + 3, line);
    else
        fprintf(stderr, "picod-mqtt: %s: %s\n", names[level], line);
}
#define LOG_E(...) br_log(0, __VA_ARGS__)
#define LOG_W(...) br_log(1, __VA_ARGS__)
#define LOG_I(...) br_log(2, __VA_ARGS__)
#define LOG_D(...) br_log(3, __VA_ARGS__)

/* ---- publishing helpers ---- */

static void br_set(bridge_t *b, const char *topic, const char *payload)
{
    if (mqtt_link_set(b->mqtt, topic, payload, strlen(payload)) < 0)
        LOG_W("out of memory publishing %s", topic);
}

static void br_set_json(bridge_t *b, const char *topic, json_t *j)
{
    /* 7 significant digits: a reading's 45.001 stays 45.001, not 45.000999999999998 */
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(7)) : NULL;

    if (s)
        br_set(b, topic, s);
    free(s);
    json_decref(j);
}

static ha_board_t br_ha(const br_board_t *bd)
{
    ha_board_t h = {bd->id, bd->name[0] ? bd->name : NULL, bd->firmware[0] ? bd->firmware : NULL,
                    bd->platform[0] ? bd->platform : NULL};
    return h;
}

/* ---- boards ---- */

static br_board_t *br_find(bridge_t *b, const char *id, bool create)
{
    br_board_t *free_slot = NULL;

    if (!id || strlen(id) != 16)
        return NULL; /* not said HELLO yet: no id, nothing to publish under */
    for (size_t i = 0; i < BR_BOARDS_MAX; i++) {
        if (b->boards[i].used && strcmp(b->boards[i].id, id) == 0)
            return &b->boards[i];
        if (!b->boards[i].used && !free_slot)
            free_slot = &b->boards[i];
    }
    if (!create || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = true;
    snprintf(free_slot->id, sizeof(free_slot->id), "%s", id);
    snprintf(free_slot->state, sizeof(free_slot->state), "connecting");
    free_slot->led = -1;
    free_slot->link_quality = -1;
    return free_slot;
}

/* One discovery config: published, or emptied (remove) so Home Assistant drops the entity.
 * Takes the payload. */
static void br_config(bridge_t *b, const br_board_t *bd, bool remove, const char *component,
                      const char *object, json_t *payload)
{
    char t[BR_TOPIC];

    ha_config_topic(&b->ha, component, bd->id, object, t, sizeof(t));
    if (remove) {
        br_set(b, t, "");
        json_decref(payload);
    } else {
        br_set_json(b, t, payload);
    }
}

/* Every discovery config of a board. */
static void br_configs(bridge_t *b, br_board_t *bd, bool remove)
{
    ha_board_t h = br_ha(bd);
    char obj[32];

    br_config(b, bd, remove, "light", "led", ha_light_config(&b->ha, &h));
    for (int i = 0; i < HA_TRIGGERS; i++)
        br_config(b, bd, remove, "device_automation", ha_trigger_types[i],
                  ha_trigger_config(&b->ha, &h, ha_trigger_types[i]));
    br_config(b, bd, remove, "sensor", "state", ha_state_config(&b->ha, &h));
    br_config(b, bd, remove, "sensor", "link_quality", ha_link_quality_config(&b->ha, &h));
    for (int s = 0; s < BR_SENSORS; s++) {
        for (int q = 0; q < HA_QUANTITIES; q++) {
            if (!(bd->sensor_q[s] & (1u << q)))
                continue;
            snprintf(obj, sizeof(obj), "s%d_%s", s, ha_quantity_key((enum ha_quantity)q));
            br_config(b, bd, remove, "sensor", obj,
                      ha_sensor_config(&b->ha, &h, s, (enum ha_quantity)q));
        }
    }
}

static void br_announce(bridge_t *b, br_board_t *bd)
{
    br_configs(b, bd, false);
}

static const char *br_effect(const br_board_t *bd)
{
    if (strcmp(bd->led_mode, "blink") == 0)
        return "blink";
    if (strcmp(bd->led_mode, "auto") == 0)
        return "heartbeat";
    if (strcmp(bd->led_mode, "on") == 0)
        return "solid";
    return NULL;
}

static void br_publish_state(bridge_t *b, br_board_t *bd)
{
    char t[BR_TOPIC];
    const char *effect = br_effect(bd);
    bool lit = bd->led == 1 || (bd->led_mode[0] && strcmp(bd->led_mode, "off") != 0);
    json_t *j =
        json_pack("{s:s, s:s?, s:s?, s:s?}", "state", bd->state, "firmware",
                  bd->firmware[0] ? bd->firmware : NULL, "name", bd->name[0] ? bd->name : NULL,
                  "led_mode", bd->led_mode[0] ? bd->led_mode : NULL);

    /* The light is ON in every mode but off: blinking and the heartbeat are effects of it. */
    json_object_set_new(
        j, "led", bd->led < 0 && !bd->led_mode[0] ? json_null() : json_string(lit ? "ON" : "OFF"));
    json_object_set_new(j, "effect", effect ? json_string(effect) : json_null());
    json_object_set_new(j, "link_quality",
                        bd->link_quality < 0 ? json_null() : json_integer(bd->link_quality));
    ha_board_topic(&b->ha, bd->id, t, sizeof(t), "state");
    br_set_json(b, t, j);
    ha_board_topic(&b->ha, bd->id, t, sizeof(t), "availability");
    /* Only a board that answers is available: a stale one may show old values as current. */
    br_set(b, t,
           picod_link_is_up(b->picod) && strcmp(bd->state, "online") == 0 ? "online" : "offline");
}

/* A sensor entry (status) or a sensor event: its reading to B/N/I/sensor/S. */
static void br_sensor(bridge_t *b, br_board_t *bd, const json_t *s)
{
    json_int_t idx = json_integer_value(json_object_get(s, "sensor"));
    const char *kind = json_string_value(json_object_get(s, "kind"));
    const char *status = json_string_value(json_object_get(s, "status"));
    char t[BR_TOPIC], suffix[32];
    unsigned before;
    json_t *j;

    if (!json_is_integer(json_object_get(s, "sensor")) || idx < 0 || idx >= BR_SENSORS)
        return;
    j = json_pack("{s:s?, s:s?}", "kind", kind, "status", status);
    before = bd->sensor_q[idx];
    for (int q = 0; q < HA_QUANTITIES; q++) {
        const json_t *v = json_object_get(s, ha_quantity_field((enum ha_quantity)q));
        if (!json_is_number(v))
            continue;
        json_object_set(j, ha_quantity_key((enum ha_quantity)q), (json_t *)v);
        bd->sensor_q[idx] |= 1u << q;
    }
    bd->sensor_seen[idx] = true;
    snprintf(suffix, sizeof(suffix), "sensor/%d", (int)idx);
    ha_board_topic(&b->ha, bd->id, t, sizeof(t), suffix);
    br_set_json(b, t, j);
    if (bd->sensor_q[idx] != before)
        br_announce(b, bd);
}

static void br_copy(char *dst, size_t cap, const json_t *v)
{
    if (json_is_string(v))
        snprintf(dst, cap, "%s", json_string_value(v));
}

static void br_apply_led(br_board_t *bd, const json_t *led)
{
    if (!json_is_object(led))
        return;
    bd->led = json_is_true(json_object_get(led, "on")) ? 1 : 0;
    br_copy(bd->led_mode, sizeof(bd->led_mode), json_object_get(led, "mode"));
}

/* One board of a status answer. */
static void br_apply_status(bridge_t *b, const json_t *e)
{
    br_board_t *bd = br_find(b, json_string_value(json_object_get(e, "board")), true);
    const json_t *sensors = json_object_get(e, "sensors");
    size_t i;

    if (!bd)
        return;
    bd->seen = true;
    br_copy(bd->state, sizeof(bd->state), json_object_get(e, "state"));
    br_copy(bd->firmware, sizeof(bd->firmware), json_object_get(e, "firmware"));
    br_copy(bd->platform, sizeof(bd->platform), json_object_get(e, "platform"));
    if (json_is_string(json_object_get(e, "name")))
        br_copy(bd->name, sizeof(bd->name), json_object_get(e, "name"));
    else
        bd->name[0] = '\0';
    br_apply_led(bd, json_object_get(e, "led"));
    br_announce(b, bd);
    for (i = 0; i < json_array_size(sensors); i++)
        br_sensor(b, bd, json_array_get(sensors, i));
    br_publish_state(b, bd);
}

/* A board picod no longer serves: its entities go (empty retained configs), and its state. */
static void br_forget(bridge_t *b, br_board_t *bd)
{
    char t[BR_TOPIC], suffix[32];

    LOG_I("board %s is gone from picod: removing its Home Assistant entities", bd->id);
    br_configs(b, bd, true);
    for (int s = 0; s < BR_SENSORS; s++) {
        if (!bd->sensor_seen[s])
            continue;
        snprintf(suffix, sizeof(suffix), "sensor/%d", s);
        ha_board_topic(&b->ha, bd->id, t, sizeof(t), suffix);
        br_set(b, t, "");
    }
    ha_board_topic(&b->ha, bd->id, t, sizeof(t), "state");
    br_set(b, t, "");
    ha_board_topic(&b->ha, bd->id, t, sizeof(t), "availability");
    br_set(b, t, "");
    bd->used = false;
}

/* ---- requests to picod ---- */

static void br_reply_cb(picod_link_t *l, const json_t *resp, void *data);

static br_req_t *br_req_new(bridge_t *b, enum br_req_kind kind, const char *cmd)
{
    br_req_t *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->b = b;
    r->next = b->reqs;
    r->pprev = &b->reqs;
    if (b->reqs)
        b->reqs->pprev = &r->next;
    b->reqs = r;
    r->kind = kind;
    r->txn = -1;
    snprintf(r->cmd, sizeof(r->cmd), "%s", cmd);
    return r;
}

static void br_req_free(br_req_t *r)
{
    *r->pprev = r->next;
    if (r->next)
        r->next->pprev = r->pprev;
    json_decref(r->transaction);
    free(r);
}

static int br_request(bridge_t *b, br_req_t *r, const json_t *args)
{
    int e = picod_link_request(b->picod, r->cmd, args, br_reply_cb, r);

    if (e < 0)
        br_req_free(r);
    return e;
}

static void br_refresh(bridge_t *b)
{
    br_req_t *r;

    if (b->status_pending) {
        b->status_again = true;
        return;
    }
    r = br_req_new(b, BR_REQ_STATUS, "status");
    if (r && br_request(b, r, NULL) == 0)
        b->status_pending = true;
}

static void br_status_reply(bridge_t *b, const json_t *resp)
{
    const json_t *boards = json_object_get(json_object_get(resp, "result"), "boards");
    size_t i;

    b->status_pending = false;
    if (!json_is_array(boards))
        return;
    for (i = 0; i < BR_BOARDS_MAX; i++)
        b->boards[i].seen = false;
    for (i = 0; i < json_array_size(boards); i++)
        br_apply_status(b, json_array_get(boards, i));
    for (i = 0; i < BR_BOARDS_MAX; i++)
        if (b->boards[i].used && !b->boards[i].seen)
            br_forget(b, &b->boards[i]);
    if (b->status_again) {
        b->status_again = false;
        br_refresh(b);
    }
}

/* Link quality: the share of frames that arrived intact since the previous stats. */
static void br_stats_reply(bridge_t *b, const json_t *resp)
{
    const json_t *boards = json_object_get(json_object_get(resp, "result"), "boards");
    size_t i;

    for (i = 0; i < json_array_size(boards); i++) {
        const json_t *e = json_array_get(boards, i);
        br_board_t *bd = br_find(b, json_string_value(json_object_get(e, "board")), false);
        const json_t *d = json_object_get(e, "decoder");
        json_int_t frames = json_integer_value(json_object_get(d, "frames"));
        json_int_t bad = json_integer_value(json_object_get(d, "crc_errors")) +
                         json_integer_value(json_object_get(d, "cobs_errors")) +
                         json_integer_value(json_object_get(d, "oversize")) +
                         json_integer_value(json_object_get(d, "short_frames"));
        json_int_t df, db;

        if (!bd)
            continue;
        df = bd->have_counters ? frames - bd->frames : frames;
        db = bd->have_counters ? bad - bd->bad : bad;
        if (df < 0 || db < 0) { /* picod restarted: counters from 0 */
            df = frames;
            db = bad;
        }
        if (df + db > 0)
            bd->link_quality = (int)((100 * df + (df + db) / 2) / (df + db));
        bd->frames = frames;
        bd->bad = bad;
        bd->have_counters = true;
        br_publish_state(b, bd);
    }
}

static void br_led_reply(bridge_t *b, br_req_t *r, const json_t *resp)
{
    br_board_t *bd = br_find(b, r->board, false);
    const char *code, *msg;

    if (!resp) {
        LOG_W("led %s: picod went away before it answered", r->board);
        return;
    }
    if (picod_client_error(resp, &code, &msg)) {
        LOG_W("led %s: %s: %s", r->board, code, msg);
        return;
    }
    if (!bd)
        return;
    br_apply_led(bd, json_object_get(json_object_get(resp, "result"), "led"));
    br_publish_state(b, bd);
    LOG_D("led %s: now %s", bd->id, bd->led_mode);
}

static void br_response_topic(bridge_t *b, const char *cmd, char *t, size_t cap)
{
    char suffix[64];

    snprintf(suffix, sizeof(suffix), "bridge/response/%s", cmd);
    ha_topic(&b->ha, t, cap, suffix);
}

/* zigbee2mqtt's bridge/response shape: status ok|error, data, error (a sentence), plus
 * picod's code, and the request's transaction. */
static json_t *br_response(const json_t *transaction, const json_t *result, const char *code,
                           const char *message)
{
    json_t *j = code ? json_pack("{s:s, s:{}, s:s, s:s}", "status", "error", "data", "error",
                                 message, "code", code)
                     : json_pack("{s:s, s:O}", "status", "ok", "data",
                                 result ? (json_t *)result : json_object());

    if (transaction)
        json_object_set(j, "transaction", (json_t *)transaction);
    return j;
}

static void br_answer(bridge_t *b, br_req_t *r, json_t *j)
{
    char t[BR_TOPIC];
    char *s = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    if (!s)
        return;
    br_response_topic(b, r->cmd, t, sizeof(t));
    if (r->txn >= 0) { /* remembered: a repeat of this transaction gets these bytes again */
        free(b->txn[r->txn].response);
        b->txn[r->txn].response = strdup(s);
    }
    if (mqtt_link_send(b->mqtt, t, s, strlen(s)) < 0)
        LOG_W("out of memory answering %s", r->cmd);
    free(s);
}

static void br_mqtt_reply(bridge_t *b, br_req_t *r, const json_t *resp)
{
    const char *code, *msg;

    if (!resp) {
        /* It may have run: remembered as this answer, so a repeat does not run it again. */
        br_answer(b, r,
                  br_response(r->transaction, NULL, "picod_lost",
                              "the connection to picod was lost before it answered: the "
                              "command may or may not have run"));
        return;
    }
    if (picod_client_error(resp, &code, &msg))
        br_answer(b, r, br_response(r->transaction, NULL, code, msg));
    else
        br_answer(b, r, br_response(r->transaction, json_object_get(resp, "result"), NULL, NULL));
}

static void br_reply_cb(picod_link_t *l, const json_t *resp, void *data)
{
    br_req_t *r = data;
    bridge_t *b = r->b;

    (void)l;
    switch (r->kind) {
    case BR_REQ_STATUS:
        if (resp)
            br_status_reply(b, resp);
        else
            b->status_pending = false;
        break;
    case BR_REQ_STATS:
        if (resp)
            br_stats_reply(b, resp);
        break;
    case BR_REQ_LED:
        br_led_reply(b, r, resp);
        break;
    case BR_REQ_MQTT:
        br_mqtt_reply(b, r, resp);
        break;
    }
    br_req_free(r);
}

/* ---- picod events ---- */

static void br_button(bridge_t *b, br_board_t *bd, const char *kind)
{
    const char *action = NULL;
    char t[BR_TOPIC];

    if (strcmp(kind, "press") == 0) {
        bd->long_since_press = bd->double_since_press = false;
    } else if (strcmp(kind, "long") == 0) {
        bd->long_since_press = true;
        action = "button_long_press";
    } else if (strcmp(kind, "double") == 0) {
        bd->double_since_press = true;
        action = "button_double_press";
    } else if (strcmp(kind, "release") == 0 && !bd->long_since_press && !bd->double_since_press) {
        action = "button_short_press";
    }
    if (!action)
        return;
    ha_board_topic(&b->ha, bd->id, t, sizeof(t), "action");
    if (mqtt_link_send(b->mqtt, t, action, strlen(action)) < 0)
        LOG_W("out of memory publishing %s", t);
}

static void br_event_cb(picod_link_t *l, const json_t *ev, void *data)
{
    bridge_t *b = data;
    const char *name = json_string_value(json_object_get(ev, "event"));
    const char *id = json_string_value(json_object_get(ev, "board"));
    br_board_t *bd;

    (void)l;
    if (strcmp(name, "gap") == 0) {
        LOG_W("picod no longer holds events %lld..%lld: state re-read, those button presses "
              "are lost",
              json_integer_value(json_object_get(ev, "from")),
              json_integer_value(json_object_get(ev, "to")));
        br_refresh(b);
        return;
    }
    bd = br_find(b, id, strcmp(name, "board_online") == 0);
    if (!bd)
        return;
    if (strcmp(name, "sensor") == 0) {
        br_sensor(b, bd, ev);
    } else if (strcmp(name, "button") == 0) {
        const char *kind = json_string_value(json_object_get(ev, "kind"));
        if (kind)
            br_button(b, bd, kind);
    } else if (strcmp(name, "board_online") == 0 || strcmp(name, "board_stale") == 0 ||
               strcmp(name, "board_offline") == 0) {
        /* (board_online's "firmware" is the build string: status gives the version) */
        snprintf(bd->state, sizeof(bd->state), "%s", name + strlen("board_"));
        br_publish_state(b, bd);
        br_refresh(b); /* LED, sensors, name; and whether an offline board was removed */
    } else if (strcmp(name, "board_reset") == 0) {
        br_refresh(b);
    }
}

static void br_picod_up_cb(picod_link_t *l, const json_t *result, void *data)
{
    bridge_t *b = data;

    (void)l;
    LOG_I("watching picod at %s (boot %s, from event %lld%s)", b->o.socket,
          json_string_value(json_object_get(result, "boot_id")),
          (long long)picod_link_seq(b->picod),
          json_is_true(json_object_get(result, "restarted")) ? ", picod restarted" : "");
    b->status_pending = false;
    br_refresh(b);
}

static void br_picod_down_cb(picod_link_t *l, const char *why, void *data)
{
    bridge_t *b = data;

    (void)l;
    LOG_W("%s; retrying", why);
    b->status_pending = false;
    for (size_t i = 0; i < BR_BOARDS_MAX; i++)
        if (b->boards[i].used)
            br_publish_state(b, &b->boards[i]); /* unavailable: nobody vouches for them */
}

static void br_stats_cb(uv_timer_t *t)
{
    bridge_t *b = t->data;
    mqtt_link_stats_t st;
    br_req_t *r;

    mqtt_link_get_stats(b->mqtt, &st);
    if (st.dropped > b->dropped_logged) {
        LOG_W("%llu message(s) (triggers, responses) dropped since the last report: the broker "
              "takes them slower than they come (queue of %d)",
              (unsigned long long)(st.dropped - b->dropped_logged), MQTT_LINK_QUEUE_MAX);
        b->dropped_logged = st.dropped;
    }
    if (!picod_link_is_up(b->picod))
        return;
    r = br_req_new(b, BR_REQ_STATS, "stats");
    if (r)
        br_request(b, r, NULL);
    br_refresh(b);
}

/* ---- MQTT commands ---- */

static void br_light(bridge_t *b, const char *id, const char *what, const char *payload, size_t len)
{
    br_board_t *bd = br_find(b, id, false);
    json_t *args;
    br_req_t *r;
    const char *mode = NULL;

    if (!bd) {
        LOG_W("%s for unknown board %s: ignored", what, id);
        return;
    }
    if (strcmp(what, "led/set") == 0) {
        if (len == 2 && memcmp(payload, "ON", 2) == 0) {
            /* ON keeps a blinking or heartbeat LED as it is: Home Assistant sends ON after
             * an effect (on_command_type last) */
            if (bd->led_mode[0] && strcmp(bd->led_mode, "off") != 0)
                return;
            mode = "on";
        } else if (len == 3 && memcmp(payload, "OFF", 3) == 0) {
            mode = "off";
        }
    } else {
        if (len == 5 && memcmp(payload, "solid", 5) == 0)
            mode = "on";
        else if (len == 5 && memcmp(payload, "blink", 5) == 0)
            mode = "blink";
        else if (len == 9 && memcmp(payload, "heartbeat", 9) == 0)
            mode = "auto";
    }
    if (!mode) {
        LOG_W("%s %s: payload '%.*s' is not one of %s: ignored", id, what,
              (int)(len > 40 ? 40 : len), payload,
              strcmp(what, "led/set") == 0 ? "ON, OFF" : "solid, blink, heartbeat");
        return;
    }
    r = br_req_new(b, BR_REQ_LED, "led");
    if (!r)
        return;
    snprintf(r->board, sizeof(r->board), "%s", id);
    args = json_pack("{s:s, s:s}", "board", id, "mode", mode);
    if (br_request(b, r, args) < 0)
        LOG_W("led %s %s: picod is not reachable: not done", id, mode);
    json_decref(args);
}

static bool br_allowed_cmd(const char *cmd)
{
    static const char *const ok[] = {"poll", "i2c", "reboot", "led", "ping", "status", "stats"};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(cmd, ok[i]) == 0)
            return true;
    return false;
}

/* Acts more than once if repeated: such a request must carry a transaction. */
static bool br_needs_transaction(const char *cmd, const json_t *args)
{
    const char *op = json_string_value(json_object_get(args, "op"));

    if (strcmp(cmd, "reboot") == 0)
        return true;
    return strcmp(cmd, "i2c") == 0 && op && strcmp(op, "scan") != 0 && strcmp(op, "read") != 0;
}

/* Find the transaction, or take a slot for it (the oldest goes). Returns the slot, with
 * *repeat set when it was there already. */
static int br_txn(bridge_t *b, const char *cmd, const json_t *transaction, bool *repeat)
{
    char *tx = json_dumps(transaction, JSON_COMPACT | JSON_ENCODE_ANY);
    char key[192];
    int slot;

    snprintf(key, sizeof(key), "%s %s", cmd, tx ? tx : "?");
    free(tx);
    *repeat = false;
    for (int i = 0; i < BR_TXN_MAX; i++) {
        if (strcmp(b->txn[i].key, key) == 0) {
            *repeat = true;
            return i;
        }
    }
    slot = (int)b->txn_next;
    b->txn_next = (b->txn_next + 1) % BR_TXN_MAX;
    free(b->txn[slot].response);
    b->txn[slot].response = NULL;
    snprintf(b->txn[slot].key, sizeof(b->txn[slot].key), "%s", key);
    return slot;
}

static void br_request_msg(bridge_t *b, const char *cmd, const char *payload, size_t len)
{
    json_t *args = json_loadb(payload, len, 0, NULL);
    json_t *transaction = json_object_get(args, "transaction");
    br_req_t *r = br_req_new(b, BR_REQ_MQTT, cmd);
    bool repeat = false;
    int e;

    if (!r) {
        json_decref(args);
        return;
    }
    if (transaction)
        r->transaction = json_incref(transaction);
    if (!json_is_object(args)) {
        br_answer(b, r,
                  br_response(NULL, NULL, "invalid_request", "the payload must be a JSON object"));
    } else if (!br_allowed_cmd(cmd)) {
        br_answer(b, r,
                  br_response(transaction, NULL, "unknown_command",
                              "not a bridge request: poll, i2c, reboot, led, ping, "
                              "status, stats"));
    } else if (!transaction && br_needs_transaction(cmd, args)) {
        br_answer(b, r,
                  br_response(NULL, NULL, "missing_argument",
                              "this command acts each time it arrives: give it a "
                              "\"transaction\" id, so a repeated message runs it once"));
    } else if (transaction && (r->txn = br_txn(b, cmd, transaction, &repeat), repeat)) {
        const char *stored = b->txn[r->txn].response;
        char t[BR_TOPIC];

        LOG_I("%s transaction %s again: %s, not executed again", cmd, b->txn[r->txn].key,
              stored ? "answered as before" : "its answer is still to come");
        br_response_topic(b, cmd, t, sizeof(t));
        if (stored)
            mqtt_link_send(b->mqtt, t, stored, strlen(stored));
        r->txn = -1;
    } else {
        json_object_del(args, "transaction");
        e = picod_link_request(b->picod, cmd, args, br_reply_cb, r);
        if (e == 0) {
            json_decref(args);
            return; /* br_reply_cb answers and frees r */
        }
        if (r->txn >= 0) { /* not sent: nothing ran, a retry may run it */
            b->txn[r->txn].key[0] = '\0';
            r->txn = -1;
        }
        br_answer(
            b, r,
            br_response(transaction, NULL, e == -EBUSY ? "busy" : "unavailable",
                        e == -EBUSY ? "too many requests under way" : "picod is not reachable"));
    }
    br_req_free(r);
    json_decref(args);
}

static void br_message_cb(mqtt_link_t *l, const char *topic, const char *payload, size_t len,
                          bool retained, void *data)
{
    bridge_t *b = data;
    char mine[BR_TOPIC], ha_status[160];
    size_t n;
    const char *rest;

    (void)l;
    snprintf(ha_status, sizeof(ha_status), "%s/status", b->o.discovery_prefix);
    if (strcmp(topic, ha_status) == 0) {
        if (len == 6 && memcmp(payload, "online", 6) == 0) {
            char prefix[160];
            snprintf(prefix, sizeof(prefix), "%s/", b->o.discovery_prefix);
            LOG_I("Home Assistant is online: discovery republished");
            mqtt_link_republish(b->mqtt, prefix);
        }
        return;
    }
    ha_topic(&b->ha, mine, sizeof(mine), "");
    n = strlen(mine);
    if (strncmp(topic, mine, n) != 0)
        return;
    rest = topic + n;
    if (retained) {
        /* A stored command is an old one: executing it at every (re)connect would repeat it. */
        LOG_W("%s: a retained command, ignored (publish commands without the retain flag)", topic);
        return;
    }
    LOG_D("command %s: %.*s", topic, (int)(len > 200 ? 200 : len), payload);
    if (strncmp(rest, "bridge/request/", 15) == 0) {
        br_request_msg(b, rest + 15, payload, len);
    } else if (strlen(rest) > 17 && rest[16] == '/') {
        char id[17];
        memcpy(id, rest, 16);
        id[16] = '\0';
        br_light(b, id, rest + 17, payload, len);
    }
}

/* ---- MQTT connection ---- */

static void br_mqtt_connected_cb(mqtt_link_t *l, void *data)
{
    bridge_t *b = data;

    (void)l;
    LOG_I("connected to the broker at %s:%d as %s", b->o.host, b->o.port, b->o.client_id);
    b->last_mqtt_why[0] = '\0';
}

static void br_mqtt_down_cb(mqtt_link_t *l, const char *why, int connack, void *data)
{
    bridge_t *b = data;

    (void)l;
    if (strcmp(why, b->last_mqtt_why) == 0) {
        LOG_D("broker %s:%d: %s; retrying", b->o.host, b->o.port, why);
        return; /* said once: a broker that stays down does not fill the journal */
    }
    snprintf(b->last_mqtt_why, sizeof(b->last_mqtt_why), "%s", why);
    if (connack == 4 || connack == 5)
        LOG_E("broker %s:%d %s (user '%s': check --username and --password-file); retrying",
              b->o.host, b->o.port, why, b->o.username[0] ? b->o.username : "(none)");
    else if (connack)
        LOG_E("broker %s:%d %s; retrying", b->o.host, b->o.port, why);
    else
        LOG_W("broker %s:%d: %s; retrying with backoff", b->o.host, b->o.port, why);
}

static int br_mqtt_setup(bridge_t *b)
{
    char will[BR_TOPIC], t[BR_TOPIC], why[300];
    mqtt_link_config_t cfg = {
        .host = b->o.host,
        .port = b->o.port,
        .client_id = b->o.client_id,
        .username = b->o.username[0] ? b->o.username : NULL,
        .password = b->o.password_file[0] ? b->o.password : NULL,
        .tls_ca = b->o.tls_ca[0] ? b->o.tls_ca : NULL,
        .tls_cert = b->o.tls_cert[0] ? b->o.tls_cert : NULL,
        .tls_key = b->o.tls_key[0] ? b->o.tls_key : NULL,
        .keepalive_s = b->o.keepalive_s,
        .will_topic = will,
        .backoff_min_ms = 250,
        .backoff_max_ms = 30000,
    };
    mqtt_link_cbs_t cbs = {br_mqtt_connected_cb, br_mqtt_down_cb, br_message_cb};
    int r;

    ha_topic(&b->ha, will, sizeof(will), "bridge/state");
    r = mqtt_link_new(b->loop, &cfg, &cbs, b, &b->mqtt, why, sizeof(why));
    if (r < 0) {
        LOG_E("%s", why);
        return r;
    }
    br_set(b, will, "online");
    ha_config_topic(&b->ha, "binary_sensor", "bridge", "connection", t, sizeof(t));
    br_set_json(b, t, ha_bridge_config(&b->ha));
    ha_topic(&b->ha, t, sizeof(t), "+/led/set");
    r = mqtt_link_subscribe(b->mqtt, t);
    ha_topic(&b->ha, t, sizeof(t), "+/led/effect/set");
    r = r ? r : mqtt_link_subscribe(b->mqtt, t);
    ha_topic(&b->ha, t, sizeof(t), "bridge/request/+");
    r = r ? r : mqtt_link_subscribe(b->mqtt, t);
    snprintf(t, sizeof(t), "%s/status", b->o.discovery_prefix);
    return r ? r : mqtt_link_subscribe(b->mqtt, t);
}

int bridge_new(uv_loop_t *loop, const bridge_opts_t *opts, bridge_t **out)
{
    bridge_t *b = calloc(1, sizeof(*b));
    picod_link_cbs_t pcbs = {br_picod_up_cb, br_picod_down_cb, br_event_cb};
    int r;

    if (!b)
        return -ENOMEM;
    b->loop = loop;
    b->o = *opts;
    br_verbose = opts->verbose;
    b->ha.prefix = b->o.discovery_prefix;
    b->ha.base = b->o.base_topic;
    b->ha.node = b->o.node_id;
    b->ha.version = PICOD_VERSION;
    r = br_mqtt_setup(b);
    if (r == 0)
        r = picod_link_new(loop, b->o.socket, &pcbs, b, &b->picod);
    if (r < 0) {
        if (b->mqtt)
            mqtt_link_close(b->mqtt, NULL, NULL);
        free(b);
        return r;
    }
    uv_timer_init(loop, &b->stats_timer);
    b->stats_timer.data = b;
    *out = b;
    return 0;
}

void bridge_start(bridge_t *b)
{
    LOG_I("node %s: picod at %s, broker %s:%d%s, topics %s/%s, discovery %s", b->o.node_id,
          b->o.socket, b->o.host, b->o.port, b->o.tls_ca[0] ? " (TLS)" : "", b->o.base_topic,
          b->o.node_id, b->o.discovery_prefix);
    mqtt_link_start(b->mqtt);
    picod_link_start(b->picod);
    uv_timer_start(&b->stats_timer, br_stats_cb, (uint64_t)b->o.stats_ms, (uint64_t)b->o.stats_ms);
}

static void br_part_closed(void *data)
{
    bridge_t *b = data;

    if (--b->closing > 0)
        return;
    for (size_t i = 0; i < BR_TXN_MAX; i++)
        free(b->txn[i].response);
    while (b->reqs) /* picod_link_close dropped them without an answer */
        br_req_free(b->reqs);
    if (b->done_cb)
        b->done_cb(b->done_data);
    free(b);
}

static void br_timer_closed_cb(uv_handle_t *h)
{
    br_part_closed(h->data);
}

void bridge_close(bridge_t *b, void (*done_cb)(void *data), void *data)
{
    b->done_cb = done_cb;
    b->done_data = data;
    b->closing = 3;
    uv_close((uv_handle_t *)&b->stats_timer, br_timer_closed_cb);
    picod_link_close(b->picod, br_part_closed, b);
    mqtt_link_close(b->mqtt, br_part_closed, b);
}
