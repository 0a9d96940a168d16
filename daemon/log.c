/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static int log_level = LOG_LEVEL_INFO;
static int log_journal = -1; /* -1 unknown, 0 plain, 1 journal prefixes */

void log_set_level(int level)
{
    log_level = level;
}

int log_get_level(void)
{
    return log_level;
}

static const char *log_level_name(int level)
{
    switch (level) {
    case LOG_LEVEL_ERR:
        return "error";
    case LOG_LEVEL_WARNING:
        return "warning";
    case LOG_LEVEL_NOTICE:
        return "notice";
    case LOG_LEVEL_INFO:
        return "info";
    default:
        return "debug";
    }
}

void log_msg(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (level > log_level)
        return;
    if (log_journal < 0)
        log_journal = getenv("JOURNAL_STREAM") != NULL;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One fprintf per line so concurrent writers (tests capture stderr) never interleave
     * within a line. */
    if (log_journal)
        fprintf(stderr, "<%d>%s\n", level, line);
    else
        fprintf(stderr, "picod: %s: %s\n", log_level_name(level), line);
}
