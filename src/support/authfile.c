/*
 * authfile.c - parse the authorized-clients file.
 *
 * Invariants:
 *  - All or nothing: a file with any bad line yields no list, so a reload
 *    that fails leaves the running list untouched.
 *  - Every error names file:line.  Duplicate keys and duplicate names are
 *    errors (naming the first line), because either would make the log
 *    lie about who is connected.
 *  - A relative PSKFILE is relative to the authorized file's directory, so
 *    the file means the same wherever the daemon was started from.
 *  - PSK files obey the secret-file rules of keyfile.c; PSKs are wiped when
 *    the list is freed.
 */
#include "authfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "text_limits.h"
#include "keyfile.h"

bool auth_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= LULL_PEER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == ':' ||
		          c == '@' || c == '+';
		if (!ok)
			return false;
	}
	return true;
}

void auth_list_free(auth_list *l)
{
	if (l->entries) {
		lull_wipe(l->entries, l->n * sizeof(*l->entries));
		free(l->entries);
	}
	l->entries = NULL;
	l->n = 0;
}

bool auth_list_copy(auth_list *dst, const auth_list *src)
{
	dst->entries = NULL;
	dst->n = 0;
	if (src->n == 0)
		return true;
	dst->entries = calloc(src->n, sizeof(*dst->entries));
	if (!dst->entries)
		return false;
	memcpy(dst->entries, src->entries, src->n * sizeof(*src->entries));
	dst->n = src->n;
	return true;
}

/* Split off the next space/tab separated field; NULL at end of line. */
static char *next_field(char **p)
{
	char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return NULL;
	char *e = s;
	while (*e && *e != ' ' && *e != '\t')
		e++;
	if (*e)
		*e++ = '\0';
	*p = e;
	return s;
}

/* dir of path + rel, unless rel is absolute. */
static bool resolve_relative(const char *path, const char *rel, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int n;
	if (rel[0] == '/' || !slash)
		n = snprintf(out, cap, "%s", rel);
	else
		n = snprintf(out, cap, "%.*s/%s", (int)(slash - path), path, rel);
	return n >= 0 && (size_t)n < cap;
}

static bool add_entry(auth_list *l, size_t *cap, const auth_entry *e)
{
	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		auth_entry *grown = calloc(ncap, sizeof(*grown));
		if (!grown)
			return false;
		/* Copy and wipe rather than realloc: entries hold PSKs. */
		if (l->n) {
			memcpy(grown, l->entries, l->n * sizeof(*grown));
			lull_wipe(l->entries, l->n * sizeof(*grown));
		}
		free(l->entries);
		l->entries = grown;
		*cap = ncap;
	}
	l->entries[l->n++] = *e;
	return true;
}

static bool parse_line(const char *path, char *line, auth_entry *e, char *err, size_t cap,
                       unsigned lineno)
{
	char *p = line;
	char *key = next_field(&p);
	char *name = next_field(&p);
	char *pskfile = next_field(&p);
	char *extra = next_field(&p);
	char why[CLI_ERR_BYTES];
	memset(e, 0, sizeof(*e));
	if (!name) {
		snprintf(err, cap, "%s:%u: expected PUBKEY NAME [PSKFILE]", path, lineno);
		return false;
	}
	if (extra) {
		snprintf(err, cap, "%s:%u: unexpected text after PSKFILE: '%.40s'", path, lineno,
		         extra);
		return false;
	}
	if (!key_from_base64(key, strlen(key), e->pub)) {
		snprintf(err, cap, "%s:%u: not a base64 public key: '%.60s'", path, lineno, key);
		return false;
	}
	if (!auth_name_valid(name)) {
		snprintf(err, cap,
		         "%s:%u: bad client name '%.70s' (1-%d characters of A-Z a-z 0-9 . _ - : @ "
		         "+)",
		         path, lineno, name, LULL_PEER_NAME_MAX - 1);
		return false;
	}
	memcpy(e->name, name, strlen(name) + 1);
	if (pskfile) {
		char resolved[CLI_LINE_MAX_BYTES];
		if (!resolve_relative(path, pskfile, resolved, sizeof(resolved))) {
			snprintf(err, cap, "%s:%u: PSK file path too long", path, lineno);
			return false;
		}
		if (!key_file_read(resolved, true, e->psk, why, sizeof(why))) {
			snprintf(err, cap, "%s:%u: %s", path, lineno, why);
			return false;
		}
		e->has_psk = true;
	}
	return true;
}

bool auth_list_load(const char *path, auth_list *out, char *err, size_t cap)
{
	out->entries = NULL;
	out->n = 0;
	struct stat st;
	const char *why;
	int fd = file_open_regular(path, &st, &why);
	FILE *f = why ? NULL : fdopen(fd, "r");
	if (!f) {
		snprintf(err, cap, "%s: %s", path, why ? why : strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	size_t list_cap = 0;
	unsigned *lines = NULL; /* line number of each entry, for duplicates */
	char line[CLI_LINE_MAX_BYTES + 2];
	unsigned lineno = 0;
	bool ok = true;
	while (ok && fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			line[--len] = '\0';
		} else if (!feof(f)) {
			snprintf(err, cap, "%s:%u: line longer than %u bytes", path, lineno,
			         CLI_LINE_MAX_BYTES);
			ok = false;
			break;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			continue;
		auth_entry e;
		ok = parse_line(path, p, &e, err, cap, lineno);
		for (size_t i = 0; ok && i < out->n; i++) {
			if (memcmp(out->entries[i].pub, e.pub, LULL_KEY_BYTES) == 0) {
				snprintf(err, cap, "%s:%u: key already authorized on line %u", path,
				         lineno, lines[i]);
				ok = false;
			} else if (strcmp(out->entries[i].name, e.name) == 0) {
				snprintf(err, cap, "%s:%u: name '%s' already used on line %u", path,
				         lineno, e.name, lines[i]);
				ok = false;
			}
		}
		if (ok) {
			size_t old_cap = list_cap;
			ok = add_entry(out, &list_cap, &e);
			if (ok && list_cap != old_cap) {
				unsigned *grown = realloc(lines, list_cap * sizeof(*lines));
				ok = grown != NULL;
				if (grown)
					lines = grown;
			}
			if (ok)
				lines[out->n - 1] = lineno;
			else
				snprintf(err, cap, "%s:%u: out of memory", path, lineno);
		}
		lull_wipe(&e, sizeof(e));
	}
	if (ok && ferror(f)) {
		snprintf(err, cap, "%s: read error", path);
		ok = false;
	}
	lull_wipe(line, sizeof(line));
	fclose(f);
	free(lines);
	if (!ok)
		auth_list_free(out);
	return ok;
}
