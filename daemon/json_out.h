/*
 * json_out.h - how picod writes JSON: compact, and reals with the digits they have.
 *
 * %.17g (jansson's default) writes 40.007 as 40.006999999999998; 15 significant digits are
 * what a double holds exactly for any decimal of up to 15 digits, so every value picod makes
 * (centi-degrees / 100, milli-percent / 1000, rounded ppm, ms) prints as it was meant.
 * Every json_dump* of picod uses these flags, so the byte caches of status/list
 * (board_json.c) stay identical to a fresh json_dumpb of the same tree.
 */
#ifndef PICOD_JSON_OUT_H
#define PICOD_JSON_OUT_H

#include <jansson.h>

#define PICOD_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

#endif /* PICOD_JSON_OUT_H */
