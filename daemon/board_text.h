/*
 * board_text.h - make text a board sent safe for JSON and for a terminal.
 *
 * A board is not trusted: its build string, task names and log lines may hold invalid UTF-8
 * (jansson refuses to make a string of it, and the whole event lost its fields), control
 * characters (escape sequences that reach an operator's terminal through picoctl), or no
 * terminator at all. board_text_clean() keeps valid UTF-8 as it is, replaces each invalid
 * byte with U+FFFD, writes control characters (C0, DEL, C1) as the four characters "\xNN",
 * stops at the first NUL (fields are NUL-padded on the wire) and bounds the result by cap.
 */
#ifndef PICOD_BOARD_TEXT_H
#define PICOD_BOARD_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the clean form of n bytes, terminator included: each byte becomes at most 4. */
#define BOARD_TEXT_CAP(n) (4 * (n) + 1)

/* Whether n bytes at s are valid UTF-8 (as board_text_clean keeps it) and hold no NUL. */
bool board_text_is_utf8(const char *s, size_t n);

/* Clean n bytes of in into out (cap bytes, cap >= 1; never split inside a character or an
 * escape). Always NUL-terminates. Returns the length written. */
size_t board_text_clean(const uint8_t *in, size_t n, char *out, size_t cap);

#endif /* PICOD_BOARD_TEXT_H */
