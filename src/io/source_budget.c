/*
 * source_budget.c - per-source handshake penalties (see source_budget.h).
 *
 * The table is open addressing over SOURCE_BUDGET_SLOTS entries with a
 * probe window of SOURCE_BUDGET_PROBE; nothing is ever allocated after
 * init, whatever the sources do.  The hash is a keyed mix of the address
 * (a random 128-bit key per worker), so a remote party cannot aim its
 * addresses at one window without knowing the key.
 */
#include "source_budget.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lull.h"

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static size_t slot_of(const source_budget *b, const source_key *k)
{
	uint64_t lo = 0, hi = 0;
	memcpy(&lo, k->b, 8);
	memcpy(&hi, k->b + 8, 8);
	uint64_t h = mix64(lo ^ b->hash_key[0]);
	h = mix64(h ^ hi ^ b->hash_key[1]);
	return (size_t)(h % SOURCE_BUDGET_SLOTS);
}

bool source_key_from_sockaddr(const struct sockaddr *sa, source_key *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		/* ::ffff:a.b.c.d, so v4 and v4-mapped v6 are one source. */
		out->b[10] = 0xff;
		out->b[11] = 0xff;
		memcpy(out->b + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, sizeof(mapped)) == 0)
			memcpy(out->b, a, 16);
		else
			memcpy(out->b, a, SOURCE_BUDGET_IPV6_BYTES);
		return true;
	}
	return false;
}

int source_budget_init(source_budget *b, const source_budget_params *p)
{
	memset(b, 0, sizeof(*b));
	b->p = *p;
	if (b->p.penalty_max_ms < b->p.penalty_ms)
		b->p.penalty_max_ms = b->p.penalty_ms;
	lull_keypair kp; /* 32 bytes of CSPRNG output, via the library's API */
	if (lull_keypair_generate(&kp) != LULL_OK)
		return -1;
	memcpy(b->hash_key, kp.priv, sizeof(b->hash_key));
	lull_wipe(&kp, sizeof(kp));
	b->slots = calloc(SOURCE_BUDGET_SLOTS, sizeof(*b->slots));
	return b->slots ? 0 : -1;
}

void source_budget_free(source_budget *b)
{
	free(b->slots);
	memset(b, 0, sizeof(*b));
}

/* The entry of src, or NULL. */
static source_entry *find(const source_budget *b, const source_key *src)
{
	size_t i = slot_of(b, src);
	for (unsigned k = 0; k < SOURCE_BUDGET_PROBE; k++) {
		source_entry *e = &b->slots[(i + k) % SOURCE_BUDGET_SLOTS];
		if (e->used && memcmp(e->key.b, src->b, sizeof(src->b)) == 0)
			return e;
	}
	return NULL;
}

/* The entry of src, made if need be in a free or expired entry of its
 * window, else in place of the one with the least penalty left. */
static source_entry *find_or_make(source_budget *b, const source_key *src, uint64_t now_ms)
{
	source_entry *e = find(b, src);
	if (e)
		return e;
	size_t i = slot_of(b, src);
	source_entry *victim = NULL;
	for (unsigned k = 0; k < SOURCE_BUDGET_PROBE; k++) {
		source_entry *c = &b->slots[(i + k) % SOURCE_BUDGET_SLOTS];
		if (!c->used || c->penalty_until_ms <= now_ms) {
			victim = c;
			break;
		}
		if (!victim || c->penalty_until_ms < victim->penalty_until_ms)
			victim = c;
	}
	victim->used = true;
	victim->key = *src;
	victim->penalty_until_ms = now_ms;
	return victim;
}

/* Count one attempt in the sliding pair of windows. */
static void count_attempt(source_budget *b, uint64_t now_ms)
{
	uint64_t elapsed = now_ms - b->window_start_ms;
	if (now_ms < b->window_start_ms || elapsed >= 2 * SOURCE_BUDGET_WINDOW_MS) {
		b->attempts_prev = 0;
		b->attempts_now = 0;
		b->window_start_ms = now_ms;
	} else if (elapsed >= SOURCE_BUDGET_WINDOW_MS) {
		b->attempts_prev = b->attempts_now;
		b->attempts_now = 0;
		b->window_start_ms += SOURCE_BUDGET_WINDOW_MS;
	}
	b->attempts_now++;
}

bool source_budget_under_load(source_budget *b, uint64_t now_ms)
{
	if (b->p.load_per_s == 0)
		return true;
	/* The previous window weighted by how much of it the last second
	 * still covers: a smooth rate without a per-attempt history. */
	uint64_t into = now_ms >= b->window_start_ms ? now_ms - b->window_start_ms : 0;
	if (into >= 2 * SOURCE_BUDGET_WINDOW_MS)
		return false;
	uint64_t prev = into >= SOURCE_BUDGET_WINDOW_MS ? b->attempts_now : b->attempts_prev;
	uint64_t cur = into >= SOURCE_BUDGET_WINDOW_MS ? 0 : b->attempts_now;
	into %= SOURCE_BUDGET_WINDOW_MS;
	uint64_t rate = cur + prev * (SOURCE_BUDGET_WINDOW_MS - into) / SOURCE_BUDGET_WINDOW_MS;
	return rate >= b->p.load_per_s;
}

uint64_t source_budget_penalty_ms(const source_budget *b, const source_key *src, uint64_t now_ms)
{
	const source_entry *e = find(b, src);
	return e && e->penalty_until_ms > now_ms ? e->penalty_until_ms - now_ms : 0;
}

bool source_budget_admit(source_budget *b, const source_key *src, uint64_t now_ms)
{
	count_attempt(b, now_ms);
	if (b->p.penalty_ms == 0 || source_budget_penalty_ms(b, src, now_ms) < b->p.block_ms ||
	    !source_budget_under_load(b, now_ms))
		return true;
	b->refused_total++;
	return false;
}

void source_budget_completed(source_budget *b, const source_key *src)
{
	source_entry *e = find(b, src);
	if (e)
		e->penalty_until_ms = 0;
}

void source_budget_unfinished(source_budget *b, const source_key *src, uint64_t now_ms)
{
	if (b->p.penalty_ms == 0)
		return;
	source_entry *e = find_or_make(b, src, now_ms);
	uint64_t base = e->penalty_until_ms > now_ms ? e->penalty_until_ms : now_ms;
	uint64_t until = base + b->p.penalty_ms;
	if (until > now_ms + b->p.penalty_max_ms)
		until = now_ms + b->p.penalty_max_ms;
	e->penalty_until_ms = until;
	b->penalized_total++;
}
