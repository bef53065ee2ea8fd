/*
 * test_secure_heap.c - lull's secrets live in locked memory that core dumps
 * leave out, once lull_secure_heap_init has run: the connection objects
 * (traffic keys, own key, PSK), the handshake state, the server context
 * (static key, PSKs) and the SRK ring.  The kernel's own view is checked:
 * the mapping holding them is flagged "dd" (no dump) and "lo" (locked) in
 * /proc/self/smaps.  A full heap falls back to ordinary memory without
 * failing, and leaves room for OpenSSL's X25519 keys (which have no
 * fallback), so handshakes keep working.  A separate program: the secure
 * heap is process-wide.
 */
#include <openssl/crypto.h>

#include "conn_pair.h"
#include "crypto.h"
#include "test.h"

/* The VmFlags of the mapping that holds addr, or "" if none. */
static const char *vm_flags_of(const void *addr, char *out, size_t cap)
{
	out[0] = '\0';
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return out;
	char line[512];
	bool inside = false;
	uintptr_t a = (uintptr_t)addr;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			inside = a >= lo && a < hi;
			continue;
		}
		if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, cap, "%s", line + 8);
			break;
		}
	}
	fclose(f);
	return out;
}

static bool has_flag(const char *flags, const char *flag)
{
	char spaced[8];
	snprintf(spaced, sizeof(spaced), " %s", flag);
	return strstr(flags, spaced) != NULL;
}

int main(void)
{
	/* Before: ordinary memory, and bad sizes refused. */
	static pair p; /* large: not the stack */
	pair_init(&p);
	CHECK(!CRYPTO_secure_allocated(p.client.conn));
	pair_free(&p);
	bool locked = true;
	CHECK_ERR(lull_secure_heap_init(LULL_SECURE_HEAP_MIN_BYTES - 1, &locked),
	          LULL_ERR_INVALID_ARG);
	CHECK(!locked);
	CHECK_ERR(lull_secure_heap_init((size_t)LULL_SECURE_HEAP_MAX_BYTES + 1, NULL),
	          LULL_ERR_INVALID_ARG);

	/* 256 KiB (a size that is not a power of two is rounded up). */
	CHECK_OK(lull_secure_heap_init(200u << 10, &locked));
	CHECK_ERR(lull_secure_heap_init(1u << 20, NULL), LULL_ERR_STATE);
	/* A warm-up handshake first: OpenSSL keeps a little of its own in the
	 * secure heap once its generator has run (its seed material). */
	pair_init(&p);
	pair_connect(&p);
	pair_free(&p);
	size_t base = 0;
	uint64_t fallbacks = 0;
	lull_secure_heap_stats(&base, &fallbacks);
	CHECK(fallbacks == 0);

	pair_init(&p);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	/* Mid-handshake: the Noise state is a secret too. */
	CHECK(p.client.conn->hs != NULL && CRYPTO_secure_allocated(p.client.conn->hs));
	pair_pump(&p);
	CHECK(lull_conn_is_ready(p.client.conn) && lull_conn_is_ready(p.server.conn));
	CHECK(CRYPTO_secure_allocated(p.client.conn));
	CHECK(CRYPTO_secure_allocated(p.server.conn));
	CHECK(CRYPTO_secure_allocated(p.srv));
	CHECK(CRYPTO_secure_allocated(p.srv->pool.slots));
	CHECK(CRYPTO_secure_allocated(p.srv->clients));
	char flags[512];
	vm_flags_of(p.client.conn->tx.key, flags, sizeof(flags));
	CHECK(has_flag(flags, "dd"));
	if (locked)
		CHECK(has_flag(flags, "lo"));
	else
		fprintf(stderr, "  note: mlock refused here; checked 'dd' only\n");
	CHECK(!has_flag(vm_flags_of(&p, flags, sizeof(flags)), "dd")); /* the stack is not */

	/* Fill it: extra server connections until one falls back. */
	enum { EXTRA = 400 };
	pair_side *extra = calloc(EXTRA, sizeof(*extra)); /* ~40 KiB each: not the stack */
	CHECK(extra != NULL);
	if (!extra)
		return test_summary();
	size_t n = 0, in_secure = 0;
	for (; n < EXTRA; n++) {
		CHECK_OK(pair_new_server(&p, &extra[n]));
		in_secure += CRYPTO_secure_allocated(extra[n].conn);
		lull_secure_heap_stats(NULL, &fallbacks);
		if (fallbacks > 0)
			break;
	}
	CHECK(fallbacks == 1 && n < EXTRA && in_secure > 100);
	size_t used = 0;
	lull_secure_heap_stats(&used, NULL);
	CHECK(used <= (256u << 10) / 4 * 3 + 1024); /* lull's share, and not past it */
	/* Keys still generate (OpenSSL's share), and a handshake still runs:
	 * a rekey, whose state now falls back to ordinary memory. */
	lull_keypair kp;
	CHECK_OK(lull_keypair_generate(&kp));
	lull_wipe(&kp, sizeof(kp));
	CHECK_OK(lull_conn_rekey(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(lull_conn_epoch(p.client.conn) == 2 && lull_conn_epoch(p.server.conn) == 2);
	CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"still", 5));
	pair_pump(&p);
	CHECK(p.server.n_messages == 1);

	for (size_t i = 0; i <= n && i < EXTRA; i++)
		lull_conn_free(extra[i].conn);
	free(extra);
	pair_free(&p);
	lull_secure_heap_stats(&used, NULL);
	CHECK(used == base);
	if (used != base)
		fprintf(stderr, "  secure heap: %zu bytes in use at the start, %zu at the end\n",
		        base, used);
	return test_summary();
}
