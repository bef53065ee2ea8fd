/*
 * source_budget.h - the per-source handshake budget of a server worker
 * (design brief §7; learnt from OpenSSH's PerSourcePenalties and
 * MaxStartups, and WireGuard's cookies under load).
 *
 * A message 1 needs no key, yet costs the server two X25519 and a message 2.
 * A source address that keeps opening handshakes and never finishing them
 * is an attacker (or broken), and when the worker is under handshake load
 * its new connections are refused at accept, before a byte is read, so
 * honest clients from other addresses still get the CPU.
 *
 * Rules:
 *  - Load: connection attempts this worker saw in the last second (refused
 *    ones included, so throttling does not switch itself off) reach
 *    load_per_s.  0 = always under load.
 *  - Penalty: each connection from a source that ends before its first
 *    handshake completes adds penalty_ms to that source's penalty (running
 *    down in real time), capped at penalty_max_ms.  A completed handshake
 *    clears it: the source holds an authorized key.
 *  - Under load a source whose penalty is at least block_ms is refused.
 *    Without load nobody is refused: a lone client whose key is wrong is
 *    told why, by the handshake, every time.
 *  - Sources are IPv4 addresses and IPv6 /64 prefixes (one host's worth of
 *    v6 addresses), in a fixed table of SOURCE_BUDGET_SLOTS entries hashed
 *    with a per-worker random key; when a probe window is full the entry
 *    with the least penalty is replaced, so memory is fixed and an attacker
 *    spreading over many addresses can at worst evict small penalties.
 *  - Pure logic: time comes in as now_ms, no sockets, one per worker (no
 *    locking).
 */
#ifndef LULL_IO_SOURCE_BUDGET_H
#define LULL_IO_SOURCE_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SOURCE_BUDGET_SLOTS      4096u /* per worker: 4096 x 32 B = 128 KiB */
#define SOURCE_BUDGET_PROBE      8u
#define SOURCE_BUDGET_WINDOW_MS  1000u /* the load is measured over this */
#define SOURCE_BUDGET_KEY_BYTES  16u   /* an IPv6 address; IPv4 is mapped */
#define SOURCE_BUDGET_IPV6_BYTES 8u    /* a v6 source is its /64 */

typedef struct source_budget_params {
	uint32_t load_per_s;     /* attempts/s per worker that count as load; 0: always */
	uint32_t penalty_ms;     /* per unfinished handshake; 0: the budget is off */
	uint32_t penalty_max_ms; /* a source's penalty never exceeds this */
	uint32_t block_ms;       /* under load, refuse sources with at least this (>= 1) */
} source_budget_params;

typedef struct source_key {
	uint8_t b[SOURCE_BUDGET_KEY_BYTES];
} source_key;

typedef struct source_entry {
	source_key key;
	uint64_t penalty_until_ms; /* penalty left = penalty_until_ms - now */
	bool used;
} source_entry;

typedef struct source_budget {
	source_budget_params p;
	uint64_t hash_key[2];
	source_entry *slots; /* SOURCE_BUDGET_SLOTS */
	/* Attempts in the current and the previous window. */
	uint64_t window_start_ms;
	uint32_t attempts_now, attempts_prev;
	/* Counters for logs and tests. */
	uint64_t refused_total;
	uint64_t penalized_total;
} source_budget;

/* The source of a peer address (AF_INET or AF_INET6); false for others. */
bool source_key_from_sockaddr(const struct sockaddr *sa, source_key *out);

/* 0, or -1 with no memory / no randomness (errno-free: the caller logs). */
int source_budget_init(source_budget *b, const source_budget_params *p);
void source_budget_free(source_budget *b);

/* A connection from src arrives: true to accept it, false to refuse it. */
bool source_budget_admit(source_budget *b, const source_key *src, uint64_t now_ms);
/* src's connection completed its first handshake. */
void source_budget_completed(source_budget *b, const source_key *src);
/* src's connection ended before its first handshake completed. */
void source_budget_unfinished(source_budget *b, const source_key *src, uint64_t now_ms);

/* The penalty src has left at now_ms (0 when unknown). */
uint64_t source_budget_penalty_ms(const source_budget *b, const source_key *src, uint64_t now_ms);
/* Whether the worker counts as under load at now_ms. */
bool source_budget_under_load(source_budget *b, uint64_t now_ms);

#endif /* LULL_IO_SOURCE_BUDGET_H */
