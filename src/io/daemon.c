/*
 * daemon.c - the main thread: listening sockets, workers, signals.
 *
 * Invariants:
 *  - Every listening socket exists (bound, listening, SO_REUSEPORT) before
 *    the "listening" line is logged, so whoever waits for that line can
 *    connect at once.  With port 0 the first socket picks the port and the
 *    others bind to that same port.
 *  - The main thread owns no tunnel: it handles SIGHUP (server: re-read
 *    the authorized file, hand each worker its own copy; a bad file changes
 *    nothing; client: log and ignore), SIGTERM/SIGINT (ask every worker to
 *    stop, join them) and logs the totals.
 *  - Drain (server, --drain-timeout > 0): SIGTERM first asks every worker
 *    to drain (GOAWAY, no accepts) and arms drain_timer; the stop comes
 *    when every worker reports drained, when the timer fires, or at a
 *    second SIGTERM or any SIGINT, whichever is first.  systemd hears
 *    STOPPING=1 and /healthz answers 503 from the drain's start.
 *  - Secrets live in as few places as possible: once every worker's
 *    lull_server holds its copy, the server's private key and the parsed
 *    authorized list (PSKs) are wiped from daemon_params.
 *  - Nothing the workers may touch goes away before they are joined: the
 *    main loop only stops on SIGTERM/SIGINT, the workers are joined, and
 *    only then are reload_done (which a worker may still uv_async_send)
 *    and the signal handles closed.  SIGHUP stays handled, then ignored,
 *    until exit: closing its handle alone would restore the default
 *    action, and "kill -HUP; kill -TERM" could end the process with 129.
 */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "../support/log.h"
#include "limits.h"
#include "metrics.h"
#include "notify.h"
#include "status_http.h"
#include "worker.h"

typedef struct daemon_state {
	daemon_params *dp;
	worker *workers;
	unsigned n_workers;
	uv_loop_t loop;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_async_t reload_done;
	uv_timer_t watchdog; /* only initialised when the manager asks for it */
	uv_timer_t drain_timer;
	uv_async_t drained; /* a worker finished draining */
	size_t reload_clients;
	unsigned reload_gen; /* of the last list handed to the workers */
	unsigned logged_gen; /* of the last reload_ok line */
	bool stopping;
	bool draining;
	status_view status; /* what --status serves */
	status_server *status_srv;
	char listen_text[ADDR_TEXT_MAX_BYTES];
} daemon_state;

/* status_view.foreach_link: every worker's links in turn. */
static unsigned each_link(void *ctx, uint64_t now_ms, void (*fn)(void *, const link_info *),
                          void *fnctx)
{
	daemon_state *d = ctx;
	unsigned n = 0;
	for (unsigned i = 0; i < d->n_workers; i++)
		n += worker_foreach_link(&d->workers[i], now_ms, fn, fnctx);
	return n;
}

/* The --status server, before "listening": a bad address stops the start. */
static bool status_start(daemon_state *d)
{
	daemon_params *dp = d->dp;
	if (!dp->status_addr)
		return true;
	if (dp->metrics_peers)
		metrics_peers_enable();
	net_addr_text(&dp->listen, d->listen_text, sizeof(d->listen_text));
	d->status = (status_view){
	        .role = dp->role == ROLE_SERVER ? "server" : "client",
	        .listen_text = d->listen_text,
	        .remote_text = dp->remote_text,
	        .started_ms = uv_hrtime() / 1000000u,
	        .foreach_link = each_link,
	        .ctx = d,
	};
	char err[CLI_ERR_BYTES], bound[ADDR_TEXT_MAX_BYTES + 8] = "";
	d->status_srv = status_server_start(dp->status_addr, &d->status, bound, sizeof(bound), err,
	                                    sizeof(err));
	if (!d->status_srv) {
		char q[CLI_ERR_BYTES + 16];
		fprintf(stderr, "lull: --status %s: %s\n", dp->status_addr, err);
		if (!log_to_stderr())
			log_msg(LOG_LVL_ERROR, "event=status_failed addr=%s err=%s",
			        dp->status_addr, log_quote(q, sizeof(q), err));
		return false;
	}
	log_msg(LOG_LVL_INFO, "event=status_listening addr=%s", bound);
	return true;
}

static void stop_all(daemon_state *d, const char *why)
{
	if (d->stopping)
		return;
	d->stopping = true;
	atomic_store(&d->status.stopping, true);
	notify_stopping();
	log_msg(LOG_LVL_INFO, "event=shutdown signal=%s", why);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_request_stop(&d->workers[i]);
	/* The handles stay open (and their signals handled) until the
	 * workers are joined; see close_main_loop. */
	uv_stop(&d->loop);
}

typedef struct link_totals {
	unsigned links, streams;
} link_totals;

static void count_link(void *ctx, const link_info *li)
{
	link_totals *t = ctx;
	t->links++;
	t->streams += li->streams;
}

static link_totals count_links(daemon_state *d)
{
	link_totals t = {0, 0};
	(void)each_link(d, uv_now(&d->loop), count_link, &t);
	return t;
}

static void on_drain_timeout(uv_timer_t *h)
{
	daemon_state *d = h->data;
	link_totals t = count_links(d);
	log_msg(LOG_LVL_WARN, "event=drain_timeout links=%u streams=%u reaction=reset_streams",
	        t.links, t.streams);
	stop_all(d, "drain_timeout");
}

/* Every worker drained: nothing is left to cut. */
static void on_drained(uv_async_t *h)
{
	daemon_state *d = h->data;
	if (!d->draining || d->stopping)
		return;
	for (unsigned i = 0; i < d->n_workers; i++)
		if (!atomic_load(&d->workers[i].drained))
			return;
	log_msg(LOG_LVL_INFO, "event=drained");
	stop_all(d, "drained");
}

/* Server, first SIGTERM with --drain-timeout: stop accepting, GOAWAY on
 * every link, let their streams end (docs/deployment.md). */
static void start_drain(daemon_state *d)
{
	d->draining = true;
	atomic_store(&d->status.stopping, true);
	notify_stopping();
	link_totals t = count_links(d);
	log_msg(LOG_LVL_INFO, "event=draining signal=SIGTERM links=%u streams=%u timeout_ms=%u",
	        t.links, t.streams, d->dp->drain_timeout_ms);
	uv_timer_start(&d->drain_timer, on_drain_timeout, d->dp->drain_timeout_ms, 0);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_request_drain(&d->workers[i]);
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* After join: no worker can signal reload_done any more. */
static void close_main_loop(daemon_state *d)
{
	worker_reload_done = NULL;
	worker_drained = NULL;
	/* Closing a signal handle restores the default action; with only
	 * this thread left, block SIGHUP meanwhile and ignore it after. */
	sigset_t hup, old;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, &old);
	uv_walk(&d->loop, close_handle, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	signal(SIGHUP, SIG_IGN);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (uv_loop_close(&d->loop) != 0)
		log_msg(LOG_LVL_WARN, "event=loop_close_failed err=UV_EBUSY");
}

static void reload(daemon_state *d)
{
	char err[CLI_ERR_BYTES];
	auth_list list;
	notify_reloading();
	if (!auth_list_load(d->dp->authorized_path, &list, err, sizeof(err))) {
		char q[CLI_ERR_BYTES + 16];
		log_msg(LOG_LVL_WARN, "event=reload_failed err=%s keeping=previous_list",
		        log_quote(q, sizeof(q), err));
		notify_ready("reload failed: kept the previous authorized list");
		return;
	}
	d->reload_clients = list.n;
	d->reload_gen++;
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_request_reload(&d->workers[i], &list, d->reload_gen);
	auth_list_free(&list);
}

static void on_signal(uv_signal_t *h, int signum)
{
	daemon_state *d = h->data;
	if (signum == SIGHUP) {
		if (d->stopping)
			return; /* nothing to reload for */
		if (d->dp->role == ROLE_SERVER)
			reload(d);
		else
			log_msg(LOG_LVL_INFO, "event=sighup_ignored why=\"a client has nothing to "
			                      "reload\"");
	} else if (signum == SIGTERM && d->dp->role == ROLE_SERVER && d->dp->drain_timeout_ms &&
	           !d->draining && !d->stopping) {
		start_drain(d);
	} else {
		stop_all(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
	}
}

/* reload_ok once every worker has applied the latest list. */
static void on_reload_done(uv_async_t *h)
{
	daemon_state *d = h->data;
	if (d->logged_gen == d->reload_gen)
		return;
	for (unsigned i = 0; i < d->n_workers; i++)
		if (atomic_load(&d->workers[i].applied_gen) != d->reload_gen)
			return;
	d->logged_gen = d->reload_gen;
	log_msg(LOG_LVL_INFO, "event=reload_ok clients=%zu file=%s", d->reload_clients,
	        d->dp->authorized_path);
	notify_ready("reloaded the authorized file");
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
 * --syslog: whoever started lull must see why it did not start) and, with
 * --syslog, a listen_failed line in the log.  Logging to stderr as well
 * would print the one error twice. */
static void listen_failed(const net_addr *a, const char *why)
{
	char addr[ADDR_TEXT_MAX_BYTES], q[CLI_ERR_BYTES + 16];
	net_addr_text(a, addr, sizeof(addr));
	fprintf(stderr, "lull: --listen %s: %s\n", addr, why);
	if (!log_to_stderr())
		log_msg(LOG_LVL_ERROR, "event=listen_failed addr=%s err=%s", addr,
		        log_quote(q, sizeof(q), why));
}

/* Bind every worker's socket; the first one fixes a port 0.  A fixed port
 * is probed first without SO_REUSEPORT, so that a second lull (or anything
 * else) on it is an error rather than a silent split of the connections -
 * unless --reuseport asks for that split (several servers on one port). */
static bool open_listeners(daemon_params *dp, int *fds, unsigned n)
{
	char err[CLI_ERR_BYTES];
	if (net_addr_port(&dp->listen) != 0 && !dp->reuseport &&
	    !net_probe_free(&dp->listen, err, sizeof(err))) {
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

/* Raise the RLIMIT_NOFILE soft limit to the hard one and size the
 * per-worker caps from it, so that fds run out for no one: a refusal (or,
 * past the pending cap, a slow handshake) costs a log line, not EMFILE in
 * the middle of a tunnel. */
static void size_fd_caps(daemon_params *dp, unsigned workers)
{
	struct rlimit rl;
	rlim_t nofile = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		nofile = rl.rlim_cur;
		rlim_t want = rl.rlim_max == RLIM_INFINITY ? FD_LIMIT_UNLIMITED_CAP : rl.rlim_max;
		if (want > rl.rlim_cur) {
			struct rlimit nrl = {.rlim_cur = want, .rlim_max = rl.rlim_max};
			if (setrlimit(RLIMIT_NOFILE, &nrl) == 0)
				nofile = want;
		}
	}
	uint64_t reserve = FD_RESERVE_BASE + (uint64_t)FD_RESERVE_PER_WORKER * workers;
	uint64_t per = nofile > reserve ? (nofile - reserve) / FDS_PER_TUNNEL / workers : 0;
	if (per < 1)
		per = 1;
	if (per > WORKER_MAX_TUNNELS)
		per = WORKER_MAX_TUNNELS;
	dp->max_tunnels = (unsigned)per;
	dp->max_pending = dp->max_tunnels / PENDING_TUNNELS_DIVISOR;
	if (dp->max_pending < 1)
		dp->max_pending = 1;
	log_msg(LOG_LVL_INFO,
	        "event=fd_limit nofile=%llu tunnels_per_worker=%u handshakes_per_worker=%u "
	        "workers=%u",
	        (unsigned long long)nofile, dp->max_tunnels, dp->max_pending, workers);
}

/*
 * Keep keys out of core dumps and swap: the process is made non-dumpable
 * (no core file, no ptrace by the same user's other processes, /proc/PID/mem
 * closed to them), the library's secrets go to a locked secure heap sized
 * for the tunnels the caps allow, and the daemon's own copies (its key, the
 * client's PSK, in dp) are locked where they are.
 */
static void protect_secrets(daemon_params *dp, unsigned workers)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_msg(LOG_LVL_WARN, "event=not_dumpable_failed err=%d", errno);
	if (mlock(dp, sizeof(*dp)) != 0)
		log_msg(LOG_LVL_DEBUG, "event=mlock_failed what=params err=%d", errno);
	uint64_t want = dp->secure_heap_bytes;
	if (want == 0) {
		log_msg(LOG_LVL_INFO, "event=secure_heap bytes=0 note=off");
		return;
	}
	if (want == SECURE_HEAP_AUTO) {
		want = (uint64_t)dp->max_tunnels * workers * SECURE_HEAP_BYTES_PER_TUNNEL +
		       (uint64_t)workers * SECURE_HEAP_BYTES_PER_WORKER;
		if (want > SECURE_HEAP_AUTO_MAX_BYTES)
			want = SECURE_HEAP_AUTO_MAX_BYTES;
	}
	if (want < LULL_SECURE_HEAP_MIN_BYTES)
		want = LULL_SECURE_HEAP_MIN_BYTES;
	bool locked = false;
	lull_err err = lull_secure_heap_init((size_t)want, &locked);
	if (err != LULL_OK) {
		log_msg(LOG_LVL_WARN, "event=secure_heap_failed bytes=%llu err=%s msg=\"%s\"",
		        (unsigned long long)want, lull_err_name(err), lull_strerror(err));
		return;
	}
	if (!locked)
		log_msg(LOG_LVL_WARN,
		        "event=secure_heap bytes=%llu locked=0 why=\"mlock refused "
		        "(RLIMIT_MEMLOCK): "
		        "keys stay out of core dumps but may be swapped\"",
		        (unsigned long long)want);
	else
		log_msg(LOG_LVL_INFO, "event=secure_heap bytes=%llu locked=1",
		        (unsigned long long)want);
}

/* The main loop and its handles.  Returns 0, or an error: negative once the
 * loop itself is up (close_main_loop must run it down), positive if not. */
static int main_loop_init(daemon_state *d)
{
	int r = uv_loop_init(&d->loop);
	if (r != 0)
		return -r;
	uv_signal_t *sigs[] = {&d->sig_term, &d->sig_int, &d->sig_hup};
	int nums[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if ((r = uv_signal_init(&d->loop, sigs[i])) != 0)
			return r;
		sigs[i]->data = d;
		if ((r = uv_signal_start(sigs[i], on_signal, nums[i])) != 0)
			return r;
	}
	if ((r = uv_async_init(&d->loop, &d->reload_done, on_reload_done)) != 0)
		return r;
	d->reload_done.data = d;
	worker_reload_done = &d->reload_done;
	if ((r = uv_async_init(&d->loop, &d->drained, on_drained)) != 0)
		return r;
	d->drained.data = d;
	worker_drained = &d->drained;
	if ((r = uv_timer_init(&d->loop, &d->drain_timer)) != 0)
		return r;
	d->drain_timer.data = d;
	if ((r = notify_watchdog_start(&d->loop, &d->watchdog)) != 0)
		return r;
	return 0;
}

int daemon_run(daemon_params *dp)
{
	signal(SIGPIPE, SIG_IGN);
	unsigned n = dp->threads ? dp->threads : uv_available_parallelism();
	if (n == 0)
		n = 1;
	if (n > WORKER_MAX_THREADS)
		n = WORKER_MAX_THREADS;

	size_fd_caps(dp, n);
	protect_secrets(dp, n);
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
			if (!log_to_stderr())
				log_msg(LOG_LVL_ERROR, "event=start_failed worker=%u err=%s",
				        inited, uv_err_name(r));
			fprintf(stderr, "lull: cannot start worker %u: %s\n", inited,
			        uv_strerror(r));
			rc = 1;
			inited++;
			break;
		}
	}
	d.n_workers = inited;
	if (rc == 0 && dp->role == ROLE_SERVER) {
		/* Every worker's lull_server has its own copy of the key and of
		 * the authorized list (PSKs included): the daemon's go now.  The
		 * client keeps its key, which every new tunnel needs. */
		auth_list_free(&dp->auth);
		lull_wipe(&dp->key, sizeof(dp->key));
	}

	unsigned started = 0;
	bool loop_up = false;
	if (rc == 0) {
		int r = main_loop_init(&d);
		loop_up = r >= 0;
		if (r != 0) {
			if (!log_to_stderr())
				log_msg(LOG_LVL_ERROR, "event=start_failed err=%s what=main_loop",
				        uv_err_name(r < 0 ? r : -r));
			fprintf(stderr, "lull: cannot start the main loop: %s\n",
			        uv_strerror(r < 0 ? r : -r));
			rc = 1;
		}
	}
	if (rc == 0 && !status_start(&d))
		rc = 1;
	if (rc == 0) {
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
		if (rc == 0) {
			log_msg(LOG_LVL_INFO, "event=listening role=%s addr=%s %s=%s threads=%u",
			        dp->role == ROLE_SERVER ? "server" : "client", addr,
			        dp->role == ROLE_SERVER ? "target" : "server", dp->remote_text, n);
			char status[128];
			snprintf(status, sizeof(status), "listening on %s", addr);
			notify_ready(status);
		} else
			stop_all(&d, "start_failed");
		/* Returns once stop_all has run (uv_stop). */
		uv_run(&d.loop, UV_RUN_DEFAULT);
	}
	/* Workers that never started have their sockets closed by destroy. */
	for (unsigned i = 0; i < started; i++)
		uv_thread_join(&d.workers[i].thread);
	/* Before the workers go: it reads their link registries. */
	status_server_stop(d.status_srv);
	if (loop_up)
		close_main_loop(&d);
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
