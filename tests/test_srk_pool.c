/*
 * test_srk_pool.c - the SRK pool on a virtual clock: one key generation per
 * interval, none for an idle interval, erasure at the exact millisecond, a
 * ring that wraps without ever finding its slot taken, and replay sets that
 * refuse repeats, grow, and stop at their cap.
 */
#include "dh_count.h"
#include "test.h"
#include "test_rng.h"

#include "crypto.h"
#include "crypto_test_util.h"
#include "srk_pool.h"

/*
 * Test-only, out of the library (which hands out handles only): acquire,
 * then copy the SRK's key pair out of its slot so tests can check it byte
 * for byte.  priv and pub are zeroed on every failure.
 */
static lull_err srk_pool_acquire(srk_pool *p, uint64_t now_ms,
                                 const uint8_t client_e[SRK_KEY_BYTES], uint8_t priv[SRK_KEY_BYTES],
                                 uint8_t pub[SRK_KEY_BYTES], uint64_t *interval)
{
	if (p == NULL || client_e == NULL || priv == NULL || pub == NULL)
		return LULL_ERR_INVALID_ARG;
	crypto_wipe(priv, SRK_KEY_BYTES);
	memset(pub, 0, SRK_KEY_BYTES);
	crypto_dh_key *key = NULL;
	uint64_t iv = 0;
	lull_err err = srk_pool_acquire_key(p, now_ms, client_e, &key, &iv);
	if (err != LULL_OK)
		return err;
	for (size_t i = 0; i < p->n_slots; i++) {
		const srk_slot *s = &p->slots[i];
		if (s->live && s->interval == iv &&
		    memcmp(s->pub, crypto_dh_key_public(key), SRK_KEY_BYTES) == 0) {
			memcpy(priv, s->priv, SRK_KEY_BYTES);
			memcpy(pub, s->pub, SRK_KEY_BYTES);
		}
	}
	crypto_dh_key_free(key);
	if (interval)
		*interval = iv;
	return crypto_is_zero(pub, SRK_KEY_BYTES) ? LULL_ERR_STATE : LULL_OK;
}

#define I_DEF LULL_DEFAULT_SRK_INTERVAL_MS
#define L_DEF LULL_DEFAULT_SRK_LIFETIME_MS
#define K_DEF LULL_DEFAULT_SRK_KEEP

static const uint8_t zero32[SRK_KEY_BYTES];

/* ---- Helpers ------------------------------------------------------------ */

/* A distinct stand-in for a client ephemeral: the pool treats it as bytes. */
static void client_key(uint64_t n, uint8_t out[SRK_KEY_BYTES])
{
	memset(out, 0xa5, SRK_KEY_BYTES);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(n >> (8 * i));
}

#define EVENT_LOG_MAX 64

typedef struct event_log {
	lull_event ev[EVENT_LOG_MAX];
	size_t n;       /* events stored (the first EVENT_LOG_MAX) */
	uint64_t n_all; /* events seen */
	uint64_t created, erased;
	uint64_t bad;   /* events with a field that should be zero, or a foreign type */
	srk_pool *pool; /* when set, every ERASED must arrive at its exact deadline */
	uint64_t late;  /* ERASED events whose now_ms != erase_at(interval) */
	uint64_t last_erased;
	uint64_t out_of_order; /* ERASED events not in increasing interval order */
} event_log;

static void on_event(void *user, const lull_event *ev)
{
	event_log *log = user;
	if (log->n < EVENT_LOG_MAX)
		log->ev[log->n++] = *ev;
	log->n_all++;
	if (ev->epoch != 0 || ev->rekey_reason != 0 || ev->close_reason != 0 || ev->err != 0 ||
	    ev->by_peer || ev->duration_ms != 0 || ev->bytes != 0 || ev->peer_name != NULL ||
	    ev->peer_pub != NULL)
		log->bad++;
	if (ev->type == LULL_EV_SRK_CREATED) {
		log->created++;
	} else if (ev->type == LULL_EV_SRK_ERASED) {
		if (log->erased > 0 && ev->interval <= log->last_erased)
			log->out_of_order++;
		log->last_erased = ev->interval;
		log->erased++;
		if (log->pool != NULL && ev->now_ms != srk_pool_erase_at(log->pool, ev->interval))
			log->late++;
	} else {
		log->bad++;
	}
}

static bool slot_is_wiped(const srk_slot *s)
{
	return !s->live && crypto_is_zero(s->priv, SRK_KEY_BYTES) &&
	       crypto_is_zero(s->pub, SRK_KEY_BYTES) &&
	       crypto_is_zero(s->seed, SRK_REPLAY_SEED_BYTES) && s->replay_keys == NULL &&
	       s->replay_used == NULL && s->replay_count == 0 && s->replay_cap == 0;
}

/* The tests' generator, seeded once: the same "random" schedule on every run. */
static test_rng schedule_rng;
static uint64_t rng(void)
{
	return test_rng_next(&schedule_rng);
}

/* ---- Configuration ------------------------------------------------------ */

static void test_config(void)
{
	srk_pool p;

	CHECK_ERR(srk_pool_init(&p, SRK_INTERVAL_MIN_MS - 1, L_DEF, K_DEF, NULL, NULL),
	          LULL_ERR_CONFIG);
	CHECK(p.slots == NULL);
	srk_pool_destroy(&p); /* a failed init leaves a pool destroy accepts */
	CHECK_ERR(srk_pool_init(&p, 0, L_DEF, K_DEF, NULL, NULL), LULL_ERR_CONFIG);
	CHECK_ERR(srk_pool_init(&p, I_DEF, 0, K_DEF, NULL, NULL), LULL_ERR_CONFIG);
	CHECK_ERR(srk_pool_init(&p, I_DEF, LULL_SRK_LIFETIME_MAX_MS + 1, K_DEF, NULL, NULL),
	          LULL_ERR_CONFIG);
	CHECK_ERR(srk_pool_init(&p, I_DEF, L_DEF, LULL_SRK_KEEP_MIN - 1, NULL, NULL),
	          LULL_ERR_CONFIG);
	CHECK_ERR(srk_pool_init(&p, I_DEF, L_DEF, LULL_SRK_KEEP_MAX + 1, NULL, NULL),
	          LULL_ERR_CONFIG);
	CHECK_ERR(srk_pool_init(&p, I_DEF, L_DEF, UINT32_MAX, NULL, NULL), LULL_ERR_CONFIG);
	/* The forward-secrecy window has a ceiling. */
	CHECK_ERR(srk_pool_init(&p, LULL_SRK_INTERVAL_MAX_MS + 1, L_DEF, K_DEF, NULL, NULL),
	          LULL_ERR_CONFIG);
	CHECK_ERR(srk_pool_init(&p, UINT32_MAX, L_DEF, K_DEF, NULL, NULL), LULL_ERR_CONFIG);
	CHECK_ERR(srk_pool_init(NULL, I_DEF, L_DEF, K_DEF, NULL, NULL), LULL_ERR_INVALID_ARG);

	/* The bounds themselves are accepted, and the ring is 1 + ceil(K / I). */
	static const struct {
		uint32_t interval, lifetime, keep;
		size_t n_slots;
	} ok[] = {
	        {I_DEF, L_DEF, K_DEF, 7}, /* 1 + 60000 / 10000 */
	        {SRK_INTERVAL_MIN_MS, LULL_SRK_LIFETIME_MAX_MS, LULL_SRK_KEEP_MAX, 9001},
	        {SRK_INTERVAL_MIN_MS, 150, LULL_SRK_KEEP_MIN, 3}, /* ceil(1.5) = 2 */
	        {SRK_INTERVAL_MIN_MS, 100, 1, 2},                 /* ceil(1) = 1 */
	        {SRK_INTERVAL_MIN_MS, 101, 1, 3},
	        {1000, 1, 1, 2},
	        {LULL_SRK_INTERVAL_MAX_MS, LULL_SRK_LIFETIME_MAX_MS, LULL_SRK_KEEP_MAX, 16},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_OK(srk_pool_init(&p, ok[i].interval, ok[i].lifetime, ok[i].keep, NULL, NULL));
		CHECK(p.n_slots == ok[i].n_slots);
		CHECK(p.slots != NULL);
		CHECK(srk_pool_live_count(&p) == 0);
		CHECK(srk_pool_next_deadline(&p) == UINT64_MAX);
		srk_pool_destroy(&p);
		CHECK(p.slots == NULL && p.n_slots == 0);
	}
}

static void test_misuse(void)
{
	srk_pool p;
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	client_key(1, e);

	memset(&p, 0, sizeof(p));
	CHECK_ERR(srk_pool_acquire(&p, 0, e, priv, pub, NULL), LULL_ERR_STATE);
	srk_pool_expire(&p, 0);
	CHECK(srk_pool_next_deadline(&p) == UINT64_MAX);
	CHECK(srk_pool_live_count(&p) == 0);
	srk_pool_destroy(&p);
	srk_pool_destroy(&p);
	srk_pool_destroy(NULL);

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, NULL, NULL));
	CHECK_ERR(srk_pool_acquire(NULL, 0, e, priv, pub, NULL), LULL_ERR_INVALID_ARG);
	CHECK_ERR(srk_pool_acquire(&p, 0, NULL, priv, pub, NULL), LULL_ERR_INVALID_ARG);
	CHECK_ERR(srk_pool_acquire(&p, 0, e, NULL, pub, NULL), LULL_ERR_INVALID_ARG);
	CHECK_ERR(srk_pool_acquire(&p, 0, e, priv, NULL, NULL), LULL_ERR_INVALID_ARG);
	CHECK(p.created_total == 0);
	/* Times near the end of the clock saturate rather than wrap. */
	CHECK_OK(srk_pool_acquire(&p, UINT64_MAX, e, priv, pub, NULL));
	CHECK(srk_pool_next_deadline(&p) == UINT64_MAX);
	CHECK(srk_pool_erase_at(&p, UINT64_MAX) == UINT64_MAX);
	CHECK(srk_pool_live_count(&p) == 1);
	srk_pool_destroy(&p);
	srk_pool_destroy(&p);
}

/* ---- One key per interval ----------------------------------------------- */

static void test_one_key_per_interval(void)
{
	srk_pool p;
	event_log log = {0};
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	uint8_t priv0[SRK_KEY_BYTES], pub0[SRK_KEY_BYTES];
	uint64_t interval = 99;

	CHECK_OK(srk_pool_init(&p, 1000, L_DEF, K_DEF, on_event, &log));
	uint64_t dh_before = dh_count();
	client_key(0, e);
	CHECK_OK(srk_pool_acquire(&p, 0, e, priv0, pub0, &interval));
	CHECK(interval == 0);
	CHECK(!crypto_is_zero(priv0, SRK_KEY_BYTES) && !crypto_is_zero(pub0, SRK_KEY_BYTES));
	CHECK_MEM(p.slots[0].priv, priv0, SRK_KEY_BYTES);
	CHECK_MEM(p.slots[0].pub, pub0, SRK_KEY_BYTES);
	/* The pair is a real X25519 pair. */
	uint8_t derived[SRK_KEY_BYTES];
	CHECK_OK(crypto_dh_public(CRYPTO_DH_25519, priv0, derived));
	CHECK_MEM(derived, pub0, SRK_KEY_BYTES);
	dh_before++; /* the check above is one scalar multiplication */

	size_t same = 0;
	for (uint64_t n = 1; n < 1000; n++) {
		client_key(n, e);
		CHECK_ERR(srk_pool_acquire(&p, n, e, priv, pub, &interval), LULL_OK);
		same += interval == 0 && memcmp(priv, priv0, SRK_KEY_BYTES) == 0 &&
		        memcmp(pub, pub0, SRK_KEY_BYTES) == 0;
	}
	CHECK(same == 999);
	CHECK(dh_count() - dh_before == 1);
	CHECK(p.created_total == 1);
	CHECK(p.slots[0].replay_count == 1000);
	CHECK(log.created == 1 && log.n_all == 1);

	/* The next interval has its own key. */
	client_key(1000000, e); /* each handshake has its own ephemeral */
	CHECK_OK(srk_pool_acquire(&p, 1000, e, priv, pub, &interval));
	CHECK(interval == 1);
	CHECK(memcmp(priv, priv0, SRK_KEY_BYTES) != 0);
	CHECK(memcmp(pub, pub0, SRK_KEY_BYTES) != 0);
	CHECK(dh_count() - dh_before == 2);
	CHECK(p.created_total == 2);
	CHECK(srk_pool_live_count(&p) == 2);
	/* Two slots, two replay seeds. */
	CHECK(!crypto_is_zero(p.slots[0].seed, SRK_REPLAY_SEED_BYTES));
	CHECK(memcmp(p.slots[0].seed, p.slots[1].seed, SRK_REPLAY_SEED_BYTES) != 0);
	srk_pool_destroy(&p);
}

static void test_lazy(void)
{
	srk_pool p;
	event_log log = {0};
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	uint64_t interval;

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, on_event, &log));
	uint64_t dh_before = dh_count();
	client_key(1, e);
	CHECK_OK(srk_pool_acquire(&p, 0, e, priv, pub, &interval));
	CHECK(interval == 0);
	/* Intervals 1..4 pass with no handshake: nothing is generated. */
	for (uint64_t t = I_DEF; t < 5 * I_DEF; t += I_DEF / 4) {
		srk_pool_expire(&p, t);
		CHECK(srk_pool_live_count(&p) == 1);
	}
	CHECK(p.created_total == 1 && log.n_all == 1);
	client_key(2, e);
	CHECK_OK(srk_pool_acquire(&p, 5 * I_DEF + 7, e, priv, pub, &interval));
	CHECK(interval == 5);
	CHECK(p.created_total == 2);
	CHECK(dh_count() - dh_before == 2);
	CHECK(srk_pool_live_count(&p) == 2);
	CHECK(log.n == 2 && log.ev[0].type == LULL_EV_SRK_CREATED && log.ev[0].interval == 0 &&
	      log.ev[0].now_ms == 0);
	CHECK(log.ev[1].type == LULL_EV_SRK_CREATED && log.ev[1].interval == 5 &&
	      log.ev[1].now_ms == 5 * I_DEF + 7);
	CHECK(log.bad == 0);
	srk_pool_destroy(&p);
}

/* ---- Erasure ------------------------------------------------------------ */

static void test_erase_at_deadline(void)
{
	srk_pool p;
	event_log log = {0};
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, on_event, &log));
	CHECK(srk_pool_erase_at(&p, 0) == 70000); /* the brief's 10 s + 2 x 30 s */
	CHECK(srk_pool_erase_at(&p, 3) == 100000);

	const uint64_t interval = 3, t0 = interval * I_DEF + 1234;
	const size_t idx = interval % p.n_slots;
	client_key(7, e);
	CHECK_OK(srk_pool_acquire(&p, t0, e, priv, pub, NULL));
	uint64_t erase_at = srk_pool_erase_at(&p, interval);
	CHECK(srk_pool_next_deadline(&p) == erase_at);
	CHECK(p.slots[idx].replay_keys != NULL);

	srk_pool_expire(&p, erase_at - 1);
	CHECK(p.slots[idx].live && p.slots[idx].interval == interval);
	CHECK_MEM(p.slots[idx].priv, priv, SRK_KEY_BYTES);
	CHECK(srk_pool_live_count(&p) == 1);
	CHECK(log.n == 1);

	srk_pool_expire(&p, erase_at);
	CHECK(!p.slots[idx].live);
	CHECK_MEM(p.slots[idx].priv, zero32, SRK_KEY_BYTES);
	CHECK(slot_is_wiped(&p.slots[idx]));
	CHECK(srk_pool_live_count(&p) == 0);
	CHECK(srk_pool_next_deadline(&p) == UINT64_MAX);
	CHECK(p.erased_total == 1);
	CHECK(log.n == 2 && log.ev[1].type == LULL_EV_SRK_ERASED &&
	      log.ev[1].interval == interval && log.ev[1].now_ms == erase_at);

	/* A later expire has nothing left to do. */
	srk_pool_expire(&p, erase_at + 1000000);
	CHECK(p.erased_total == 1 && log.n == 2);

	/* An expire called late still erases, and reports its own now_ms. */
	CHECK_OK(srk_pool_acquire(&p, 200000, e, priv, pub, NULL));
	srk_pool_expire(&p, 999999);
	CHECK(log.n == 4 && log.ev[3].type == LULL_EV_SRK_ERASED && log.ev[3].interval == 20 &&
	      log.ev[3].now_ms == 999999);
	CHECK(log.bad == 0);
	srk_pool_destroy(&p);
}

static void test_next_deadline_and_order(void)
{
	srk_pool p;
	event_log log = {0};
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, on_event, &log));
	CHECK(p.n_slots == 7);
	CHECK(srk_pool_next_deadline(&p) == UINT64_MAX);
	client_key(1, e);
	CHECK_OK(srk_pool_acquire(&p, 0, e, priv, pub, NULL));
	CHECK(srk_pool_next_deadline(&p) == 70000);
	client_key(2, e);
	CHECK_OK(srk_pool_acquire(&p, 3 * I_DEF, e, priv, pub, NULL));
	CHECK(srk_pool_next_deadline(&p) == 70000);
	/* Interval 7 reuses interval 0's slot at the very millisecond interval
	 * 0 is due: acquire erases first, then creates. */
	client_key(3, e);
	CHECK_OK(srk_pool_acquire(&p, 7 * I_DEF, e, priv, pub, NULL));
	CHECK(srk_pool_next_deadline(&p) == 100000);
	CHECK(p.slots[0].live && p.slots[0].interval == 7);
	CHECK(log.n == 4);
	CHECK(log.ev[2].type == LULL_EV_SRK_ERASED && log.ev[2].interval == 0 &&
	      log.ev[2].now_ms == 70000);
	CHECK(log.ev[3].type == LULL_EV_SRK_CREATED && log.ev[3].interval == 7 &&
	      log.ev[3].now_ms == 70000);
	srk_pool_expire(&p, 100000);
	CHECK(srk_pool_next_deadline(&p) == 140000);
	srk_pool_expire(&p, 140000);
	CHECK(srk_pool_next_deadline(&p) == UINT64_MAX);

	/* Several due at once, across the ring's end (slots 5, 6, 0, 1):
	 * erased in interval order, all at the one expire's now_ms. */
	log = (event_log){0};
	for (uint64_t i = 12; i <= 15; i++) {
		client_key(100 + i, e);
		CHECK_OK(srk_pool_acquire(&p, i * I_DEF, e, priv, pub, NULL));
	}
	CHECK(srk_pool_live_count(&p) == 4);
	srk_pool_expire(&p, 5000000);
	CHECK(log.n == 8);
	for (size_t k = 0; k < 4; k++) {
		CHECK(log.ev[k].type == LULL_EV_SRK_CREATED && log.ev[k].interval == 12 + k);
		CHECK(log.ev[4 + k].type == LULL_EV_SRK_ERASED &&
		      log.ev[4 + k].interval == 12 + k && log.ev[4 + k].now_ms == 5000000);
	}
	CHECK(log.out_of_order == 0 && log.bad == 0);
	CHECK(p.created_total == 7 && p.erased_total == 7);
	for (size_t i = 0; i < p.n_slots; i++)
		CHECK(slot_is_wiped(&p.slots[i]));
	srk_pool_destroy(&p);
}

/* ---- The ring ----------------------------------------------------------- */

/* One handshake per interval for 10,000 intervals, expiring at every
 * reported deadline: every SRK erased on time, in order, and the ring is
 * full (n_slots live) but never over. */
static void test_ring_wraps(void)
{
	srk_pool p;
	event_log log = {0};
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	const uint64_t n_intervals = 10000;

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, on_event, &log));
	log.pool = &p;
	size_t max_live = 0, over = 0, failed = 0, expire_calls = 0;
	for (uint64_t i = 0; i < n_intervals; i++) {
		uint64_t now = i * I_DEF;
		for (uint64_t d; (d = srk_pool_next_deadline(&p)) <= now; expire_calls++)
			srk_pool_expire(&p, d);
		client_key(i, e);
		failed += srk_pool_acquire(&p, now, e, priv, pub, NULL) != LULL_OK;
		size_t live = srk_pool_live_count(&p);
		over += live > p.n_slots;
		if (live > max_live)
			max_live = live;
	}
	for (uint64_t d; (d = srk_pool_next_deadline(&p)) != UINT64_MAX; expire_calls++)
		srk_pool_expire(&p, d);
	CHECK(failed == 0);
	CHECK(over == 0);
	CHECK(max_live == p.n_slots); /* the ring is no bigger than it must be */
	CHECK(expire_calls == n_intervals);
	CHECK(p.created_total == n_intervals && p.erased_total == n_intervals);
	CHECK(log.created == n_intervals && log.erased == n_intervals);
	CHECK(log.late == 0 && log.out_of_order == 0 && log.bad == 0);
	CHECK(srk_pool_live_count(&p) == 0);
	for (size_t i = 0; i < p.n_slots; i++)
		CHECK(slot_is_wiped(&p.slots[i]));
	srk_pool_destroy(&p);
}

/*
 * For many configurations and hostile schedules (the end of an interval
 * followed by the start of the interval that reuses its slot, exact
 * deadlines and a millisecond before them, long gaps, expire called or
 * forgotten), acquire never finds its slot held by another interval, and
 * never leaves a due SRK alive.
 */
static void test_ring_never_collides(void)
{
	static const uint32_t intervals[] = {SRK_INTERVAL_MIN_MS,     101, 333, 1000, 10000,
	                                     LULL_SRK_INTERVAL_MAX_MS};
	static const uint32_t lifetimes[] = {
	        1, 99, 100, 101, 2500, 30000, LULL_SRK_LIFETIME_MAX_MS};
	static const uint32_t keeps[] = {LULL_SRK_KEEP_MIN, 2, 3, 7, LULL_SRK_KEEP_MAX};
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	size_t combos = 0, failed = 0, due_alive = 0, wrong_slot = 0, not_minimal = 0;
	uint64_t wraps = 0, key_n = 0;

	for (size_t a = 0; a < sizeof(intervals) / sizeof(intervals[0]); a++)
		for (size_t b = 0; b < sizeof(lifetimes) / sizeof(lifetimes[0]); b++)
			for (size_t c = 0; c < sizeof(keeps) / sizeof(keeps[0]); c++) {
				srk_pool p;
				const uint64_t I = intervals[a];
				if (srk_pool_init(&p, intervals[a], lifetimes[b], keeps[c], NULL,
				                  NULL) != LULL_OK) {
					failed++;
					continue;
				}
				combos++;
				const uint64_t n = p.n_slots;
				/* Arithmetic behind the ring size: interval i is gone
				 * when i + n begins, but may still be live when
				 * i + n - 1 begins. */
				if (!(srk_pool_erase_at(&p, 5) <= (5 + n) * I &&
				      srk_pool_erase_at(&p, 5) > (5 + n - 1) * I))
					not_minimal++;

				uint64_t now = rng() % (1000 * I);
				for (int step = 0; step < 40; step++) {
					uint64_t cur = now / I, d = srk_pool_next_deadline(&p);
					switch (rng() % 7) {
					case 0: /* last ms of this interval */
						now = (cur + 1) * I - 1;
						break;
					case 1: /* first ms of the interval reusing the slot */
						now = (cur + n) * I;
						break;
					case 2:
						now = d == UINT64_MAX ? now + 1 : d - 1;
						break;
					case 3:
						now = d == UINT64_MAX ? now + I : d;
						break;
					case 4:
						now += rng() % (2 * I);
						break;
					case 5:
						now += rng() % (3 * n * I);
						break;
					default:
						now += 1;
						break;
					}
					if (rng() % 2)
						srk_pool_expire(&p, now);
					client_key(key_n++, e);
					uint64_t got_interval = UINT64_MAX;
					lull_err err = srk_pool_acquire(&p, now, e, priv, pub,
					                                &got_interval);
					failed += err != LULL_OK;
					const srk_slot *s = &p.slots[(now / I) % n];
					wrong_slot += !(s->live && s->interval == now / I &&
					                got_interval == now / I &&
					                memcmp(s->priv, priv, SRK_KEY_BYTES) == 0);
					wraps += now / I >= n;
					for (size_t k = 0; k < n; k++)
						due_alive +=
						        p.slots[k].live &&
						        srk_pool_erase_at(
						                &p, p.slots[k].interval) <= now;
				}
				srk_pool_destroy(&p);
			}
	CHECK(combos == 6 * 7 * 5);
	CHECK(failed == 0);
	CHECK(wrong_slot == 0);
	CHECK(due_alive == 0);
	CHECK(not_minimal == 0);
	CHECK(wraps > 0);
}

/* The defence: a clock running backwards can aim acquire at a slot another
 * interval still needs; that is refused, and the slot left intact. */
static void test_slot_taken_refused(void)
{
	srk_pool p;
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	uint8_t priv_live[SRK_KEY_BYTES];

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, NULL, NULL));
	client_key(1, e);
	CHECK_OK(srk_pool_acquire(&p, 10 * I_DEF, e, priv_live, pub, NULL));
	client_key(2, e);
	CHECK_ERR(srk_pool_acquire(&p, 3 * I_DEF, e, priv, pub, NULL), LULL_ERR_STATE);
	CHECK_MEM(priv, zero32, SRK_KEY_BYTES); /* nothing handed out */
	CHECK(p.slots[3].live && p.slots[3].interval == 10);
	CHECK_MEM(p.slots[3].priv, priv_live, SRK_KEY_BYTES);
	CHECK(p.created_total == 1 && p.slots[3].replay_count == 1);
	srk_pool_destroy(&p);
}

/* ---- Replay sets -------------------------------------------------------- */

static void test_replay(void)
{
	srk_pool p;
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	uint8_t priv0[SRK_KEY_BYTES];

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, NULL, NULL));
	client_key(42, e);
	CHECK_OK(srk_pool_acquire(&p, 100, e, priv0, pub, NULL));
	memset(priv, 0xee, sizeof(priv));
	memset(pub, 0xee, sizeof(pub));
	CHECK_ERR(srk_pool_acquire(&p, 9999, e, priv, pub, NULL), LULL_ERR_REPLAY);
	CHECK(p.replays_refused_total == 1);
	CHECK_MEM(priv, zero32, SRK_KEY_BYTES); /* a refused handshake gets no key */
	CHECK_MEM(pub, zero32, SRK_KEY_BYTES);
	CHECK_ERR(srk_pool_acquire(&p, 5000, e, priv, pub, NULL), LULL_ERR_REPLAY);
	CHECK(p.replays_refused_total == 2);
	CHECK(p.slots[0].replay_count == 1);

	/* A different ephemeral in the same interval is fine. */
	uint8_t e2[SRK_KEY_BYTES];
	memcpy(e2, e, sizeof(e2));
	e2[SRK_KEY_BYTES - 1] ^= 1;
	CHECK_OK(srk_pool_acquire(&p, 9999, e2, priv, pub, NULL));
	/* Replayed into later intervals while the SRK that answered it lives,
	 * it is still refused, and costs no key generation. */
	uint64_t created = p.created_total;
	CHECK_ERR(srk_pool_acquire(&p, I_DEF, e, priv, pub, NULL), LULL_ERR_REPLAY);
	uint64_t erase0 = srk_pool_erase_at(&p, 0);
	CHECK_ERR(srk_pool_acquire(&p, erase0 - 1, e2, priv, pub, NULL), LULL_ERR_REPLAY);
	CHECK(p.created_total == created && p.replays_refused_total == 4);
	/* Once that SRK is erased, the ephemeral meets a new SRK: the old
	 * transcript cannot repeat. */
	CHECK_OK(srk_pool_acquire(&p, erase0, e, priv, pub, NULL));
	CHECK(memcmp(priv, priv0, SRK_KEY_BYTES) != 0);
	CHECK_ERR(srk_pool_acquire(&p, erase0 + 1, e, priv, pub, NULL), LULL_ERR_REPLAY);
	srk_pool_destroy(&p);
}

/* Every key of a slot's table sits on the probe chain that starts at the
 * first 8 bytes (little-endian) of SHA256(seed || key), with no hole before
 * it, and the load stays at most 1/2. */
static bool replay_table_sound(const srk_slot *s)
{
	if (s->replay_cap == 0 || (s->replay_cap & (s->replay_cap - 1)) != 0 ||
	    (uint64_t)s->replay_count * 2 > s->replay_cap)
		return false;
	uint32_t used = 0, mask = s->replay_cap - 1;
	for (uint32_t i = 0; i < s->replay_cap; i++) {
		if (!s->replay_used[i])
			continue;
		used++;
		uint8_t h[32];
		if (crypto_hash(CRYPTO_HASH_SHA256, s->seed, SRK_REPLAY_SEED_BYTES,
		                s->replay_keys[i], SRK_KEY_BYTES, h) != LULL_OK)
			return false;
		uint64_t home = 0;
		for (int b = 7; b >= 0; b--)
			home = home << 8 | h[b];
		for (uint32_t j = (uint32_t)(home & mask); j != i; j = (j + 1) & mask)
			if (!s->replay_used[j])
				return false;
	}
	return used == s->replay_count;
}

static void test_replay_growth(void)
{
	srk_pool p;
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	const uint64_t n = 5000;

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, NULL, NULL));
	const srk_slot *s = &p.slots[0];
	client_key(0, e);
	CHECK_OK(srk_pool_acquire(&p, 0, e, priv, pub, NULL));
	CHECK(s->replay_cap == 64 && s->replay_count == 1); /* small, and only when needed */
	CHECK(replay_table_sound(s));
	size_t failed = 0, resizes = 0;
	uint32_t cap = s->replay_cap;
	for (uint64_t k = 1; k < n; k++) {
		client_key(k, e);
		failed += srk_pool_acquire(&p, k, e, priv, pub, NULL) != LULL_OK;
		if (s->replay_cap != cap) {
			resizes++;
			cap = s->replay_cap;
		}
	}
	CHECK(failed == 0);
	CHECK(s->replay_count == n);
	CHECK(s->replay_cap == 16384); /* 5000 <= 16384 / 2, 5000 > 8192 / 2 */
	CHECK(resizes == 8);           /* 64 -> 16384 */
	CHECK(replay_table_sound(s));
	size_t refused = 0;
	for (uint64_t k = 0; k < n; k++) {
		client_key(k, e);
		refused += srk_pool_acquire(&p, n + k, e, priv, pub, NULL) == LULL_ERR_REPLAY;
	}
	CHECK(refused == n);
	CHECK(p.replays_refused_total == n);
	CHECK(s->replay_count == n);
	/* The load bound holds exactly at the doubling points. */
	srk_pool_destroy(&p);
	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, NULL, NULL));
	s = &p.slots[0];
	for (uint64_t k = 0; k < 32; k++) {
		client_key(k, e);
		CHECK_OK(srk_pool_acquire(&p, 0, e, priv, pub, NULL));
	}
	CHECK(s->replay_cap == 64);
	client_key(32, e);
	CHECK_OK(srk_pool_acquire(&p, 0, e, priv, pub, NULL));
	CHECK(s->replay_cap == 128);
	CHECK(replay_table_sound(s));
	srk_pool_destroy(&p);
}

/* A full set never refuses: the next handshake of the interval gets a new
 * SRK with an empty set, the old private key is wiped, and what the old SRK
 * answered is never answered by it again. */
static void test_replay_full_rotates(void)
{
	srk_pool p;
	event_log log = {0};
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	uint8_t pub0[SRK_KEY_BYTES], priv0[SRK_KEY_BYTES];
	const uint64_t max = SRK_REPLAY_SET_MAX_ENTRIES;

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, on_event, &log));
	size_t failed = 0;
	for (uint64_t k = 0; k < max; k++) {
		client_key(k, e);
		failed += srk_pool_acquire(&p, 0, e, priv0, pub0, NULL) != LULL_OK;
	}
	CHECK(failed == 0);
	const srk_slot *s = &p.slots[0];
	CHECK(s->replay_count == max);
	CHECK(s->replay_cap == 2 * max);
	CHECK(p.replay_table_entries == 2 * max);
	CHECK(p.created_total == 1 && p.rotated_total == 0);
	/* One more: answered, by a new SRK of the same interval. */
	client_key(max, e);
	CHECK_OK(srk_pool_acquire(&p, 1, e, priv, pub, NULL));
	CHECK(memcmp(pub, pub0, SRK_KEY_BYTES) != 0);
	CHECK(memcmp(priv, priv0, SRK_KEY_BYTES) != 0);
	CHECK(s->live && s->interval == 0);
	CHECK_MEM(s->pub, pub, SRK_KEY_BYTES);
	CHECK(s->replay_count == 1 && s->replay_cap == 64);
	CHECK(p.replay_table_entries == 64);
	CHECK(p.created_total == 2 && p.rotated_total == 1 && log.created == 2);
	CHECK(log.erased == 0 && log.bad == 0);
	CHECK(srk_pool_live_count(&p) == 1);
	/* An ephemeral the old SRK answered may be answered by the new one
	 * (a new pair), once; then the new set refuses it. */
	client_key(0, e);
	CHECK_OK(srk_pool_acquire(&p, 2, e, priv, pub, NULL));
	CHECK(memcmp(pub, pub0, SRK_KEY_BYTES) != 0);
	CHECK_ERR(srk_pool_acquire(&p, 3, e, priv, pub, NULL), LULL_ERR_REPLAY);
	CHECK(p.replays_refused_total == 1);
	/* The new SRK is still erased at its interval's deadline. */
	srk_pool_expire(&p, srk_pool_erase_at(&p, 0));
	CHECK(slot_is_wiped(s) && p.replay_table_entries == 0);
	crypto_wipe(priv0, sizeof(priv0));
	srk_pool_destroy(&p);
}

/* Past the budget the older intervals' sets go first (their SRKs answer no
 * new handshake), then the current SRK rotates: memory never passes the
 * budget, nothing is refused but a repeat, and no (ephemeral, SRK) pair is
 * ever served twice, over a long schedule full of replays. */
static void test_replay_budget(void)
{
	srk_pool p;
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	CHECK_OK(srk_pool_init(&p, 1000, 1000, 2, NULL, NULL));
	p.replay_budget_entries = 256;

	/* Interval 0 takes 100 (table 256: the whole budget). */
	for (uint64_t k = 0; k < 100; k++) {
		client_key(k, e);
		CHECK_OK(srk_pool_acquire(&p, 0, e, priv, pub, NULL));
	}
	CHECK(p.slots[0].replay_cap == 256 && p.replay_table_entries == 256);
	/* Interval 1's first entry needs 64: interval 0's set is dropped, its
	 * SRK stays live until its deadline. */
	client_key(1000, e);
	CHECK_OK(srk_pool_acquire(&p, 1000, e, priv, pub, NULL));
	CHECK(p.slots[0].live && p.slots[0].replay_cap == 0 && p.slots[0].replay_count == 0);
	CHECK(p.slots[1].replay_cap == 64 && p.replay_table_entries == 64);
	CHECK(p.rotated_total == 0);
	/* A replay of interval 0's ephemeral is answered now (by interval 1's
	 * SRK: a new pair), not refused. */
	client_key(5, e);
	CHECK_OK(srk_pool_acquire(&p, 1001, e, priv, pub, NULL));
	srk_pool_destroy(&p);

	/* The long schedule: 20,000 acquires over 8 intervals, ephemerals
	 * drawn from 700 values, so most are repeats. */
	typedef struct {
		uint8_t e[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	} pair;
	enum { N_OPS = 20000 };
	pair *served = calloc(N_OPS, sizeof(*served));
	CHECK(served != NULL);
	if (!served)
		return;
	size_t n_served = 0, dup_pairs = 0, over_budget = 0, bad_account = 0, errors = 0;
	CHECK_OK(srk_pool_init(&p, 1000, 1000, 2, NULL, NULL));
	p.replay_budget_entries = 512;
	for (uint64_t op = 0; op < N_OPS; op++) {
		uint64_t now = op * 8000 / N_OPS;
		client_key(rng() % 700, e);
		lull_err err = srk_pool_acquire(&p, now, e, priv, pub, NULL);
		if (err == LULL_OK) {
			for (size_t i = 0; i < n_served; i++)
				if (memcmp(served[i].e, e, SRK_KEY_BYTES) == 0 &&
				    memcmp(served[i].pub, pub, SRK_KEY_BYTES) == 0)
					dup_pairs++;
			memcpy(served[n_served].e, e, SRK_KEY_BYTES);
			memcpy(served[n_served].pub, pub, SRK_KEY_BYTES);
			n_served++;
		} else if (err != LULL_ERR_REPLAY) {
			errors++;
		}
		uint64_t sum = 0;
		for (size_t i = 0; i < p.n_slots; i++)
			sum += p.slots[i].replay_cap;
		bad_account += sum != p.replay_table_entries;
		over_budget += p.replay_table_entries > p.replay_budget_entries;
	}
	CHECK(errors == 0);
	CHECK(dup_pairs == 0);
	CHECK(over_budget == 0);
	CHECK(bad_account == 0);
	CHECK(p.rotated_total > 10); /* the schedule did exercise rotation */
	CHECK(n_served > 1000);
	free(served);
	srk_pool_destroy(&p);
}

/* ---- The SRK as a key handle ------------------------------------------ */

/* srk_pool_acquire_key hands out the very SRK srk_pool_acquire copies out,
 * as a reference on the slot's handle, at no scalar multiplication. */
static void test_acquire_key(void)
{
	srk_pool p;
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	uint8_t peer[SRK_KEY_BYTES], peer_pub[SRK_KEY_BYTES];
	uint8_t via_key[SRK_KEY_BYTES], via_raw[SRK_KEY_BYTES];
	uint64_t interval = 99;
	crypto_dh_key *k1 = NULL, *k2 = NULL, *pk = NULL;

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, NULL, NULL));
	uint64_t before = dh_count();
	client_key(1, e);
	CHECK_OK(srk_pool_acquire_key(&p, 5, e, &k1, &interval));
	CHECK(k1 != NULL && interval == 0);
	CHECK(p.slots[0].live && p.slots[0].key == k1);
	client_key(2, e);
	CHECK_OK(srk_pool_acquire_key(&p, 6, e, &k2, NULL));
	CHECK(k2 == k1); /* one SRK per interval: the same handle */
	client_key(3, e);
	CHECK_OK(srk_pool_acquire(&p, 7, e, priv, pub, NULL));
	CHECK(dh_count() - before == 1); /* the one key generation */
	if (k1 != NULL)
		CHECK_MEM(crypto_dh_key_public(k1), pub, SRK_KEY_BYTES);
	CHECK_MEM(p.slots[0].priv, priv, SRK_KEY_BYTES);

	/* A DH through the handle equals the DH with the raw private key. */
	CHECK_OK(crypto_dh_generate(CRYPTO_DH_25519, peer, peer_pub));
	CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_25519, peer_pub, &pk));
	CHECK_OK(crypto_dh_key_derive(k1, pk, via_key));
	CHECK_OK(crypto_dh(CRYPTO_DH_25519, priv, peer_pub, via_raw));
	CHECK_MEM(via_key, via_raw, SRK_KEY_BYTES);

	/* Refusals hand out nothing. */
	crypto_dh_key *none = (crypto_dh_key *)&p; /* must be overwritten */
	client_key(1, e);
	CHECK_ERR(srk_pool_acquire_key(&p, 8, e, &none, NULL), LULL_ERR_REPLAY);
	CHECK(none == NULL);
	CHECK(p.replays_refused_total == 1);
	client_key(4, e);
	CHECK_ERR(srk_pool_acquire_key(&p, 3 * I_DEF + 5 + p.n_slots * I_DEF, e, &none, NULL),
	          LULL_OK); /* a later interval, its own slot */
	CHECK(none != NULL && none != k1);
	crypto_dh_key_free(none);
	none = (crypto_dh_key *)&p;
	CHECK_ERR(srk_pool_acquire_key(&p, 0, NULL, &none, NULL), LULL_ERR_INVALID_ARG);
	CHECK(none == NULL);
	CHECK_ERR(srk_pool_acquire_key(NULL, 0, e, &none, NULL), LULL_ERR_INVALID_ARG);
	CHECK_ERR(srk_pool_acquire_key(&p, 0, e, NULL, NULL), LULL_ERR_INVALID_ARG);

	crypto_dh_key_free(k1);
	crypto_dh_key_free(k2);
	crypto_dh_key_free(pk);
	srk_pool_destroy(&p);
}

/*
 * The deadline wipe still happens with a handle out: the slot's raw key
 * and its reference go at erase_at, exactly as without one; the handle an
 * in-flight handshake holds keeps working until that handshake lets go
 * (valgrind and ASan see the last free), and a pool destroyed under it
 * does not take it along.
 */
static void test_handle_across_wipe(void)
{
	srk_pool p;
	event_log log = {0};
	uint8_t e[SRK_KEY_BYTES], priv[SRK_KEY_BYTES], pub[SRK_KEY_BYTES];
	uint8_t peer[SRK_KEY_BYTES], peer_pub[SRK_KEY_BYTES];
	uint8_t want[SRK_KEY_BYTES], got[SRK_KEY_BYTES];
	crypto_dh_key *k = NULL, *pk = NULL;

	CHECK_OK(srk_pool_init(&p, I_DEF, L_DEF, K_DEF, on_event, &log));
	log.pool = &p;
	const uint64_t interval = 2, t0 = interval * I_DEF + 10;
	const size_t idx = interval % p.n_slots;
	client_key(11, e);
	CHECK_OK(srk_pool_acquire_key(&p, t0, e, &k, NULL));
	client_key(12, e);
	CHECK_OK(srk_pool_acquire(&p, t0 + 1, e, priv, pub, NULL));
	CHECK_OK(crypto_dh_generate(CRYPTO_DH_25519, peer, peer_pub));
	CHECK_OK(crypto_dh(CRYPTO_DH_25519, peer, pub, want));
	CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_25519, peer_pub, &pk));

	uint64_t erase_at = srk_pool_erase_at(&p, interval);
	srk_pool_expire(&p, erase_at - 1);
	CHECK(p.slots[idx].live && p.slots[idx].key == k);
	srk_pool_expire(&p, erase_at);
	/* Wiped at the deadline as ever: raw bytes zero, no reference left. */
	CHECK(slot_is_wiped(&p.slots[idx]) && p.slots[idx].key == NULL);
	CHECK(log.erased == 1 && log.late == 0);
	/* The handshake's own reference still derives the same secret. */
	CHECK_OK(crypto_dh_key_derive(k, pk, got));
	CHECK_MEM(got, want, SRK_KEY_BYTES);
	crypto_dh_key_free(k);

	/* Destroying the pool with a handle out leaves the handle whole. */
	client_key(13, e);
	CHECK_OK(srk_pool_acquire_key(&p, erase_at + 5, e, &k, NULL));
	srk_pool_destroy(&p);
	CHECK_OK(crypto_dh_key_derive(k, pk, got));
	crypto_dh_key_free(k);
	crypto_dh_key_free(pk);
}

int main(void)
{
	test_rng_seed(&schedule_rng, 1, 0);
	test_config();
	test_misuse();
	test_one_key_per_interval();
	test_lazy();
	test_erase_at_deadline();
	test_next_deadline_and_order();
	test_ring_wraps();
	test_ring_never_collides();
	test_slot_taken_refused();
	test_replay();
	test_replay_growth();
	test_replay_full_rotates();
	test_replay_budget();
	test_acquire_key();
	test_handle_across_wipe();
	return test_summary();
}
