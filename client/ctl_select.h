/*
 * ctl_select.h - which board a BOARD argument means, decided by picoctl from picod's `list`.
 *
 * Tried in order: the full id, the device path (also through symlinks such as
 * /dev/pico/<id>), the name from picod's config ([board NAME]), a unique id prefix.
 */
#ifndef PICOCTL_CTL_SELECT_H
#define PICOCTL_CTL_SELECT_H

#include <jansson.h>
#include <stddef.h>

/*
 * Find arg among boards (the "boards" array of a `list` result, borrowed). Returns the
 * index (>= 0), -ENOENT (no board matches) or -EEXIST (several do: an ambiguous prefix).
 * On error, why gets a one-line message naming the candidates (every board for -ENOENT,
 * those that match for -EEXIST).
 */
int ctl_select_board(const json_t *boards, const char *arg, char *why, size_t cap);

/* What picod accepts for board i of boards: its id, or its device path before it has one. */
const char *ctl_select_key(const json_t *board);

#endif /* PICOCTL_CTL_SELECT_H */
