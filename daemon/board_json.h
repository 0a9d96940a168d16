/*
 * board_json.h - the JSON faces of a board's mirror: status, list entry, stats, events.
 *
 * Every function returns a new reference (caller owns it) or NULL on allocation failure.
 * Field names are the API's (docs/API.md); values in SI-ish units with the unit in the name.
 */
#ifndef PICOD_BOARD_JSON_H
#define PICOD_BOARD_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "proto.h"

struct board;
struct board_sensor;

json_t *board_json_summary(const struct board *b); /* for "list" */
json_t *board_json_status(const struct board *b);  /* for "status" */
json_t *board_json_stats(const struct board *b);   /* host-side counters, for "stats" */
json_t *board_json_reading(const struct board *b, const struct board_sensor *s);
json_t *board_json_button(const proto_button_event_t *e);
json_t *board_json_fault(const proto_fault_event_t *e);
json_t *board_json_log(const uint8_t *body, size_t len);
json_t *board_json_board_stats(const proto_stats_t *s); /* the board's GET_STATS answer */
/* One GET_TASK_STATS answer; idle: it is the firmware's idle pseudo-task (index task_count). */
/* status/list served from bytes: each board's JSON is serialised once per rev (and HELLO, name),
 * the time-dependent fields (*_age_ms, uptime_ms) spliced in per answer. The bytes appended
 * equal json_dumpb(board_json_status(b) / board_json_summary(b), PICOD_JSON_FLAGS). */
typedef struct board_json_buf {
    char *data;
    size_t len, cap;
} board_json_buf_t;
int board_json_buf_add(board_json_buf_t *o, const char *p, size_t n); /* 0 or -ENOMEM */
int board_json_status_append(struct board *b, board_json_buf_t *out);
int board_json_summary_append(struct board *b, board_json_buf_t *out);
void board_json_cache_free(struct board *b);

json_t *board_json_task(const proto_task_stats_t *t, bool idle);

const char *board_json_led_mode(uint8_t op);
const char *board_json_sensor_kind(uint8_t kind);

#endif /* PICOD_BOARD_JSON_H */
