/*
 * test_proxy_proto.c - the PROXY header parser and encoder (proxy_proto.c).
 *
 * Headers here are written out in hex from the specification's layout
 * (HAProxy's doc/proxy-protocol.txt), not produced by the encoder, so a
 * parser and an encoder that agree on a mistake still fail.  Every valid
 * header is also fed cut at every byte boundary and byte by byte, with the
 * connection's first bytes behind it, which the parser must leave alone.
 */
#include "proxy_proto.h"
#include "test.h"

#define SIG "0d0a0d0a000d0a515549540a"
/* 192.168.0.1:56324 -> 192.168.0.11:443, the spec's v1 example, as v2. */
#define V2_INET_ADDR "c0a80001c0a8000bdc0401bb"
#define TRAILER      "SSH-2.0-"

#define CHECK_PROXY(expr, want)                                                                    \
	do {                                                                                       \
		proxy_err got_ = (expr);                                                           \
		if (got_ == (want)) {                                                              \
			test_passed_count++;                                                       \
		} else {                                                                           \
			test_failed_count++;                                                       \
			fprintf(stderr, "%s:%d: %s returned %s, want %s\n", __FILE__, __LINE__,    \
			        #expr, proxy_err_name(got_), proxy_err_name(want));                \
		}                                                                                  \
	} while (0)

typedef struct fed {
	proxy_err r;
	size_t consumed; /* summed over the calls */
	proxy_parser p;
} fed;

/* Feed bytes in chunks of chunk (0: all at once) until a result other than
 * NEED_MORE or the end; a chunk after a result is not fed. */
static void feed(fed *f, const uint8_t *bytes, size_t len, size_t chunk)
{
	proxy_parser_init(&f->p);
	f->consumed = 0;
	f->r = PROXY_NEED_MORE;
	size_t off = 0;
	do {
		size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;
		size_t c = SIZE_MAX;
		f->r = proxy_parser_feed(&f->p, bytes + off, n, &c);
		CHECK(c <= n);
		f->consumed += c;
		off += n;
	} while (f->r == PROXY_NEED_MORE && off < len);
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	return test_unhex(hex, out, cap);
}

/* Whole, in two pieces cut at every boundary, and byte by byte: the same
 * header, and nothing of what follows it taken. */
static void check_every_split(const uint8_t *hdr, size_t hlen, proxy_err want)
{
	uint8_t buf[PROXY_HEADER_MAX_BYTES + 16];
	memcpy(buf, hdr, hlen);
	memcpy(buf + hlen, TRAILER, strlen(TRAILER));
	size_t len = hlen + strlen(TRAILER);
	fed whole, f;
	feed(&whole, buf, len, 0);
	CHECK_PROXY(whole.r, want);
	if (want == PROXY_OK)
		CHECK(whole.consumed == hlen);
	for (size_t cut = 1; cut < len; cut++) {
		proxy_parser_init(&f.p);
		size_t c1 = 0, c2 = 0;
		proxy_err r = proxy_parser_feed(&f.p, buf, cut, &c1);
		if (r == PROXY_NEED_MORE) {
			CHECK(c1 == cut);
			r = proxy_parser_feed(&f.p, buf + cut, len - cut, &c2);
		}
		CHECK(r == whole.r);
		CHECK(c1 + c2 == whole.consumed);
		const proxy_header *a = proxy_parser_header(&f.p),
		                   *b = proxy_parser_header(&whole.p);
		if (r == PROXY_OK && a && b) {
			CHECK(memcmp(a, b, offsetof(proxy_header, tlvs)) == 0);
			CHECK(a->tlvs_bytes == b->tlvs_bytes);
			CHECK(a->tlvs_bytes == 0 || memcmp(a->tlvs, b->tlvs, a->tlvs_bytes) == 0);
		}
	}
	feed(&f, buf, len, 1);
	CHECK(f.r == whole.r && f.consumed == whole.consumed);
}

/* Every proper prefix of a valid header: NEED_MORE, all of it taken. */
static void check_truncations(const uint8_t *hdr, size_t hlen)
{
	for (size_t k = 0; k < hlen; k++) {
		proxy_parser p;
		proxy_parser_init(&p);
		size_t c = SIZE_MAX;
		CHECK(proxy_parser_feed(&p, hdr, k, &c) == PROXY_NEED_MORE);
		CHECK(c == k);
		CHECK(proxy_parser_header(&p) == NULL);
	}
}

/* A header that must parse: cut every way, then whole into f; its header
 * (NULL, and a failed check, if it did not parse). */
static const proxy_header *parse_ok(fed *f, const uint8_t *h, size_t n)
{
	check_every_split(h, n, PROXY_OK);
	check_truncations(h, n);
	feed(f, h, n, 0);
	CHECK(f->r == PROXY_OK && f->consumed == n);
	return proxy_parser_header(&f->p);
}

static void test_errors_named(void)
{
	for (int e = 0; e < PROXY_ERR_COUNT; e++) {
		CHECK(strncmp(proxy_err_name((proxy_err)e), "PROXY_", 6) == 0);
		CHECK(strcmp(proxy_err_name((proxy_err)e), "PROXY_ERR_UNKNOWN") != 0);
		CHECK(strcmp(proxy_strerror((proxy_err)e), "unknown PROXY error code") != 0);
	}
	CHECK(strcmp(proxy_err_name(PROXY_ERR_TLV), "PROXY_ERR_TLV") == 0);
	CHECK(strcmp(proxy_err_name(PROXY_ERR_COUNT), "PROXY_ERR_UNKNOWN") == 0);
	CHECK(strcmp(proxy_strerror((proxy_err)-1), "unknown PROXY error code") == 0);
}

static void test_v2_inet(void)
{
	uint8_t h[64];
	/* PROXY, TCP4, 12 address bytes and two TLVs: NOOP "ab", 0xE0 "alice". */
	size_t n = unhex(SIG "2111"
	                     "0019" V2_INET_ADDR "04000261"
	                     "62"
	                     "e00005616c696365",
	                 h, sizeof(h));
	fed f;
	const proxy_header *hd = parse_ok(&f, h, n);
	CHECK(f.r == PROXY_OK && hd != NULL);
	if (!hd)
		return;
	CHECK(hd->version == 2 && hd->command == PROXY_CMD_PROXY);
	CHECK(hd->transport == PROXY_TRANSPORT_STREAM && hd->addrs.family == PROXY_FAM_INET);
	CHECK(hd->header_bytes == n);
	CHECK_MEM(hd->addrs.src_addr, "\xc0\xa8\x00\x01", 4);
	CHECK_MEM(hd->addrs.dst_addr, "\xc0\xa8\x00\x0b", 4);
	CHECK(hd->addrs.src_port == 56324 && hd->addrs.dst_port == 443);
	CHECK(hd->tlvs_bytes == 13);
	size_t pos = 0;
	proxy_tlv t;
	CHECK(proxy_tlv_next(hd, &pos, &t) && t.type == 0x04 && t.len == 2);
	CHECK(t.len == 2 && memcmp(t.value, "ab", 2) == 0);
	CHECK(proxy_tlv_next(hd, &pos, &t) && t.type == PROXY_TLV_LULL_PEER_NAME);
	CHECK(t.len == 5 && memcmp(t.value, "alice", 5) == 0);
	CHECK(!proxy_tlv_next(hd, &pos, &t));
	CHECK(proxy_tlv_find(hd, PROXY_TLV_LULL_PEER_NAME, &t) && t.len == 5);
	CHECK(!proxy_tlv_find(hd, 0x05, &t));
	/* A parser that has answered answers nothing more. */
	size_t c = 99;
	CHECK(proxy_parser_feed(&f.p, h, n, &c) == PROXY_ERR_STATE && c == 0);
}

static void test_v2_inet6_unix_unspec(void)
{
	uint8_t h[300];
	/* TCP6 [2001:db8::1]:1 -> [::1]:65535, no TLV. */
	size_t n = unhex(SIG "21210024"
	                     "20010db8000000000000000000000001"
	                     "00000000000000000000000000000001"
	                     "0001ffff",
	                 h, sizeof(h));
	fed f;
	const proxy_header *hd = parse_ok(&f, h, n);
	CHECK(hd && hd->addrs.family == PROXY_FAM_INET6 && hd->tlvs_bytes == 0);
	CHECK(hd && hd->addrs.src_port == 1 && hd->addrs.dst_port == 65535);
	CHECK(hd && hd->addrs.src_addr[0] == 0x20 && hd->addrs.dst_addr[15] == 1);

	/* UDP over IPv4 is valid (the caller decides what to make of it). */
	n = unhex(SIG "2112000c" V2_INET_ADDR, h, sizeof(h));
	hd = parse_ok(&f, h, n);
	CHECK(hd && hd->transport == PROXY_TRANSPORT_DGRAM && hd->addrs.family == PROXY_FAM_INET);

	/* UNIX stream: 216 address bytes then a TLV. */
	memset(h, 0, sizeof(h));
	n = unhex(SIG "213100db", h, sizeof(h));
	h[16 + 216] = 0x04; /* NOOP, length 0 */
	n += 216 + 3;
	hd = parse_ok(&f, h, n);
	CHECK(hd && hd->addrs.family == PROXY_FAM_UNIX && hd->tlvs_bytes == 3);

	/* UNSPEC (family or transport): the block is skipped, nothing read
	 * from it, not even TLVs. */
	n = unhex(SIG "21000005ffffffffff", h, sizeof(h));
	hd = parse_ok(&f, h, n);
	CHECK(hd && hd->addrs.family == PROXY_FAM_UNSPEC && hd->tlvs_bytes == 0);
	CHECK(hd && hd->header_bytes == 21);
	n = unhex(SIG "2110000c" V2_INET_ADDR, h, sizeof(h));
	hd = parse_ok(&f, h, n);
	CHECK(hd && hd->addrs.family == PROXY_FAM_UNSPEC && hd->addrs.src_port == 0);
}

static void test_v2_local(void)
{
	uint8_t h[64];
	/* HAProxy's health check: LOCAL, UNSPEC, no address. */
	size_t n = unhex(SIG "20000000", h, sizeof(h));
	fed f;
	const proxy_header *hd = parse_ok(&f, h, n);
	CHECK(hd && hd->command == PROXY_CMD_LOCAL && hd->addrs.family == PROXY_FAM_UNSPEC);
	CHECK(f.consumed == 16);
	/* LOCAL with an address block: skipped (the spec: "must not assume
	 * zero"), family ignored, even one too short for its family. */
	n = unhex(SIG "2011000c" V2_INET_ADDR, h, sizeof(h));
	hd = parse_ok(&f, h, n);
	CHECK(hd && hd->command == PROXY_CMD_LOCAL && hd->addrs.family == PROXY_FAM_UNSPEC);
	CHECK(hd && hd->addrs.src_port == 0 && hd->header_bytes == 28 && f.consumed == 28);
	n = unhex(SIG "20210002abcd", h, sizeof(h));
	feed(&f, h, n, 0);
	CHECK(f.r == PROXY_OK && f.consumed == 18);
}

/* A header cut short must not be mistaken for a complete one. */
static void test_v2_signature(void)
{
	uint8_t h[64];
	size_t n = unhex(SIG "2111000c" V2_INET_ADDR, h, sizeof(h));
	for (size_t i = 0; i < 12; i++) {
		uint8_t bad[64];
		memcpy(bad, h, n);
		bad[i] ^= 0x20;
		fed f;
		feed(&f, bad, n, 0);
		CHECK_PROXY(f.r, PROXY_ERR_SIGNATURE);
		CHECK(f.consumed == i + 1); /* refused at the wrong byte */
		feed(&f, bad, n, 1);
		CHECK(f.r == PROXY_ERR_SIGNATURE && f.consumed == i + 1);
	}
	/* Not a PROXY header at all: TLS, HTTP, a lull handshake frame. */
	static const char *others[] = {"\x16\x03\x01\x02\x00", "GET / HTTP/1.1\r\n",
	                               "\x01\x00\x00\x32"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		fed f;
		feed(&f, (const uint8_t *)others[i], strlen(others[i]), 0);
		CHECK(f.r == PROXY_ERR_SIGNATURE && f.consumed == 1);
	}
}

static void test_v2_version_command_family(void)
{
	static const struct {
		const char *ver_fam;
		proxy_err want;
	} cases[] = {
	        {"1111", PROXY_ERR_VERSION}, {"3111", PROXY_ERR_VERSION},
	        {"0111", PROXY_ERR_VERSION}, {"2211", PROXY_ERR_COMMAND},
	        {"2f11", PROXY_ERR_COMMAND}, {"2141", PROXY_ERR_FAMILY},
	        {"21f1", PROXY_ERR_FAMILY},  {"2113", PROXY_ERR_FAMILY},
	        {"211f", PROXY_ERR_FAMILY},  {"2041", PROXY_ERR_FAMILY},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char hex[128];
		uint8_t h[64];
		snprintf(hex, sizeof(hex), SIG "%s000c" V2_INET_ADDR, cases[i].ver_fam);
		size_t n = unhex(hex, h, sizeof(h));
		fed f;
		feed(&f, h, n, 0);
		CHECK_PROXY(f.r, cases[i].want);
		/* Refused at the byte that shows it: 13th or 14th. */
		CHECK(f.consumed == (cases[i].want == PROXY_ERR_FAMILY ? 14u : 13u));
		CHECK(proxy_parser_header(&f.p) == NULL);
	}
}

static void test_v2_lengths(void)
{
	uint8_t h[PROXY_HEADER_MAX_BYTES + 64];
	size_t n;
	fed f;
	/* The largest accepted header: one NOOP TLV filling it. */
	size_t body = PROXY_HEADER_MAX_BYTES - PROXY_V2_FIXED_BYTES;
	memset(h, 0, sizeof(h));
	n = unhex(SIG "2111", h, sizeof(h));
	h[n++] = (uint8_t)(body >> 8);
	h[n++] = (uint8_t)body;
	n += unhex(V2_INET_ADDR, h + n, sizeof(h) - n);
	h[n] = 0x04;
	h[n + 1] = (uint8_t)((body - 12 - 3) >> 8);
	h[n + 2] = (uint8_t)(body - 12 - 3);
	n = PROXY_HEADER_MAX_BYTES;
	check_every_split(h, n, PROXY_OK);
	feed(&f, h, n, 0);
	CHECK(f.r == PROXY_OK && f.consumed == PROXY_HEADER_MAX_BYTES);

	/* One byte more, or the most the field can say: refused once the
	 * length is read, before a byte of it is held. */
	static const uint16_t too_long[] = {PROXY_HEADER_MAX_BYTES - PROXY_V2_FIXED_BYTES + 1,
	                                    0x8000, 0xffff};
	for (size_t i = 0; i < 3; i++) {
		h[14] = (uint8_t)(too_long[i] >> 8);
		h[15] = (uint8_t)too_long[i];
		feed(&f, h, sizeof(h), 0);
		CHECK_PROXY(f.r, PROXY_ERR_TOO_LONG);
		CHECK(f.consumed == PROXY_V2_FIXED_BYTES);
	}

	/* Address blocks one byte short of their family, for PROXY. */
	static const char *short_addr[] = {SIG "2111000b", SIG "2112000b", SIG "21210023",
	                                   SIG "213100d7", SIG "21110000"};
	for (size_t i = 0; i < sizeof(short_addr) / sizeof(short_addr[0]); i++) {
		memset(h, 0xee, sizeof(h));
		unhex(short_addr[i], h, sizeof(h));
		feed(&f, h, 300, 0);
		CHECK_PROXY(f.r, PROXY_ERR_ADDR_SHORT);
		CHECK(f.consumed == PROXY_V2_FIXED_BYTES);
	}
}

static void test_v2_tlvs(void)
{
	static const struct {
		const char *tlvs;
		proxy_err want;
	} cases[] = {
	        {"", PROXY_OK},
	        {"040000", PROXY_OK},
	        {"e00001ff", PROXY_OK},
	        {"04", PROXY_ERR_TLV},                   /* 1 byte: no length */
	        {"0400", PROXY_ERR_TLV},                 /* 2 bytes: half a length */
	        {"e00002ff", PROXY_ERR_TLV},             /* one value byte short */
	        {"e0ffff", PROXY_ERR_TLV},               /* length far past the end */
	        {"040000e00005616c6963", PROXY_ERR_TLV}, /* the second runs past */
	        {"04000005", PROXY_ERR_TLV},             /* a stray byte after one */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char hex[256];
		uint8_t h[128];
		size_t tl = strlen(cases[i].tlvs) / 2;
		snprintf(hex, sizeof(hex), SIG "2111%04zx" V2_INET_ADDR "%s", 12 + tl,
		         cases[i].tlvs);
		size_t n = unhex(hex, h, sizeof(h));
		fed f;
		feed(&f, h, n, 0);
		CHECK_PROXY(f.r, cases[i].want);
		/* The whole header is taken (a TLV is checked once it is in),
		 * nothing after it. */
		CHECK(f.consumed == n);
		check_every_split(h, n, cases[i].want);
	}
}

/* ---- v1 ---------------------------------------------------------------- */

static proxy_err v1(const char *line, fed *f)
{
	feed(f, (const uint8_t *)line, strlen(line), 0);
	return f->r;
}

static void test_v1_valid(void)
{
	fed f;
	const char *l4 = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	CHECK(v1(l4, &f) == PROXY_OK);
	const proxy_header *hd = proxy_parser_header(&f.p);
	CHECK(hd && hd->version == 1 && hd->command == PROXY_CMD_PROXY);
	CHECK(hd && hd->addrs.family == PROXY_FAM_INET && hd->transport == PROXY_TRANSPORT_STREAM);
	CHECK(hd && memcmp(hd->addrs.src_addr, "\xc0\xa8\x00\x01", 4) == 0);
	CHECK(hd && memcmp(hd->addrs.dst_addr, "\xc0\xa8\x00\x0b", 4) == 0);
	CHECK(hd && hd->addrs.src_port == 56324 && hd->addrs.dst_port == 443);
	CHECK(hd && hd->header_bytes == strlen(l4) && hd->tlvs_bytes == 0);
	check_every_split((const uint8_t *)l4, strlen(l4), PROXY_OK);
	check_truncations((const uint8_t *)l4, strlen(l4));

	const char *l6 =
	        "PROXY TCP6 2001:DB8::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 0 65535\r\n";
	CHECK(v1(l6, &f) == PROXY_OK);
	hd = proxy_parser_header(&f.p);
	CHECK(hd && hd->addrs.family == PROXY_FAM_INET6);
	CHECK(hd && hd->addrs.src_addr[0] == 0x20 && hd->addrs.src_addr[1] == 0x01 &&
	      hd->addrs.src_addr[15] == 1 && hd->addrs.dst_addr[7] == 0xff);
	CHECK(hd && hd->addrs.src_port == 0 && hd->addrs.dst_port == 65535);
	check_every_split((const uint8_t *)l6, strlen(l6), PROXY_OK);

	CHECK(v1("PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n", &f) == PROXY_OK);
	CHECK(v1("PROXY UNKNOWN\r\n", &f) == PROXY_OK);
	hd = proxy_parser_header(&f.p);
	CHECK(hd && hd->addrs.family == PROXY_FAM_UNSPEC && f.consumed == 15);
	/* UNKNOWN: the rest of the line is ignored, whatever it is. */
	CHECK(v1("PROXY UNKNOWN ffff::1 ::2 1 2\r\n", &f) == PROXY_OK);
	CHECK(v1("PROXY UNKNOWN  x  \r\n", &f) == PROXY_OK);

	/* The longest line: 107 bytes with its CRLF. */
	char line[PROXY_V1_LINE_MAX_BYTES + 8];
	memset(line, 'f', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + PROXY_V1_LINE_MAX_BYTES - 2, "\r\n", 3);
	CHECK(strlen(line) == PROXY_V1_LINE_MAX_BYTES);
	CHECK(v1(line, &f) == PROXY_OK && f.consumed == PROXY_V1_LINE_MAX_BYTES);
	check_every_split((const uint8_t *)line, strlen(line), PROXY_OK);
}

/* A string literal and its length (one case holds a NUL). */
#define L(s) s, sizeof(s) - 1

static void test_v1_invalid(void)
{
	static const struct {
		const char *line;
		size_t len;
		proxy_err want;
	} cases[] = {
	        {L("PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_SIGNATURE},
	        {L("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_SIGNATURE},
	        {L("PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), PROXY_ERR_V1_MALFORMED},     /* lone LF */
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"), PROXY_ERR_V1_MALFORMED}, /* lone CR */
	        {L("PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x00\r\n"), PROXY_ERR_V1_MALFORMED},
	        /* UNKNOWN takes anything up to its CRLF, but a lone LF or CR
	         * or a control byte is still not a line. */
	        {L("PROXY UNKNOWN x\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY UNKNOWN \r x\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY UNKNOWN \x00\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY UNKNOWN \x1f\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY UNKNOWN \x7f\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY UNKNOWN \xc3\xa9\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY UNKNOWNX\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY \r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.08 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.1000 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.+4 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP6 ::1::2 ::1 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP6 12345::1 ::1 1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 2 65536\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 00 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), PROXY_ERR_V1_MALFORMED},
	        {L("PROXY TCP4 1.2.3.4 5.6.7.8 1 999999\r\n"), PROXY_ERR_V1_MALFORMED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fed f;
		size_t len = cases[i].len;
		feed(&f, (const uint8_t *)cases[i].line, len, 0);
		CHECK_PROXY(f.r, cases[i].want);
		CHECK(proxy_parser_header(&f.p) == NULL);
		/* Nothing past the line's end is ever taken. */
		CHECK(f.consumed <= len);
	}
	/* No CRLF in 107 bytes: refused at the 107th, whatever follows. */
	char line[PROXY_V1_LINE_MAX_BYTES + 32];
	memset(line, 'f', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	fed f;
	feed(&f, (const uint8_t *)line, sizeof(line), 0);
	CHECK_PROXY(f.r, PROXY_ERR_V1_TOO_LONG);
	CHECK(f.consumed == PROXY_V1_LINE_MAX_BYTES);
	memcpy(line + PROXY_V1_LINE_MAX_BYTES - 1, "\r\n", 2);
	feed(&f, (const uint8_t *)line, sizeof(line), 0);
	CHECK_PROXY(f.r, PROXY_ERR_V1_TOO_LONG);
	feed(&f, (const uint8_t *)line, sizeof(line), 1);
	CHECK(f.r == PROXY_ERR_V1_TOO_LONG && f.consumed == PROXY_V1_LINE_MAX_BYTES);
}

/* ---- Encoder ----------------------------------------------------------- */

static void test_round_trip(void)
{
	proxy_addrs a4 = {.family = PROXY_FAM_INET,
	                  .src_addr = {203, 0, 113, 7},
	                  .dst_addr = {10, 0, 0, 1},
	                  .src_port = 40000,
	                  .dst_port = 7000};
	proxy_addrs a6 = {.family = PROXY_FAM_INET6, .src_port = 1, .dst_port = 65535};
	for (int i = 0; i < 16; i++) {
		a6.src_addr[i] = (uint8_t)(0x20 + i);
		a6.dst_addr[i] = (uint8_t)(0xf0 - i);
	}
	char longest[LULL_PEER_NAME_MAX];
	memset(longest, 'n', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	const struct {
		const proxy_addrs *a;
		const char *name;
		size_t want_len;
	} cases[] = {
	        {&a4, "alice", 16 + 12 + 3 + 5},
	        {&a4, NULL, 16 + 12},
	        {&a6, "bob@example.org", 16 + 36 + 3 + 15},
	        {&a6, longest, PROXY_V2_ENCODED_MAX_BYTES},
	        {NULL, NULL, 16},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[PROXY_V2_ENCODED_MAX_BYTES];
		size_t w = 0;
		CHECK_PROXY(proxy_v2_encode(cases[i].a, cases[i].name, out, sizeof(out), &w),
		            PROXY_OK);
		CHECK(w == cases[i].want_len);
		check_every_split(out, w, PROXY_OK);
		fed f;
		feed(&f, out, w, 0);
		const proxy_header *hd = proxy_parser_header(&f.p);
		CHECK(hd != NULL && f.consumed == w);
		if (!hd)
			continue;
		CHECK(hd->version == 2);
		if (cases[i].a) {
			CHECK(hd->command == PROXY_CMD_PROXY);
			CHECK(hd->transport == PROXY_TRANSPORT_STREAM);
			CHECK(memcmp(&hd->addrs, cases[i].a, sizeof(proxy_addrs)) == 0);
		} else {
			CHECK(hd->command == PROXY_CMD_LOCAL);
			CHECK(hd->addrs.family == PROXY_FAM_UNSPEC);
		}
		proxy_tlv t;
		if (cases[i].name) {
			CHECK(proxy_tlv_find(hd, PROXY_TLV_LULL_PEER_NAME, &t));
			CHECK(t.len == strlen(cases[i].name) &&
			      memcmp(t.value, cases[i].name, t.len) == 0);
		} else {
			CHECK(!proxy_tlv_find(hd, PROXY_TLV_LULL_PEER_NAME, &t));
		}
		/* Every smaller buffer is refused, and nothing reported written. */
		for (size_t cap = 0; cap < w; cap++) {
			size_t w2 = 1;
			CHECK(proxy_v2_encode(cases[i].a, cases[i].name, out, cap, &w2) ==
			      PROXY_ERR_BUFFER_TOO_SMALL);
			CHECK(w2 == 0);
		}
	}
	/* Byte for byte what the spec lays out. */
	uint8_t out[64], want[64];
	size_t w;
	CHECK_PROXY(proxy_v2_encode(&a4, "al", out, sizeof(out), &w), PROXY_OK);
	size_t wn = unhex(SIG "21110011cb0071070a0000019c401b58e00002616c", want, sizeof(want));
	CHECK(w == wn);
	CHECK_MEM(out, want, wn);
}

static void test_encode_errors(void)
{
	uint8_t out[PROXY_V2_ENCODED_MAX_BYTES];
	size_t w;
	proxy_addrs a = {.family = PROXY_FAM_INET};
	proxy_addrs unix_a = {.family = PROXY_FAM_UNIX};
	proxy_addrs bad = {.family = (proxy_family)7};
	char too_long[LULL_PEER_NAME_MAX + 1];
	memset(too_long, 'x', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	CHECK(proxy_v2_encode(&unix_a, NULL, out, sizeof(out), &w) == PROXY_ERR_INVALID_ARG);
	CHECK(proxy_v2_encode(&bad, NULL, out, sizeof(out), &w) == PROXY_ERR_INVALID_ARG);
	CHECK(proxy_v2_encode(&a, "", out, sizeof(out), &w) == PROXY_ERR_INVALID_ARG);
	/* 64 bytes: one more than an authorized name may have. */
	CHECK(proxy_v2_encode(&a, too_long, out, sizeof(out), &w) == PROXY_ERR_INVALID_ARG);
	too_long[LULL_PEER_NAME_MAX - 1] = '\0'; /* 63: the longest */
	CHECK(proxy_v2_encode(&a, too_long, out, sizeof(out), &w) == PROXY_OK);
	CHECK(proxy_v2_encode(NULL, "alice", out, sizeof(out), &w) == PROXY_ERR_INVALID_ARG);
	CHECK(proxy_v2_encode(&a, NULL, NULL, sizeof(out), &w) == PROXY_ERR_INVALID_ARG);
	CHECK(proxy_v2_encode(&a, NULL, out, sizeof(out), NULL) == PROXY_ERR_INVALID_ARG);
}

int main(void)
{
	test_errors_named();
	test_v2_inet();
	test_v2_inet6_unix_unspec();
	test_v2_local();
	test_v2_signature();
	test_v2_version_command_family();
	test_v2_lengths();
	test_v2_tlvs();
	test_v1_valid();
	test_v1_invalid();
	test_round_trip();
	test_encode_errors();
	return test_summary();
}
