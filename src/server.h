/*
 * server.h - what a server's connections share: its configuration, static
 * key, authorized clients and SRK pool.  One per event loop; not thread-safe.
 */
#ifndef LULL_SERVER_H
#define LULL_SERVER_H

#include "crypto.h"
#include "lull.h"
#include "srk_pool.h"

typedef struct authorized_client {
	uint8_t pub[LULL_KEY_BYTES];
	uint8_t psk[LULL_KEY_BYTES];
	char name[LULL_PEER_NAME_MAX];
} authorized_client;

struct lull_server {
	lull_config cfg;
	lull_keypair key;
	/* key as a handle, built once: every handshake's es uses it.  One
	 * reference, dropped by lull_server_free; a handshake holds its own. */
	crypto_dh_key *static_key;
	srk_pool pool;
	crypto_rng rng; /* lull_server_set_random; the pool holds a copy */
	/* srk_pool_next_deadline(&pool) as of the last call that could change
	 * it (an acquire or an expire), so that asking is free. */
	uint64_t srk_deadline_ms;
	lull_event_fn on_event;
	void *user;
	authorized_client *clients; /* sorted by pub for bsearch */
	size_t n_clients;
	size_t cap_clients;
};

/* The authorized entry for a client static key, or NULL. */
const authorized_client *server_find_client(const lull_server *srv,
                                            const uint8_t pub[LULL_KEY_BYTES]);

/*
 * The ephemeral key pair to answer a message 1 carrying client_e with: the
 * interval's SRK, or with srk_pool_disabled a fresh key pair, as a handle:
 * one reference for the caller to free, the private key never copied out.
 * LULL_ERR_REPLAY / LULL_ERR_SRK_POOL_FULL from the pool; *key is NULL on
 * every failure.
 */
lull_err server_answer_key(lull_server *srv, uint64_t now_ms,
                           const uint8_t client_e[LULL_KEY_BYTES], crypto_dh_key **key);

#endif /* LULL_SERVER_H */
