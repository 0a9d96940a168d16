/* api.c - see api.h. */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board_json.h"
#include "board_text.h"
#include "config_json.h"
#include "json_out.h"
#include "metrics.h"
#include "picod.h"

#ifndef PICOD_VERSION
#define PICOD_VERSION "0.0.0"
#endif

/* One request being served. Sync handlers use it on the stack; async ones copy it. */
typedef struct api_req {
    picod_t *pd;
    uint64_t client_id;
    client_t *c; /* valid during the synchronous part only */
    json_t *id;  /* owned reference, may be NULL */
    json_t *args;
    board_t *board;
    int kind; /* async: which answer to build */
    uint8_t i2c_rlen;
    uint64_t t0_ns;
    char what[40]; /* the board request, for error messages ("GET_TASK_STATS 3") */
    json_t *echo;  /* owned, may be NULL: fields copied into the result (poll, reboot) */
    /* stats with a board: GET_STATS, then GET_TASK_STATS 0..task_count in turn */
    proto_stats_t st;
    json_t *tasks; /* owned, NULL until GET_STATS answered */
    unsigned task_next;
} api_req_t;

enum api_kind {
    API_LED,
    API_I2C_SCAN,
    API_I2C_XFER,
    API_PING,
    API_STATS,
    API_TASK_STATS,
    API_POLL,
    API_REBOOT,
};

/* SET_POLL intervals picod accepts besides 0 (stop); the firmware refuses others too. */
#define API_POLL_MIN_MS 50
#define API_POLL_MAX_MS 2000000

/* ---- replies ------------------------------------------------------------------------------ */

static void api_send(picod_t *pd, uint64_t client_id, json_t *msg)
{
    client_t *c = server_find_client(&pd->server, client_id);

    if (c && msg) {
        server_send(c, msg);
        pd->server.stats.responses++;
    }
    json_decref(msg);
}

/* Takes ownership of result. */
static void api_ok(api_req_t *r, json_t *result)
{
    json_t *msg = json_pack("{s:O?, s:b, s:o}", "id", r->id, "ok", 1, "result",
                            result ? result : json_object());

    api_send(r->pd, r->client_id, msg);
}

static void api_err(api_req_t *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void api_err(api_req_t *r, const char *code, const char *fmt, ...)
{
    char text[512], clean[BOARD_TEXT_CAP(sizeof(text))];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    /* The message may quote the request (jansson's parse error, a name cut to a length), cut
     * inside a UTF-8 character: jansson makes no string of that, and the request would get no
     * answer at all. Made valid (and free of control characters) as a board's text is. */
    board_text_clean((const uint8_t *)text, strlen(text), clean, sizeof(clean));
    r->pd->server.stats.errors++;
    api_send(r->pd, r->client_id,
             json_pack("{s:O?, s:b, s:{s:s, s:s}}", "id", r->id, "ok", 0, "error", "code", code,
                       "message", clean));
}

/* ---- arguments ---------------------------------------------------------------------------- */

/* String argument. Returns 1 found, 0 absent (and !required), -1 error already answered. */
static int api_arg_str(api_req_t *r, const char *name, bool required, const char **out)
{
    json_t *v = json_object_get(r->args, name);

    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        api_err(r, "missing_argument", "\"%s\" is required", name);
        return -1;
    }
    if (!json_is_string(v)) {
        api_err(r, "invalid_argument", "\"%s\" must be a string", name);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

/* Integer argument in [min, max]; absent -> def unless required. Returns 0 or -1 (answered). */
static int api_arg_int(api_req_t *r, const char *name, bool required, long long min, long long max,
                       long long def, long long *out)
{
    json_t *v = json_object_get(r->args, name);

    if (!v || json_is_null(v)) {
        if (required) {
            api_err(r, "missing_argument", "\"%s\" is required", name);
            return -1;
        }
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        api_err(r, "invalid_argument", "\"%s\" must be an integer %lld..%lld", name, min, max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* Resolve "board"; answers the error itself. Returns 0 or -1. */
static int api_arg_board(api_req_t *r, bool required)
{
    const char *key;
    int n = api_arg_str(r, "board", required, &key), e;

    if (n <= 0)
        return n;
    e = picod_find_board(r->pd, key, &r->board);
    if (e == -ENOENT) {
        api_err(r, "unknown_board", "no board matches '%s'", key);
        return -1;
    }
    if (e == -EEXIST) {
        api_err(r, "ambiguous_board", "'%s' matches more than one board", key);
        return -1;
    }
    return 0;
}

static int api_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Hex string ("0a1b", spaces allowed) or array of 0..255 -> bytes. Returns count or -1. */
static int api_arg_bytes(api_req_t *r, const char *name, uint8_t *out, size_t cap)
{
    json_t *v = json_object_get(r->args, name), *e;
    size_t n = 0, i;

    if (!v) {
        api_err(r, "missing_argument", "\"%s\" is required", name);
        return -1;
    }
    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            e = json_array_get(v, i);
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 255 ||
                n >= cap)
                goto bad;
            out[n++] = (uint8_t)json_integer_value(e);
        }
        return (int)n;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);

        while (*s) {
            if (*s == ' ' || *s == ':') {
                s++;
                continue;
            }
            int hi = api_hex_digit(s[0]), lo = hi < 0 ? -1 : api_hex_digit(s[1]);
            if (n >= cap || lo < 0)
                goto bad;
            out[n++] = (uint8_t)(hi << 4 | lo);
            s += 2;
        }
        return (int)n;
    }
bad:
    api_err(r, "invalid_argument",
            "\"%s\" must be a hex string or an array of bytes, at most %zu bytes", name, cap);
    return -1;
}

/* ---- asynchronous board requests ----------------------------------------------------------- */

static const char *api_board_error_code(int status)
{
    if (status > 0)
        return proto_err_name(status);
    switch (status) {
    case -ETIMEDOUT:
        return "timeout";
    case -EBUSY:
    case -ENOBUFS:
    case -EALREADY:
        return "busy";
    case -ESTALE:
        return "board_replaced";
    default:
        return "board_offline";
    }
}

static void api_board_error(api_req_t *r, int status)
{
    const char *who = r->board->id[0] ? r->board->id : r->board->link.path;
    const char *what = r->what[0] ? r->what : "the request";

    if (status == PROTO_E_NO_SESSION)
        api_err(r, "board_reset",
                "board %s reset and has not had picod's HELLO yet: it did not do %s now (a copy "
                "sent before the reset may have been done then); not retried",
                who, what);
    else if (status == PROTO_E_STALE)
        api_err(r, "stale_seq",
                "board %s took %s for a replay from beyond its window (its newest seq is ahead of "
                "picod's: a damaged frame): not done; picod starts a new session, send it again",
                who, what);
    else if (status > 0)
        api_err(r, api_board_error_code(status), "board %s refused %s: %s", who, what,
                proto_err_name(status));
    else if (status == -ETIMEDOUT && r->kind == API_REBOOT)
        api_err(r, "timeout", "board %s neither answered %s nor reset (sent once)", who, what);
    else if (status == -ETIMEDOUT)
        api_err(r, "timeout", "board %s did not answer %s (sent twice)", who, what);
    else if (status == -EALREADY)
        api_err(r, "busy", "board %s is already rebooting", who);
    else if (status == -EBUSY || status == -ENOBUFS)
        api_err(r, "busy", "too many requests outstanding for board %s", who);
    else if (status == -ECONNABORTED)
        api_err(r, "board_offline", "board %s: its tty %s was lost (%s) before it answered %s", who,
                r->board->link.path,
                strerror(r->board->link.last_errno ? r->board->link.last_errno : EIO), what);
    else if (status == -ECANCELED)
        api_err(r, "board_offline", "board %s was removed before it answered %s", who, what);
    else if (status == -ESTALE)
        api_err(r, "board_replaced",
                "board %s was replaced on %s by another board before it answered %s (not "
                "retried)",
                who, r->board->link.path, what);
    else
        api_err(r, "board_offline", "board %s is %s", who, board_state_name(r->board->state));
}

static json_t *api_hex(const uint8_t *p, size_t n)
{
    char s[2 * PROTO_I2C_MAX_DATA + 1];

    for (size_t i = 0; i < n && i < PROTO_I2C_MAX_DATA; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    s[2 * (n < PROTO_I2C_MAX_DATA ? n : PROTO_I2C_MAX_DATA)] = '\0';
    return json_string(s);
}

static json_t *api_result_of(api_req_t *r, const proto_frame_t *f)
{
    board_t *b = r->board;
    proto_i2c_scan_ack_t scan;
    proto_i2c_xfer_ack_t x;
    json_t *a;

    switch (r->kind) {
    case API_LED:
        board_apply_state(b, f);
        return json_pack("{s:s, s:{s:b, s:s}}", "board", b->id, "led", "on", b->st.led_on, "mode",
                         board_json_led_mode(b->st.led_mode));
    case API_I2C_SCAN:
        if (proto_i2c_scan_ack_decode(f->body, f->body_len, &scan) < 0)
            return NULL;
        a = json_array();
        for (uint8_t addr = 0; addr < 128; addr++)
            if (proto_i2c_map_has(scan.map, addr))
                json_array_append_new(a, json_integer(addr));
        return json_pack("{s:s, s:i, s:o}", "board", b->id, "bus", scan.bus, "addresses", a);
    case API_I2C_XFER:
        if (proto_i2c_xfer_ack_decode(f->body, f->body_len, &x) < 0)
            return NULL;
        return json_pack("{s:s, s:o, s:i}", "board", b->id, "data", api_hex(x.rdata, x.rlen), "len",
                         x.rlen);
    case API_PING:
        return json_pack("{s:s, s:f}", "board", b->id, "rtt_ms",
                         (double)(uv_hrtime() - r->t0_ns) / 1e6);
    case API_POLL:
    case API_REBOOT:
        /* The board's id and the arguments it acted on. A REBOOT may have been answered by
         * the reset itself (f NULL): see board_reboot(). */
        a = json_pack("{s:s}", "board", b->id);
        json_object_update(a, r->echo);
        if (r->kind == API_REBOOT)
            json_object_set_new(a, "acknowledged", json_boolean(f != NULL));
        return a;
    }
    return NULL;
}

/* Frees an asynchronous request once its answer was sent (or could not be). */
static void api_req_free(api_req_t *r)
{
    server_request_end(&r->pd->server, r->client_id); /* after the answer: may close */
    json_decref(r->id);
    json_decref(r->echo);
    json_decref(r->tasks);
    free(r);
}

static void api_bad_response(api_req_t *r)
{
    r->board->cnt.bad_bodies++;
    api_err(r, "bad_response", "board %s sent an answer to %s that does not decode", r->board->id,
            r->what[0] ? r->what : "the request");
}

static void api_board_done(void *ud, int status, const proto_frame_t *f)
{
    api_req_t *r = ud;
    json_t *res;

    if (status != 0)
        api_board_error(r, status);
    else if ((res = api_result_of(r, f)) != NULL)
        api_ok(r, res);
    else
        api_bad_response(r);
    api_req_free(r);
}

/* ---- stats with a board: GET_STATS, then each task's GET_TASK_STATS in turn ---------------- */

static void api_stats_done(void *ud, int status, const proto_frame_t *f);

/* Ask for the next task. Returns 0 (the answer comes to api_stats_done) or a negative errno. */
static int api_stats_ask_task(api_req_t *r)
{
    uint8_t idx = (uint8_t)r->task_next;

    snprintf(r->what, sizeof(r->what), "GET_TASK_STATS %u", idx);
    return board_request(r->board, PROTO_MSG_GET_TASK_STATS, &idx, 1, api_stats_done, r);
}

/* Digest one answer (GET_STATS or GET_TASK_STATS). Returns 0, or -1 if it does not decode or
 * answers for another task. */
static int api_stats_take(api_req_t *r, const proto_frame_t *f)
{
    proto_task_stats_t t;
    json_t *o;

    if (r->kind == API_STATS) {
        if (proto_stats_decode(f->body, f->body_len, &r->st) < 0)
            return -1;
        r->tasks = json_array();
        r->kind = API_TASK_STATS;
        r->task_next = 0;
        return r->tasks ? 0 : -1;
    }
    if (proto_task_stats_decode(f->body, f->body_len, &t) < 0 || t.index != r->task_next)
        return -1;
    /* Index task_count is the firmware's "idle" pseudo-task, not a scheduler task. */
    o = board_json_task(&t, t.index == r->st.task_count);
    if (!o || json_array_append_new(r->tasks, o) < 0)
        return -1;
    r->task_next++;
    return 0;
}

static json_t *api_stats_result(api_req_t *r)
{
    json_t *b = board_json_stats(r->board);

    if (!b)
        return NULL;
    json_object_set_new(b, "board_reported", board_json_board_stats(&r->st));
    json_object_set(b, "tasks", r->tasks);
    return json_pack("{s:[o]}", "boards", b);
}

static void api_stats_done(void *ud, int status, const proto_frame_t *f)
{
    api_req_t *r = ud;
    json_t *res;
    int e;

    if (status != 0) {
        api_board_error(r, status);
    } else if (api_stats_take(r, f) < 0) {
        api_bad_response(r);
    } else if (r->task_next <= r->st.task_count) {
        e = api_stats_ask_task(r);
        if (e == 0)
            return; /* r lives on until the next answer */
        api_board_error(r, e);
    } else if ((res = api_stats_result(r)) != NULL) {
        api_ok(r, res);
    } else {
        api_err(r, "internal", "out of memory");
    }
    api_req_free(r);
}

/* Send a request for the client; the answer comes to api_board_done() (api_stats_done() for
 * API_STATS). On success the copy takes over r->echo. */
static void api_board_request(api_req_t *r, int kind, uint8_t type, const uint8_t *body, size_t len)
{
    reqtrack_done_cb done = kind == API_STATS ? api_stats_done : api_board_done;
    api_req_t *copy;
    int e;

    if (!board_is_reachable(r->board)) {
        api_board_error(r, -ENOTCONN);
        return;
    }
    /* Per-connection quota: one client cannot take all of a board's request slots. */
    if (r->c->requests_pending >= r->pd->opt.client_requests_max) {
        api_err(r, "busy",
                "this connection already has %u board requests outstanding, the limit "
                "(--client-requests-max): wait for an answer",
                (unsigned)r->c->requests_pending);
        return;
    }
    copy = malloc(sizeof(*copy));
    if (!copy) {
        api_err(r, "internal", "out of memory");
        return;
    }
    *copy = *r;
    copy->c = NULL;
    copy->args = NULL;
    copy->kind = kind;
    copy->t0_ns = uv_hrtime();
    server_request_begin(r->c); /* before: ended by api_req_free() however it completes */
    if (kind == API_REBOOT)
        e = board_reboot(r->board, body[0], done, copy);
    else
        e = board_request(r->board, type, body, len, done, copy);
    if (e < 0) {
        free(copy);               /* nothing taken over yet: r still owns id and echo */
        r->c->requests_pending--; /* not server_request_end(): the error is still to send */
        api_board_error(r, e);
        return;
    }
    json_incref(copy->id);
    r->echo = NULL;
}

/* ---- commands ----------------------------------------------------------------------------- */

static void api_cmd_version(api_req_t *r)
{
    char proto[16];

    snprintf(proto, sizeof(proto), "%d.%d", PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR);
    api_ok(r, json_pack("{s:s, s:s, s:s, s:i, s:s, s:I}", "name", "picod", "version", PICOD_VERSION,
                        "protocol", proto, "api", API_VERSION, "boot_id", r->pd->boot_id, "seq",
                        (json_int_t)r->pd->hist.last_seq));
}

/* status/list answers are written from each board's cached bytes (board_json_*_append), not
 * built as a tree: the same JSON as api_ok(r, {"boards":[...]}) would send. */
static void api_send_boards(api_req_t *r, bool status)
{
    static board_json_buf_t out; /* reused: answers are written one at a time */
    client_t *c = server_find_client(&r->pd->server, r->client_id);
    hist_line_t *line;
    bool first = true;
    int e = 0;

    if (!c)
        return;
    out.len = 0;
    if (r->id) {
        char small[256], *d = small;
        size_t n = json_dumpb(r->id, small, sizeof(small), PICOD_JSON_FLAGS | JSON_ENCODE_ANY);

        if (n > sizeof(small) && (d = malloc(n)) != NULL)
            json_dumpb(r->id, d, n, PICOD_JSON_FLAGS | JSON_ENCODE_ANY);
        e = board_json_buf_add(&out, "{\"id\":", 6);
        if (e == 0)
            e = d ? board_json_buf_add(&out, d, n) : -ENOMEM;
        if (d != small)
            free(d);
    } else
        e = board_json_buf_add(&out, "{\"id\":null", 10);
    if (e == 0)
        e = board_json_buf_add(&out, ",\"ok\":true,\"result\":{\"boards\":[", 31);
    for (size_t i = 0; e == 0 && i < r->pd->n_boards; i++) {
        board_t *b = r->pd->boards[i];

        if (status && r->board && r->board != b)
            continue;
        if (!first)
            e = board_json_buf_add(&out, ",", 1);
        first = false;
        if (e == 0)
            e = status ? board_json_status_append(b, &out) : board_json_summary_append(b, &out);
    }
    if (e == 0)
        e = board_json_buf_add(&out, "]}}\n", 4);
    line = e == 0 ? hist_line_new(out.data, out.len) : NULL;
    if (!line) {
        api_err(r, "internal", "out of memory");
        return;
    }
    server_send_line(c, line);
    hist_line_unref(line);
    r->pd->server.stats.responses++;
}

static void api_cmd_list(api_req_t *r)
{
    api_send_boards(r, false);
}

static void api_cmd_status(api_req_t *r)
{
    if (api_arg_board(r, false) < 0)
        return;
    api_send_boards(r, true);
}

static void api_cmd_led(api_req_t *r)
{
    static const char *const modes[] = {"off", "on", "toggle", "blink", "auto"};
    proto_set_led_req_t m = {0};
    long long period, duty;
    uint8_t body[32];
    const char *mode;
    size_t i;
    int n;

    if (api_arg_board(r, true) < 0 || api_arg_str(r, "mode", true, &mode) < 0)
        return;
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(mode, modes[i]) == 0)
            break;
    if (i == sizeof(modes) / sizeof(modes[0])) {
        api_err(r, "invalid_argument", "\"mode\" must be on, off, toggle, blink or auto");
        return;
    }
    if (api_arg_int(r, "period_ms", false, 10, 60000, 500, &period) < 0 ||
        api_arg_int(r, "duty_pct", false, 1, 99, 50, &duty) < 0)
        return;
    m.op = (uint8_t)i;
    if (m.op == PROTO_LED_BLINK) {
        m.period_ms = (uint16_t)period;
        m.duty_pct = (uint8_t)duty;
    }
    n = proto_set_led_req_encode(&m, body, sizeof(body));
    if (n < 0) {
        api_err(r, "internal", "cannot encode SET_LED");
        return;
    }
    api_board_request(r, API_LED, PROTO_MSG_SET_LED, body, (size_t)n);
}

static void api_cmd_i2c(api_req_t *r)
{
    proto_i2c_xfer_req_t x = {0};
    long long bus, addr, len = 0;
    uint8_t body[PROTO_MAX_BODY];
    const char *op;
    int n;

    if (api_arg_board(r, true) < 0 || api_arg_str(r, "op", true, &op) < 0 ||
        api_arg_int(r, "bus", false, 0, 1, 0, &bus) < 0)
        return;
    if (strcmp(op, "scan") == 0) {
        body[0] = (uint8_t)bus;
        api_board_request(r, API_I2C_SCAN, PROTO_MSG_I2C_SCAN, body, 1);
        return;
    }
    if (strcmp(op, "read") != 0 && strcmp(op, "write") != 0 && strcmp(op, "write_read") != 0) {
        api_err(r, "invalid_argument", "\"op\" must be scan, read, write or write_read");
        return;
    }
    if (api_arg_int(r, "addr", true, 0x08, 0x77, 0, &addr) < 0)
        return;
    if (strcmp(op, "write") != 0 && api_arg_int(r, "len", true, 1, PROTO_I2C_MAX_DATA, 0, &len) < 0)
        return;
    if (strcmp(op, "read") != 0) {
        n = api_arg_bytes(r, "data", x.wdata, PROTO_I2C_MAX_DATA);
        if (n < 0)
            return;
        if (n == 0) {
            api_err(r, "invalid_argument", "\"data\" must hold at least one byte");
            return;
        }
        x.wlen = (uint8_t)n;
    }
    x.bus = (uint8_t)bus;
    x.addr = (uint8_t)addr;
    x.rlen = (uint8_t)len;
    n = proto_i2c_xfer_req_encode(&x, body, sizeof(body));
    if (n < 0) {
        api_err(r, "invalid_argument", "transfer too large");
        return;
    }
    api_board_request(r, API_I2C_XFER, PROTO_MSG_I2C_XFER, body, (size_t)n);
}

/* ---- watch, its filters and catch-up (docs/API.md "Events", "History") ------------------- */

/* The event kinds picod emits, which "events" may name. */
static const char *const api_event_kinds[] = {
    "board_online", "board_stale", "board_offline", "board_reset",
    "sensor",       "button",      "fault",         "log",
};

static bool api_is_event_kind(const char *k)
{
    for (size_t i = 0; i < sizeof(api_event_kinds) / sizeof(api_event_kinds[0]); i++)
        if (strcmp(k, api_event_kinds[i]) == 0)
            return true;
    return false;
}

static bool api_is_full_id(const char *k)
{
    size_t n = strlen(k);

    if (n != (size_t)2 * PROTO_BOARD_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (api_hex_digit(k[i]) < 0 || (k[i] >= 'A' && k[i] <= 'F'))
            return false;
    return true;
}

/* "boards": ids (a full id need not be connected yet: it matches when it comes) or whatever
 * picod_find_board() resolves (names, paths, prefixes). Returns 0 or -1 (answered). */
static int api_watch_boards(api_req_t *r, json_t *v, hist_filter_t *f)
{
    size_t i;

    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > HIST_FILTER_MAX_BOARDS) {
        api_err(r, "invalid_argument", "\"boards\" must be an array of 1..%d board ids or names",
                HIST_FILTER_MAX_BOARDS);
        return -1;
    }
    for (i = 0; i < json_array_size(v); i++) {
        const char *key = json_string_value(json_array_get(v, i));
        board_t *b;
        int err;

        if (!key || !key[0]) {
            api_err(r, "invalid_argument", "\"boards\" must hold strings (board ids or names)");
            return -1;
        }
        if (api_is_full_id(key)) {
            snprintf(f->boards[f->n_boards++], HIST_ID_MAX, "%s", key);
            continue;
        }
        err = picod_find_board(r->pd, key, &b);
        if (err == -EEXIST) {
            api_err(r, "ambiguous_board", "'%s' matches more than one board", key);
            return -1;
        }
        if (err < 0) {
            api_err(r, "unknown_board",
                    "no board matches '%s' (a board not connected yet needs its full 16-digit "
                    "id)",
                    key);
            return -1;
        }
        if (!b->id[0]) {
            api_err(r, "board_offline",
                    "board on %s has not said who it is yet: watch it by its full id", key);
            return -1;
        }
        snprintf(f->boards[f->n_boards++], HIST_ID_MAX, "%s", b->id);
    }
    return 0;
}

static int api_watch_kinds(api_req_t *r, json_t *v, hist_filter_t *f)
{
    size_t i;

    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > HIST_FILTER_MAX_KINDS) {
        api_err(r, "invalid_argument", "\"events\" must be an array of 1..%d event kinds",
                HIST_FILTER_MAX_KINDS);
        return -1;
    }
    for (i = 0; i < json_array_size(v); i++) {
        const char *k = json_string_value(json_array_get(v, i));

        if (!k || !api_is_event_kind(k)) {
            api_err(r, "invalid_argument",
                    "\"events\": '%.32s' is not an event kind (board_online, board_stale, "
                    "board_offline, board_reset, sensor, button, fault, log)",
                    k ? k : "(not a string)");
            return -1;
        }
        snprintf(f->kinds[f->n_kinds++], HIST_KIND_MAX, "%s", k);
    }
    return 0;
}

/* The filters of a watch request: *out NULL when there are none. Returns 0 or -1 (answered). */
static int api_watch_filter(api_req_t *r, hist_filter_t **out)
{
    json_t *boards = json_object_get(r->args, "boards");
    json_t *kinds = json_object_get(r->args, "events");
    json_t *changes = json_object_get(r->args, "changes_only");
    hist_filter_t *f;

    *out = NULL;
    if (changes && !json_is_boolean(changes)) {
        api_err(r, "invalid_argument", "\"changes_only\" must be true or false");
        return -1;
    }
    if (!boards && !kinds && !json_is_true(changes))
        return 0;
    f = calloc(1, sizeof(*f));
    if (!f) {
        api_err(r, "internal", "out of memory");
        return -1;
    }
    f->changes_only = json_is_true(changes);
    if ((boards && api_watch_boards(r, boards, f) < 0) ||
        (kinds && api_watch_kinds(r, kinds, f) < 0)) {
        hist_filter_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

static void api_cmd_watch(api_req_t *r)
{
    json_t *v = json_object_get(r->args, "enable"), *since_v = json_object_get(r->args, "since");
    const history_t *h = &r->pd->hist;
    const char *boot = NULL;
    bool restarted = false;
    bool has_since = since_v && !json_is_null(since_v);
    hist_filter_t *f;
    long long since = 0;
    json_t *res;

    if (v && !json_is_boolean(v)) {
        api_err(r, "invalid_argument", "\"enable\" must be true or false");
        return;
    }
    if (v && !json_is_true(v)) {
        r->c->watching = r->c->replaying = false;
        api_ok(r, json_pack("{s:b, s:I}", "watching", 0, "seq", (json_int_t)h->last_seq));
        return;
    }
    if (api_arg_int(r, "since", false, 0, (1LL << 53), 0, &since) < 0 ||
        api_arg_str(r, "boot_id", false, &boot) < 0 || api_watch_filter(r, &f) < 0)
        return;
    if (boot && strcmp(boot, r->pd->boot_id) != 0) {
        /* The seqs the client has are another run's: everything this run holds is new. */
        restarted = true;
        since = 0;
    }
    if (has_since && (uint64_t)since > h->last_seq) {
        hist_filter_free(f);
        api_err(r, "invalid_argument",
                "\"since\" %lld is after the last event (seq %llu): picod restarted (boot_id "
                "%s)? watch with since 0, or pass boot_id",
                since, (unsigned long long)h->last_seq, r->pd->boot_id);
        return;
    }
    hist_filter_free(r->c->filter);
    r->c->filter = f;
    res = json_pack("{s:b, s:I, s:s}", "watching", 1, "seq", (json_int_t)h->last_seq, "boot_id",
                    r->pd->boot_id);
    if (res && has_since)
        json_object_set_new(res, "since", json_integer(since));
    if (res && boot)
        json_object_set_new(res, "restarted", json_boolean(restarted));
    api_ok(r, res);
    /* After the answer: the replay's lines follow it, then live events. */
    picod_watch_start(r->pd, r->c, has_since || restarted, (uint64_t)since);
}

/* ---- history: readings for plots --------------------------------------------------------- */

#define API_HISTORY_MAX_POINTS     2000
#define API_HISTORY_DEFAULT_POINTS 500

static json_t *api_stat(const hist_stat_t *st, double scale)
{
    return json_pack("{s:f, s:f, s:f}", "min", st->min / scale, "max", st->max / scale, "mean",
                     st->sum / st->n / scale);
}

static json_t *api_point(const hist_point_t *p)
{
    json_t *o = json_pack("{s:I, s:i}", "t_ms", (json_int_t)p->t_ms, "n", (int)p->n);

    if (o && p->temp.n)
        json_object_set_new(o, "temp_c", api_stat(&p->temp, 100.0));
    if (o && p->humidity.n)
        json_object_set_new(o, "humidity_pct", api_stat(&p->humidity, 1000.0));
    if (o && p->pressure.n)
        json_object_set_new(o, "pressure_pa", api_stat(&p->pressure, 1.0));
    return o;
}

static void api_cmd_history(api_req_t *r)
{
    const history_t *h = &r->pd->hist;
    long long sensor, since, until, max;
    const hist_series_t *s;
    hist_point_t *pts;
    int64_t first = 0, last = 0, bucket = 0;
    size_t n = 0, in_range = 0, size;
    json_t *a, *res;

    if (api_arg_board(r, true) < 0 ||
        api_arg_int(r, "sensor", true, 0, PROTO_MAX_READINGS - 1, 0, &sensor) < 0 ||
        api_arg_int(r, "max_points", false, 1, API_HISTORY_MAX_POINTS, API_HISTORY_DEFAULT_POINTS,
                    &max) < 0)
        return;
    s = r->board->id[0] ? history_series(h, r->board->id, (uint8_t)sensor) : NULL;
    if (s && s->count) {
        first = history_sample(s, h->samples_per_series, 0)->t_ms;
        last = history_sample(s, h->samples_per_series, s->count - 1)->t_ms;
    }
    /* Absent bounds are the first and last sample held, never crossing a given one. */
    if (api_arg_int(r, "since_ms", false, 0, INT64_MAX / 2, -1, &since) < 0 ||
        api_arg_int(r, "until_ms", false, 0, INT64_MAX / 2, -1, &until) < 0)
        return;
    if (until < 0)
        until = since > last ? since : last;
    if (since < 0)
        since = first < until ? first : until;
    if (until < since) {
        api_err(r, "invalid_argument", "\"until_ms\" %lld is before \"since_ms\" %lld", until,
                since);
        return;
    }
    pts = calloc((size_t)max, sizeof(*pts));
    a = json_array();
    if (!pts || !a) {
        free(pts);
        json_decref(a);
        api_err(r, "internal", "out of memory");
        return;
    }
    if (s)
        n = history_downsample(h, s, since, until, (size_t)max, pts, &bucket, &in_range);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, api_point(&pts[i]));
    free(pts);
    res = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:o}", "board",
                    r->board->id[0] ? r->board->id : r->board->link.path, "sensor", (int)sensor,
                    "since_ms", (json_int_t)since, "until_ms", (json_int_t)until, "bucket_ms",
                    (json_int_t)bucket, "samples", (json_int_t)in_range, "held",
                    (json_int_t)(s ? s->count : 0), "points", a);
    /* An answer the client's output bound would not take is refused, not a disconnect. */
    size = res ? json_dumpb(res, NULL, 0, PICOD_JSON_FLAGS) : 0;
    if (size + 256 > r->pd->opt.client_out_max) {
        json_decref(res);
        api_err(r, "too_large",
                "%zu points do not fit this client's output bound (--client-out-max %u bytes): "
                "ask for fewer max_points",
                n, (unsigned)r->pd->opt.client_out_max);
        return;
    }
    api_ok(r, res);
}

/* The history's part of stats (docs/API.md "stats"). */
static json_t *api_history_stats(const picod_t *pd)
{
    const history_t *h = &pd->hist;

    return json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "boot_id", pd->boot_id,
        "seq", (json_int_t)h->last_seq, "first_seq", (json_int_t)history_first_seq(h),
        "events_held", (json_int_t)h->n_events, "events_max", (json_int_t)h->max_events,
        "events_bytes", (json_int_t)history_event_mem(h), "readings", "series",
        (json_int_t)h->n_series, "samples_per_series", (json_int_t)h->samples_per_series, "samples",
        (json_int_t)h->samples, "bytes", (json_int_t)history_reading_mem(h), "budget_bytes",
        (json_int_t)h->budget_bytes, "readings_refused", (json_int_t)h->readings_refused);
}

static void api_cmd_ping(api_req_t *r)
{
    uint8_t body[8] = {'p', 'i', 'c', 'o', 'd', 0, 0, 0};

    if (api_arg_board(r, false) < 0)
        return;
    if (!r->board) {
        api_ok(r, json_pack("{s:b}", "pong", 1));
        return;
    }
    api_board_request(r, API_PING, PROTO_MSG_PING, body, sizeof(body));
}

static json_t *api_daemon_stats(picod_t *pd)
{
    const server_stats_t *s = &pd->server.stats;
    const options_t *o = &pd->opt;
    json_t *d = json_pack(
        "{s:s, s:I, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I}",
        "version", PICOD_VERSION, "uptime_ms", (json_int_t)(uv_now(pd->loop) - pd->started_ms),
        "clients", (int)pd->server.n_clients, "half_closed", (int)pd->server.n_half_closed,
        "boards", (int)pd->n_boards, "accepted", (json_int_t)s->accepted, "rejected_full",
        (json_int_t)s->rejected_full, "dropped_slow", (json_int_t)s->dropped_slow, "closed",
        (json_int_t)s->closed, "lines", (json_int_t)s->lines, "responses", (json_int_t)s->responses,
        "errors", (json_int_t)s->errors, "events", (json_int_t)s->events, "lines_too_long",
        (json_int_t)s->lines_too_long, "bytes_in", (json_int_t)s->bytes_in, "bytes_out",
        (json_int_t)s->bytes_out);

    if (!d)
        return NULL;
    /* Flow control, the output budget and access (docs/API.md "Limits", "Access"). */
    json_object_update_new(
        d, json_pack("{s:I, s:I, s:I, s:I, s:I, s:{s:i, s:I, s:I, s:i}}", "dropped_budget",
                     (json_int_t)s->dropped_budget, "paused", (json_int_t)s->paused, "denied",
                     (json_int_t)s->denied, "out_bytes", (json_int_t)pd->server.out_bytes,
                     "out_bytes_max", (json_int_t)s->out_bytes_max, "limits", "max_clients",
                     (int)o->max_clients, "client_out_max", (json_int_t)o->client_out_max,
                     "out_budget", (json_int_t)o->out_budget, "client_requests_max",
                     (int)o->client_requests_max));
    json_object_set_new(d, "history", api_history_stats(pd));
    return d;
}

/* Where the settings came from and when (docs/API.md "stats"). */
static json_t *api_config_stats(picod_t *pd)
{
    return json_pack(
        "{s:o, s:I, s:I, s:I, s:o, s:o, s:I}", "path",
        pd->opt.config_path[0] ? json_string(pd->opt.config_path) : json_null(), "loaded_unix_ms",
        (json_int_t)pd->config.loaded_unix_ms, "reloads", (json_int_t)pd->config.reloads,
        "reload_failures", (json_int_t)pd->config.reload_failures, "last_error",
        pd->config.last_error[0] ? json_string(pd->config.last_error) : json_null(),
        "last_error_unix_ms",
        pd->config.last_error[0] ? json_integer((json_int_t)pd->config.last_error_unix_ms)
                                 : json_null(),
        "names", (json_int_t)pd->opt.n_named);
}

static void api_cmd_metrics(api_req_t *r)
{
    char *text = metrics_text(r->pd);

    if (!text) {
        api_err(r, "internal", "out of memory");
        return;
    }
    api_ok(r, json_pack("{s:s, s:s}", "format", "openmetrics-text; version=1.0.0", "text", text));
    free(text);
}

static void api_cmd_stats(api_req_t *r)
{
    json_t *a;

    if (api_arg_board(r, false) < 0)
        return;
    if (r->board && board_is_reachable(r->board)) {
        /* Ask the board for its own counters and each task's; the answer carries all. */
        snprintf(r->what, sizeof(r->what), "GET_STATS");
        api_board_request(r, API_STATS, PROTO_MSG_GET_STATS, NULL, 0);
        return;
    }
    a = json_array();
    for (size_t i = 0; i < r->pd->n_boards; i++)
        if (!r->board || r->board == r->pd->boards[i])
            json_array_append_new(a, board_json_stats(r->pd->boards[i]));
    {
        json_t *d = api_daemon_stats(r->pd);

        if (d)
            json_object_set_new(d, "config", api_config_stats(r->pd));
        api_ok(r, json_pack("{s:o, s:o}", "daemon", d, "boards", a));
    }
}

/* "sensor": "all" (or absent) -> 0xff, else an index 0..PROTO_MAX_READINGS-1. Returns 0 or -1
 * (answered). */
static int api_arg_sensor(api_req_t *r, uint8_t *out)
{
    json_t *v = json_object_get(r->args, "sensor");

    if (!v || json_is_null(v) || (json_is_string(v) && strcmp(json_string_value(v), "all") == 0)) {
        *out = 0xff;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) >= PROTO_MAX_READINGS) {
        api_err(r, "invalid_argument", "\"sensor\" must be \"all\" or an integer 0..%d",
                PROTO_MAX_READINGS - 1);
        return -1;
    }
    *out = (uint8_t)json_integer_value(v);
    return 0;
}

static void api_cmd_poll(api_req_t *r)
{
    proto_set_poll_req_t m = {0};
    uint8_t body[8];
    json_t *v;
    int n;

    if (api_arg_board(r, true) < 0 || api_arg_sensor(r, &m.sensor) < 0)
        return;
    v = json_object_get(r->args, "interval_ms");
    if (!v || json_is_null(v)) {
        api_err(r, "missing_argument", "\"interval_ms\" is required");
        return;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > API_POLL_MAX_MS ||
        (json_integer_value(v) > 0 && json_integer_value(v) < API_POLL_MIN_MS)) {
        api_err(r, "invalid_argument", "\"interval_ms\" must be 0 (stop) or an integer %d..%d",
                API_POLL_MIN_MS, API_POLL_MAX_MS);
        return;
    }
    m.interval_ms = (uint32_t)json_integer_value(v);
    n = proto_set_poll_req_encode(&m, body, sizeof(body));
    r->echo = json_pack("{s:o, s:I}", "sensor",
                        m.sensor == 0xff ? json_string("all") : json_integer(m.sensor),
                        "interval_ms", (json_int_t)m.interval_ms);
    if (n < 0 || !r->echo) {
        api_err(r, "internal", "cannot encode SET_POLL");
        return;
    }
    snprintf(r->what, sizeof(r->what), "SET_POLL");
    api_board_request(r, API_POLL, PROTO_MSG_SET_POLL, body, (size_t)n);
}

static void api_cmd_reboot(api_req_t *r)
{
    const char *mode = "normal";
    uint8_t m;

    if (api_arg_board(r, true) < 0 || api_arg_str(r, "mode", false, &mode) < 0)
        return;
    if (strcmp(mode, "normal") == 0) {
        m = PROTO_REBOOT_NORMAL;
    } else if (strcmp(mode, "bootsel") == 0) {
        m = PROTO_REBOOT_BOOTSEL;
    } else {
        api_err(r, "invalid_argument", "\"mode\" must be normal or bootsel");
        return;
    }
    r->echo = json_pack("{s:s}", "mode", mode);
    if (!r->echo) {
        api_err(r, "internal", "out of memory");
        return;
    }
    snprintf(r->what, sizeof(r->what), "REBOOT %s", mode);
    api_board_request(r, API_REBOOT, PROTO_MSG_REBOOT, &m, 1);
}

/* acts: changes something on a board; only peers api_may_act() allows (i2c: except scan). */
/* The effective configuration (config_json.h): read-only, nothing secret in it. */
static void api_cmd_config(api_req_t *r)
{
    api_ok(r, config_json(&r->pd->opt));
}

static const struct api_cmd {
    const char *name;
    void (*fn)(api_req_t *r);
    bool acts;
} api_cmds[] = {
    {"version", api_cmd_version, false}, {"list", api_cmd_list, false},
    {"status", api_cmd_status, false},   {"led", api_cmd_led, true},
    {"i2c", api_cmd_i2c, true},          {"watch", api_cmd_watch, false},
    {"ping", api_cmd_ping, false},       {"stats", api_cmd_stats, false},
    {"poll", api_cmd_poll, true},        {"reboot", api_cmd_reboot, true},
    {"metrics", api_cmd_metrics, false}, {"history", api_cmd_history, false},
    {"config", api_cmd_config, false},
};

/* ---- access ------------------------------------------------------------------------------- */

/* Root, picod's own user, and members of --actuate-group (judged at accept). */
static bool api_may_act(const client_t *c)
{
    return c->peer.known && (c->peer.uid == 0 || c->peer.uid == geteuid() || c->peer.in_group);
}

/* Does this request act? An i2c scan only reads; every other i2c op (and a malformed one,
 * which would be refused anyway) counts as acting. */
static bool api_request_acts(const api_req_t *r, const struct api_cmd *cmd)
{
    json_t *op = json_object_get(r->args, "op");

    if (!cmd->acts)
        return false;
    return strcmp(cmd->name, "i2c") != 0 || !json_is_string(op) ||
           strcmp(json_string_value(op), "scan") != 0;
}

static void api_deny(api_req_t *r, const char *cmd)
{
    const server_t *s = &r->pd->server;
    const server_peer_t *p = &r->c->peer;
    char who[48], group[128];

    r->pd->server.stats.denied++;
    if (p->known)
        snprintf(who, sizeof(who), "uid %u", (unsigned)p->uid);
    else
        snprintf(who, sizeof(who), "a peer whose credentials picod cannot read");
    if (s->has_peer_group)
        snprintf(group, sizeof(group), "members of group '%s' (gid %u)", r->pd->opt.actuate_group,
                 (unsigned)s->peer_group);
    else
        snprintf(group, sizeof(group), "no group (picod runs without --actuate-group)");
    api_err(r, "denied",
            "%s may read but not use '%s' (it acts on a board): allowed are root, picod's user "
            "(uid %u) and %s",
            who, cmd, (unsigned)geteuid(), group);
}

/* ---- entry -------------------------------------------------------------------------------- */

static void api_dispatch(api_req_t *r)
{
    json_t *cmd = json_object_get(r->args, "cmd");

    if (!cmd) {
        api_err(r, "missing_argument", "\"cmd\" is required");
        return;
    }
    if (!json_is_string(cmd)) {
        api_err(r, "invalid_argument", "\"cmd\" must be a string");
        return;
    }
    for (size_t i = 0; i < sizeof(api_cmds) / sizeof(api_cmds[0]); i++) {
        if (strcmp(json_string_value(cmd), api_cmds[i].name) != 0)
            continue;
        if (api_request_acts(r, &api_cmds[i]) && !api_may_act(r->c))
            api_deny(r, api_cmds[i].name);
        else
            api_cmds[i].fn(r);
        return;
    }
    api_err(r, "unknown_command", "unknown command '%.64s'", json_string_value(cmd));
}

void api_line(server_t *s, client_t *c, const char *line, size_t len, bool too_long)
{
    api_req_t r = {.pd = s->data, .client_id = c->id, .c = c};
    json_error_t jerr;

    if (too_long) {
        s->stats.lines_too_long++;
        api_err(&r, "line_too_long", "request line longer than %zu bytes: discarded",
                SERVER_LINE_MAX);
        return;
    }
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return; /* blank lines are keep-alives, not requests */
    r.args = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
    if (!r.args) {
        api_err(&r, "parse_error", "not valid JSON: %s (column %d)", jerr.text, jerr.column);
        return;
    }
    if (!json_is_object(r.args)) {
        api_err(&r, "invalid_request", "a request must be a JSON object");
        json_decref(r.args);
        return;
    }
    r.id = json_object_get(r.args, "id");
    json_incref(r.id);
    api_dispatch(&r);
    json_decref(r.id);
    json_decref(r.echo); /* NULL once a board request took it over */
    json_decref(r.args);
}
