/*
 * metrics.c - counters and the handshake-duration histogram, and their
 * Prometheus text form.
 *
 * Invariants:
 *  - Every counter is a relaxed atomic: workers add, the status thread
 *    reads; a scrape may be a moment behind, never torn.
 *  - Counters only go up (Prometheus counter semantics); nothing here is
 *    ever reset while the process lives.
 *  - Label values come from fixed tables (reason, result, direction), so
 *    the set of series is bounded: no per-connection labels.
 */
#include "metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <uv.h>

#include "limits.h"

#define N_REKEY_REASONS 7 /* LULL_REKEY_NONE .. LULL_REKEY_APPLICATION */
_Static_assert(LULL_REKEY_APPLICATION + 1 == N_REKEY_REASONS, "one row per rekey reason");

enum { HS_OK, HS_FAILED, N_HS_RESULTS };
enum { HB_SENT, HB_ACKED, HB_MISSED, HB_RECEIVED, N_HB_RESULTS };
enum { REJ_SPOOF, REJ_DECRYPT_FAILED, REJ_RETIRED, N_REJ_REASONS };

/* Handshake duration buckets, seconds: a loopback handshake takes about
 * a millisecond, a loaded or distant one up to srk_lifetime (90 s max). */
static const double hs_buckets_s[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,     10,   30};
#define N_HS_BUCKETS (sizeof(hs_buckets_s) / sizeof(hs_buckets_s[0]))

static struct {
	_Atomic uint64_t handshakes[N_REKEY_REASONS][N_HS_RESULTS];
	_Atomic uint64_t bytes[2];
	_Atomic uint64_t rejected[N_REJ_REASONS];
	_Atomic uint64_t heartbeats[N_HB_RESULTS];
	_Atomic uint64_t replay_refused, srk_created, srk_erased, key_stale, rekey_requested;
	_Atomic uint64_t source_throttled;
	_Atomic uint64_t closes[LULL_CLOSE_REASON_COUNT];
	/* Not cumulative, summed when written; the last is above every bound.
	 * The count is their sum, so it never disagrees with the buckets. */
	_Atomic uint64_t hs_bucket[N_HS_BUCKETS + 1];
	_Atomic uint64_t hs_sum_ms;
} m;

struct metrics_peer {
	char name[LULL_PEER_NAME_MAX];
	_Atomic uint64_t handshakes[N_REKEY_REASONS][N_HS_RESULTS];
	_Atomic uint64_t bytes[2];
};

/* Slots are only ever added (under peers_mu) and never moved, so a link
 * may keep its slot pointer and count without a lock.  The last slot is
 * "other". */
static struct {
	atomic_bool enabled;
	uv_once_t once;
	uv_mutex_t mu;
	atomic_uint n;
	metrics_peer slot[METRICS_PEERS_MAX + 1];
} peers = {.once = UV_ONCE_INIT};

static void peers_init(void)
{
	uv_mutex_init(&peers.mu);
	snprintf(peers.slot[METRICS_PEERS_MAX].name, LULL_PEER_NAME_MAX, "other");
}

void metrics_peers_enable(void)
{
	uv_once(&peers.once, peers_init);
	atomic_store(&peers.enabled, true);
}

metrics_peer *metrics_peer_get(const char *name)
{
	if (!atomic_load(&peers.enabled) || !name)
		return NULL;
	metrics_peer *found = NULL;
	uv_mutex_lock(&peers.mu);
	unsigned n = atomic_load(&peers.n);
	for (unsigned i = 0; i < n && !found; i++)
		if (strcmp(peers.slot[i].name, name) == 0)
			found = &peers.slot[i];
	if (!found && n < METRICS_PEERS_MAX) {
		found = &peers.slot[n];
		snprintf(found->name, sizeof(found->name), "%s", name);
		atomic_store(&peers.n, n + 1); /* after the name: readers see it whole */
	}
	uv_mutex_unlock(&peers.mu);
	return found ? found : &peers.slot[METRICS_PEERS_MAX];
}

static void inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static unsigned reason_index(lull_rekey_reason r)
{
	return (unsigned)r < N_REKEY_REASONS ? (unsigned)r : 0;
}

static void observe_handshake(uint64_t ms)
{
	size_t i = 0;
	while (i < N_HS_BUCKETS && (double)ms / 1000.0 > hs_buckets_s[i])
		i++;
	inc(&m.hs_bucket[i]);
	atomic_fetch_add_explicit(&m.hs_sum_ms, ms, memory_order_relaxed);
}

void metrics_event(const lull_event *ev)
{
	switch (ev->type) {
	case LULL_EV_HANDSHAKE_DONE:
		inc(&m.handshakes[reason_index(ev->rekey_reason)][HS_OK]);
		observe_handshake(ev->duration_ms);
		break;
	case LULL_EV_AUTH_FAILED:
		inc(&m.handshakes[reason_index(ev->rekey_reason)][HS_FAILED]);
		break;
	case LULL_EV_SRK_CREATED:
		inc(&m.srk_created);
		break;
	case LULL_EV_SRK_ERASED:
		inc(&m.srk_erased);
		break;
	case LULL_EV_REPLAY_REFUSED:
		inc(&m.replay_refused);
		break;
	case LULL_EV_HEARTBEAT_SENT:
		inc(&m.heartbeats[HB_SENT]);
		break;
	case LULL_EV_HEARTBEAT_ACKED:
		inc(&m.heartbeats[HB_ACKED]);
		break;
	case LULL_EV_HEARTBEAT_MISSED:
		inc(&m.heartbeats[HB_MISSED]);
		break;
	case LULL_EV_HEARTBEAT_RECEIVED:
		inc(&m.heartbeats[HB_RECEIVED]);
		break;
	case LULL_EV_KEY_STALE:
		inc(&m.key_stale);
		break;
	case LULL_EV_REKEY_REQUESTED:
		inc(&m.rekey_requested);
		break;
	case LULL_EV_SPOOF_REJECTED:
		inc(&m.rejected[REJ_SPOOF]);
		break;
	case LULL_EV_CLOSED:
		if ((unsigned)ev->close_reason < LULL_CLOSE_REASON_COUNT)
			inc(&m.closes[ev->close_reason]);
		/* A record that failed here (not a close frame from the peer). */
		if (!ev->by_peer && ev->close_reason == LULL_CLOSE_DECRYPT_FAILED)
			inc(&m.rejected[REJ_DECRYPT_FAILED]);
		if (!ev->by_peer && ev->err == LULL_ERR_RETIRED_KEY)
			inc(&m.rejected[REJ_RETIRED]);
		if (!ev->by_peer && ev->close_reason == LULL_CLOSE_HANDSHAKE_TIMEOUT)
			inc(&m.handshakes[reason_index(ev->rekey_reason)][HS_FAILED]);
		break;
	default:
		break;
	}
}

void metrics_source_throttled(void)
{
	inc(&m.source_throttled);
}

void metrics_bytes(metrics_peer *peer, int dir, uint64_t n)
{
	atomic_fetch_add_explicit(&m.bytes[dir ? 1 : 0], n, memory_order_relaxed);
	if (peer)
		atomic_fetch_add_explicit(&peer->bytes[dir ? 1 : 0], n, memory_order_relaxed);
}

void metrics_peer_handshake(metrics_peer *peer, lull_rekey_reason reason, int ok)
{
	if (peer)
		inc(&peer->handshakes[reason_index(reason)][ok ? HS_OK : HS_FAILED]);
}

static void write_peers(FILE *f)
{
	static const char *const hs_results[N_HS_RESULTS] = {"ok", "failed"};
	unsigned n = atomic_load(&peers.n);
	fprintf(f, "# HELP lull_peer_handshakes_total Handshakes by authorized peer.\n"
	           "# TYPE lull_peer_handshakes_total counter\n");
	for (unsigned i = 0; i <= METRICS_PEERS_MAX; i++) {
		if (i >= n && i != METRICS_PEERS_MAX)
			continue;
		metrics_peer *p = &peers.slot[i];
		for (unsigned r = 0; r < N_REKEY_REASONS; r++)
			for (unsigned k = 0; k < N_HS_RESULTS; k++)
				if (get(&p->handshakes[r][k]) || i < n)
					fprintf(f,
					        "lull_peer_handshakes_total{peer=\"%s\",reason=\"%"
					        "s\","
					        "result=\"%s\"} %llu\n",
					        p->name,
					        lull_rekey_reason_name((lull_rekey_reason)r),
					        hs_results[k],
					        (unsigned long long)get(&p->handshakes[r][k]));
	}
	fprintf(f, "# HELP lull_peer_bytes_total Application bytes by authorized peer.\n"
	           "# TYPE lull_peer_bytes_total counter\n");
	for (unsigned i = 0; i <= METRICS_PEERS_MAX; i++) {
		if (i >= n && i != METRICS_PEERS_MAX)
			continue;
		metrics_peer *p = &peers.slot[i];
		if (i == METRICS_PEERS_MAX && !get(&p->bytes[0]) && !get(&p->bytes[1]))
			continue;
		fprintf(f, "lull_peer_bytes_total{peer=\"%s\",direction=\"received\"} %llu\n",
		        p->name, (unsigned long long)get(&p->bytes[0]));
		fprintf(f, "lull_peer_bytes_total{peer=\"%s\",direction=\"sent\"} %llu\n", p->name,
		        (unsigned long long)get(&p->bytes[1]));
	}
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter1(FILE *f, const char *name, const char *help, _Atomic uint64_t *c)
{
	header(f, name, "counter", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)get(c));
}

static void gauge1(FILE *f, const char *name, const char *help, uint64_t v)
{
	header(f, name, "gauge", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

void metrics_write(FILE *f, const metrics_gauges *g)
{
	static const char *const hs_results[N_HS_RESULTS] = {"ok", "failed"};
	header(f, "lull_handshakes_total", "counter",
	       "Handshakes completed (ok) or failed, by why they were started.");
	for (unsigned r = 0; r < N_REKEY_REASONS; r++)
		for (unsigned k = 0; k < N_HS_RESULTS; k++)
			fprintf(f, "lull_handshakes_total{reason=\"%s\",result=\"%s\"} %llu\n",
			        lull_rekey_reason_name((lull_rekey_reason)r), hs_results[k],
			        (unsigned long long)get(&m.handshakes[r][k]));

	header(f, "lull_bytes_total", "counter",
	       "Application bytes carried, as they are carried: received from or sent to "
	       "peers.");
	fprintf(f, "lull_bytes_total{direction=\"received\"} %llu\n",
	        (unsigned long long)get(&m.bytes[0]));
	fprintf(f, "lull_bytes_total{direction=\"sent\"} %llu\n",
	        (unsigned long long)get(&m.bytes[1]));

	static const char *const rej[N_REJ_REASONS] = {"spoof", "decrypt_failed", "retired"};
	header(f, "lull_records_rejected_total", "counter",
	       "Records refused: data under a stale key (spoof), failed authentication, "
	       "under a retired key.");
	for (unsigned k = 0; k < N_REJ_REASONS; k++)
		fprintf(f, "lull_records_rejected_total{reason=\"%s\"} %llu\n", rej[k],
		        (unsigned long long)get(&m.rejected[k]));

	static const char *const hb[N_HB_RESULTS] = {"sent", "acked", "missed", "received"};
	header(f, "lull_heartbeats_total", "counter",
	       "Heartbeats sent, acknowledged and missed (client), received (server).");
	for (unsigned k = 0; k < N_HB_RESULTS; k++)
		fprintf(f, "lull_heartbeats_total{result=\"%s\"} %llu\n", hb[k],
		        (unsigned long long)get(&m.heartbeats[k]));

	counter1(f, "lull_replay_refused_total", "Handshake first messages refused as replays.",
	         &m.replay_refused);
	counter1(f, "lull_source_throttled_total",
	         "Connections refused at accept by the per-source handshake budget.",
	         &m.source_throttled);
	counter1(f, "lull_srk_created_total", "Session random keys (SRK) created.", &m.srk_created);
	counter1(f, "lull_srk_erased_total", "Session random keys (SRK) wiped.", &m.srk_erased);
	counter1(f, "lull_keys_stale_total", "Keys that became stale after an idle spell.",
	         &m.key_stale);
	counter1(f, "lull_rekey_requests_total", "Rekey requests from the server.",
	         &m.rekey_requested);

	header(f, "lull_closes_total", "counter", "Connections closed, by close reason.");
	for (unsigned k = 0; k < LULL_CLOSE_REASON_COUNT; k++)
		fprintf(f, "lull_closes_total{reason=\"%s\"} %llu\n",
		        lull_close_reason_name((lull_close_reason)k),
		        (unsigned long long)get(&m.closes[k]));

	header(f, "lull_handshake_duration_seconds", "histogram",
	       "Time from a handshake's first message to its keys.");
	uint64_t cum = 0;
	for (size_t i = 0; i < N_HS_BUCKETS; i++) {
		cum += get(&m.hs_bucket[i]);
		fprintf(f, "lull_handshake_duration_seconds_bucket{le=\"%g\"} %llu\n",
		        hs_buckets_s[i], (unsigned long long)cum);
	}
	uint64_t count = cum + get(&m.hs_bucket[N_HS_BUCKETS]);
	fprintf(f, "lull_handshake_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
	        (unsigned long long)count);
	fprintf(f, "lull_handshake_duration_seconds_sum %.3f\n",
	        (double)get(&m.hs_sum_ms) / 1000.0);
	fprintf(f, "lull_handshake_duration_seconds_count %llu\n", (unsigned long long)count);

	gauge1(f, "lull_links_open", "Links open now (lull connections).", g->links);
	gauge1(f, "lull_streams_open", "Streams open now (carried TCP connections).", g->streams);
	gauge1(f, "lull_handshakes_pending", "Links waiting for their first handshake.",
	       g->handshakes_pending);
	if (atomic_load(&peers.enabled))
		write_peers(f);
	header(f, "lull_build_info", "gauge", "The running version; always 1.");
	fprintf(f, "lull_build_info{version=\"%s\",protocol=\"%d\"} 1\n", lull_version(),
	        LULL_PROTOCOL_VERSION);
}
