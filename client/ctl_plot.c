/* ctl_plot.c - see ctl_plot.h. */
#include "ctl_plot.h"
#include "ctl_table.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CTL_PLOT_MAX_W 400
#define CTL_PLOT_MAX_H 100

/* UTF-8 of U+2800 + bits (the braille block: U+2800..U+28FF, 3 bytes each). */
static void ctl_put_braille(FILE *f, unsigned bits)
{
    unsigned cp = 0x2800u + bits;

    fputc(0xe0 | (int)(cp >> 12), f);
    fputc(0x80 | (int)((cp >> 6) & 0x3f), f);
    fputc(0x80 | (int)(cp & 0x3f), f);
}

/* Braille dot bit of the dot at column dx (0..1), row dy (0..3, top down) of a cell. */
static unsigned ctl_dot_bit(int dx, int dy)
{
    static const unsigned left[4] = {0x01, 0x02, 0x04, 0x40}, right[4] = {0x08, 0x10, 0x20, 0x80};

    return dx ? right[dy] : left[dy];
}

typedef struct ctl_canvas {
    int w, h; /* in dots */
    unsigned char *cells;
} ctl_canvas_t;

static void ctl_canvas_set(ctl_canvas_t *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return;
    c->cells[(y / 4) * (c->w / 2) + x / 2] |= (unsigned char)ctl_dot_bit(x % 2, y % 4);
}

/* A straight line of dots from (x0,y0) to (x1,y1) (Bresenham). */
static void ctl_canvas_line(ctl_canvas_t *c, int x0, int y0, int x1, int y1)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;

    for (;;) {
        ctl_canvas_set(c, x0, y0);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

void ctl_plot_time(char *out, size_t cap, int64_t t_ms, int64_t span_ms)
{
    time_t t = (time_t)(t_ms / 1000);
    struct tm tm;

    if (!localtime_r(&t, &tm)) {
        snprintf(out, cap, "?");
        return;
    }
    strftime(out, cap, span_ms > 86400000 ? "%m-%d %H:%M" : "%H:%M:%S", &tm);
}

/* The y range: the values' min and max, widened when they are (nearly) equal. */
static void ctl_plot_range(const ctl_series_t *s, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] < *lo)
            *lo = s->v[i];
        if (s->v[i] > *hi)
            *hi = s->v[i];
    }
    if (*hi - *lo < 1e-9) {
        double pad = fabs(*lo) > 100 ? fabs(*lo) * 0.001 : 1.0;
        *lo -= pad;
        *hi += pad;
    }
}

/* Decimals that tell the y labels apart at this span. */
static int ctl_plot_decimals(double span)
{
    return span >= 100 ? 0 : span >= 10 ? 1 : span >= 1 ? 2 : 3;
}

/* The dot row (0 at the top) of value v on a canvas h dots high spanning lo..hi. */
static int ctl_plot_ydot(int h, double v, double lo, double hi)
{
    return (h - 1) - (int)llround((v - lo) / (hi - lo) * (h - 1));
}

/* Columns of a row up to its last non-blank cell (+1). */
static int ctl_last_col(const ctl_canvas_t *c, int row, int width)
{
    int last = 0;

    for (int col = 0; col < width; col++)
        if (c->cells[row * width + col])
            last = col + 1;
    return last;
}

static void ctl_plot_draw(ctl_canvas_t *c, const ctl_series_t *s, double lo, double hi)
{
    int64_t span = s->until_ms > s->since_ms ? s->until_ms - s->since_ms : 1;
    int px = 0, py = 0;

    for (size_t i = 0; i < s->n; i++) {
        int x = (int)llround((double)(s->t_ms[i] - s->since_ms) / (double)span * (c->w - 1));
        int y = ctl_plot_ydot(c->h, s->v[i], lo, hi);

        if (i > 0 && (s->gap_ms <= 0 || s->t_ms[i] - s->t_ms[i - 1] <= s->gap_ms))
            ctl_canvas_line(c, px, py, x, y);
        else
            ctl_canvas_set(c, x, y);
        px = x;
        py = y;
    }
}

static void ctl_plot_axis(FILE *f, const ctl_series_t *s, int label_w, int width)
{
    char a[32], b[32];
    int64_t span = s->until_ms - s->since_ms;

    fprintf(f, "%*s└", label_w, "");
    for (int i = 0; i < width; i++)
        fputs("─", f);
    fputc('\n', f);
    ctl_plot_time(a, sizeof(a), s->since_ms, span);
    ctl_plot_time(b, sizeof(b), s->until_ms, span);
    fprintf(f, "%*s%s%*s\n", label_w + 1, "", a, width - (int)strlen(a), b);
}

int ctl_plot_chart(FILE *f, const ctl_series_t *s, int width, int height)
{
    ctl_canvas_t c = {.w = 2 * width, .h = 4 * height};
    char lab[3][32];
    double lo, hi;
    int label_w = 0, dec, mid;

    if (width < 10 || width > CTL_PLOT_MAX_W || height < 2 || height > CTL_PLOT_MAX_H)
        return -EINVAL;
    if (s->title)
        fprintf(f, "%s\n", s->title);
    if (s->n == 0) {
        fprintf(f, "no readings in that time\n");
        return 0;
    }
    c.cells = calloc((size_t)width * (size_t)height, 1);
    if (!c.cells)
        return -ENOMEM;
    ctl_plot_range(s, &lo, &hi);
    ctl_plot_draw(&c, s, lo, hi);
    dec = ctl_plot_decimals(hi - lo);
    snprintf(lab[0], sizeof(lab[0]), "%.*f %s ", dec, hi, s->unit ? s->unit : "");
    snprintf(lab[1], sizeof(lab[1]), "%.*f %s ", dec, (lo + hi) / 2, s->unit ? s->unit : "");
    snprintf(lab[2], sizeof(lab[2]), "%.*f %s ", dec, lo, s->unit ? s->unit : "");
    for (int i = 0; i < 3; i++)
        if ((int)ctl_display_width(lab[i]) > label_w)
            label_w = (int)ctl_display_width(lab[i]);
    mid = ctl_plot_ydot(c.h, (lo + hi) / 2, lo, hi) / 4;
    for (int row = 0; row < height; row++) {
        const char *l = row == 0 ? lab[0] : row == mid ? lab[1] : row == height - 1 ? lab[2] : "";
        fprintf(f, "%*s%s%s", label_w - (int)ctl_display_width(l), "", l, *l ? "┤" : "│");
        for (int col = 0; col < width; col++) {
            if (c.cells[row * width + col])
                ctl_put_braille(f, c.cells[row * width + col]);
            else if (col < ctl_last_col(&c, row, width))
                fputc(' ', f); /* no trailing blanks */
        }
        fputc('\n', f);
    }
    free(c.cells);
    ctl_plot_axis(f, s, label_w, width);
    return 0;
}

size_t ctl_sparkline(char *out, size_t cap, const double *v, size_t n)
{
    static const char *const blocks[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    double lo = INFINITY, hi = -INFINITY;
    size_t o = 0, i;

    if (cap)
        out[0] = '\0';
    for (i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    for (i = 0; i < n && o + 4 <= cap; i++) {
        int k = hi - lo < 1e-9 ? 3 : (int)llround((v[i] - lo) / (hi - lo) * 7);
        memcpy(out + o, blocks[k], 3);
        o += 3;
        out[o] = '\0';
    }
    return i;
}
