/*
 * options.c - one table of options for the command line, the config file
 * and the help text.
 *
 * Invariants:
 *  - Every knob of lull_config has exactly one row, whose default text is
 *    the brief's default (lull.h's LULL_DEFAULT_*).
 *  - Values are parsed strictly (parse.c); an error names the option (or
 *    file:line) and the offending text, and leaves nothing half-applied
 *    that matters: the caller exits on any error.
 *  - Precedence: defaults < --config file < command line, whatever the
 *    order of the arguments.
 */
#include "options.h"

#include "lull_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../io/limits.h"
#include "../support/keyfile.h"
#include "../support/log.h"
#include "parse.h"

enum opt_type {
	OPT_MS32,    /* duration, uint32_t ms */
	OPT_MS64,    /* duration, uint64_t ms */
	OPT_BYTES32, /* size, uint32_t */
	OPT_BYTES64, /* size, uint64_t */
	OPT_U32,     /* count */
	OPT_CHOICE,  /* enum field, one of choices[] */
	OPT_STR,     /* char * */
	OPT_BOOL,    /* flag on the command line, true|false in a file */
};

typedef struct opt_choice {
	const char *name;
	int value;
} opt_choice;

typedef struct opt_def {
	const char *name;
	enum opt_type type;
	unsigned roles; /* bit set of enum tunnel_role */
	size_t offset;
	uint64_t max;
	const char *arg;
	const char *deflt;
	const char *help;
	const opt_choice *choices;
} opt_def;

#define BOTH       (ROLE_SERVER | ROLE_CLIENT)
#define OFF(field) offsetof(tunnel_opts, field)

_Static_assert(sizeof(lull_suite) == sizeof(int), "enum fields are int-sized");
_Static_assert(sizeof(lull_on_spoof) == sizeof(int), "enum fields are int-sized");

static const opt_choice suites[] = {{"aesgcm", LULL_SUITE_AESGCM_SHA256},
                                    {"chachapoly", LULL_SUITE_CHACHAPOLY_BLAKE2B},
                                    {NULL, 0}};
static const opt_choice missed_ack[] = {
        {"close", LULL_ON_MISSED_ACK_CLOSE}, {"rekey", LULL_ON_MISSED_ACK_REKEY}, {NULL, 0}};
static const opt_choice spoof[] = {
        {"close", LULL_ON_SPOOF_CLOSE}, {"drop", LULL_ON_SPOOF_DROP}, {NULL, 0}};
static const opt_choice missing_hb[] = {{"close", LULL_ON_MISSING_HEARTBEAT_CLOSE},
                                        {"stale", LULL_ON_MISSING_HEARTBEAT_STALE},
                                        {NULL, 0}};

static const opt_def opts[] = {
        {"listen", OPT_STR, BOTH, OFF(listen), 0, "ADDR:PORT", NULL,
         "Accept TCP connections here (port 0: any free port, logged).", NULL},
        {"target", OPT_STR, ROLE_SERVER, OFF(target), 0, "HOST:PORT", NULL,
         "Connect each authenticated tunnel to this address.", NULL},
        {"server", OPT_STR, ROLE_CLIENT, OFF(server), 0, "HOST:PORT", NULL,
         "The lull server to carry each accepted connection to.", NULL},
        {"key", OPT_STR, BOTH, OFF(key_file), 0, "FILE", NULL,
         "Own private key (lull genkey); mode 0600 or stricter.", NULL},
        {"authorized", OPT_STR, ROLE_SERVER, OFF(authorized), 0, "FILE", NULL,
         "Authorized clients, one 'PUBKEY NAME [PSKFILE]' per line; re-read on SIGHUP.", NULL},
        {"server-pub", OPT_STR, ROLE_CLIENT, OFF(server_pub), 0, "KEY|FILE", NULL,
         "The server's public key (base64, or a file holding it); any other is refused.", NULL},
        {"psk", OPT_STR, ROLE_CLIENT, OFF(psk_file), 0, "FILE", "none",
         "Pre-shared key (lull genpsk); must match the server's entry. Mode 0600.", NULL},
        {"threads", OPT_U32, BOTH, OFF(threads), WORKER_MAX_THREADS, "N", "cores",
         "Event loops (one thread and one listening socket each); 0: one per core.", NULL},
        {"links", OPT_U32, ROLE_CLIENT, OFF(links), MAX_LINKS_PER_WORKER, "N", "1",
         "Links (lull connections to the server) each thread keeps up; new connections "
         "go to the one with the fewest streams.",
         NULL},
        {"streams-per-link", OPT_U32, ROLE_CLIENT, OFF(streams_per_link), UINT32_MAX, "N", "0",
         "0: links are long-lived and carry any number of streams. N: links are made on "
         "demand and close after carrying N; 1 gives each connection its own handshake "
         "and key.",
         NULL},
        {"max-streams", OPT_U32, BOTH, OFF(max_streams), LULL_STREAM_MAX_STREAMS_LIMIT, "N", "1024",
         "Concurrent streams per link. Client: beyond it on every link, a connection waits "
         "(see --connect-timeout). Server: a stream beyond it is reset (refused).",
         NULL},
        {"connect-timeout", OPT_MS32, BOTH, OFF(connect_timeout_ms), UINT32_MAX, "DURATION", "10s",
         "TCP connects to the server or target give up after this; a connection accepted "
         "while no link can take it waits this long, then gets a reset.",
         NULL},
        {"heartbeat-interval", OPT_MS32, BOTH, OFF(cfg.heartbeat_interval_ms), UINT32_MAX,
         "DURATION", "60s",
         "The link is idle after this long without data; heartbeats are sent this often "
         "while idle, and data after an idle spell waits for a new key.",
         NULL},
        {"heartbeat-timeout", OPT_MS32, BOTH, OFF(cfg.heartbeat_timeout_ms), UINT32_MAX, "DURATION",
         "10s",
         "How long to wait for a heartbeat's acknowledgement; timeout x (1 + retries) "
         "must be shorter than the interval.",
         NULL},
        {"heartbeat-retries", OPT_U32, BOTH, OFF(cfg.heartbeat_retries), LULL_HEARTBEAT_RETRIES_MAX,
         "N", "0", "Extra heartbeats before a missed acknowledgement counts (at most 100).", NULL},
        {"on-missed-ack", OPT_CHOICE, BOTH, OFF(cfg.on_missed_ack), 0, "close|rekey", "close",
         "On a missed acknowledgement: close, or forbid data until a new key.", missed_ack},
        {"on-spoof", OPT_CHOICE, BOTH, OFF(cfg.on_spoof), 0, "close|drop", "close",
         "On data under a stale key: close the connection, or drop the record.", spoof},
        {"on-missing-heartbeat", OPT_CHOICE, BOTH, OFF(cfg.on_missing_heartbeat), 0, "close|stale",
         "close",
         "Server, idle past interval + timeout with no heartbeat: close, or mark the key "
         "stale.",
         missing_hb},
        {"rekey-bytes", OPT_BYTES64, BOTH, OFF(cfg.rekey_bytes), UINT64_MAX / 2, "SIZE", "1G",
         "Negotiate a new key after this much data (both directions summed).", NULL},
        {"rekey-max-age", OPT_MS64, BOTH, OFF(cfg.rekey_max_age_ms), UINT64_MAX / 2, "DURATION",
         "1h", "Negotiate a new key when the current one is this old.", NULL},
        {"reject-after-bytes", OPT_BYTES64, BOTH, OFF(cfg.reject_after_bytes), UINT64_MAX, "SIZE",
         "2 x rekey-bytes", "Hard cap: a key is never used past this many bytes (0: derive).",
         NULL},
        {"reject-after-age", OPT_MS64, BOTH, OFF(cfg.reject_after_age_ms), UINT64_MAX, "DURATION",
         "rekey-max-age + srk-lifetime", "Hard cap: a key is never used past this age (0: derive).",
         NULL},
        {"srk-interval", OPT_MS32, BOTH, OFF(cfg.srk_interval_ms), UINT32_MAX, "DURATION", "10s",
         "Server: one session random key per interval (at least 100ms).", NULL},
        {"srk-lifetime", OPT_MS32, BOTH, OFF(cfg.srk_lifetime_ms), UINT32_MAX, "DURATION", "30s",
         "Time a handshake may take; also the handshake timeout (at most 90s).", NULL},
        {"srk-keep", OPT_U32, BOTH, OFF(cfg.srk_keep), UINT32_MAX, "N", "2",
         "Server: an SRK is wiped srk-interval + N x srk-lifetime after its interval "
         "(1-10).",
         NULL},
        {"max-message", OPT_BYTES32, BOTH, OFF(cfg.max_message_bytes), UINT32_MAX, "SIZE", "16M",
         "Largest message accepted (at most 1G); larger ones close the connection.", NULL},
        {"suite", OPT_CHOICE, BOTH, OFF(cfg.suite), 0, "aesgcm|chachapoly", "aesgcm",
         "Noise cipher suite: 25519_AESGCM_SHA256 or 25519_ChaChaPoly_BLAKE2b; both ends "
         "must agree.",
         suites},
        {"no-srk-pool", OPT_BOOL, ROLE_SERVER, OFF(cfg.srk_pool_disabled), 0, NULL, "off",
         "Server: a fresh ephemeral per handshake instead of the SRK pool (benchmarks "
         "only).",
         NULL},
        {"syslog", OPT_BOOL, BOTH, OFF(syslog), 0, NULL, "off",
         "Log to syslog (facility daemon) instead of stderr.", NULL},
        {"config", OPT_STR, BOTH, OFF(config_file), 0, "FILE", "none",
         "Read 'name = value' lines (the long option names) first; the command line "
         "overrides them.",
         NULL},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

const char *opts_name_at(size_t i)
{
	return i < N_OPTS ? opts[i].name : NULL;
}

static const opt_def *opt_find(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

/* Set one option from text; where says "--name" or "file:line: name". */
static enum opts_result opt_set(const opt_def *d, tunnel_opts *o, const char *value,
                                const char *where, char *err, size_t cap)
{
	char *field = (char *)o + d->offset;
	const char *why = NULL;
	uint64_t v = 0;
	switch (d->type) {
	case OPT_MS32:
	case OPT_MS64:
		why = parse_duration_ms(value, d->max, &v);
		break;
	case OPT_BYTES32:
	case OPT_BYTES64:
		why = parse_size(value, d->max, &v);
		break;
	case OPT_U32:
		why = parse_count(value, d->max, &v);
		break;
	case OPT_CHOICE:
		why = "not one of the choices";
		for (const opt_choice *c = d->choices; c->name; c++) {
			if (strcmp(c->name, value) == 0) {
				int iv = c->value;
				memcpy(field, &iv, sizeof(iv));
				return OPTS_OK;
			}
		}
		break;
	case OPT_STR: {
		if (value[0] == '\0') {
			why = "empty value";
			break;
		}
		char *copy = strdup(value);
		if (!copy) {
			why = "out of memory";
			break;
		}
		char **slot = (char **)(void *)field;
		free(*slot);
		*slot = copy;
		return OPTS_OK;
	}
	case OPT_BOOL: {
		bool b;
		if (strcmp(value, "true") == 0) {
			b = true;
		} else if (strcmp(value, "false") == 0) {
			b = false;
		} else {
			why = "expected true or false";
			break;
		}
		memcpy(field, &b, sizeof(b));
		return OPTS_OK;
	}
	}
	if (why) {
		char q[CLI_LINE_MAX_BYTES / 4];
		snprintf(err, cap, "%s: %s: %s%s%s", where, log_quote(q, sizeof(q), value), why,
		         d->type == OPT_CHOICE ? " " : "", d->type == OPT_CHOICE ? d->arg : "");
		return OPTS_USAGE;
	}
	if (d->type == OPT_MS32 || d->type == OPT_BYTES32 || d->type == OPT_U32) {
		uint32_t v32 = (uint32_t)v;
		memcpy(field, &v32, sizeof(v32));
	} else {
		memcpy(field, &v, sizeof(v));
	}
	return OPTS_OK;
}

static const char *role_name(enum tunnel_role role)
{
	return role == ROLE_SERVER ? "server" : "client";
}

static void opts_defaults(enum tunnel_role role, tunnel_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->role = role;
	lull_config_default(&o->cfg);
	o->links = DEFAULT_LINKS_PER_WORKER;
	o->max_streams = LULL_STREAM_DEFAULT_MAX_STREAMS;
	o->connect_timeout_ms = CONNECT_TIMEOUT_MS;
	o->verbosity = LOG_LVL_INFO;
}

void opts_free(tunnel_opts *o)
{
	char **strs[] = {&o->listen,     &o->target,     &o->server,   &o->key_file,
	                 &o->authorized, &o->server_pub, &o->psk_file, &o->config_file};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Open a config file for reading (see file_open_regular).  NULL with err. */
static FILE *open_config(const char *path, char *err, size_t cap)
{
	struct stat st;
	const char *why;
	int fd = file_open_regular(path, &st, &why);
	FILE *f = why ? NULL : fdopen(fd, "r");
	if (!f) {
		snprintf(err, cap, "--config %s: %s", path, why ? why : strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return f;
}

enum opts_result opts_load_file(const char *path, tunnel_opts *o, char *err, size_t cap)
{
	FILE *f = open_config(path, err, cap);
	if (!f)
		return OPTS_RUNTIME; /* unreadable: a runtime failure, exit 1 */
	char line[CLI_LINE_MAX_BYTES + 2];
	unsigned lineno = 0;
	enum opts_result r = OPTS_OK;
	while (r == OPTS_OK && fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			line[len - 1] = '\0';
		} else if (!feof(f)) {
			snprintf(err, cap, "%s:%u: line longer than %u bytes", path, lineno,
			         CLI_LINE_MAX_BYTES);
			r = OPTS_USAGE;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (*s == '\0')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, cap, "%s:%u: expected 'name = value'", path, lineno);
			r = OPTS_USAGE;
			break;
		}
		*eq = '\0';
		char *name = trim(s);
		char *value = trim(eq + 1);
		const opt_def *d = opt_find(name, strlen(name));
		char where[CLI_ERR_BYTES / 2];
		snprintf(where, sizeof(where), "%s:%u: %.60s", path, lineno, name);
		if (!d || strcmp(name, "config") == 0) {
			snprintf(err, cap, "%s: unknown option", where);
			r = OPTS_USAGE;
		} else if (!(d->roles & o->role)) {
			snprintf(err, cap, "%s: not an option of lull %s", where,
			         role_name(o->role));
			r = OPTS_USAGE;
		} else if (*value == '\0') {
			snprintf(err, cap, "%s: missing value", where);
			r = OPTS_USAGE;
		} else {
			r = opt_set(d, o, value, where, err, cap);
		}
	}
	if (r == OPTS_OK && ferror(f)) {
		snprintf(err, cap, "--config %s: read error: %s", path, strerror(errno));
		r = OPTS_RUNTIME;
	}
	fclose(f);
	return r;
}

/*
 * Walk argv.  apply=false: only find --help and --config (first pass);
 * apply=true: set everything except --config.
 */
static enum opts_result walk_argv(int argc, char **argv, tunnel_opts *o, bool apply, char *err,
                                  size_t cap)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return OPTS_HELP;
		if (strcmp(a, "-v") == 0 || strcmp(a, "-q") == 0) {
			if (apply)
				o->verbosity += a[1] == 'v' ? 1 : -1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, cap, "%s: unexpected argument '%.60s'", role_name(o->role),
			         a);
			return OPTS_USAGE;
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const opt_def *d = opt_find(name, nlen);
		char where[CLI_ERR_BYTES / 2];
		snprintf(where, sizeof(where), "--%.*s", (int)(nlen > 60 ? 60 : nlen), name);
		if (!d) {
			snprintf(err, cap, "%s: unknown option (see lull %s --help)", where,
			         role_name(o->role));
			return OPTS_USAGE;
		}
		if (!(d->roles & o->role)) {
			snprintf(err, cap, "%s: not an option of lull %s", where,
			         role_name(o->role));
			return OPTS_USAGE;
		}
		const char *value;
		if (d->type == OPT_BOOL) {
			if (eq) {
				snprintf(err, cap, "%s: takes no value", where);
				return OPTS_USAGE;
			}
			value = "true";
		} else if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(err, cap, "%s: missing value %s", where, d->arg);
			return OPTS_USAGE;
		}
		bool is_config = strcmp(d->name, "config") == 0;
		if (apply != is_config) {
			enum opts_result r = opt_set(d, o, value, where, err, cap);
			if (r != OPTS_OK)
				return r;
		}
	}
	return OPTS_OK;
}

/* Limits that involve another option, which the bare name would hide. */
static const char *range_hint(const char *field)
{
	if (strcmp(field, "heartbeat_timeout") == 0)
		return ": timeout x (1 + --heartbeat-retries) must be less than "
		       "--heartbeat-interval";
	if (strcmp(field, "max_message") == 0)
		return ": 1 byte to 1G, and at most --reject-after-bytes (2 x --rekey-bytes)";
	if (strcmp(field, "reject_after_bytes") == 0)
		return ": at least --rekey-bytes";
	if (strcmp(field, "reject_after_age") == 0)
		return ": at least --rekey-max-age";
	return "";
}

static const char *option_of_field(const char *field, char *buf, size_t cap)
{
	size_t i = 0;
	for (; field[i] && i + 1 < cap; i++)
		buf[i] = field[i] == '_' ? '-' : field[i];
	buf[i] = '\0';
	return buf;
}

enum opts_result opts_parse(enum tunnel_role role, int argc, char **argv, tunnel_opts *o, char *err,
                            size_t cap)
{
	opts_defaults(role, o);
	enum opts_result r = walk_argv(argc, argv, o, false, err, cap);
	if (r == OPTS_OK && o->config_file)
		r = opts_load_file(o->config_file, o, err, cap);
	if (r == OPTS_OK)
		r = walk_argv(argc, argv, o, true, err, cap);
	if (r != OPTS_OK)
		return r;

	struct {
		const char *name;
		const char *value;
	} required[] = {
	        {"listen", o->listen},
	        {"key", o->key_file},
	        {role == ROLE_SERVER ? "target" : "server",
	         role == ROLE_SERVER ? o->target : o->server},
	        {role == ROLE_SERVER ? "authorized" : "server-pub",
	         role == ROLE_SERVER ? o->authorized : o->server_pub},
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!required[i].value) {
			const opt_def *d = opt_find(required[i].name, strlen(required[i].name));
			snprintf(err, cap, "%s: missing --%s %s (see lull %s --help)",
			         role_name(role), d->name, d->arg, role_name(role));
			return OPTS_USAGE;
		}
	}
	const char *bad = NULL;
	if (lull_config_validate(&o->cfg, &bad) != LULL_OK) {
		char opt[64];
		snprintf(err, cap, "--%s: value out of the allowed range%s (see lull %s --help)",
		         option_of_field(bad ? bad : "unknown", opt, sizeof(opt)),
		         range_hint(bad ? bad : ""), role_name(role));
		return OPTS_USAGE;
	}
	return OPTS_OK;
}

void opts_print_help(FILE *f, enum tunnel_role role)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		const opt_def *d = &opts[i];
		if (!(d->roles & role))
			continue;
		if (d->arg)
			fprintf(f, "  --%s %s\n", d->name, d->arg);
		else
			fprintf(f, "  --%s\n", d->name);
		/* Wrap the help text at about 72 columns, indented 8. */
		const char *p = d->help;
		while (*p) {
			size_t n = strlen(p);
			if (n > 70) {
				n = 70;
				while (n > 0 && p[n] != ' ')
					n--;
				if (n == 0)
					n = 70;
			}
			fprintf(f, "        %.*s\n", (int)n, p);
			p += n;
			while (*p == ' ')
				p++;
		}
		if (d->deflt)
			fprintf(f, "        Default: %s.\n", d->deflt);
	}
	fprintf(f, "  -v, -q\n        More (debug) or less (warnings and errors only) logging.\n"
	           "  -h, --help\n        This text.\n");
}
