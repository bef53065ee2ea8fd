/*
 * log.c - the one place lines leave the daemon.
 *
 * Invariants:
 *  - One line per call, written with a single write(2) (or one syslog(3)
 *    call), so lines from different worker threads never interleave.
 *  - Lines are bounded (LOG_LINE_MAX_BYTES); a longer one is truncated and
 *    still ends in a newline.
 *  - The level is read without a lock: it is set once before any thread
 *    starts.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "text_limits.h"

static int log_verbosity = LOG_LVL_INFO;
static bool log_to_syslog;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(int verbosity, bool use_syslog)
{
	if (verbosity < LOG_LVL_ERROR)
		verbosity = LOG_LVL_ERROR;
	if (verbosity > LOG_LVL_DEBUG)
		verbosity = LOG_LVL_DEBUG;
	log_verbosity = verbosity;
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("lull", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_teardown(void)
{
	if (log_to_syslog)
		closelog();
	log_to_syslog = false;
}

bool log_enabled(enum log_level level)
{
	return (int)level <= log_verbosity;
}

bool log_to_stderr(void)
{
	return !log_to_syslog;
}

static size_t timestamp(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	int m = snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return m > 0 ? n + (size_t)m : n;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	char line[LOG_LINE_MAX_BYTES];
	size_t n = 0;
	if (!log_to_syslog) {
		memcpy(line, "ts=", 3);
		n = 3;
		n += timestamp(line + n, sizeof(line) - n);
		line[n++] = ' ';
	}
	int m = snprintf(line + n, sizeof(line) - n, "level=%s ", level_names[level]);
	n += (size_t)m;
	va_list ap;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n = n + (size_t)m >= sizeof(line) - 1 ? sizeof(line) - 2 : n + (size_t)m;
	if (log_to_syslog) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		line[n] = '\0';
		syslog(prio[level], "%s", line);
		return;
	}
	line[n++] = '\n';
	const char *p = line;
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w <= 0)
			return; /* nowhere left to report it */
		p += w;
		n -= (size_t)w;
	}
}

const char *log_quote(char *out, size_t cap, const char *s)
{
	bool plain = *s != '\0';
	for (const char *p = s; *p && plain; p++)
		plain = (unsigned char)*p > ' ' && *p != '"' && *p != '=' && *p != '\\' &&
		        (unsigned char)*p < 0x7f;
	if (plain) {
		snprintf(out, cap, "%s", s);
		return out;
	}
	size_t o = 0;
	if (cap < 3) {
		if (cap)
			out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (const char *p = s; *p && o + 5 < cap; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < ' ' || c == 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
