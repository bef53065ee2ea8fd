/*
 * srk_pool.c - the server's interval session keys and their replay sets.
 *
 * Interval i = now_ms / interval_ms owns ring slot i mod n_slots from the
 * first handshake of interval i until srk_pool_erase_at(i) =
 * (i + 1) * interval + keep * lifetime.  The pool never reads a clock: time
 * comes in with every call, and srk_pool_next_deadline tells the caller when
 * to come back.
 *
 * Ring size.  Write I = interval_ms, K = keep * lifetime_ms (K >= 1) and
 * n = n_slots = 1 + ceil(K / I).
 *
 *  Sufficient: index i mod n next serves interval i + n, whose first
 *  acquire comes at now >= (i + n) * I = (i + 1) * I + (n - 1) * I
 *  >= (i + 1) * I + K = erase_at(i), because (n - 1) * I = ceil(K / I) * I
 *  >= K.  acquire expires every slot with erase_at <= now before it looks at
 *  its target, so interval i is gone by the time i + n needs the slot - even
 *  if the caller never called srk_pool_expire.
 *
 *  Necessary: with one acquire at the start of every interval, at
 *  now = j * I the intervals j - ceil(K / I) .. j are all still live:
 *  the oldest, j - c with c = ceil(K / I), has erase_at =
 *  (j - c + 1) * I + K > j * I because K > (c - 1) * I.  Those are n
 *  intervals live at once, so no smaller ring can hold them, and a larger
 *  one would only hold wiped slots.  (tests/test_srk_pool.c reaches n.)
 *
 * With I >= SRK_INTERVAL_MIN_MS the ring has at most
 * 1 + 10 * 90000 / 100 = 9001 slots.  By the same argument an acquire in
 * interval j leaves only intervals j - n + 1 .. j live, so while the clock
 * runs forwards the live intervals fit in one turn of the ring, and
 * srk_pool_expire, walking the ring from the oldest due interval, erases
 * (and reports) them in interval order.
 *
 * The defence: if acquire ever finds its target slot live with another
 * interval (only a clock running backwards can do it), it refuses with
 * LULL_ERR_STATE rather than overwrite a key some handshake still needs.
 *
 * Replay set: open addressing with linear probing, table a power of two
 * allocated on the first insert and doubled before the load would pass 1/2.
 * The probe start is the first 8 bytes of SHA256(seed || client_e) with a
 * random per-slot seed, so a client choosing its ephemerals cannot aim them
 * all at one probe chain.  A client ephemeral is refused while any live
 * slot's set holds it, not only the current interval's: a replay stays
 * refused for the life of the SRK that answered it (and costs no key
 * generation) - unless memory pressure dropped that set (srk_pool.h).
 *
 * Rotation.  At SRK_REPLAY_SET_MAX_ENTRIES, or when growing the table would
 * pass the budget even after the older intervals' sets are dropped, the
 * slot's SRK is replaced (slot_rotate).  Only the current interval's SRK
 * answers new handshakes, and after a rotation only its newest SRK, whose
 * set starts empty: every (client ephemeral, SRK) pair it serves is new.
 * An attacker who fills sets therefore costs the server one key generation
 * per SRK_REPLAY_SET_MAX_ENTRIES handshakes and at most
 * SRK_REPLAY_BUDGET_BYTES of tables, and refuses nobody.
 *
 * Not thread-safe; on_event must not call back into the pool.
 */
#include "srk_pool.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define REPLAY_INITIAL_CAP 64u

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static void emit(srk_pool *p, lull_event_type type, uint64_t now_ms, uint64_t interval)
{
	if (p->on_event == NULL)
		return;
	lull_event ev = {.type = type, .now_ms = now_ms, .interval = interval};
	p->on_event(p->user, &ev);
}

/* ---- Replay set ------------------------------------------------------- */

static lull_err replay_hash(const srk_slot *s, const uint8_t key[SRK_KEY_BYTES], uint64_t *out)
{
	uint8_t digest[CRYPTO_HASH_MAX_BYTES];
	lull_err err = crypto_hash(CRYPTO_HASH_SHA256, s->seed, sizeof(s->seed), key, SRK_KEY_BYTES,
	                           digest);
	if (err != LULL_OK)
		return err;
	uint64_t h = 0;
	for (int i = 7; i >= 0; i--)
		h = h << 8 | digest[i];
	*out = h;
	return LULL_OK;
}

/*
 * Index of key in keys/used (table of cap entries), or of the empty entry
 * where it belongs.  Terminates because the load never exceeds 1/2.
 */
static lull_err replay_probe(const srk_slot *s, uint8_t (*keys)[SRK_KEY_BYTES], const uint8_t *used,
                             uint32_t cap, const uint8_t key[SRK_KEY_BYTES], uint32_t *idx,
                             bool *found)
{
	uint64_t h;
	lull_err err = replay_hash(s, key, &h);
	if (err != LULL_OK)
		return err;
	uint32_t mask = cap - 1;
	uint32_t i = (uint32_t)(h & mask);
	while (used[i]) {
		if (crypto_equal(keys[i], key, SRK_KEY_BYTES)) {
			*idx = i;
			*found = true;
			return LULL_OK;
		}
		i = (i + 1) & mask;
	}
	*idx = i;
	*found = false;
	return LULL_OK;
}

static lull_err replay_grow(srk_slot *s)
{
	uint32_t new_cap = s->replay_cap ? s->replay_cap * 2 : REPLAY_INITIAL_CAP;
	uint8_t(*new_keys)[SRK_KEY_BYTES] = calloc(new_cap, SRK_KEY_BYTES);
	uint8_t *new_used = calloc(new_cap, 1);
	if (new_keys == NULL || new_used == NULL) {
		free(new_keys);
		free(new_used);
		return LULL_ERR_NOMEM;
	}
	for (uint32_t i = 0; i < s->replay_cap; i++) {
		if (!s->replay_used[i])
			continue;
		uint32_t j;
		bool found;
		lull_err err =
		        replay_probe(s, new_keys, new_used, new_cap, s->replay_keys[i], &j, &found);
		if (err != LULL_OK) {
			free(new_keys);
			free(new_used);
			return err;
		}
		memcpy(new_keys[j], s->replay_keys[i], SRK_KEY_BYTES);
		new_used[j] = 1;
	}
	free(s->replay_keys);
	free(s->replay_used);
	s->replay_keys = new_keys;
	s->replay_used = new_used;
	s->replay_cap = new_cap;
	return LULL_OK;
}

/* Free a slot's replay table (the slot and its SRK stay as they are). */
static void replay_drop(srk_pool *p, srk_slot *s)
{
	p->replay_table_entries -= s->replay_cap;
	free(s->replay_keys);
	free(s->replay_used);
	s->replay_keys = NULL;
	s->replay_used = NULL;
	s->replay_count = 0;
	s->replay_cap = 0;
}

/* Room for s's table to grow to new_cap entries, dropping the sets of the
 * other (older) slots if need be; false when even that is not enough. */
static bool replay_make_room(srk_pool *p, srk_slot *s, uint32_t new_cap)
{
	uint64_t need = p->replay_table_entries - s->replay_cap + new_cap;
	if (need <= p->replay_budget_entries)
		return true;
	for (size_t i = 0; i < p->n_slots; i++)
		if (&p->slots[i] != s && p->slots[i].replay_cap != 0)
			replay_drop(p, &p->slots[i]);
	need = p->replay_table_entries - s->replay_cap + new_cap;
	return need <= p->replay_budget_entries;
}

/* Record key; LULL_ERR_REPLAY if it is already there; LULL_ERR_SRK_POOL_FULL
 * when the set is at its cap or cannot grow within the budget: the caller
 * rotates the SRK.  A repeat is found before fullness is considered. */
static lull_err replay_insert(srk_pool *p, srk_slot *s, const uint8_t key[SRK_KEY_BYTES])
{
	uint32_t idx = 0;
	bool found = false;
	lull_err err;
	if (s->replay_cap != 0) {
		err = replay_probe(s, s->replay_keys, s->replay_used, s->replay_cap, key, &idx,
		                   &found);
		if (err != LULL_OK)
			return err;
		if (found)
			return LULL_ERR_REPLAY;
	}
	if (s->replay_count >= p->replay_set_max)
		return LULL_ERR_SRK_POOL_FULL;
	if ((uint64_t)(s->replay_count + 1) * 2 > s->replay_cap) {
		uint32_t old_cap = s->replay_cap;
		if (!replay_make_room(p, s, old_cap ? old_cap * 2 : REPLAY_INITIAL_CAP))
			return LULL_ERR_SRK_POOL_FULL;
		err = replay_grow(s);
		if (err != LULL_OK)
			return err;
		p->replay_table_entries += s->replay_cap - old_cap;
		err = replay_probe(s, s->replay_keys, s->replay_used, s->replay_cap, key, &idx,
		                   &found);
		if (err != LULL_OK)
			return err;
	}
	memcpy(s->replay_keys[idx], key, SRK_KEY_BYTES);
	s->replay_used[idx] = 1;
	s->replay_count++;
	return LULL_OK;
}

/* Has any live slot but except answered key?  A message 1 replayed into a
 * later interval would otherwise be answered by that interval's SRK while
 * the first SRK still lives: no (ephemeral, SRK) pair repeats, but the
 * server would pay two DH and an HS2 for every replay. */
static lull_err replay_seen_elsewhere(const srk_pool *p, const srk_slot *except,
                                      const uint8_t key[SRK_KEY_BYTES], bool *seen)
{
	*seen = false;
	for (uint32_t i = 0; i < p->n_slots; i++) {
		const srk_slot *s = &p->slots[i];
		if (s == except || !s->live || s->replay_count == 0)
			continue;
		uint32_t idx;
		lull_err err = replay_probe(s, s->replay_keys, s->replay_used, s->replay_cap, key,
		                            &idx, seen);
		if (err != LULL_OK || *seen)
			return err;
	}
	return LULL_OK;
}

/* ---- Slots ------------------------------------------------------------ */

/* Wipe a slot back to all zeros: key pair, seed, replay set; drop the
 * pool's reference on the key handle. */
static void slot_clear(srk_slot *s)
{
	crypto_dh_key_free(s->key);
	crypto_wipe(s->priv, sizeof(s->priv));
	crypto_wipe(s->seed, sizeof(s->seed));
	free(s->replay_keys);
	free(s->replay_used);
	memset(s, 0, sizeof(*s));
}

/* Clear a slot and take its table out of the pool's account. */
static void slot_erase(srk_pool *p, srk_slot *s)
{
	p->replay_table_entries -= s->replay_cap;
	slot_clear(s);
}

static lull_err slot_create(const srk_pool *p, srk_slot *s, uint64_t interval)
{
	lull_err err = crypto_dh_key_generate(CRYPTO_DH_25519, &p->rng, s->priv, s->pub, &s->key);
	if (err == LULL_OK)
		err = crypto_rng_bytes(&p->rng, s->seed, sizeof(s->seed));
	if (err != LULL_OK) {
		slot_clear(s);
		return err;
	}
	s->live = true;
	s->interval = interval;
	return LULL_OK;
}

/*
 * A fresh SRK for the rest of s's interval: the old private key is wiped
 * and the pool's handle dropped now (a handshake it answered holds its own
 * reference until it ends), its set freed.  Counts as a creation.
 */
static lull_err slot_rotate(srk_pool *p, srk_slot *s, uint64_t now_ms)
{
	uint64_t interval = s->interval;
	slot_erase(p, s);
	lull_err err = slot_create(p, s, interval);
	if (err != LULL_OK)
		return err;
	p->created_total++;
	p->rotated_total++;
	emit(p, LULL_EV_SRK_CREATED, now_ms, interval);
	return LULL_OK;
}

/* ---- API -------------------------------------------------------------- */

lull_err srk_pool_init(srk_pool *p, uint32_t interval_ms, uint32_t lifetime_ms, uint32_t keep,
                       lull_event_fn on_event, void *user)
{
	if (p == NULL)
		return LULL_ERR_INVALID_ARG;
	memset(p, 0, sizeof(*p));
	if (interval_ms < SRK_INTERVAL_MIN_MS || interval_ms > LULL_SRK_INTERVAL_MAX_MS ||
	    lifetime_ms == 0 || lifetime_ms > LULL_SRK_LIFETIME_MAX_MS ||
	    keep < LULL_SRK_KEEP_MIN || keep > LULL_SRK_KEEP_MAX)
		return LULL_ERR_CONFIG;

	uint64_t kept_ms = (uint64_t)keep * lifetime_ms;
	size_t n_slots = (size_t)(1 + (kept_ms + interval_ms - 1) / interval_ms);
	/* The ring holds the SRKs' private keys. */
	srk_slot *slots = crypto_secret_alloc(n_slots * sizeof(*slots));
	if (slots == NULL)
		return LULL_ERR_NOMEM;

	p->interval_ms = interval_ms;
	p->lifetime_ms = lifetime_ms;
	p->keep = keep;
	p->n_slots = n_slots;
	p->slots = slots;
	p->on_event = on_event;
	p->user = user;
	p->replay_set_max = SRK_REPLAY_SET_MAX_ENTRIES;
	p->replay_budget_entries = SRK_REPLAY_BUDGET_ENTRIES;
	return LULL_OK;
}

void srk_pool_destroy(srk_pool *p)
{
	if (p == NULL)
		return;
	if (p->slots != NULL) {
		for (size_t i = 0; i < p->n_slots; i++)
			slot_clear(&p->slots[i]);
		crypto_secret_free(p->slots, p->n_slots * sizeof(*p->slots));
	}
	memset(p, 0, sizeof(*p));
}

uint64_t srk_pool_erase_at(const srk_pool *p, uint64_t interval)
{
	uint64_t end = sat_mul(sat_add(interval, 1), p->interval_ms);
	return sat_add(end, (uint64_t)p->keep * p->lifetime_ms);
}

void srk_pool_expire(srk_pool *p, uint64_t now_ms)
{
	if (p == NULL || p->slots == NULL)
		return;

	/* Oldest due interval first, then once round the ring from it: that
	 * is interval order (see the top of the file), and every slot is
	 * visited once whatever the clock did, so nothing due is missed. */
	bool any_due = false;
	uint64_t oldest = 0;
	for (size_t i = 0; i < p->n_slots; i++) {
		const srk_slot *s = &p->slots[i];
		if (s->live && srk_pool_erase_at(p, s->interval) <= now_ms &&
		    (!any_due || s->interval < oldest)) {
			oldest = s->interval;
			any_due = true;
		}
	}
	if (!any_due)
		return;

	size_t start = (size_t)(oldest % p->n_slots);
	for (size_t k = 0; k < p->n_slots; k++) {
		srk_slot *s = &p->slots[(start + k) % p->n_slots];
		if (!s->live || srk_pool_erase_at(p, s->interval) > now_ms)
			continue;
		uint64_t interval = s->interval;
		slot_erase(p, s);
		p->erased_total++;
		emit(p, LULL_EV_SRK_ERASED, now_ms, interval);
	}
}

/*
 * Beyond the header's two refusals: LULL_ERR_STATE for an uninitialised pool
 * or a slot taken by another interval, LULL_ERR_NOMEM when the replay set
 * cannot grow, and crypto.h's codes when key generation or hashing fails.
 * On success *slot is the live slot whose SRK answers client_e.
 */
static lull_err acquire_slot(srk_pool *p, uint64_t now_ms, const uint8_t client_e[SRK_KEY_BYTES],
                             srk_slot **slot, uint64_t *interval)
{
	if (p->slots == NULL)
		return LULL_ERR_STATE;

	srk_pool_expire(p, now_ms);

	uint64_t now_interval = now_ms / p->interval_ms;
	srk_slot *s = &p->slots[now_interval % p->n_slots];
	if (s->live && s->interval != now_interval)
		return LULL_ERR_STATE;
	bool seen = false;
	lull_err err = replay_seen_elsewhere(p, s, client_e, &seen);
	if (err != LULL_OK)
		return err;
	if (seen) {
		p->replays_refused_total++;
		return LULL_ERR_REPLAY;
	}
	if (!s->live) {
		err = slot_create(p, s, now_interval);
		if (err != LULL_OK)
			return err;
		p->created_total++;
		emit(p, LULL_EV_SRK_CREATED, now_ms, now_interval);
	}

	err = replay_insert(p, s, client_e);
	if (err == LULL_ERR_SRK_POOL_FULL) {
		err = slot_rotate(p, s, now_ms);
		if (err == LULL_OK)
			err = replay_insert(p, s, client_e);
	}
	if (err == LULL_ERR_REPLAY)
		p->replays_refused_total++;
	if (err != LULL_OK)
		return err;

	*slot = s;
	if (interval != NULL)
		*interval = now_interval;
	return LULL_OK;
}

/* On every failure priv and pub are left zeroed. */
/* On every failure *key is NULL. */
lull_err srk_pool_acquire_key(srk_pool *p, uint64_t now_ms, const uint8_t client_e[SRK_KEY_BYTES],
                              crypto_dh_key **key, uint64_t *interval)
{
	if (key != NULL)
		*key = NULL;
	if (p == NULL || client_e == NULL || key == NULL)
		return LULL_ERR_INVALID_ARG;
	srk_slot *s = NULL;
	lull_err err = acquire_slot(p, now_ms, client_e, &s, interval);
	if (err != LULL_OK)
		return err;
	*key = crypto_dh_key_ref(s->key);
	return LULL_OK;
}

uint64_t srk_pool_next_deadline(const srk_pool *p)
{
	uint64_t next = UINT64_MAX;
	if (p == NULL || p->slots == NULL)
		return next;
	for (size_t i = 0; i < p->n_slots; i++) {
		const srk_slot *s = &p->slots[i];
		if (s->live) {
			uint64_t at = srk_pool_erase_at(p, s->interval);
			if (at < next)
				next = at;
		}
	}
	return next;
}

size_t srk_pool_live_count(const srk_pool *p)
{
	size_t n = 0;
	if (p == NULL || p->slots == NULL)
		return 0;
	for (size_t i = 0; i < p->n_slots; i++)
		n += p->slots[i].live;
	return n;
}
