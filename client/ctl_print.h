/*
 * ctl_print.h - human-readable renderings of picod's JSON results and events.
 */
#ifndef PICOCTL_CTL_PRINT_H
#define PICOCTL_CTL_PRINT_H

#include <jansson.h>
#include <stdio.h>

void ctl_print_status(FILE *f, const json_t *result); /* {"boards":[...]} from "status" */
void ctl_print_list(FILE *f, const json_t *result);
void ctl_print_event(FILE *f, const json_t *event);                /* one line */
void ctl_print_tree(FILE *f, const json_t *v, const char *prefix); /* key.sub = value lines */
/* {"boards":[...]} from "stats" with a board: counters as labelled lines, tasks as a table. */
void ctl_print_board_stats(FILE *f, const json_t *result);

/* Before anything reaches a terminal: every string value in v (recursively) that holds a
 * control character (C0, DEL, C1) gets it written as "\xNN", so text from a board or another
 * client cannot move the cursor, retitle the window or clear the screen. */
void ctl_print_make_safe(json_t *v);

#endif /* PICOCTL_CTL_PRINT_H */
