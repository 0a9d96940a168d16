/* mqtt_link.c - see mqtt_link.h. */
#include "mqtt_link.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ML_BUCKETS 1024

/* One retained topic: the payload it should have, and whether the broker has it yet. */
typedef struct ml_topic {
    struct ml_topic *next;                   /* hash chain */
    struct ml_topic *dirty_next, **dirty_pp; /* in the dirty list when dirty_pp != NULL */
    char *topic;
    char *payload;
    size_t len;
    int inflight_mid; /* 0: not in flight */
} ml_topic_t;

typedef struct ml_msg {
    char *topic;
    char *payload;
    size_t len;
} ml_msg_t;

typedef struct ml_sub {
    struct ml_sub *next;
    char *pattern;
} ml_sub_t;

typedef struct ml_inflight {
    int mid;
    ml_topic_t *topic; /* NULL for a one-off message */
} ml_inflight_t;

struct mqtt_link {
    uv_loop_t *loop;
    struct mosquitto *mosq;
    mqtt_link_config_t cfg; /* strings owned */
    mqtt_link_cbs_t cbs;
    void *data;
    uv_poll_t poll;
    uv_timer_t misc_timer, retry_timer;
    uv_idle_t defer; /* delivers events that happened inside calls of the owner */
    int poll_fd;     /* the fd poll watches, -1 none */
    bool poll_open, poll_closing, up, connecting, closing;
    int backoff_ms;
    int last_connack;
    char last_why[200];
    bool pending_down, pending_up;
    ml_topic_t *buckets[ML_BUCKETS];
    ml_topic_t *dirty_head, **dirty_tail;
    ml_msg_t queue[MQTT_LINK_QUEUE_MAX];
    size_t q_head, q_len;
    ml_inflight_t inflight[MQTT_LINK_INFLIGHT];
    size_t n_inflight;
    ml_sub_t *subs;
    int close_pending;
    int will_mid;
    void (*close_cb)(void *data);
    void *close_data;
    mqtt_link_stats_t st;
};

static void ml_pump(mqtt_link_t *l);
static void ml_update_poll(mqtt_link_t *l);
static void ml_schedule_retry(mqtt_link_t *l);

static unsigned ml_hash(const char *s)
{
    unsigned h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % ML_BUCKETS;
}

static char *ml_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void ml_dirty(mqtt_link_t *l, ml_topic_t *t)
{
    if (t->dirty_pp)
        return;
    t->dirty_next = NULL;
    t->dirty_pp = l->dirty_tail;
    *l->dirty_tail = t;
    l->dirty_tail = &t->dirty_next;
}

static ml_topic_t *ml_dirty_pop(mqtt_link_t *l)
{
    ml_topic_t *t = l->dirty_head;

    if (!t)
        return NULL;
    l->dirty_head = t->dirty_next;
    if (!l->dirty_head)
        l->dirty_tail = &l->dirty_head;
    else
        l->dirty_head->dirty_pp = &l->dirty_head;
    t->dirty_pp = NULL;
    t->dirty_next = NULL;
    return t;
}

/* ---- libmosquitto callbacks: they run inside mosquitto_loop_* called from our handlers ---- */

static void ml_on_connect(struct mosquitto *m, void *data, int rc)
{
    mqtt_link_t *l = data;
    (void)m;
    l->connecting = false;
    if (rc != 0) {
        l->last_connack = rc;
        snprintf(l->last_why, sizeof(l->last_why), "refused the connection: %s",
                 mosquitto_connack_string(rc));
        l->pending_down = true;
        return;
    }
    l->up = true;
    l->backoff_ms = l->cfg.backoff_min_ms;
    l->st.connects++;
    l->pending_up = true;
}

static void ml_on_disconnect(struct mosquitto *m, void *data, int rc)
{
    mqtt_link_t *l = data;
    (void)m;
    if (!l->up && l->pending_down)
        return; /* a refusal already said why */
    if (!l->pending_down) {
        l->last_connack = 0;
        snprintf(l->last_why, sizeof(l->last_why), "%s",
                 rc == 0 ? "disconnected" : mosquitto_strerror(rc));
    }
    l->up = false;
    l->pending_down = true;
}

static void ml_on_publish(struct mosquitto *m, void *data, int mid)
{
    mqtt_link_t *l = data;
    (void)m;
    for (size_t i = 0; i < l->n_inflight; i++) {
        if (l->inflight[i].mid != mid)
            continue;
        if (l->inflight[i].topic) {
            l->inflight[i].topic->inflight_mid = 0;
        }
        l->inflight[i] = l->inflight[--l->n_inflight];
        l->st.acked++;
        break;
    }
    if (mid == l->will_mid)
        l->will_mid = -1;
}

static void ml_on_message(struct mosquitto *m, void *data, const struct mosquitto_message *msg)
{
    mqtt_link_t *l = data;
    (void)m;
    if (l->closing || !l->cbs.message_cb)
        return;
    l->cbs.message_cb(l, msg->topic, msg->payload ? msg->payload : "",
                      msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, msg->retain, l->data);
}

/* ---- the loop side ---- */

static void ml_handle_closed_cb(uv_handle_t *h);

static void ml_poll_close_cb(uv_handle_t *h)
{
    mqtt_link_t *l = h->data;

    l->poll_open = false;
    l->poll_closing = false;
    if (l->closing)
        ml_handle_closed_cb(h);
}

static void ml_stop_poll(mqtt_link_t *l)
{
    if (l->poll_open && !l->poll_closing) {
        uv_close((uv_handle_t *)&l->poll, ml_poll_close_cb);
        l->poll_closing = true;
    }
    l->poll_fd = -1;
}

/* What the mosquitto callbacks noted: said to the owner from here, outside libmosquitto. */
static void ml_deliver(mqtt_link_t *l)
{
    if (l->pending_down) {
        l->pending_down = false;
        l->pending_up = false;
        l->up = false;
        ml_stop_poll(l);
        if (l->closing)
            return;
        l->st.failures++;
        if (l->cbs.down_cb)
            l->cbs.down_cb(l, l->last_why, l->last_connack, l->data);
        ml_schedule_retry(l);
        return;
    }
    if (l->pending_up) {
        l->pending_up = false;
        for (ml_sub_t *s = l->subs; s; s = s->next)
            mosquitto_subscribe(l->mosq, NULL, s->pattern, 1);
        for (unsigned b = 0; b < ML_BUCKETS; b++)
            for (ml_topic_t *t = l->buckets[b]; t; t = t->next)
                ml_dirty(l, t); /* a restarted broker may have lost them all */
        if (l->cbs.connected_cb)
            l->cbs.connected_cb(l, l->data);
    }
    ml_pump(l);
}

static void ml_poll_cb(uv_poll_t *p, int status, int events)
{
    mqtt_link_t *l = p->data;
    int rc = MOSQ_ERR_SUCCESS;

    (void)status; /* an error shows in the read: libmosquitto finds and reports it */
    (void)events;
    /* Always read first: a TLS handshake advances in loop_read, whichever way the socket is
     * ready; a plain read that finds nothing returns at once. */
    rc = mosquitto_loop_read(l->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(l->mosq) && mosquitto_socket(l->mosq) >= 0)
        rc = mosquitto_loop_write(l->mosq, 1);
    if (rc != MOSQ_ERR_SUCCESS && !l->pending_down) {
        snprintf(l->last_why, sizeof(l->last_why), "%s",
                 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        l->last_connack = 0;
        l->pending_down = true;
    }
    if (mosquitto_socket(l->mosq) < 0 && !l->pending_down && !l->closing) {
        snprintf(l->last_why, sizeof(l->last_why), "connection closed");
        l->pending_down = true;
    }
    ml_deliver(l);
    ml_update_poll(l);
}

static void ml_update_poll(mqtt_link_t *l)
{
    int fd = mosquitto_socket(l->mosq);
    int ev;

    if (fd < 0 || l->pending_down || l->closing) {
        ml_stop_poll(l);
        return;
    }
    if (fd != l->poll_fd) {
        ml_stop_poll(l);
        if (l->poll_open)
            return; /* the old handle is still closing: ml_retry_cb comes back later */
        if (uv_poll_init_socket(l->loop, &l->poll, fd) < 0)
            return;
        l->poll.data = l;
        l->poll_open = true;
        l->poll_fd = fd;
    }
    ev = UV_READABLE;
    if (mosquitto_want_write(l->mosq))
        ev |= UV_WRITABLE;
    uv_poll_start(&l->poll, ev, ml_poll_cb);
}

static void ml_misc_cb(uv_timer_t *t)
{
    mqtt_link_t *l = t->data;

    if (mosquitto_socket(l->mosq) >= 0) {
        int rc = mosquitto_loop_misc(l->mosq);
        if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN && !l->pending_down) {
            snprintf(l->last_why, sizeof(l->last_why), "%s", mosquitto_strerror(rc));
            l->pending_down = true;
        }
        ml_deliver(l);
        ml_update_poll(l);
    }
}

static void ml_connect(mqtt_link_t *l)
{
    int rc;

    l->connecting = true;
    rc = l->st.connects || l->st.failures
             ? mosquitto_reconnect_async(l->mosq)
             : mosquitto_connect_async(l->mosq, l->cfg.host, l->cfg.port, l->cfg.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        l->connecting = false;
        l->last_connack = 0;
        snprintf(l->last_why, sizeof(l->last_why), "%s",
                 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        l->pending_down = true;
    }
    ml_deliver(l);
    ml_update_poll(l);
}

static void ml_retry_cb(uv_timer_t *t)
{
    mqtt_link_t *l = t->data;

    if (l->poll_open) { /* the previous socket's handle is still closing */
        uv_timer_start(&l->retry_timer, ml_retry_cb, 10, 0);
        return;
    }
    ml_connect(l);
}

static void ml_schedule_retry(mqtt_link_t *l)
{
    uv_timer_start(&l->retry_timer, ml_retry_cb, (uint64_t)l->backoff_ms, 0);
    l->backoff_ms =
        l->backoff_ms * 2 > l->cfg.backoff_max_ms ? l->cfg.backoff_max_ms : l->backoff_ms * 2;
}

static void ml_defer_cb(uv_idle_t *h)
{
    mqtt_link_t *l = h->data;

    uv_idle_stop(h);
    if (mosquitto_socket(l->mosq) >= 0 && l->up)
        ml_pump(l);
    ml_update_poll(l);
}

void mqtt_link_start(mqtt_link_t *l)
{
    uv_timer_start(&l->retry_timer, ml_retry_cb, 0, 0);
}

bool mqtt_link_is_up(const mqtt_link_t *l)
{
    return l->up;
}

/* ---- publishing ---- */

static int ml_publish(mqtt_link_t *l, ml_topic_t *t, const char *topic, const char *payload,
                      size_t len, bool retain)
{
    int mid = 0;
    int rc = mosquitto_publish(l->mosq, &mid, topic, (int)len, payload, 1, retain);

    if (rc != MOSQ_ERR_SUCCESS)
        return -EIO;
    l->inflight[l->n_inflight].mid = mid;
    l->inflight[l->n_inflight].topic = t;
    l->n_inflight++;
    if (t)
        t->inflight_mid = mid;
    l->st.published++;
    return 0;
}

/* Send what is waiting, as far as the in-flight window allows. */
static void ml_pump(mqtt_link_t *l)
{
    if (!l->up || l->closing)
        return;
    while (l->n_inflight < MQTT_LINK_INFLIGHT && l->q_len) {
        ml_msg_t *m = &l->queue[l->q_head];

        if (ml_publish(l, NULL, m->topic, m->payload, m->len, false) < 0)
            return;
        free(m->topic);
        free(m->payload);
        l->st.bytes_held -= m->len;
        l->q_head = (l->q_head + 1) % MQTT_LINK_QUEUE_MAX;
        l->q_len--;
    }
    while (l->n_inflight < MQTT_LINK_INFLIGHT) {
        ml_topic_t *t = l->dirty_head;

        if (!t)
            break;
        if (t->inflight_mid) { /* its previous payload is still on the way: later */
            ml_dirty_pop(l);
            ml_dirty(l, t);
            if (l->dirty_head == t)
                break; /* everything left is in flight */
            continue;
        }
        if (ml_publish(l, t, t->topic, t->payload, t->len, true) < 0)
            return;
        ml_dirty_pop(l);
    }
}

static void ml_kick(mqtt_link_t *l)
{
    if (!uv_is_active((uv_handle_t *)&l->defer))
        uv_idle_start(&l->defer, ml_defer_cb);
}

int mqtt_link_set(mqtt_link_t *l, const char *topic, const char *payload, size_t len)
{
    unsigned b = ml_hash(topic);
    ml_topic_t *t;
    char *p;

    for (t = l->buckets[b]; t; t = t->next)
        if (strcmp(t->topic, topic) == 0)
            break;
    if (t && t->len == len && (len == 0 || memcmp(t->payload, payload, len) == 0))
        return 0; /* unchanged */
    p = malloc(len + 1);
    if (!p)
        return -ENOMEM;
    memcpy(p, payload, len);
    p[len] = '\0';
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t || !(t->topic = strdup(topic))) {
            free(t);
            free(p);
            return -ENOMEM;
        }
        t->next = l->buckets[b];
        l->buckets[b] = t;
        l->st.topics++;
    } else {
        if (t->dirty_pp)
            l->st.coalesced++; /* the broker never saw the previous value: fine, it is state */
        l->st.bytes_held -= t->len;
        free(t->payload);
    }
    t->payload = p;
    t->len = len;
    l->st.bytes_held += len;
    ml_dirty(l, t);
    ml_kick(l);
    return 0;
}

void mqtt_link_republish(mqtt_link_t *l, const char *prefix)
{
    size_t n = strlen(prefix);

    for (unsigned b = 0; b < ML_BUCKETS; b++)
        for (ml_topic_t *t = l->buckets[b]; t; t = t->next)
            if (strncmp(t->topic, prefix, n) == 0)
                ml_dirty(l, t);
    ml_kick(l);
}

int mqtt_link_send(mqtt_link_t *l, const char *topic, const char *payload, size_t len)
{
    ml_msg_t *m;

    if (l->q_len == MQTT_LINK_QUEUE_MAX) { /* the oldest goes: bounded memory */
        m = &l->queue[l->q_head];
        free(m->topic);
        free(m->payload);
        l->st.bytes_held -= m->len;
        l->q_head = (l->q_head + 1) % MQTT_LINK_QUEUE_MAX;
        l->q_len--;
        l->st.dropped++;
    }
    m = &l->queue[(l->q_head + l->q_len) % MQTT_LINK_QUEUE_MAX];
    m->topic = strdup(topic);
    m->payload = malloc(len + 1);
    if (!m->topic || !m->payload) {
        free(m->topic);
        free(m->payload);
        return -ENOMEM;
    }
    memcpy(m->payload, payload, len);
    m->payload[len] = '\0';
    m->len = len;
    l->st.bytes_held += len;
    l->q_len++;
    ml_kick(l);
    return 0;
}

int mqtt_link_subscribe(mqtt_link_t *l, const char *pattern)
{
    ml_sub_t *s = calloc(1, sizeof(*s));

    if (!s || !(s->pattern = strdup(pattern))) {
        free(s);
        return -ENOMEM;
    }
    s->next = l->subs;
    l->subs = s;
    if (l->up)
        mosquitto_subscribe(l->mosq, NULL, pattern, 1);
    ml_kick(l);
    return 0;
}

void mqtt_link_get_stats(const mqtt_link_t *l, mqtt_link_stats_t *st)
{
    *st = l->st;
    st->queued = l->q_len;
    st->inflight = l->n_inflight;
}

/* ---- setup and teardown ---- */

static int ml_setup_mosq(mqtt_link_t *l, char *why, size_t why_cap)
{
    const mqtt_link_config_t *c = &l->cfg;
    int rc;

    l->mosq = mosquitto_new(c->client_id, true, l);
    if (!l->mosq)
        return -ENOMEM;
    mosquitto_connect_callback_set(l->mosq, ml_on_connect);
    mosquitto_disconnect_callback_set(l->mosq, ml_on_disconnect);
    mosquitto_publish_callback_set(l->mosq, ml_on_publish);
    mosquitto_message_callback_set(l->mosq, ml_on_message);
    mosquitto_max_inflight_messages_set(l->mosq, MQTT_LINK_INFLIGHT);
    mosquitto_int_option(l->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (c->username && mosquitto_username_pw_set(l->mosq, c->username, c->password))
        return -ENOMEM;
    if (c->will_topic &&
        mosquitto_will_set(l->mosq, c->will_topic, 7, "offline", 1, true) != MOSQ_ERR_SUCCESS)
        return -EINVAL;
    if (c->tls_ca) {
        rc = mosquitto_tls_set(l->mosq, c->tls_ca, NULL, c->tls_cert, c->tls_key, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(why, why_cap, "TLS setup (--tls-ca %s%s%s): %s", c->tls_ca,
                     c->tls_cert ? ", --tls-cert " : "", c->tls_cert ? c->tls_cert : "",
                     mosquitto_strerror(rc));
            return -EINVAL;
        }
    }
    return 0;
}

int mqtt_link_new(uv_loop_t *loop, const mqtt_link_config_t *cfg, const mqtt_link_cbs_t *cbs,
                  void *data, mqtt_link_t **out, char *why, size_t why_cap)
{
    mqtt_link_t *l = calloc(1, sizeof(*l));
    int r;

    snprintf(why, why_cap, "out of memory");
    if (!l)
        return -ENOMEM;
    l->loop = loop;
    l->cfg = *cfg;
    l->cfg.host = ml_strdup(cfg->host);
    l->cfg.client_id = ml_strdup(cfg->client_id);
    l->cfg.username = ml_strdup(cfg->username);
    l->cfg.password = ml_strdup(cfg->password);
    l->cfg.tls_ca = ml_strdup(cfg->tls_ca);
    l->cfg.tls_cert = ml_strdup(cfg->tls_cert);
    l->cfg.tls_key = ml_strdup(cfg->tls_key);
    l->cfg.will_topic = ml_strdup(cfg->will_topic);
    l->cbs = *cbs;
    l->data = data;
    l->poll_fd = -1;
    l->will_mid = -1;
    l->backoff_ms = cfg->backoff_min_ms;
    l->dirty_tail = &l->dirty_head;
    r = ml_setup_mosq(l, why, why_cap);
    if (r < 0) {
        if (l->mosq)
            mosquitto_destroy(l->mosq);
        free(l);
        return r;
    }
    uv_timer_init(loop, &l->misc_timer);
    uv_timer_init(loop, &l->retry_timer);
    uv_idle_init(loop, &l->defer);
    l->misc_timer.data = l->retry_timer.data = l->defer.data = l;
    uv_timer_start(&l->misc_timer, ml_misc_cb, 1000, 1000);
    *out = l;
    return 0;
}

static void ml_free(mqtt_link_t *l)
{
    for (unsigned b = 0; b < ML_BUCKETS; b++) {
        ml_topic_t *t = l->buckets[b];
        while (t) {
            ml_topic_t *n = t->next;
            free(t->topic);
            free(t->payload);
            free(t);
            t = n;
        }
    }
    while (l->q_len) {
        free(l->queue[l->q_head].topic);
        free(l->queue[l->q_head].payload);
        l->q_head = (l->q_head + 1) % MQTT_LINK_QUEUE_MAX;
        l->q_len--;
    }
    while (l->subs) {
        ml_sub_t *n = l->subs->next;
        free(l->subs->pattern);
        free(l->subs);
        l->subs = n;
    }
    mosquitto_destroy(l->mosq);
    free((char *)l->cfg.host);
    free((char *)l->cfg.client_id);
    free((char *)l->cfg.username);
    free((char *)l->cfg.password);
    free((char *)l->cfg.tls_ca);
    free((char *)l->cfg.tls_cert);
    free((char *)l->cfg.tls_key);
    free((char *)l->cfg.will_topic);
}

static void ml_handle_closed_cb(uv_handle_t *h)
{
    mqtt_link_t *l = h->data;

    if (--l->close_pending == 0) {
        void (*cb)(void *) = l->close_cb;
        void *d = l->close_data;
        ml_free(l);
        free(l);
        if (cb)
            cb(d);
    }
}

/* Write what libmosquitto holds, waiting for the socket at most timeout_ms: at shutdown only,
 * so blocking here does not hold up anyone else. */
static void ml_flush_blocking(mqtt_link_t *l, int timeout_ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;

    while (mosquitto_socket(l->mosq) >= 0 && uv_hrtime() < end &&
           (mosquitto_want_write(l->mosq) || l->will_mid != -1)) {
        if (mosquitto_loop(l->mosq, 50, 1) != MOSQ_ERR_SUCCESS)
            break;
    }
}

void mqtt_link_close(mqtt_link_t *l, void (*close_cb)(void *data), void *data)
{
    l->close_cb = close_cb;
    l->close_data = data;
    if (l->up && l->cfg.will_topic) {
        /* a clean stop says offline itself: the will is only for a death */
        mosquitto_publish(l->mosq, &l->will_mid, l->cfg.will_topic, 7, "offline", 1, true);
        ml_flush_blocking(l, 1000);
        mosquitto_disconnect(l->mosq);
        ml_flush_blocking(l, 200);
    }
    l->closing = true;
    l->close_pending = 3;
    if (l->poll_open)
        l->close_pending++; /* ml_poll_close_cb counts it down */
    ml_stop_poll(l);
    uv_close((uv_handle_t *)&l->misc_timer, ml_handle_closed_cb);
    uv_close((uv_handle_t *)&l->retry_timer, ml_handle_closed_cb);
    uv_close((uv_handle_t *)&l->defer, ml_handle_closed_cb);
}
