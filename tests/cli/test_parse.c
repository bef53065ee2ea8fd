/*
 * test_parse.c - durations, sizes, counts and HOST:PORT are parsed
 * strictly: every unit, every overflow, every kind of junk.
 */
#include "support/parse.h"
#include "cli_test.h"

static void test_durations(void)
{
	uint64_t v = 0;
	CHECK(parse_duration_ms("250ms", UINT64_MAX, &v) == NULL && v == 250);
	CHECK(parse_duration_ms("60s", UINT64_MAX, &v) == NULL && v == 60000);
	CHECK(parse_duration_ms("5m", UINT64_MAX, &v) == NULL && v == 300000);
	CHECK(parse_duration_ms("1h", UINT64_MAX, &v) == NULL && v == 3600000);
	CHECK(parse_duration_ms("0s", UINT64_MAX, &v) == NULL && v == 0);
	CHECK_CONTAINS(parse_duration_ms("60", UINT64_MAX, &v), "missing unit");
	CHECK_CONTAINS(parse_duration_ms("5x", UINT64_MAX, &v), "unknown unit");
	CHECK_CONTAINS(parse_duration_ms("5 s", UINT64_MAX, &v), "unknown unit");
	CHECK_CONTAINS(parse_duration_ms("5sec", UINT64_MAX, &v), "unknown unit");
	CHECK_CONTAINS(parse_duration_ms("1.5s", UINT64_MAX, &v), "unknown unit");
	CHECK_CONTAINS(parse_duration_ms("-1s", UINT64_MAX, &v), "negative");
	CHECK_CONTAINS(parse_duration_ms("", UINT64_MAX, &v), "not a number");
	CHECK_CONTAINS(parse_duration_ms("s", UINT64_MAX, &v), "not a number");
	CHECK_CONTAINS(parse_duration_ms(" 5s", UINT64_MAX, &v), "not a number");
	/* uint32 field: 4294967295 ms is the most it can hold. */
	CHECK(parse_duration_ms("4294967295ms", UINT32_MAX, &v) == NULL && v == UINT32_MAX);
	CHECK_CONTAINS(parse_duration_ms("4294968s", UINT32_MAX, &v), "too large");
	CHECK_CONTAINS(parse_duration_ms("18446744073709551616ms", UINT64_MAX, &v), "too large");
	CHECK_CONTAINS(parse_duration_ms("5124095576030432h", UINT64_MAX, &v), "too large");
}

static void test_sizes(void)
{
	uint64_t v = 0;
	CHECK(parse_size("65536", UINT64_MAX, &v) == NULL && v == 65536);
	CHECK(parse_size("8K", UINT64_MAX, &v) == NULL && v == 8192);
	CHECK(parse_size("8k", UINT64_MAX, &v) == NULL && v == 8192);
	CHECK(parse_size("8M", UINT64_MAX, &v) == NULL && v == 8u << 20);
	CHECK(parse_size("1G", UINT64_MAX, &v) == NULL && v == 1u << 30);
	CHECK(parse_size("0", UINT64_MAX, &v) == NULL && v == 0);
	CHECK_CONTAINS(parse_size("1T", UINT64_MAX, &v), "unknown unit");
	CHECK_CONTAINS(parse_size("1MB", UINT64_MAX, &v), "unknown unit");
	CHECK_CONTAINS(parse_size("1.5M", UINT64_MAX, &v), "unknown unit");
	CHECK_CONTAINS(parse_size("-1", UINT64_MAX, &v), "negative");
	CHECK_CONTAINS(parse_size("+1", UINT64_MAX, &v), "not a number");
	CHECK_CONTAINS(parse_size("4G", UINT32_MAX, &v), "too large");
	CHECK(parse_size("4095M", UINT32_MAX, &v) == NULL);
	CHECK_CONTAINS(parse_size("17179869184G", UINT64_MAX, &v), "too large");
	CHECK_CONTAINS(parse_size("99999999999999999999", UINT64_MAX, &v), "too large");
}

static void test_counts(void)
{
	uint64_t v = 0;
	CHECK(parse_count("0", 10, &v) == NULL && v == 0);
	CHECK(parse_count("10", 10, &v) == NULL && v == 10);
	CHECK_CONTAINS(parse_count("11", 10, &v), "too large");
	CHECK_CONTAINS(parse_count("1x", 10, &v), "not a number");
	CHECK_CONTAINS(parse_count("-1", 10, &v), "negative");
}

/* The formatters give back text the parsers read as the same value. */
static void test_format(void)
{
	char buf[32];
	CHECK(strcmp(format_duration_ms(90000, buf, sizeof(buf)), "90s") == 0);
	CHECK(strcmp(format_duration_ms(1500, buf, sizeof(buf)), "1500ms") == 0);
	CHECK(strcmp(format_duration_ms(3600000, buf, sizeof(buf)), "1h") == 0);
	CHECK(strcmp(format_duration_ms(0, buf, sizeof(buf)), "0ms") == 0);
	CHECK(strcmp(format_size(16u << 20, buf, sizeof(buf)), "16M") == 0);
	CHECK(strcmp(format_size(1000, buf, sizeof(buf)), "1000") == 0);
	CHECK(strcmp(format_size(0, buf, sizeof(buf)), "0") == 0);
	uint64_t v = 0;
	uint64_t samples[] = {1, 999, 1000, 61000, 7200000, 1ull << 40};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		CHECK(parse_duration_ms(format_duration_ms(samples[i], buf, sizeof(buf)),
		                        UINT64_MAX, &v) == NULL &&
		      v == samples[i]);
		CHECK(parse_size(format_size(samples[i], buf, sizeof(buf)), UINT64_MAX, &v) ==
		              NULL &&
		      v == samples[i]);
	}
}

static void test_host_port(void)
{
	char host[64];
	uint16_t port = 0;
	CHECK(parse_host_port("127.0.0.1:7000", host, sizeof(host), &port, 0) == NULL &&
	      strcmp(host, "127.0.0.1") == 0 && port == 7000);
	CHECK(parse_host_port("example.org:1", host, sizeof(host), &port, 0) == NULL &&
	      strcmp(host, "example.org") == 0 && port == 1);
	CHECK(parse_host_port("[::1]:65535", host, sizeof(host), &port, 0) == NULL &&
	      strcmp(host, "::1") == 0 && port == 65535);
	CHECK(parse_host_port("127.0.0.1:0", host, sizeof(host), &port, 1) == NULL && port == 0);
	CHECK_CONTAINS(parse_host_port("127.0.0.1:0", host, sizeof(host), &port, 0), "port 0");
	CHECK_CONTAINS(parse_host_port("127.0.0.1:65536", host, sizeof(host), &port, 0),
	               "out of range");
	CHECK_CONTAINS(parse_host_port("127.0.0.1:", host, sizeof(host), &port, 0), "bad port");
	CHECK_CONTAINS(parse_host_port("127.0.0.1:80x", host, sizeof(host), &port, 0), "bad port");
	CHECK_CONTAINS(parse_host_port("127.0.0.1", host, sizeof(host), &port, 0), "HOST:PORT");
	CHECK_CONTAINS(parse_host_port(":80", host, sizeof(host), &port, 0), "missing host");
	CHECK_CONTAINS(parse_host_port("::1:80", host, sizeof(host), &port, 0), "[ADDR]:PORT");
	CHECK_CONTAINS(parse_host_port("[::1]80", host, sizeof(host), &port, 0), "[IPV6]:PORT");
	char tiny[4];
	CHECK_CONTAINS(parse_host_port("localhost:80", tiny, sizeof(tiny), &port, 0), "too long");
}

int main(void)
{
	cli_test_mkdir();
	test_durations();
	test_sizes();
	test_counts();
	test_format();
	test_host_port();
	return cli_test_finish();
}
