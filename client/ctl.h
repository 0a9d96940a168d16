/*
 * ctl.h - what picoctl's commands share: the run context, requests to picod with their
 * error handling, board selection, exit codes and --json output.
 */
#ifndef PICOCTL_CTL_H
#define PICOCTL_CTL_H

#include <jansson.h>
#include <stdbool.h>

#include "ctl_conn.h"

/* Exit status (picoctl --help, docs/API.md). */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAILED = 1,      /* picod answered an error */
    CTL_EXIT_USAGE = 2,       /* bad command line */
    CTL_EXIT_UNREACHABLE = 3, /* no picod on the socket, or it went away */
    CTL_EXIT_NO_BOARD = 4,    /* BOARD matches no board, or several */
    CTL_EXIT_DENIED = 5,      /* picod's access control said no */
    CTL_EXIT_TIMEOUT = 6,     /* no answer in time (picod's, or the board's) */
};

/* Every JSON picoctl writes: reals with the digits they have (40.007, not 40.006999...). */
#define CTL_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

typedef struct ctl {
    const char *socket;
    bool json;
    int timeout_ms;
    bool connected;
    long long next_id;
    ctl_conn_t conn;
    json_t *boards;       /* picod's `list` result, fetched once for board selection */
    bool quiet;           /* report errors nowhere (a side request; ping's lost replies) */
    char last_error[512]; /* the last error reported (or not, when quiet) */
    char last_code[64];   /* and its code */
} ctl_t;

typedef struct ctl_cmd {
    const char *name;
    const char *usage;
    const char *help;
    const char *examples; /* lines for `picoctl CMD --help` */
    int (*fn)(ctl_t *ctl, int argc, char **argv);
} ctl_cmd_t;

/* Report an error: "picoctl: message" on stderr; with --json also {"ok":false,"error":{...}}
 * on stdout. code is the error code (picod's, or picoctl's own: usage, unreachable, timeout,
 * unknown_board, ambiguous_board). Returns exit. */
int ctl_error(ctl_t *ctl, int exit, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A usage error of command cmd (exit 2), with the command's usage line. */
int ctl_usage_error(ctl_t *ctl, const char *cmd, const char *why);

/* Send {"cmd":cmd, "id":<n>, ...args} (args consumed, may be NULL) and wait for its answer
 * (events are skipped). On success *result is borrowed from *resp (caller decrefs *resp) and
 * 0 is returned; otherwise the error is reported and the exit status returned. */
int ctl_request(ctl_t *ctl, const char *cmd, json_t *args, json_t **resp, json_t **result);
/* ctl_request, then print the result as JSON or with printer (borrowed, made safe). */
int ctl_simple(ctl_t *ctl, const char *cmd, json_t *args, void (*printer)(const json_t *result));

/* Resolve a BOARD argument from picod's list (ctl_select.h). *key: what to send picod as
 * "board" (borrowed from ctl->boards); *entry (may be NULL): the list entry. 0 or exit. */
int ctl_board(ctl_t *ctl, const char *arg, const char **key, const json_t **entry);

/* One JSON value on stdout, one line (CTL_JSON_FLAGS). */
void ctl_emit_json(const json_t *v);

/* A command's own option: --long (and -s short form, may be NULL); with value: takes one. */
#define CTL_FLAG_VALUES 16
typedef struct ctl_flag {
    const char *lng, *shrt;
    bool value;
    int seen;                          /* how often given */
    const char *vals[CTL_FLAG_VALUES]; /* the values, in order */
} ctl_flag_t;

/* Split argv[1..] into flags and at most maxpos positionals (after "--" every word is one).
 * An unknown option, a missing value or too many positionals is a usage error: returns its
 * exit status; 0 otherwise. */
int ctl_args(ctl_t *ctl, int argc, char **argv, ctl_flag_t *flags, size_t nflags, char **pos,
             int *npos, int maxpos);

bool ctl_parse_long(const char *s, long min, long max, long *out);
/* "1h", "10m", "30s", "500ms", "2d" (a plain number: seconds) -> ms. */
bool ctl_parse_duration(const char *s, long long *ms);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME), and a monotonic ms clock. */
long long ctl_now_ms(void);
double ctl_mono_ms(void);

/* The commands (ctl_cmd_info.c, ctl_cmd_act.c). */
int ctl_cmd_status(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_list(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_sensor(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_button(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_history(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_stats(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_config(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_metrics(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_version(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_led(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_i2c(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_watch(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_ping(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_poll(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_reboot(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_bootsel(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_doctor(ctl_t *ctl, int argc, char **argv); /* picoctl.c: ctl_doctor.c's report */

#endif /* PICOCTL_CTL_H */
