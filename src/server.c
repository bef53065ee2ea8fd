/*
 * server.c - the server context: authorized clients and the SRK pool.
 *
 * Invariants:
 *  - The client table is sorted by public key; lookups are by public key
 *    only (public data, so an ordinary compare is fine).  PSKs never leave
 *    this table except into a handshake, and are wiped when replaced,
 *    cleared or freed.
 *  - Removing a client does not touch live sessions; the removal takes
 *    effect at that client's next handshake (every rekey re-authenticates).
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

lull_err lull_server_new(lull_server **out, const lull_config *cfg, const lull_keypair *key,
                         lull_event_fn on_event, void *user)
{
	if (!out || !cfg || !key)
		return LULL_ERR_INVALID_ARG;
	*out = NULL;
	lull_err err = lull_config_validate(cfg, NULL);
	if (err != LULL_OK)
		return err;
	lull_server *srv = crypto_secret_alloc(sizeof(*srv)); /* holds the static key */
	if (!srv)
		return LULL_ERR_NOMEM;
	srv->cfg = *cfg;
	srv->key = *key;
	srv->on_event = on_event;
	srv->user = user;
	srv->srk_deadline_ms = UINT64_MAX;
	err = crypto_dh_key_new(CRYPTO_DH_25519, key->priv, key->pub, &srv->static_key);
	if (err == LULL_OK)
		err = srk_pool_init(&srv->pool, cfg->srk_interval_ms, cfg->srk_lifetime_ms,
		                    cfg->srk_keep, on_event, user);
	if (err == LULL_OK)
		srv->pool.replay_set_max = cfg->srk_replay_max;
	if (err != LULL_OK) {
		lull_server_free(srv);
		return err;
	}
	*out = srv;
	return LULL_OK;
}

void lull_server_clear_authorized(lull_server *srv)
{
	if (!srv)
		return;
	crypto_wipe(srv->clients, srv->cap_clients * sizeof(*srv->clients));
	srv->n_clients = 0;
}

void lull_server_free(lull_server *srv)
{
	if (!srv)
		return;
	lull_server_clear_authorized(srv);
	crypto_secret_free(srv->clients, srv->cap_clients * sizeof(*srv->clients));
	srk_pool_destroy(&srv->pool);
	crypto_dh_key_free(srv->static_key);
	crypto_secret_free(srv, sizeof(*srv));
}

static int client_cmp(const void *key, const void *entry)
{
	return memcmp(key, ((const authorized_client *)entry)->pub, LULL_KEY_BYTES);
}

const authorized_client *server_find_client(const lull_server *srv,
                                            const uint8_t pub[LULL_KEY_BYTES])
{
	if (srv->n_clients == 0)
		return NULL;
	return bsearch(pub, srv->clients, srv->n_clients, sizeof(*srv->clients), client_cmp);
}

lull_err lull_server_authorize(lull_server *srv, const uint8_t pub[LULL_KEY_BYTES],
                               const char *name, const uint8_t *psk)
{
	if (!srv || !pub || !name)
		return LULL_ERR_INVALID_ARG;
	size_t name_len = strlen(name);
	if (name_len == 0 || name_len >= LULL_PEER_NAME_MAX)
		return LULL_ERR_INVALID_ARG;

	/* Insertion point keeps the table sorted. */
	size_t lo = 0, hi = srv->n_clients;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(srv->clients[mid].pub, pub, LULL_KEY_BYTES) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	authorized_client *slot = NULL;
	if (lo < srv->n_clients && memcmp(srv->clients[lo].pub, pub, LULL_KEY_BYTES) == 0) {
		slot = &srv->clients[lo];
	} else {
		if (srv->n_clients == srv->cap_clients) {
			size_t cap = srv->cap_clients ? 2 * srv->cap_clients : 16;
			if (cap > SIZE_MAX / sizeof(authorized_client))
				return LULL_ERR_NOMEM;
			authorized_client *grown = crypto_secret_alloc(cap * sizeof(*grown));
			if (!grown)
				return LULL_ERR_NOMEM;
			/* Copy and wipe rather than realloc: the old block holds PSKs. */
			if (srv->n_clients)
				memcpy(grown, srv->clients, srv->n_clients * sizeof(*grown));
			crypto_secret_free(srv->clients, srv->cap_clients * sizeof(*srv->clients));
			srv->clients = grown;
			srv->cap_clients = cap;
		}
		memmove(&srv->clients[lo + 1], &srv->clients[lo],
		        (srv->n_clients - lo) * sizeof(*srv->clients));
		srv->n_clients++;
		slot = &srv->clients[lo];
	}
	memset(slot, 0, sizeof(*slot));
	memcpy(slot->pub, pub, LULL_KEY_BYTES);
	if (psk)
		memcpy(slot->psk, psk, LULL_KEY_BYTES);
	memcpy(slot->name, name, name_len + 1);
	return LULL_OK;
}

lull_err server_answer_key(lull_server *srv, uint64_t now_ms,
                           const uint8_t client_e[LULL_KEY_BYTES], crypto_dh_key **key)
{
	uint8_t pub[LULL_KEY_BYTES]; /* the handle has it too */
	if (srv->cfg.srk_pool_disabled)
		return crypto_dh_key_generate(CRYPTO_DH_25519, &srv->rng, NULL, pub, key);
	/* An acquire may create an SRK, and erases what is due on the way. */
	lull_err err = srk_pool_acquire_key(&srv->pool, now_ms, client_e, key, NULL);
	srv->srk_deadline_ms = srk_pool_next_deadline(&srv->pool);
	return err;
}

void lull_server_set_random(lull_server *srv, lull_random_fn fn, void *ctx)
{
	if (!srv)
		return;
	srv->rng = (crypto_rng){fn, ctx};
	srv->pool.rng = srv->rng;
}

uint64_t lull_server_tick(lull_server *srv, uint64_t now_ms)
{
	srk_pool_expire(&srv->pool, now_ms);
	srv->srk_deadline_ms = srk_pool_next_deadline(&srv->pool);
	return srv->srk_deadline_ms;
}

uint64_t lull_server_next_deadline(const lull_server *srv)
{
	return srv ? srv->srk_deadline_ms : UINT64_MAX;
}
