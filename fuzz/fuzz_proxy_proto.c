/*
 * fuzz_proxy_proto.c - the PROXY header parser and v2 encoder.
 *
 * Input: one byte choosing how the rest is cut into reads (1..64 bytes
 * each, or all at once), then the bytes a balancer would send.
 *
 * Checks: no crash, no read outside the input or the parser; the answer
 * and the bytes taken do not depend on how the input was cut; the parser
 * never takes more than PROXY_HEADER_MAX_BYTES (PROXY_V1_LINE_MAX_BYTES for a
 * v1 line) nor a byte past a header it accepts; an accepted header's
 * fields are in range and its TLVs tile its TLV area exactly; a v2
 * PROXY/TCP header re-encoded (with its peer-name TLV when it has a usable
 * one) parses back to the same addresses and name.
 */
#include "fuzz_util.h"
#include "proxy_proto.h"

typedef struct outcome {
	proxy_err r;
	size_t taken;
} outcome;

static outcome run(proxy_parser *p, const uint8_t *data, size_t size, size_t chunk)
{
	outcome o = {PROXY_NEED_MORE, 0};
	proxy_parser_init(p);
	size_t off = 0;
	while (o.r == PROXY_NEED_MORE && off < size) {
		size_t n = chunk == 0 || chunk > size - off ? size - off : chunk;
		size_t c = SIZE_MAX;
		o.r = proxy_parser_feed(p, data + off, n, &c);
		FUZZ_CHECK(c <= n);
		FUZZ_CHECK(o.r != PROXY_NEED_MORE || c == n);
		o.taken += c;
		off += n;
	}
	return o;
}

static void check_header(const proxy_parser *p, const proxy_header *h, size_t taken)
{
	FUZZ_CHECK(h->header_bytes == taken);
	FUZZ_CHECK(h->version == 1 || h->version == 2);
	FUZZ_CHECK(h->command == PROXY_CMD_LOCAL || h->command == PROXY_CMD_PROXY);
	FUZZ_CHECK((unsigned)h->addrs.family <= PROXY_FAM_UNIX);
	FUZZ_CHECK((unsigned)h->transport <= PROXY_TRANSPORT_DGRAM);
	if (h->command == PROXY_CMD_LOCAL)
		FUZZ_CHECK(h->addrs.family == PROXY_FAM_UNSPEC);
	if (h->version == 1)
		FUZZ_CHECK(taken <= PROXY_V1_LINE_MAX_BYTES && h->tlvs_bytes == 0);
	if (h->tlvs_bytes) {
		FUZZ_CHECK(h->tlvs >= p->buf && h->tlvs + h->tlvs_bytes <= p->buf + taken);
	}
	size_t pos = 0, seen = 0;
	proxy_tlv t;
	while (proxy_tlv_next(h, &pos, &t)) {
		seen += PROXY_TLV_HEAD_BYTES + t.len;
		FUZZ_CHECK(t.value + t.len <= h->tlvs + h->tlvs_bytes);
	}
	FUZZ_CHECK(seen == h->tlvs_bytes && pos == h->tlvs_bytes);
}

/* What any accepted header must look like, read from the input itself
 * rather than from the parser's result. */
static void check_raw(const uint8_t *d, size_t taken, unsigned version)
{
	static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
	                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
	if (version == 2) {
		FUZZ_CHECK(taken >= PROXY_V2_FIXED_BYTES && memcmp(d, sig, sizeof(sig)) == 0);
		FUZZ_CHECK(d[12] == 0x20 || d[12] == 0x21);
		FUZZ_CHECK((d[13] >> 4) <= 3 && (d[13] & 0x0f) <= 2);
		FUZZ_CHECK(taken == PROXY_V2_FIXED_BYTES + ((size_t)d[14] << 8 | d[15]));
		return;
	}
	FUZZ_CHECK(taken >= 15 && memcmp(d, "PROXY ", 6) == 0);
	FUZZ_CHECK(d[taken - 2] == '\r' && d[taken - 1] == '\n');
	for (size_t i = 0; i < taken - 2; i++)
		FUZZ_CHECK(d[i] >= 0x20 && d[i] <= 0x7e);
}

/* A v2 PROXY/TCP header survives encode -> parse with its name. */
static void check_reencode(const proxy_header *h)
{
	if (h->version != 2 || h->command != PROXY_CMD_PROXY ||
	    h->transport != PROXY_TRANSPORT_STREAM ||
	    (h->addrs.family != PROXY_FAM_INET && h->addrs.family != PROXY_FAM_INET6))
		return;
	char name[LULL_PEER_NAME_MAX];
	const char *np = NULL;
	proxy_tlv t;
	if (proxy_tlv_find(h, PROXY_TLV_LULL_PEER_NAME, &t) && t.len > 0 &&
	    t.len < LULL_PEER_NAME_MAX && memchr(t.value, 0, t.len) == NULL) {
		memcpy(name, t.value, t.len);
		name[t.len] = '\0';
		np = name;
	}
	uint8_t out[PROXY_V2_ENCODED_MAX_BYTES];
	size_t w = 0;
	FUZZ_CHECK(proxy_v2_encode(&h->addrs, np, out, sizeof(out), &w) == PROXY_OK);
	static proxy_parser again;
	outcome o = run(&again, out, w, 0);
	FUZZ_CHECK(o.r == PROXY_OK && o.taken == w);
	const proxy_header *h2 = proxy_parser_header(&again);
	FUZZ_CHECK(h2 && memcmp(&h2->addrs, &h->addrs, sizeof(h->addrs)) == 0);
	if (np) {
		FUZZ_CHECK(proxy_tlv_find(h2, PROXY_TLV_LULL_PEER_NAME, &t));
		FUZZ_CHECK(t.len == strlen(np) && memcmp(t.value, np, t.len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = data[0] % 65; /* 0: all at once */
	data++;
	size--;
	/* Static: a parser is over 1 KiB, and the stack is the fuzzer's. */
	static proxy_parser cut, whole;
	outcome a = run(&cut, data, size, chunk);
	outcome b = run(&whole, data, size, 0);
	FUZZ_CHECK(a.r == b.r && a.taken == b.taken);
	FUZZ_CHECK(a.taken <= size && a.taken <= PROXY_HEADER_MAX_BYTES);
	FUZZ_CHECK(a.r != PROXY_NEED_MORE || a.taken == size);
	FUZZ_CHECK(a.r != PROXY_ERR_STATE && a.r != PROXY_ERR_INVALID_ARG &&
	           a.r != PROXY_ERR_BUFFER_TOO_SMALL);
	const proxy_header *h = proxy_parser_header(&cut);
	FUZZ_CHECK((a.r == PROXY_OK) == (h != NULL));
	if (!h)
		return 0;
	FUZZ_CHECK(memcmp(h, proxy_parser_header(&whole), offsetof(proxy_header, tlvs)) == 0);
	check_header(&cut, h, a.taken);
	check_raw(data, a.taken, h->version);
	check_reencode(h);
	return 0;
}
