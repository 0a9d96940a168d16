/*
 * ctl_print.h - human-readable renderings of picod's JSON results and events.
 */
#ifndef PICOCTL_CTL_PRINT_H
#define PICOCTL_CTL_PRINT_H

#include <jansson.h>
#include <stdio.h>

/* The quantities a reading may carry, with the unit and scale picoctl shows them in. */
typedef struct ctl_quantity {
    const char *key;   /* in picod's JSON: temp_c, humidity_pct, pressure_pa */
    const char *label; /* temperature, humidity, pressure */
    const char *unit;  /* °C, %RH, hPa */
    double scale;      /* JSON value * scale = shown value */
    int decimals;
} ctl_quantity_t;
#define CTL_N_QUANTITIES 3
extern const ctl_quantity_t ctl_quantities[CTL_N_QUANTITIES];

/* String member key of o, or def. */
const char *ctl_str(const json_t *o, const char *key, const char *def);
/* "4.2s", "3m07s", "2h05m", "3d04h" ("-" for a negative ms). */
void ctl_fmt_duration(char *out, size_t cap, long long ms);
/* Quantity q of a reading as "21.50 °C", or "-" when the reading has none. */
void ctl_fmt_quantity(char *out, size_t cap, const json_t *reading, size_t q);

void ctl_print_list(FILE *f, const json_t *result);
/* One board of a status result: state, device, firmware, uptime, link (from stats: picod's
 * stats result, may be NULL), LED, button, last error, the sensors. trends: NULL, or one
 * sparkline per sensor (status --wide). */
void ctl_print_status_board(FILE *f, const json_t *board, const json_t *stats,
                            const char *const *trends);
/* The sensors table of a status entry, indented; trends as above. */
void ctl_print_sensors(FILE *f, const json_t *sensors, const char *const *trends, unsigned indent);
/* One line: local time (host_time when the event has it, else now_ms), board name or id,
 * event, the other fields as key=value, seq. */
void ctl_print_event(FILE *f, const json_t *event, long long now_ms);
void ctl_print_tree(FILE *f, const json_t *v, const char *prefix); /* key.sub = value lines */
/* {"boards":[...]} from "stats" with a board: the counters of both sides as a table, the
 * board's clock, and its task timing table. */
void ctl_print_board_stats(FILE *f, const json_t *result);
/* The result of "stats" without a board: picod's counters, then a table of the boards. */
void ctl_print_stats_all(FILE *f, const json_t *result);

/* Before anything reaches a terminal: every string value in v (recursively) that holds a
 * control character (C0, DEL, C1) gets it written as "\xNN", so text from a board or another
 * client cannot move the cursor, retitle the window or clear the screen. */
void ctl_print_make_safe(json_t *v);

#endif /* PICOCTL_CTL_PRINT_H */
