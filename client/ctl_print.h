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

#endif /* PICOCTL_CTL_PRINT_H */
