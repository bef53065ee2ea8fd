/*
 * daemon.c - the main thread: listening sockets, workers, signals.
 *
 * Invariants:
 *  - Every listening socket exists (bound, listening, SO_REUSEPORT) before
 *    the "listening" line is logged, so whoever waits for that line can
 *    connect at once.  With port 0 the first socket picks the port and the
 *    others bind to that same port.
 *  - The main thread owns no tunnel: it handles SIGHUP (re-read the
 *    authorized file, hand each worker its own copy; a bad file changes
 *    nothing), SIGTERM/SIGINT (ask every worker to stop, join them) and
 *    logs the totals.
 */
#include "daemon.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "../cli/commands.h"
#include "../cli/log.h"
#include "limits.h"
#include "worker.h"

typedef struct daemon_state {
	daemon_params *dp;
	worker *workers;
	unsigned n_workers;
	uv_loop_t loop;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_async_t reload_done;
	size_t reload_clients;
	bool stopping;
} daemon_state;

static void stop_all(daemon_state *d, const char *why)
{
	if (d->stopping)
		return;
	d->stopping = true;
	log_msg(LOG_LVL_INFO, "event=shutdown signal=%s", why);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_request_stop(&d->workers[i]);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	if (d->dp->role == ROLE_SERVER)
		uv_close((uv_handle_t *)&d->sig_hup, NULL);
	uv_close((uv_handle_t *)&d->reload_done, NULL);
}

static void reload(daemon_state *d)
{
	char err[CLI_ERR_BYTES];
	auth_list list;
	if (!auth_list_load(d->dp->authorized_path, &list, err, sizeof(err))) {
		char q[CLI_ERR_BYTES + 16];
		log_msg(LOG_LVL_WARN, "event=reload_failed err=%s keeping=previous_list",
		        log_quote(q, sizeof(q), err));
		return;
	}
	d->reload_clients = list.n;
	atomic_store(&worker_reload_outstanding, d->n_workers);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_request_reload(&d->workers[i], &list);
	auth_list_free(&list);
}

static void on_signal(uv_signal_t *h, int signum)
{
	daemon_state *d = h->data;
	if (signum == SIGHUP)
		reload(d);
	else
		stop_all(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_reload_done(uv_async_t *h)
{
	daemon_state *d = h->data;
	if (atomic_load(&worker_reload_outstanding) == 0)
		log_msg(LOG_LVL_INFO, "event=reload_ok clients=%zu file=%s", d->reload_clients,
		        d->dp->authorized_path);
}

static void log_totals(const daemon_state *d)
{
	uint64_t totals[EVENT_COUNT_SLOTS] = {0};
	for (unsigned i = 0; i < d->n_workers; i++)
		for (unsigned k = 0; k < EVENT_COUNT_SLOTS; k++)
			totals[k] += d->workers[i].counts[k];
	char line[LOG_LINE_MAX_BYTES] = "event=totals";
	size_t n = strlen(line);
	for (unsigned k = 1; k < EVENT_COUNT_SLOTS && n < sizeof(line); k++) {
		const char *name = lull_event_name((lull_event_type)k);
		if (strcmp(name, "unknown") == 0)
			continue;
		int m = snprintf(line + n, sizeof(line) - n, " %s=%llu", name,
		                 (unsigned long long)totals[k]);
		if (m > 0)
			n += (size_t)m;
	}
	log_msg(LOG_LVL_INFO, "%s", line);
}

/* A listen failure: "lull: --listen ADDR: reason" on stderr (also with
 * --syslog: whoever started lull must see why it did not start) and a
 * listen_failed line in the log. */
static void listen_failed(const net_addr *a, const char *why)
{
	char addr[ADDR_TEXT_MAX_BYTES], q[CLI_ERR_BYTES + 16];
	net_addr_text(a, addr, sizeof(addr));
	cli_error("--listen %s: %s", addr, why);
	log_msg(LOG_LVL_ERROR, "event=listen_failed addr=%s err=%s", addr,
	        log_quote(q, sizeof(q), why));
}

/* Bind every worker's socket; the first one fixes a port 0.  A fixed port
 * is probed first without SO_REUSEPORT, so that a second lull (or anything
 * else) on it is an error rather than a silent split of the connections. */
static bool open_listeners(daemon_params *dp, int *fds, unsigned n)
{
	char err[CLI_ERR_BYTES];
	if (net_addr_port(&dp->listen) != 0 && !net_probe_free(&dp->listen, err, sizeof(err))) {
		listen_failed(&dp->listen, err);
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		fds[i] = net_listen(&dp->listen, err, sizeof(err));
		if (fds[i] < 0) {
			listen_failed(&dp->listen, err);
			for (unsigned j = 0; j < i; j++)
				close(fds[j]);
			return false;
		}
		if (i == 0 && !net_local_addr(fds[0], &dp->listen)) {
			listen_failed(&dp->listen, "getsockname failed");
			close(fds[0]);
			return false;
		}
	}
	return true;
}

int daemon_run(daemon_params *dp)
{
	signal(SIGPIPE, SIG_IGN);
	unsigned n = dp->threads ? dp->threads : uv_available_parallelism();
	if (n == 0)
		n = 1;
	if (n > WORKER_MAX_THREADS)
		n = WORKER_MAX_THREADS;

	int *fds = calloc(n, sizeof(*fds));
	daemon_state d = {.dp = dp};
	d.workers = calloc(n, sizeof(*d.workers));
	if (!fds || !d.workers) {
		log_msg(LOG_LVL_ERROR, "event=start_failed err=LULL_ERR_NOMEM");
		free(fds);
		free(d.workers);
		return 1;
	}
	if (!open_listeners(dp, fds, n)) {
		free(fds);
		free(d.workers);
		return 1;
	}

	int rc = 0;
	unsigned inited = 0;
	for (; inited < n; inited++) {
		int r = worker_init(&d.workers[inited], inited, dp, fds[inited]);
		if (r != 0) {
			log_msg(LOG_LVL_ERROR, "event=start_failed worker=%u err=%s", inited,
			        uv_err_name(r));
			rc = 1;
			inited++;
			break;
		}
	}
	d.n_workers = inited;

	unsigned started = 0;
	if (rc == 0) {
		uv_loop_init(&d.loop);
		uv_signal_init(&d.loop, &d.sig_term);
		uv_signal_init(&d.loop, &d.sig_int);
		d.sig_term.data = d.sig_int.data = &d;
		uv_signal_start(&d.sig_term, on_signal, SIGTERM);
		uv_signal_start(&d.sig_int, on_signal, SIGINT);
		if (dp->role == ROLE_SERVER) {
			uv_signal_init(&d.loop, &d.sig_hup);
			d.sig_hup.data = &d;
			uv_signal_start(&d.sig_hup, on_signal, SIGHUP);
		}
		uv_async_init(&d.loop, &d.reload_done, on_reload_done);
		d.reload_done.data = &d;
		worker_reload_done = &d.reload_done;

		for (; started < n; started++) {
			if (worker_start(&d.workers[started]) != 0) {
				log_msg(LOG_LVL_ERROR, "event=start_failed worker=%u err=thread",
				        started);
				rc = 1;
				break;
			}
		}
		char addr[ADDR_TEXT_MAX_BYTES];
		net_addr_text(&dp->listen, addr, sizeof(addr));
		if (rc == 0)
			log_msg(LOG_LVL_INFO, "event=listening role=%s addr=%s %s=%s threads=%u",
			        dp->role == ROLE_SERVER ? "server" : "client", addr,
			        dp->role == ROLE_SERVER ? "target" : "server", dp->remote_text, n);
		else
			stop_all(&d, "start_failed");
		uv_run(&d.loop, UV_RUN_DEFAULT);
		worker_reload_done = NULL;
		uv_loop_close(&d.loop);
	}
	/* Workers that never started have their sockets closed by destroy. */
	for (unsigned i = 0; i < started; i++)
		uv_thread_join(&d.workers[i].thread);
	if (rc == 0)
		log_totals(&d);
	for (unsigned i = 0; i < d.n_workers; i++)
		worker_destroy(&d.workers[i]);
	for (unsigned i = d.n_workers; i < n; i++)
		close(fds[i]);
	free(fds);
	free(d.workers);
	log_msg(LOG_LVL_INFO, "event=exit status=%d", rc);
	return rc;
}
