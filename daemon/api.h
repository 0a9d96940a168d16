/*
 * api.h - the JSON-lines commands of the socket API (docs/API.md is the reference).
 *
 * api_line() is the server's line callback: it parses one line, runs the command and
 * answers with exactly one response line, now or (for commands that talk to a board) when
 * the board answers or the request times out. A client that disconnects meanwhile simply
 * gets nothing: answers are addressed by client id, not pointer.
 */
#ifndef PICOD_API_H
#define PICOD_API_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

#define API_VERSION 1

void api_line(server_t *s, client_t *c, const char *line, size_t len, bool too_long);

#endif /* PICOD_API_H */
