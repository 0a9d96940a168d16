/*
 * metrics.h - picod's counters as OpenMetrics text (docs/API.md "metrics"), for scrapers
 * and node_exporter's textfile collector: daemon-wide families, then per-board families
 * labelled board="<id>",name="<name>",device="<path>", ending with "# EOF".
 */
#ifndef PICOD_METRICS_H
#define PICOD_METRICS_H

#include <stddef.h>

struct picod;

/* A new NUL-terminated string (caller frees), or NULL when out of memory. */
char *metrics_text(const struct picod *pd);

#endif /* PICOD_METRICS_H */
