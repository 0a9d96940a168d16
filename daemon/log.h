/*
 * log.h - picod's only logging sink: one line per message on stderr.
 *
 * Lines carry the sd-daemon "<N>" priority prefix when stderr is the journal (systemd sets
 * JOURNAL_STREAM), so journalctl shows real priorities; otherwise "picod: level: ".
 * Modules below the top level should return errors rather than log; the board, link and
 * server modules log state changes a person running the daemon wants to see.
 */
#ifndef PICOD_LOG_H
#define PICOD_LOG_H

enum log_level {
    LOG_LEVEL_ERR = 3,
    LOG_LEVEL_WARNING = 4,
    LOG_LEVEL_NOTICE = 5,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7,
};

/* Messages above level are dropped. Default LOG_LEVEL_INFO. */
void log_set_level(int level);
int log_get_level(void);

/* printf-style; a trailing newline is added. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)     log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* PICOD_LOG_H */
