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
 *  - A relative file name in a --config file is relative to that file's
 *    directory (a service starts in /); on the command line, to the
 *    working directory, as every other program does.
 *  - A range error names the option the user set (not a derived one the
 *    user never typed) and the values that would be accepted.
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
#include "../support/parse.h"

enum opt_type {
	OPT_MS32,        /* duration, uint32_t ms */
	OPT_MS64,        /* duration, uint64_t ms */
	OPT_BYTES32,     /* size, uint32_t */
	OPT_BYTES64,     /* size, uint64_t */
	OPT_U32,         /* count */
	OPT_CHOICE,      /* enum field, one of choices[] */
	OPT_STR,         /* char * */
	OPT_PATH,        /* char *, a file name */
	OPT_KEY_OR_PATH, /* char *, a base64 key or a file name */
	OPT_BOOL,        /* flag on the command line, true|false in a file */
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
        {"key", OPT_PATH, BOTH, OFF(key_file), 0, "FILE", NULL,
         "Own private key (lull genkey); mode 0600 or stricter.", NULL},
        {"authorized", OPT_PATH, ROLE_SERVER, OFF(authorized), 0, "FILE", NULL,
         "Authorized clients, one 'PUBKEY NAME [PSKFILE]' per line; re-read on SIGHUP.", NULL},
        {"server-pub", OPT_KEY_OR_PATH, ROLE_CLIENT, OFF(server_pub), 0, "KEY|FILE", NULL,
         "The server's public key (base64, or a file holding it); any other is refused.", NULL},
        {"psk", OPT_PATH, ROLE_CLIENT, OFF(psk_file), 0, "FILE", "none",
         "Pre-shared key (lull genpsk); must match the server's entry. Mode 0600.", NULL},
        {"threads", OPT_U32, BOTH, OFF(threads), WORKER_MAX_THREADS, "N", "cores",
         "Event loops (one thread and one listening socket each); 0: one per core.", NULL},
        {"reuseport", OPT_BOOL, ROLE_SERVER, OFF(reuseport), 0, NULL, "off",
         "Server: share --listen's port with other lull servers started with it "
         "(SO_REUSEPORT); the kernel spreads connections between them.",
         NULL},
        {"proxy-protocol", OPT_BOOL, ROLE_SERVER, OFF(proxy_protocol), 0, NULL, "off",
         "Server: every connection starts with a PROXY v1 or v2 header from a load balancer; "
         "its client address is logged. A connection without a valid one is closed.",
         NULL},
        {"target-proxy-protocol", OPT_BOOL, ROLE_SERVER, OFF(target_proxy_protocol), 0, NULL, "off",
         "Server: start each target connection with a PROXY v2 header: the client's address "
         "and, in TLV 0xE0, its name from --authorized.",
         NULL},
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
        {"drain-timeout", OPT_MS32, ROLE_SERVER, OFF(drain_timeout_ms), UINT32_MAX, "DURATION",
         "0s",
         "Server: on SIGTERM stop accepting, send GOAWAY on every link (clients move to "
         "another server) and let open streams end, for at most this long; then reset "
         "the rest and exit 0. A second SIGTERM stops at once. 0s: stop at once.",
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
        {"srk-interval", OPT_MS32, BOTH, OFF(cfg.srk_interval_ms), LULL_SRK_INTERVAL_MAX_MS,
         "DURATION", "10s",
         "Server: one session random key per interval (100ms to 60s: an SRK lives at most "
         "srk-interval + srk-keep x srk-lifetime).",
         NULL},
        {"srk-lifetime", OPT_MS32, BOTH, OFF(cfg.srk_lifetime_ms), UINT32_MAX, "DURATION", "30s",
         "Time a handshake may take; also the handshake timeout (at most 90s).", NULL},
        {"srk-keep", OPT_U32, BOTH, OFF(cfg.srk_keep), UINT32_MAX, "N", "2",
         "Server: an SRK is wiped srk-interval + N x srk-lifetime after its interval "
         "(1-10).",
         NULL},
        {"srk-replay-max", OPT_U32, ROLE_SERVER, OFF(cfg.srk_replay_max), LULL_SRK_REPLAY_MAX_LIMIT,
         "N", "65536",
         "Server: handshakes one SRK answers before a fresh one takes over for the rest "
         "of its interval (1-65536; its replay set is then full). Never refuses.",
         NULL},
        {"max-message", OPT_BYTES32, BOTH, OFF(cfg.max_message_bytes), UINT32_MAX, "SIZE", "16M",
         "Largest message accepted (at most 1G); larger ones close the connection.", NULL},
        {"suite", OPT_CHOICE, BOTH, OFF(cfg.suite), 0, "aesgcm|chachapoly", "aesgcm",
         "Noise cipher suite: 25519_AESGCM_SHA256 or 25519_ChaChaPoly_BLAKE2b; both ends "
         "must agree.",
         suites},
        {"handshake-load", OPT_U32, ROLE_SERVER, OFF(handshake_load_per_s), UINT32_MAX, "N", "100",
         "Server: connection attempts per second on one thread above which sources with "
         "unfinished handshakes are refused (0: always).",
         NULL},
        {"source-penalty", OPT_MS32, ROLE_SERVER, OFF(source_penalty_ms), SOURCE_PENALTY_LIMIT_MS,
         "DURATION", "2s",
         "Server: penalty a source address earns per connection that ends before its "
         "handshake completes; under load, a source with 3 penalties' worth left is "
         "refused (0: off).",
         NULL},
        {"source-penalty-max", OPT_MS32, ROLE_SERVER, OFF(source_penalty_max_ms),
         SOURCE_PENALTY_LIMIT_MS, "DURATION", "60s",
         "Server: the most penalty one source address can hold.", NULL},
        {"no-srk-pool", OPT_BOOL, ROLE_SERVER, OFF(cfg.srk_pool_disabled), 0, NULL, "off",
         "Server: a fresh ephemeral per handshake instead of the SRK pool (benchmarks "
         "only).",
         NULL},
        {"secure-heap", OPT_BYTES64, BOTH, OFF(secure_heap_bytes), LULL_SECURE_HEAP_MAX_BYTES,
         "SIZE", "auto",
         "Locked memory, left out of core dumps, for keys (rounded up to a power of two, "
         "at least 64K); auto sizes it for the connections the fd limit allows, at most "
         "16M; 0: off.",
         NULL},
        {"status", OPT_STR, BOTH, OFF(status), 0, "unix:PATH|HOST:PORT", "off",
         "Serve /metrics (Prometheus), /status (JSON; ?format=text for lull status) and "
         "/healthz over HTTP here.",
         NULL},
        {"metrics-peers", OPT_BOOL, ROLE_SERVER, OFF(metrics_peers), 0, NULL, "off",
         "Server: also count handshakes and bytes per authorized client name in /metrics "
         "(lull_peer_*_total{peer=NAME}).",
         NULL},
        {"syslog", OPT_BOOL, BOTH, OFF(syslog), 0, NULL, "off",
         "Log to syslog (facility daemon) instead of stderr.", NULL},
        {"config", OPT_STR, BOTH, OFF(config_file), 0, "FILE", "none",
         "Read 'name = value' lines (the long option names) first; the command line "
         "overrides them.",
         NULL},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))
_Static_assert(N_OPTS <= 64, "tunnel_opts.set_by_user has one bit per option");

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

/* value as a file name read from a config file in base_dir: relative
 * names are taken from base_dir.  NULL (with errno) if out of memory. */
static char *path_in(const char *base_dir, const char *value)
{
	if (!base_dir || value[0] == '/')
		return strdup(value);
	size_t n = strlen(base_dir) + 1 + strlen(value) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", base_dir, value);
	return p;
}

static const char *opt_format(const opt_def *d, uint64_t v, char *buf, size_t cap);

/* Set one option from text; where says "--name" or "file:line: name";
 * base_dir: the config file's directory, NULL on the command line. */
static enum opts_result opt_set(const opt_def *d, tunnel_opts *o, const char *value,
                                const char *where, const char *base_dir, char *err, size_t cap)
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
				o->set_by_user |= 1ull << (d - opts);
				return OPTS_OK;
			}
		}
		break;
	case OPT_STR:
	case OPT_PATH:
	case OPT_KEY_OR_PATH: {
		if (value[0] == '\0') {
			why = "empty value";
			break;
		}
		uint8_t key[LULL_KEY_BYTES];
		bool is_path = d->type == OPT_PATH || (d->type == OPT_KEY_OR_PATH &&
		                                       !key_from_base64(value, strlen(value), key));
		char *copy = is_path ? path_in(base_dir, value) : strdup(value);
		if (!copy) {
			why = "out of memory";
			break;
		}
		char **slot = (char **)(void *)field;
		free(*slot);
		*slot = copy;
		o->set_by_user |= 1ull << (d - opts);
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
		o->set_by_user |= 1ull << (d - opts);
		return OPTS_OK;
	}
	}
	if (why) {
		char q[CLI_LINE_MAX_BYTES / 4], most[48] = "";
		/* Say what would do when the bound is the option's own, not
		 * merely the width of its type. */
		if (strcmp(why, "value too large") == 0 && d->max != UINT32_MAX &&
		    d->max != UINT64_MAX && d->max != UINT64_MAX / 2) {
			char m[32];
			snprintf(most, sizeof(most), " (at most %s)",
			         opt_format(d, d->max, m, sizeof(m)));
		}
		snprintf(err, cap, "%s: %s: %s%s%s%s", where, log_quote(q, sizeof(q), value), why,
		         most, d->type == OPT_CHOICE ? " " : "",
		         d->type == OPT_CHOICE ? d->arg : "");
		return OPTS_USAGE;
	}
	if (d->type == OPT_MS32 || d->type == OPT_BYTES32 || d->type == OPT_U32) {
		uint32_t v32 = (uint32_t)v;
		memcpy(field, &v32, sizeof(v32));
	} else {
		memcpy(field, &v, sizeof(v));
	}
	o->set_by_user |= 1ull << (d - opts);
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
	o->handshake_load_per_s = SOURCE_LOAD_DEFAULT_PER_S;
	o->source_penalty_ms = SOURCE_PENALTY_DEFAULT_MS;
	o->source_penalty_max_ms = SOURCE_PENALTY_MAX_DEFAULT_MS;
	o->secure_heap_bytes = SECURE_HEAP_AUTO;
}

void opts_free(tunnel_opts *o)
{
	char **strs[] = {&o->listen,   &o->target,      &o->server,
	                 &o->key_file, &o->authorized,  &o->server_pub,
	                 &o->psk_file, &o->config_file, &o->status};
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
	/* The directory relative names in the file are taken from. */
	char *base_dir = strdup(path);
	if (!base_dir) {
		snprintf(err, cap, "--config %s: out of memory", path);
		fclose(f);
		return OPTS_RUNTIME;
	}
	char *slash = strrchr(base_dir, '/');
	if (!slash)
		strcpy(base_dir, ".");
	else if (slash == base_dir)
		base_dir[1] = '\0';
	else
		*slash = '\0';
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
			r = opt_set(d, o, value, where, base_dir, err, cap);
		}
	}
	if (r == OPTS_OK && ferror(f)) {
		snprintf(err, cap, "--config %s: read error: %s", path, strerror(errno));
		r = OPTS_RUNTIME;
	}
	fclose(f);
	free(base_dir);
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
			enum opts_result r = opt_set(d, o, value, where, NULL, err, cap);
			if (r != OPTS_OK)
				return r;
		}
	}
	return OPTS_OK;
}

/* ---- Range errors -------------------------------------------------------- */

static const opt_def *opt_named(const char *name)
{
	return opt_find(name, strlen(name));
}

static bool user_set(const tunnel_opts *o, const char *name)
{
	const opt_def *d = opt_named(name);
	return d && (o->set_by_user & (1ull << (d - opts)));
}

static uint64_t opt_value(const tunnel_opts *o, const opt_def *d)
{
	const char *field = (const char *)o + d->offset;
	if (d->type == OPT_MS32 || d->type == OPT_BYTES32 || d->type == OPT_U32) {
		uint32_t v32;
		memcpy(&v32, field, sizeof(v32));
		return v32;
	}
	uint64_t v;
	memcpy(&v, field, sizeof(v));
	return v;
}

/* A value in the option's own units: "10s", "16M", "3". */
static const char *opt_format(const opt_def *d, uint64_t v, char *buf, size_t cap)
{
	if (d->type == OPT_MS32 || d->type == OPT_MS64)
		return format_duration_ms(v, buf, cap);
	if (d->type == OPT_BYTES32 || d->type == OPT_BYTES64)
		return format_size(v, buf, cap);
	snprintf(buf, cap, "%llu", (unsigned long long)v);
	return buf;
}

/* "--name VALUE", the option's current value. */
static const char *opt_show(const tunnel_opts *o, const char *name, char *buf, size_t cap)
{
	const opt_def *d = opt_named(name);
	char v[32];
	snprintf(buf, cap, "--%s %s", name, opt_format(d, opt_value(o, d), v, sizeof(v)));
	return buf;
}

/*
 * lull_config_validate names the field whose check failed.  When that check
 * ties two options together, the error goes to the one the user set (an
 * option left at its default is never blamed while another was typed), and
 * says which values of it would be accepted.
 */
static void explain_range(const tunnel_opts *o, const char *field, char *err, size_t cap)
{
	const lull_config *c = &o->cfg;
	char a[64], b[64], v1[32], v2[32];
	const char *blame = NULL;
	char why[CLI_ERR_BYTES / 2] = "";
#define WHY(...) snprintf(why, sizeof(why), __VA_ARGS__)
	if (strcmp(field, "heartbeat_timeout") == 0 && c->heartbeat_timeout_ms > 0) {
		/* timeout x (1 + retries) < interval */
		uint64_t tries = 1 + (uint64_t)c->heartbeat_retries;
		uint64_t spent = c->heartbeat_timeout_ms * tries;
		if (user_set(o, "heartbeat-interval") && !user_set(o, "heartbeat-timeout") &&
		    !user_set(o, "heartbeat-retries")) {
			blame = "heartbeat-interval";
			WHY("must be more than %s (%s x (1 + %s)); use %s or more, or lower "
			    "--heartbeat-timeout",
			    format_duration_ms(spent, v1, sizeof(v1)),
			    opt_show(o, "heartbeat-timeout", a, sizeof(a)),
			    opt_show(o, "heartbeat-retries", b, sizeof(b)),
			    format_duration_ms(spent + 1, v2, sizeof(v2)));
		} else if (!user_set(o, "heartbeat-timeout") && user_set(o, "heartbeat-retries")) {
			blame = "heartbeat-retries";
			uint64_t max_tries =
			        (c->heartbeat_interval_ms - 1) / c->heartbeat_timeout_ms;
			if (max_tries == 0)
				WHY("no value fits: %s is not less than %s",
				    opt_show(o, "heartbeat-timeout", a, sizeof(a)),
				    opt_show(o, "heartbeat-interval", b, sizeof(b)));
			else
				WHY("must be at most %llu, so that %s x (1 + retries) stays under "
				    "%s",
				    (unsigned long long)(max_tries - 1),
				    opt_show(o, "heartbeat-timeout", a, sizeof(a)),
				    opt_show(o, "heartbeat-interval", b, sizeof(b)));
		} else {
			blame = "heartbeat-timeout";
			uint64_t max_t = (c->heartbeat_interval_ms - 1) / tries;
			if (max_t == 0)
				WHY("no value fits under %s with %s",
				    opt_show(o, "heartbeat-interval", a, sizeof(a)),
				    opt_show(o, "heartbeat-retries", b, sizeof(b)));
			else
				WHY("must be at most %s, so that timeout x (1 + %s) stays under %s",
				    format_duration_ms(max_t, v1, sizeof(v1)),
				    opt_show(o, "heartbeat-retries", a, sizeof(a)),
				    opt_show(o, "heartbeat-interval", b, sizeof(b)));
		}
	} else if (strcmp(field, "max_message") == 0 && c->max_message_bytes > 0 &&
	           c->max_message_bytes <= LULL_MAX_MESSAGE_LIMIT_BYTES) {
		/* A fresh key must carry the largest message: max_message <=
		 * reject_after_bytes (2 x rekey_bytes unless set). */
		if (!user_set(o, "max-message") && user_set(o, "reject-after-bytes")) {
			blame = "reject-after-bytes";
			WHY("must be at least %s (%s: a fresh key must carry the largest message)",
			    format_size(c->max_message_bytes, v1, sizeof(v1)),
			    opt_show(o, "max-message", a, sizeof(a)));
		} else if (!user_set(o, "max-message") && user_set(o, "rekey-bytes")) {
			blame = "rekey-bytes";
			WHY("must be at least %s (half of %s: a fresh key, good for 2 x "
			    "--rekey-bytes, must carry the largest message)",
			    format_size((c->max_message_bytes + 1) / 2, v1, sizeof(v1)),
			    opt_show(o, "max-message", a, sizeof(a)));
		} else {
			blame = "max-message";
			uint64_t ra =
			        c->reject_after_bytes ? c->reject_after_bytes : 2 * c->rekey_bytes;
			WHY("must be at most %s (--reject-after-bytes, by default 2 x %s)",
			    format_size(ra, v1, sizeof(v1)),
			    opt_show(o, "rekey-bytes", a, sizeof(a)));
		}
	} else if (strcmp(field, "reject_after_bytes") == 0) {
		blame = user_set(o, "rekey-bytes") && !user_set(o, "reject-after-bytes")
		                ? "rekey-bytes"
		                : "reject-after-bytes";
		if (strcmp(blame, "rekey-bytes") == 0)
			WHY("must be at most %s", opt_show(o, "reject-after-bytes", a, sizeof(a)));
		else
			WHY("must be 0 (2 x --rekey-bytes) or at least %s",
			    opt_show(o, "rekey-bytes", a, sizeof(a)));
	} else if (strcmp(field, "reject_after_age") == 0) {
		blame = user_set(o, "rekey-max-age") && !user_set(o, "reject-after-age")
		                ? "rekey-max-age"
		                : "reject-after-age";
		if (strcmp(blame, "rekey-max-age") == 0)
			WHY("must be at most %s", opt_show(o, "reject-after-age", a, sizeof(a)));
		else
			WHY("must be 0ms (--rekey-max-age + --srk-lifetime) or at least %s",
			    opt_show(o, "rekey-max-age", a, sizeof(a)));
	} else {
		/* A bound of the option alone. */
		static const struct {
			const char *field, *option, *range;
		} alone[] = {
		        {"heartbeat_interval", "heartbeat-interval", "must be at least 1ms"},
		        {"heartbeat_timeout", "heartbeat-timeout", "must be at least 1ms"},
		        {"heartbeat_retries", "heartbeat-retries", "must be 0 to 100"},
		        {"rekey_bytes", "rekey-bytes", "must be at least 1"},
		        {"rekey_max_age", "rekey-max-age", "must be at least 1ms"},
		        {"srk_interval", "srk-interval", "must be 100ms to 60s"},
		        {"srk_replay_max", "srk-replay-max", "must be 1 to 65536"},
		        {"srk_lifetime", "srk-lifetime", "must be 1ms to 90s"},
		        {"srk_keep", "srk-keep", "must be 1 to 10"},
		        {"max_message", "max-message", "must be 1 to 1G"},
		        {"suite", "suite", "must be aesgcm or chachapoly"},
		        {"on_missed_ack", "on-missed-ack", "must be close or rekey"},
		        {"on_spoof", "on-spoof", "must be close or drop"},
		        {"on_missing_heartbeat", "on-missing-heartbeat", "must be close or stale"},
		};
		for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++) {
			if (strcmp(field, alone[i].field) == 0) {
				blame = alone[i].option;
				WHY("%s", alone[i].range);
			}
		}
	}
#undef WHY
	if (!blame) {
		snprintf(err, cap, "configuration value %s out of its allowed range", field);
		return;
	}
	const opt_def *d = opt_named(blame);
	if (d->type == OPT_CHOICE)
		snprintf(err, cap, "--%s: out of range: %s", blame, why);
	else
		snprintf(err, cap, "--%s %s: out of range: %s (see lull %s --help)", blame,
		         opt_format(d, opt_value(o, d), v1, sizeof(v1)), why, role_name(o->role));
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
		explain_range(o, bad ? bad : "unknown", err, cap);
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
