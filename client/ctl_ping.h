/*
 * ctl_ping.h - ping(8)'s summary of round trips: loss, min/avg/max/mdev.
 */
#ifndef PICOCTL_CTL_PING_H
#define PICOCTL_CTL_PING_H

#include <jansson.h>
#include <stdio.h>

typedef struct ctl_ping_stats {
    unsigned sent, received;
    double min_ms, max_ms, sum_ms, sum2_ms; /* of the replies' round trips */
} ctl_ping_stats_t;

void ctl_ping_add(ctl_ping_stats_t *p, double rtt_ms); /* a reply */
double ctl_ping_loss_pct(const ctl_ping_stats_t *p);
double ctl_ping_avg(const ctl_ping_stats_t *p);
double ctl_ping_mdev(const ctl_ping_stats_t *p); /* sqrt(mean of squares - square of mean) */

/* "--- TARGET ping statistics ---", "N requests, M replies, L% loss, time Tms" and, with a
 * reply, "rtt min/avg/max/mdev = a/b/c/d ms", as ping(8) writes them. */
void ctl_ping_summary(FILE *f, const char *target, const ctl_ping_stats_t *p, double time_ms);

/* The same as a JSON object: transmitted, received, loss_pct, time_ms, rtt_ms {min,avg,max,
 * mdev} (null without a reply). */
json_t *ctl_ping_json(const ctl_ping_stats_t *p, double time_ms);

#endif /* PICOCTL_CTL_PING_H */
