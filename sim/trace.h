/*
 * trace.h - the trace file format: read strictly, written canonically.
 *
 *   # comment (a whole line; blank lines are ignored too)
 *   lull-trace 1              first significant line: magic and version
 *   duration <ms>             optional, before any message: replay length
 *   <t_ms> <c2s|s2c> <bytes>  one message per line, t_ms non-decreasing
 *
 * Numbers are unsigned decimal without sign or leading zeros; fields are
 * separated by one or more spaces or tabs; nothing else may follow.  Bounds:
 * t_ms and duration <= SIM_TRACE_MAX_DURATION_MS, 1 <= bytes <=
 * SIM_TRACE_MAX_MESSAGE_BYTES, lines <= SIM_TRACE_LINE_MAX_BYTES, at most
 * SIM_TRACE_MAX_MESSAGES messages.  Without a duration line the replay ends
 * at the last message.  Every error names file:line and what was wrong.
 */
#ifndef LULL_SIM_TRACE_H
#define LULL_SIM_TRACE_H

#include <stdio.h>

#include "sim.h"

#define SIM_TRACE_MAGIC   "lull-trace"
#define SIM_TRACE_VERSION 1

/* Parse text (len bytes, need not be NUL-terminated) named `file` in
 * messages.  On failure *tr is freed and err_buf holds "file:line: why". */
sim_err sim_trace_parse(sim_trace *tr, const char *file, const char *text, size_t len,
                        char *err_buf, size_t err_len);

/* Read and parse a file; the trace is named after the file's base name. */
sim_err sim_trace_load(sim_trace *tr, const char *path, char *err_buf, size_t err_len);

/* Write tr in the format above (with its duration line). */
sim_err sim_trace_write(const sim_trace *tr, FILE *out);

#endif /* LULL_SIM_TRACE_H */
