/*
 * parse.h - strict parsers for the values people type: durations, sizes,
 * counts, HOST:PORT.  Each returns NULL on success or a short phrase saying
 * what is wrong with the text; the caller names the option or file:line.
 */
#ifndef LULL_CLI_PARSE_H
#define LULL_CLI_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* "<digits><unit>", unit one of ms, s, m, h; result in ms, at most max. */
const char *parse_duration_ms(const char *s, uint64_t max, uint64_t *out);
/* "<digits>[K|M|G]" (powers of 1024, either case); bytes, at most max. */
const char *parse_size(const char *s, uint64_t max, uint64_t *out);
/* "<digits>", at most max. */
const char *parse_count(const char *s, uint64_t max, uint64_t *out);

/* The inverses, for messages: the shortest text the parsers above read
 * back as v ("90s", "1500ms", "16M", "1000").  out gets at most cap bytes. */
const char *format_duration_ms(uint64_t ms, char *out, size_t cap);
const char *format_size(uint64_t bytes, char *out, size_t cap);

/* "HOST:PORT" or "[V6]:PORT": host copied into host (cap bytes incl. NUL),
 * port 0..65535 (0 only when allow_zero). */
const char *parse_host_port(const char *s, char *host, size_t cap, uint16_t *port, int allow_zero);

#endif /* LULL_CLI_PARSE_H */
