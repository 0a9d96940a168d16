/* ctl_select.c - see ctl_select.h. */
#include "ctl_select.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *ctl_sel_str(const json_t *b, const char *key)
{
    return json_string_value(json_object_get(b, key));
}

const char *ctl_select_key(const json_t *board)
{
    const char *id = ctl_sel_str(board, "board");

    return id ? id : ctl_sel_str(board, "device");
}

/* Same file? (a /dev/pico/<id> link and the ttyACM it points at) */
static bool ctl_sel_same_path(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];

    if (!a || !b || a[0] != '/' || b[0] != '/')
        return false;
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

/* "id (name, device)" of board b, appended to why. */
static void ctl_sel_describe(char *why, size_t cap, const json_t *b, bool first)
{
    size_t n = strlen(why);
    const char *name = ctl_sel_str(b, "name");

    if (n + 1 >= cap)
        return;
    snprintf(why + n, cap - n, "%s%s (%s%s%s)", first ? "" : ", ",
             ctl_sel_str(b, "board") ? ctl_sel_str(b, "board") : "no id yet", name ? name : "",
             name ? ", " : "", ctl_sel_str(b, "device") ? ctl_sel_str(b, "device") : "?");
}

/* Index of the one board whose field key equals arg (case-insensitive for ids), else -1. */
static int ctl_sel_exact(const json_t *boards, const char *key, const char *arg, bool nocase)
{
    for (size_t i = 0; i < json_array_size(boards); i++) {
        const char *v = ctl_sel_str(json_array_get(boards, i), key);

        if (v && (nocase ? !strcasecmp(v, arg) : !strcmp(v, arg)))
            return (int)i;
    }
    return -1;
}

int ctl_select_board(const json_t *boards, const char *arg, char *why, size_t cap)
{
    size_t n = json_array_size(boards), len = strlen(arg), hits = 0;
    int i, found = -1;

    why[0] = '\0';
    if ((i = ctl_sel_exact(boards, "board", arg, true)) >= 0 ||
        (i = ctl_sel_exact(boards, "device", arg, false)) >= 0 ||
        (i = ctl_sel_exact(boards, "name", arg, false)) >= 0)
        return i;
    for (size_t k = 0; k < n; k++)
        if (ctl_sel_same_path(arg, ctl_sel_str(json_array_get(boards, k), "device")))
            return (int)k;
    for (size_t k = 0; len && k < n; k++) {
        const char *id = ctl_sel_str(json_array_get(boards, k), "board");

        if (id && !strncasecmp(id, arg, len)) {
            hits++;
            found = (int)k;
        }
    }
    if (hits == 1)
        return found;
    if (hits > 1) {
        snprintf(why, cap, "'%s' is ambiguous: it matches ", arg);
        for (size_t k = 0, first = 1; k < n; k++) {
            const char *id = ctl_sel_str(json_array_get(boards, k), "board");
            if (id && !strncasecmp(id, arg, len)) {
                ctl_sel_describe(why, cap, json_array_get(boards, k), first);
                first = 0;
            }
        }
        return -EEXIST;
    }
    snprintf(why, cap,
             n ? "no board matches '%s'; boards: " : "no board matches '%s': picod has no boards",
             arg);
    for (size_t k = 0; k < n; k++)
        ctl_sel_describe(why, cap, json_array_get(boards, k), k == 0);
    return -ENOENT;
}
