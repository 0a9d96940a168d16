/*
 * ctl_plot.h - terminal charts of a sensor's history: a braille line chart with axes and
 * units, and a one-line sparkline. Pure formatting (values in, text out).
 */
#ifndef PICOCTL_CTL_PLOT_H
#define PICOCTL_CTL_PLOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ctl_series {
    const int64_t *t_ms; /* Unix ms, ascending */
    const double *v;
    size_t n;
    int64_t since_ms, until_ms; /* the x axis; a gap longer than gap_ms is not joined */
    int64_t gap_ms;             /* 0: join every point */
    const char *unit;           /* e.g. "°C", printed after the y labels */
    const char *title;          /* first line, may be NULL */
} ctl_series_t;

/*
 * Write a line chart of s, width x height character cells for the plot area (each cell a
 * braille character of 2 x 4 dots), a y axis labelled at top, middle and bottom with the
 * unit, and an x axis with local times (localtime(3): TZ applies) at both ends.
 * n == 0 writes "no readings in that time". Returns 0, or -EINVAL for a bad size.
 */
int ctl_plot_chart(FILE *f, const ctl_series_t *s, int width, int height);

/*
 * One line of block characters (▁..█), one per value scaled between the values' min and
 * max (all equal: the middle block); into out (cap bytes, 3 per value + 1). Returns the
 * number of characters written.
 */
size_t ctl_sparkline(char *out, size_t cap, const double *v, size_t n);

/* Local time of a Unix ms as "HH:MM:SS", or "MM-DD HH:MM" when span_ms exceeds a day. */
void ctl_plot_time(char *out, size_t cap, int64_t t_ms, int64_t span_ms);

#endif /* PICOCTL_CTL_PLOT_H */
