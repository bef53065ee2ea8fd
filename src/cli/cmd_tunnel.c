/*
 * cmd_tunnel.c - "lull server" and "lull client": options to daemon_params,
 * then run the daemon.
 *
 * Invariants: every input is checked before a socket is opened, so a
 * mistake is an error message and exit status 2 (usage) or 1 (files,
 * addresses), never a half-started daemon; keys are wiped on every path
 * out.
 */
#include <stdio.h>
#include <string.h>

#include "../io/daemon.h"
#include "../io/limits.h"
#include "../support/authfile.h"
#include "commands.h"
#include "help.h"
#include "../support/keyfile.h"
#include "../support/log.h"
#include "options.h"
#include "../support/parse.h"

static bool resolve(const char *opt, const char *text, bool listen, net_addr *out, char *remote,
                    size_t remote_cap, int *rc)
{
	char host[256];
	uint16_t port;
	char err[CLI_ERR_BYTES];
	const char *why = parse_host_port(text, host, sizeof(host), &port, listen);
	if (why) {
		cli_error("--%s: '%.80s': %s", opt, text, why);
		*rc = EXIT_USAGE;
		return false;
	}
	if (!net_resolve(host, port, listen, out, err, sizeof(err))) {
		cli_error("--%s: %s", opt, err);
		*rc = EXIT_RUNTIME;
		return false;
	}
	if (remote)
		net_addr_text(out, remote, remote_cap);
	return true;
}

static int run_tunnel(enum tunnel_role role, int argc, char **argv)
{
	tunnel_opts o;
	char err[CLI_ERR_BYTES];
	enum opts_result r = opts_parse(role, argc, argv, &o, err, sizeof(err));
	if (r == OPTS_HELP) {
		opts_free(&o);
		help_command(stdout, role == ROLE_SERVER ? "server" : "client");
		return EXIT_OK;
	}
	if (r != OPTS_OK) {
		opts_free(&o);
		cli_error("%s", err);
		return r == OPTS_RUNTIME ? EXIT_RUNTIME : EXIT_USAGE;
	}

	if (o.links == 0 || o.max_streams == 0) {
		cli_error("--%s: must be at least 1", o.links == 0 ? "links" : "max-streams");
		opts_free(&o);
		return EXIT_USAGE;
	}

	daemon_params dp;
	memset(&dp, 0, sizeof(dp));
	dp.role = role;
	dp.cfg = o.cfg;
	dp.threads = o.threads;
	dp.secure_heap_bytes = o.secure_heap_bytes;
	dp.budget.load_per_s = o.handshake_load_per_s;
	dp.budget.penalty_ms = o.source_penalty_ms;
	dp.budget.penalty_max_ms = o.source_penalty_max_ms;
	/* Blocked at three penalties' worth, or at the cap if that is less. */
	uint32_t cap = o.source_penalty_max_ms > o.source_penalty_ms ? o.source_penalty_max_ms
	                                                             : o.source_penalty_ms;
	dp.budget.block_ms = SOURCE_BLOCK_PENALTIES * o.source_penalty_ms;
	if (dp.budget.block_ms > cap)
		dp.budget.block_ms = cap;
	dp.links = o.links;
	dp.streams_per_link = o.streams_per_link;
	dp.max_streams = o.max_streams;
	dp.connect_timeout_ms = o.connect_timeout_ms;
	dp.drain_timeout_ms = o.drain_timeout_ms;
	dp.authorized_path = o.authorized;
	dp.reuseport = o.reuseport;
	dp.proxy_protocol = o.proxy_protocol;
	dp.target_proxy_protocol = o.target_proxy_protocol;
	dp.status_addr = o.status;
	dp.metrics_peers = o.metrics_peers;
	int rc = EXIT_OK;
	uint8_t priv[LULL_KEY_BYTES];
	bool ok = resolve("listen", o.listen, true, &dp.listen, NULL, 0, &rc) &&
	          resolve(role == ROLE_SERVER ? "target" : "server",
	                  role == ROLE_SERVER ? o.target : o.server, false, &dp.remote,
	                  dp.remote_text, sizeof(dp.remote_text), &rc);
	if (ok && !key_file_read(o.key_file, true, priv, err, sizeof(err))) {
		cli_error("--key: %s", err);
		rc = EXIT_RUNTIME;
		ok = false;
	}
	if (ok) {
		lull_err e = lull_keypair_from_private(&dp.key, priv);
		if (e != LULL_OK) {
			cli_error("--key: %s: %s", o.key_file, lull_strerror(e));
			rc = EXIT_RUNTIME;
			ok = false;
		}
	}
	lull_wipe(priv, sizeof(priv));
	if (ok && role == ROLE_CLIENT) {
		if (!key_arg_read(o.server_pub, dp.server_pub, err, sizeof(err))) {
			cli_error("--server-pub: %s", err);
			rc = EXIT_RUNTIME;
			ok = false;
		} else if (o.psk_file &&
		           !key_file_read(o.psk_file, true, dp.psk, err, sizeof(err))) {
			cli_error("--psk: %s", err);
			rc = EXIT_RUNTIME;
			ok = false;
		} else {
			dp.has_psk = o.psk_file != NULL;
		}
	}
	if (ok && role == ROLE_SERVER &&
	    !auth_list_load(o.authorized, &dp.auth, err, sizeof(err))) {
		cli_error("--authorized: %s", err);
		rc = EXIT_RUNTIME;
		ok = false;
	}
	if (ok) {
		log_setup(o.verbosity, o.syslog);
		if (role == ROLE_SERVER && dp.auth.n == 0)
			log_msg(LOG_LVL_WARN,
			        "event=no_clients file=%s why=\"the authorized file "
			        "lists no client: every handshake will be refused\"",
			        o.authorized);
		rc = daemon_run(&dp);
		log_teardown();
	}
	auth_list_free(&dp.auth);
	lull_wipe(&dp, sizeof(dp));
	opts_free(&o);
	return rc;
}

int cmd_server(int argc, char **argv)
{
	return run_tunnel(ROLE_SERVER, argc, argv);
}

int cmd_client(int argc, char **argv)
{
	return run_tunnel(ROLE_CLIENT, argc, argv);
}
