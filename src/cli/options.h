/*
 * options.h - the options of "lull server" and "lull client": one table
 * that drives the command line, the --config file and the --help text, so
 * the three cannot disagree.
 */
#ifndef LULL_CLI_OPTIONS_H
#define LULL_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../io/role.h"
#include "lull.h"

typedef struct tunnel_opts {
	enum tunnel_role role;
	lull_config cfg;
	char *listen;     /* ADDR:PORT to accept on */
	char *target;     /* server: where each tunnel leads */
	char *server;     /* client: the lull server */
	char *key_file;   /* own private key */
	char *authorized; /* server: authorized-clients file */
	char *server_pub; /* client: pinned server key, inline or a file */
	char *psk_file;   /* client: optional PSK */
	char *config_file;
	/* Server, in a fleet (docs/deployment.md): share the listen port with
	 * other processes, take a balancer's PROXY header before the
	 * handshake, send one to the target. */
	bool reuseport;
	bool proxy_protocol;
	bool target_proxy_protocol;
	char *status; /* --status: unix:PATH or HOST:PORT, NULL: off */
	/* Server: the per-source handshake budget (io/source_budget.h). */
	uint32_t handshake_load_per_s;
	uint32_t source_penalty_ms;
	uint32_t source_penalty_max_ms;
	uint64_t secure_heap_bytes; /* SECURE_HEAP_AUTO, 0 (off) or a size */
	uint32_t threads;           /* 0: one per core */
	uint32_t links;             /* client: links kept up per worker */
	uint32_t streams_per_link;  /* client: 0 = no limit */
	uint32_t max_streams;       /* per link */
	uint32_t connect_timeout_ms;
	uint32_t drain_timeout_ms; /* server: SIGTERM drains this long; 0: off */
	bool syslog;
	bool metrics_peers; /* --metrics-peers */
	int verbosity;      /* LOG_LVL_INFO + #-v - #-q */
	/* Bit i: option i of the table was given (file or command line), so a
	 * range error can name what the user typed rather than a default. */
	uint64_t set_by_user;
} tunnel_opts;

enum opts_result {
	OPTS_OK = 0,
	OPTS_HELP = 1,    /* --help seen: print help, exit 0 */
	OPTS_USAGE = 2,   /* err says what; exit 2 */
	OPTS_RUNTIME = 3, /* the --config file cannot be read; err says why; exit 1 */
};

/* Defaults, then --config FILE (if given), then the command line. */
enum opts_result opts_parse(enum tunnel_role role, int argc, char **argv, tunnel_opts *o, char *err,
                            size_t cap);

/* Apply one "name = value" file; errors are "file:line: message". */
enum opts_result opts_load_file(const char *path, tunnel_opts *o, char *err, size_t cap);

void opts_free(tunnel_opts *o);

/* The OPTIONS section of "lull server|client --help", from the table. */
void opts_print_help(FILE *f, enum tunnel_role role);

/* Each option name in turn (for tests that check docs cover every one). */
const char *opts_name_at(size_t i);

#endif /* LULL_CLI_OPTIONS_H */
