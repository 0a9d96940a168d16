/*
 * mqtt_link.h - one MQTT broker connection (libmosquitto) driven from a libuv loop.
 *
 * No libmosquitto thread: the socket is watched with a uv_poll (mosquitto_socket()), and
 * mosquitto_loop_read/write run when it is readable/writable, mosquitto_loop_misc once a second
 * (keepalive). A lost or refused connection is retried with a doubling backoff.
 *
 * What the link publishes is bounded, whatever the broker reads:
 *  - retained state (mqtt_link_set): the latest payload per topic. A topic is (re)published when
 *    its payload changes, and every one again after each (re)connect. While MQTT_LINK_INFLIGHT
 *    messages wait for the broker's PUBACK, changes only replace the waiting payload: memory is
 *    one payload per topic, however fast the values change.
 *  - one-off messages (mqtt_link_send: triggers, responses): a FIFO of at most
 *    MQTT_LINK_QUEUE_MAX; when full the oldest is dropped (counted in stats).
 * Everything is QoS 1. Callbacks come from the loop, never from inside a call of the owner.
 */
#ifndef BRIDGE_MQTT_LINK_H
#define BRIDGE_MQTT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define MQTT_LINK_INFLIGHT  20   /* QoS 1 messages awaiting PUBACK (libmosquitto's default) */
#define MQTT_LINK_QUEUE_MAX 1024 /* one-off messages waiting */

typedef struct mqtt_link mqtt_link_t;

typedef struct mqtt_link_config {
    const char *host;
    int port;
    const char *client_id;
    const char *username; /* NULL: none */
    const char *password; /* NULL: none */
    const char *tls_ca;   /* NULL: no TLS */
    const char *tls_cert, *tls_key;
    int keepalive_s;
    const char *will_topic; /* retained "offline" there when the link dies */
    int backoff_min_ms, backoff_max_ms;
} mqtt_link_config_t;

typedef struct mqtt_link_cbs {
    /* The broker accepted the connection (the subscriptions are renewed, retained state is
     * being republished). */
    void (*connected_cb)(mqtt_link_t *l, void *data);
    /* The connection failed or was lost: why (a sentence), and the CONNACK code (0 when not a
     * refusal: a network failure). A retry is scheduled. */
    void (*down_cb)(mqtt_link_t *l, const char *why, int connack, void *data);
    /* A message on a subscribed topic. retained: the broker delivered it from its store (it was
     * not published just now). Borrowed for the call. */
    void (*message_cb)(mqtt_link_t *l, const char *topic, const char *payload, size_t len,
                       bool retained, void *data);
} mqtt_link_cbs_t;

typedef struct mqtt_link_stats {
    uint64_t published, acked, coalesced, dropped, connects, failures;
    size_t queued, topics, inflight, bytes_held;
} mqtt_link_stats_t;

/* Creates the link (the config strings are copied). Returns 0 or -errno (-EINVAL for a bad TLS
 * file, with why set to a sentence). Nothing happens until mqtt_link_start. */
int mqtt_link_new(uv_loop_t *loop, const mqtt_link_config_t *cfg, const mqtt_link_cbs_t *cbs,
                  void *data, mqtt_link_t **out, char *why, size_t why_cap);

/* Connects (from the loop). */
void mqtt_link_start(mqtt_link_t *l);

bool mqtt_link_is_up(const mqtt_link_t *l);

/* Remember a subscription (QoS 1), renewed on every connect. Returns 0 or -ENOMEM. */
int mqtt_link_subscribe(mqtt_link_t *l, const char *pattern);

/* Retained state: topic's payload is now payload (copied; len 0 removes a retained message).
 * Published when it differs from the last one set, and after every reconnect. Returns 0 or
 * -ENOMEM. */
int mqtt_link_set(mqtt_link_t *l, const char *topic, const char *payload, size_t len);

/* Republish every retained topic under prefix (e.g. discovery after Home Assistant's
 * "online"). */
void mqtt_link_republish(mqtt_link_t *l, const char *prefix);

/* A one-off, non-retained message (copied). Returns 0 or -ENOMEM. */
int mqtt_link_send(mqtt_link_t *l, const char *topic, const char *payload, size_t len);

void mqtt_link_get_stats(const mqtt_link_t *l, mqtt_link_stats_t *st);

/* Publishes will_topic "offline" retained (when connected), disconnects and frees everything;
 * close_cb(data) runs from the loop once the handles are closed. */
void mqtt_link_close(mqtt_link_t *l, void (*close_cb)(void *data), void *data);

#endif /* BRIDGE_MQTT_LINK_H */
