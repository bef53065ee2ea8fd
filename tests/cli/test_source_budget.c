/*
 * test_source_budget.c - the per-source handshake budget on a virtual
 * clock: penalties accrue per unfinished handshake, run down in real time,
 * are capped and cleared by a completed handshake; sources are refused
 * only under load and only with enough penalty; other sources, and v6
 * hosts in other /64s, are unaffected; the table never grows.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cli_test.h"
#include "io/source_budget.h"

static source_key v4(const char *text)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	CHECK(inet_pton(AF_INET, text, &in.sin_addr) == 1);
	source_key k;
	CHECK(source_key_from_sockaddr((const struct sockaddr *)&in, &k));
	return k;
}

static source_key v6(const char *text)
{
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	CHECK(inet_pton(AF_INET6, text, &in6.sin6_addr) == 1);
	source_key k;
	CHECK(source_key_from_sockaddr((const struct sockaddr *)&in6, &k));
	return k;
}

static const source_budget_params defaults = {
        .load_per_s = 100, .penalty_ms = 2000, .penalty_max_ms = 60000, .block_ms = 6000};

/* n connection attempts from src at now, all admitted or not: how many were. */
static unsigned admit_n(source_budget *b, const source_key *src, uint64_t now, unsigned n)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++)
		ok += source_budget_admit(b, src, now);
	return ok;
}

static void test_penalties(void)
{
	source_budget b;
	CHECK(source_budget_init(&b, &defaults) == 0);
	source_key flood = v4("127.0.0.2"), honest = v4("127.0.0.10");
	uint64_t now = 1000000;

	/* No load: even a heavily penalized source gets in. */
	for (int i = 0; i < 10; i++)
		source_budget_unfinished(&b, &flood, now);
	CHECK(source_budget_penalty_ms(&b, &flood, now) == 20000);
	CHECK(!source_budget_under_load(&b, now));
	CHECK(source_budget_admit(&b, &flood, now));

	/* Load: 200 attempts within a second. */
	CHECK(admit_n(&b, &honest, now, 200) == 200);
	CHECK(source_budget_under_load(&b, now));
	CHECK(!source_budget_admit(&b, &flood, now));
	CHECK(b.refused_total == 1);
	/* The honest source has no penalty and is admitted. */
	CHECK(source_budget_admit(&b, &honest, now));

	/* The penalty runs down: 14 s later 6 s are left, still blocked;
	 * a millisecond past that, admitted (load kept up). */
	now += 14000;
	CHECK(admit_n(&b, &honest, now, 200) == 200);
	CHECK(source_budget_penalty_ms(&b, &flood, now) == 6000);
	CHECK(!source_budget_admit(&b, &flood, now));
	now += 1;
	CHECK(admit_n(&b, &honest, now, 200) == 200);
	CHECK(source_budget_admit(&b, &flood, now));

	/* Capped at penalty_max. */
	for (int i = 0; i < 1000; i++)
		source_budget_unfinished(&b, &flood, now);
	CHECK(source_budget_penalty_ms(&b, &flood, now) == 60000);

	/* Two unfinished handshakes (4 s) are not enough to be refused: a
	 * client whose connection dropped once is not shut out. */
	source_key once = v4("127.0.0.3");
	source_budget_unfinished(&b, &once, now);
	source_budget_unfinished(&b, &once, now);
	CHECK(source_budget_admit(&b, &once, now));
	source_budget_unfinished(&b, &once, now);
	CHECK(!source_budget_admit(&b, &once, now));
	/* A completed handshake clears it. */
	source_budget_completed(&b, &once);
	CHECK(source_budget_penalty_ms(&b, &once, now) == 0);
	CHECK(source_budget_admit(&b, &once, now));

	/* Load is measured, and ends: two quiet seconds later nobody is
	 * refused however penalized. */
	now += 2 * SOURCE_BUDGET_WINDOW_MS;
	CHECK(!source_budget_under_load(&b, now));
	CHECK(source_budget_admit(&b, &flood, now));
	source_budget_free(&b);
}

static void test_sources(void)
{
	source_budget b;
	source_budget_params p = defaults;
	p.load_per_s = 0; /* always under load */
	CHECK(source_budget_init(&b, &p) == 0);
	uint64_t now = 5000;

	/* A v6 host's addresses within one /64 are one source; another /64
	 * is another; v4 and v4-mapped v6 are the same source. */
	source_key a1 = v6("2001:db8:1:2::1"), a2 = v6("2001:db8:1:2:ffff::9");
	source_key other = v6("2001:db8:1:3::1");
	for (int i = 0; i < 3; i++)
		source_budget_unfinished(&b, &a1, now);
	CHECK(!source_budget_admit(&b, &a2, now));
	CHECK(source_budget_admit(&b, &other, now));
	source_key m4 = v4("192.0.2.7"), m6 = v6("::ffff:192.0.2.7");
	CHECK(memcmp(&m4, &m6, sizeof(m4)) == 0);
	source_key n6 = v6("::ffff:192.0.2.8");
	CHECK(memcmp(&m4, &n6, sizeof(m4)) != 0);

	/* penalty_ms = 0 turns the budget off. */
	source_budget off;
	p.penalty_ms = 0;
	CHECK(source_budget_init(&off, &p) == 0);
	for (int i = 0; i < 100; i++)
		source_budget_unfinished(&off, &a1, now);
	CHECK(source_budget_admit(&off, &a1, now));
	source_budget_free(&off);

	/* Many more sources than slots: the table stays as it is, and the
	 * newest heavy penalties are kept over light ones. */
	source_entry *slots = b.slots;
	for (uint32_t i = 0; i < 4 * SOURCE_BUDGET_SLOTS; i++) {
		struct sockaddr_in in = {.sin_family = AF_INET,
		                         .sin_addr.s_addr = htonl(0x0a000000 + i)};
		source_key k;
		CHECK(source_key_from_sockaddr((const struct sockaddr *)&in, &k));
		source_budget_unfinished(&b, &k, now);
	}
	CHECK(b.slots == slots);
	for (int i = 0; i < 5; i++)
		source_budget_unfinished(&b, &a1, now);
	CHECK(!source_budget_admit(&b, &a1, now));
	struct sockaddr_un_like {
		sa_family_t family;
	} unix_sa = {AF_UNIX};
	source_key junk;
	CHECK(!source_key_from_sockaddr((const struct sockaddr *)&unix_sa, &junk));
	source_budget_free(&b);
}

int main(void)
{
	test_penalties();
	test_sources();
	return test_summary();
}
