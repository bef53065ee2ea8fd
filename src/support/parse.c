/*
 * parse.c - strict parsing of durations, sizes, counts and HOST:PORT.
 *
 * Invariants: a value is accepted only if the whole text is consumed; no
 * sign, no whitespace, no empty number; every multiplication is checked
 * before it is done, so an overflow is an error, never a wrapped value.
 */
#include "parse.h"

#include <stdio.h>
#include <string.h>

/* Leading decimal digits of s into *out; returns the first non-digit. */
static const char *digits(const char *s, uint64_t *out, const char **err)
{
	uint64_t v = 0;
	const char *p = s;
	*err = NULL;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10) {
			*err = "number too large";
			return p;
		}
		v = v * 10 + d;
		p++;
	}
	if (p == s)
		*err = *s == '-' ? "negative values are not allowed" : "not a number";
	*out = v;
	return p;
}

static const char *scaled(uint64_t v, uint64_t mult, uint64_t max, uint64_t *out)
{
	if (v > max / mult)
		return "value too large";
	*out = v * mult;
	return NULL;
}

const char *parse_duration_ms(const char *s, uint64_t max, uint64_t *out)
{
	const char *err;
	uint64_t v;
	const char *unit = digits(s, &v, &err);
	if (err)
		return err;
	uint64_t mult;
	if (strcmp(unit, "ms") == 0)
		mult = 1;
	else if (strcmp(unit, "s") == 0)
		mult = 1000;
	else if (strcmp(unit, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(unit, "h") == 0)
		mult = 60 * 60 * 1000;
	else if (*unit == '\0')
		return "missing unit (ms, s, m or h)";
	else
		return "unknown unit (use ms, s, m or h)";
	return scaled(v, mult, max, out);
}

const char *parse_size(const char *s, uint64_t max, uint64_t *out)
{
	const char *err;
	uint64_t v;
	const char *unit = digits(s, &v, &err);
	if (err)
		return err;
	uint64_t mult = 1;
	if (*unit != '\0') {
		if (unit[1] != '\0')
			return "unknown unit (use K, M or G)";
		switch (*unit) {
		case 'K':
		case 'k':
			mult = 1ull << 10;
			break;
		case 'M':
		case 'm':
			mult = 1ull << 20;
			break;
		case 'G':
		case 'g':
			mult = 1ull << 30;
			break;
		default:
			return "unknown unit (use K, M or G)";
		}
	}
	return scaled(v, mult, max, out);
}

const char *parse_count(const char *s, uint64_t max, uint64_t *out)
{
	const char *err;
	uint64_t v;
	const char *end = digits(s, &v, &err);
	if (err)
		return err;
	if (*end != '\0')
		return "not a number";
	return scaled(v, 1, max, out);
}

const char *parse_host_port(const char *s, char *host, size_t cap, uint16_t *port, int allow_zero)
{
	const char *colon;
	const char *h = s;
	size_t hlen;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return "expected [IPV6]:PORT";
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return "expected HOST:PORT";
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen))
			return "IPv6 addresses must be written [ADDR]:PORT";
	}
	if (hlen == 0)
		return "missing host";
	if (hlen >= cap)
		return "host name too long";
	uint64_t p;
	if (parse_count(colon + 1, UINT64_MAX, &p) != NULL)
		return "bad port number";
	if (p > 65535)
		return "port out of range (0-65535)";
	if (p == 0 && !allow_zero)
		return "port 0 is only allowed for --listen";
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return NULL;
}

/* v in the largest unit that divides it exactly (units[0] must be 1). */
static const char *format_exact(uint64_t v, const uint64_t *mult, const char *const *unit, size_t n,
                                char *out, size_t cap)
{
	size_t i = n - 1;
	while (i > 0 && (v == 0 || v % mult[i] != 0))
		i--;
	snprintf(out, cap, "%llu%s", (unsigned long long)(v / mult[i]), unit[i]);
	return out;
}

const char *format_duration_ms(uint64_t ms, char *out, size_t cap)
{
	static const uint64_t mult[] = {1, 1000, 60 * 1000, 60 * 60 * 1000};
	static const char *const unit[] = {"ms", "s", "m", "h"};
	return format_exact(ms, mult, unit, 4, out, cap);
}

const char *format_size(uint64_t bytes, char *out, size_t cap)
{
	static const uint64_t mult[] = {1, 1u << 10, 1u << 20, 1u << 30};
	static const char *const unit[] = {"", "K", "M", "G"};
	return format_exact(bytes, mult, unit, 4, out, cap);
}
