/*
 * config_json.h - picod's effective configuration as JSON, for the `config` command.
 *
 * What picod applies: every setting after defaults, environment, config file and command
 * line (options.h), under the config file's key names, and each [board NAME] section with
 * the timings that board gets (its own, else the [picod] ones). Nothing in it is secret.
 */
#ifndef PICOD_CONFIG_JSON_H
#define PICOD_CONFIG_JSON_H

#include <jansson.h>

#include "options.h"

/* {"path": FILE|null, "picod": {key: value, ...}, "boards": [{"name", "id", "poll-ms",
 * "heartbeat-ms", "sensors"}, ...]}; a new reference, NULL when out of memory. */
json_t *config_json(const options_t *o);

#endif /* PICOD_CONFIG_JSON_H */
