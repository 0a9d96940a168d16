/* ctl_table.c - see ctl_table.h. */
#include "ctl_table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ctl_table_init(ctl_table_t *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols < 1 ? 1 : ncols > CTL_TABLE_MAX_COLS ? CTL_TABLE_MAX_COLS : ncols;
}

void ctl_table_free(ctl_table_t *t)
{
    for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* Room for one more row, its cells NULL. */
static char **ctl_table_grow(ctl_table_t *t)
{
    if (t->ncols == 0)
        return NULL; /* not initialised */
    if (t->nrows == t->cap || !t->cells) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

        if (!c) {
            t->failed = true;
            return NULL;
        }
        t->cells = c;
        t->cap = cap;
    }
    memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(char *));
    return &t->cells[t->nrows++ * t->ncols];
}

void ctl_table_row(ctl_table_t *t, const char *const *cells)
{
    char **row = ctl_table_grow(t);

    for (size_t i = 0; row && i < t->ncols; i++)
        row[i] = cells[i] ? strdup(cells[i]) : NULL;
}

void ctl_table_cellf(ctl_table_t *t, const char *fmt, ...)
{
    char buf[512];
    char **row = t->nrows ? &t->cells[(t->nrows - 1) * t->ncols] : NULL;
    size_t i = 0;
    va_list ap;

    while (row && i < t->ncols && row[i])
        i++;
    if (!row || i == t->ncols) {
        row = ctl_table_grow(t);
        i = 0;
    }
    if (!row)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    row[i] = strdup(buf);
}

size_t ctl_display_width(const char *s)
{
    size_t w = 0;

    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == 0x1b && p[1] == '[') {
            for (p += 2; *p && !(*p >= 0x40 && *p <= 0x7e); p++)
                ;
            if (!*p)
                break;
            continue;
        }
        if ((*p & 0xc0) != 0x80)
            w++;
    }
    return w;
}

void ctl_table_print(const ctl_table_t *t, FILE *f)
{
    size_t width[CTL_TABLE_MAX_COLS] = {0};

    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = ctl_display_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        size_t pending = t->indent; /* spaces owed before the next non-empty text */
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c] ? t->cells[r * t->ncols + c] : "";
            size_t w = ctl_display_width(s), pad = width[c] - w;
            bool last = c + 1 == t->ncols;

            if (t->right & (1u << c)) {
                pending += pad;
                pad = 0;
            }
            if (*s) {
                fprintf(f, "%*s%s", (int)pending, "", s);
                pending = 0;
            }
            if (!last)
                pending += pad + 2;
        }
        fputc('\n', f);
    }
}

static bool ctl_colour;

void ctl_colour_init(bool no_color_option)
{
    const char *nc = getenv("NO_COLOR");

    ctl_colour = !no_color_option && !(nc && *nc) && isatty(STDOUT_FILENO);
}

bool ctl_colour_is_on(void)
{
    return ctl_colour;
}

void ctl_colour_set(bool on)
{
    ctl_colour = on;
}

const char *ctl_paint(char *out, size_t cap, ctl_tone_t tone, const char *s)
{
    static const char *const sgr[] = {"32", "33", "31;1", "2", "1"};

    if (!ctl_colour)
        return s;
    snprintf(out, cap, "\033[%sm%s\033[0m", sgr[tone], s);
    return out;
}

ctl_tone_t ctl_state_tone(const char *state)
{
    if (!state)
        return CTL_DIM;
    if (!strcmp(state, "online") || !strcmp(state, "ok"))
        return CTL_GOOD;
    if (!strcmp(state, "offline") || !strcmp(state, "incompatible"))
        return CTL_BAD;
    return CTL_WARN;
}
