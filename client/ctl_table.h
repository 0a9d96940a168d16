/*
 * ctl_table.h - picoctl's aligned text tables and its colour policy.
 *
 * A table collects rows of cells, then prints every column as wide as its widest cell
 * (display width: UTF-8 characters, colour escapes not counted), two spaces apart, the last
 * column unpadded. Pure output formatting: no I/O besides the FILE given to print.
 */
#ifndef PICOCTL_CTL_TABLE_H
#define PICOCTL_CTL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CTL_TABLE_MAX_COLS 16

typedef struct ctl_table {
    size_t ncols, nrows, cap;
    char **cells;    /* nrows * ncols, row-major; NULL cells print empty */
    unsigned right;  /* bit i: column i is right-aligned (numbers) */
    unsigned indent; /* spaces before every line */
    bool failed;     /* an allocation failed: print writes what it has */
} ctl_table_t;

/* Start a table of ncols (1..CTL_TABLE_MAX_COLS) columns. */
void ctl_table_init(ctl_table_t *t, size_t ncols);
/* Release the cells (t may be reused after ctl_table_init). */
void ctl_table_free(ctl_table_t *t);
/* Append one row of ncols cells (copied; NULL prints empty). */
void ctl_table_row(ctl_table_t *t, const char *const *cells);
/* Append a cell to the last row, printf-style; the first call after a full row starts a row. */
void ctl_table_cellf(ctl_table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write the table to f. */
void ctl_table_print(const ctl_table_t *t, FILE *f);

/* Display width of s: UTF-8 characters, not counting ESC [ ... m colour sequences. */
size_t ctl_display_width(const char *s);

/* Colour policy: on only when stdout is a terminal, NO_COLOR is unset or empty and no
 * --no-color was given (https://no-color.org). ctl_colour_init() decides once. */
void ctl_colour_init(bool no_color_option);
bool ctl_colour_is_on(void);
void ctl_colour_set(bool on); /* for tests */

typedef enum { CTL_GOOD, CTL_WARN, CTL_BAD, CTL_DIM, CTL_BOLD } ctl_tone_t;
/* s wrapped in the tone's SGR sequence when colour is on, else s; into out (cap bytes). */
const char *ctl_paint(char *out, size_t cap, ctl_tone_t tone, const char *s);
/* The tone of a board state (online good, stale/hello/connecting warn, offline bad...). */
ctl_tone_t ctl_state_tone(const char *state);

#endif /* PICOCTL_CTL_TABLE_H */
