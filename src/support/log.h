/*
 * log.h - logfmt lines to stderr or syslog, safe from any thread.
 *
 * A line is "ts=<RFC3339 ms> level=<lvl> " followed by the caller's
 * key=value fields.  Values that are not plain tokens go through
 * log_quote().  Nothing secret is ever passed here.
 */
#ifndef LULL_CLI_LOG_H
#define LULL_CLI_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2, /* default */
	LOG_LVL_DEBUG = 3,
};

/* verbosity: LOG_LVL_INFO + (-v count) - (-q count), clamped. */
void log_setup(int verbosity, bool use_syslog);
void log_teardown(void);
bool log_enabled(enum log_level level);
/* True when lines go to stderr (not syslog): an error already printed
 * there as "lull: ..." need not be logged a second time. */
bool log_to_stderr(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s as a logfmt value: bare if it is a plain token, else double-quoted with
 * '"' and '\' escaped and control bytes as \xNN.  Always NUL-terminated. */
const char *log_quote(char *out, size_t cap, const char *s);

#endif /* LULL_CLI_LOG_H */
