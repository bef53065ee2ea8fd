/*
 * proxy_proto.c - PROXY protocol v1/v2 header parser and v2 encoder.
 *
 * The parser is a byte-at-a-time check of the fixed parts (signature,
 * version, command, family: the first wrong byte is the error) followed by
 * a bounded copy of the rest:
 *  - v2: once the 16 fixed bytes are in, the length field fixes the
 *    header's size; a size past PROXY_HEADER_MAX_BYTES, or an address
 *    block shorter than the family needs, is refused there, before any of
 *    it is held.  Exactly that many bytes more are taken, then the address
 *    block is decoded and every TLV checked to end inside the header.
 *  - v1: bytes are taken one by one up to the LF of the CRLF (so nothing
 *    after the line is ever taken), at most PROXY_V1_LINE_MAX_BYTES; a lone CR
 *    or LF and any control byte are refused at once; the whole line is
 *    then checked against the grammar: no leading zeros, exactly one space
 *    between fields, addresses of the announced family.
 * The specification (HAProxy's doc/proxy-protocol.txt) asks receivers to
 * drop any header that does not match it exactly; so does this parser,
 * with one named error per way a header can be wrong.
 */
#include "proxy_proto.h"

#include <arpa/inet.h>
#include <string.h>

#include "wire.h"

static const uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_prefix[] = "PROXY ";
#define V1_PREFIX_BYTES (sizeof(v1_prefix) - 1)

#define V2_VERSION       2
#define V2_AF_MAX        3 /* UNIX */
#define V2_TRANSPORT_MAX 2 /* DGRAM */
#define V2_ADDR_INET     12
#define V2_ADDR_INET6    36
#define V2_ADDR_UNIX     216

/* ---- Errors ------------------------------------------------------------ */

struct proxy_err_row {
	const char *name;
	const char *text;
};

#define ROW(code, text) [code] = {#code, text}

static const struct proxy_err_row proxy_err_rows[PROXY_ERR_COUNT] = {
        ROW(PROXY_OK, "complete PROXY header"),
        ROW(PROXY_NEED_MORE, "PROXY header incomplete, more bytes needed"),
        ROW(PROXY_ERR_SIGNATURE, "not a PROXY header (bad signature)"),
        ROW(PROXY_ERR_VERSION, "PROXY v2 header with an unsupported version"),
        ROW(PROXY_ERR_COMMAND, "PROXY v2 header with an unknown command"),
        ROW(PROXY_ERR_FAMILY, "PROXY v2 header with an unknown address family or transport"),
        ROW(PROXY_ERR_TOO_LONG, "PROXY v2 header longer than the accepted maximum"),
        ROW(PROXY_ERR_ADDR_SHORT, "PROXY v2 address block shorter than its family needs"),
        ROW(PROXY_ERR_TLV, "PROXY v2 TLV runs past the end of the header"),
        ROW(PROXY_ERR_V1_TOO_LONG, "PROXY v1 line without CRLF within 107 bytes"),
        ROW(PROXY_ERR_V1_MALFORMED, "malformed PROXY v1 line"),
        ROW(PROXY_ERR_STATE, "PROXY parser already finished"),
        ROW(PROXY_ERR_INVALID_ARG, "invalid argument to the PROXY header encoder"),
        ROW(PROXY_ERR_BUFFER_TOO_SMALL, "buffer too small for the PROXY header"),
};

static const struct proxy_err_row *proxy_err_row_of(proxy_err err)
{
	if ((unsigned)err >= PROXY_ERR_COUNT || proxy_err_rows[err].name == NULL)
		return NULL;
	return &proxy_err_rows[err];
}

const char *proxy_strerror(proxy_err err)
{
	const struct proxy_err_row *row = proxy_err_row_of(err);
	return row ? row->text : "unknown PROXY error code";
}

const char *proxy_err_name(proxy_err err)
{
	const struct proxy_err_row *row = proxy_err_row_of(err);
	return row ? row->name : "PROXY_ERR_UNKNOWN";
}

/* ---- v2 ---------------------------------------------------------------- */

/* The address block a PROXY command needs for this family byte, or 0 when
 * its family or transport is UNSPEC (the block's size is then unknown). */
static size_t v2_addr_bytes(uint8_t fam)
{
	if ((fam & 0x0f) == 0)
		return 0;
	switch (fam >> 4) {
	case 1:
		return V2_ADDR_INET;
	case 2:
		return V2_ADDR_INET6;
	case 3:
		return V2_ADDR_UNIX;
	default:
		return 0;
	}
}

/* One of the 16 fixed bytes, at index at: checked before it is kept. */
static proxy_err v2_fixed_byte(size_t at, uint8_t b)
{
	if (at < sizeof(v2_signature))
		return b == v2_signature[at] ? PROXY_NEED_MORE : PROXY_ERR_SIGNATURE;
	if (at == 12) {
		if ((b >> 4) != V2_VERSION)
			return PROXY_ERR_VERSION;
		if ((b & 0x0f) > PROXY_CMD_PROXY)
			return PROXY_ERR_COMMAND;
	}
	if (at == 13 && ((b >> 4) > V2_AF_MAX || (b & 0x0f) > V2_TRANSPORT_MAX))
		return PROXY_ERR_FAMILY;
	return PROXY_NEED_MORE;
}

/* The fixed part is in: size the header, before holding any of the rest. */
static proxy_err v2_sized(proxy_parser *p)
{
	size_t body = wire_get_u16(p->buf + 14);
	if (PROXY_V2_FIXED_BYTES + body > PROXY_HEADER_MAX_BYTES)
		return PROXY_ERR_TOO_LONG;
	if ((p->buf[12] & 0x0f) == PROXY_CMD_PROXY && body < v2_addr_bytes(p->buf[13]))
		return PROXY_ERR_ADDR_SHORT;
	p->total = PROXY_V2_FIXED_BYTES + body;
	return PROXY_NEED_MORE;
}

static proxy_err v2_check_tlvs(const uint8_t *t, size_t n)
{
	size_t pos = 0;
	while (pos < n) {
		if (n - pos < PROXY_TLV_HEAD_BYTES)
			return PROXY_ERR_TLV;
		size_t len = wire_get_u16(t + pos + 1);
		if (len > n - pos - PROXY_TLV_HEAD_BYTES)
			return PROXY_ERR_TLV;
		pos += PROXY_TLV_HEAD_BYTES + len;
	}
	return PROXY_OK;
}

/* The whole header is in (v2_sized checked the address block's size). */
static proxy_err v2_decode(proxy_parser *p)
{
	proxy_header *h = &p->hdr;
	const uint8_t *body = p->buf + PROXY_V2_FIXED_BYTES;
	size_t body_bytes = p->total - PROXY_V2_FIXED_BYTES;
	uint8_t fam = p->buf[13];
	h->version = 2;
	h->command = (proxy_command)(p->buf[12] & 0x0f);
	h->transport = (proxy_transport)(fam & 0x0f);
	h->header_bytes = p->total;
	/* LOCAL: the spec says to ignore the block, family included. */
	size_t addr_bytes = h->command == PROXY_CMD_PROXY ? v2_addr_bytes(fam) : 0;
	if (addr_bytes == 0)
		return PROXY_OK;
	proxy_addrs *a = &h->addrs;
	a->family = (proxy_family)(fam >> 4);
	if (a->family == PROXY_FAM_INET || a->family == PROXY_FAM_INET6) {
		size_t alen = a->family == PROXY_FAM_INET ? 4 : 16;
		memcpy(a->src_addr, body, alen);
		memcpy(a->dst_addr, body + alen, alen);
		a->src_port = wire_get_u16(body + 2 * alen);
		a->dst_port = wire_get_u16(body + 2 * alen + 2);
	}
	h->tlvs = body + addr_bytes;
	h->tlvs_bytes = body_bytes - addr_bytes;
	return v2_check_tlvs(h->tlvs, h->tlvs_bytes);
}

/* ---- v1 ---------------------------------------------------------------- */

/* A decimal field of at most max without leading zeros: "0".."65535". */
static bool v1_number(const char *s, size_t n, unsigned max, unsigned *out)
{
	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Exactly four decimal octets, no leading zeros, single dots. */
static bool v1_ipv4(const char *s, size_t n, uint8_t out[4])
{
	size_t start = 0;
	for (int octet = 0; octet < 4; octet++) {
		size_t end = start;
		while (end < n && s[end] != '.')
			end++;
		if ((octet < 3) != (end < n))
			return false;
		unsigned v;
		if (end - start > 3 || !v1_number(s + start, end - start, 255, &v))
			return false;
		out[octet] = (uint8_t)v;
		start = end + 1;
	}
	return true;
}

/* Hex groups and colons only (no dotted IPv4 tail), as inet_pton reads them. */
static bool v1_ipv6(const char *s, size_t n, uint8_t out[16])
{
	char text[PROXY_V1_LINE_MAX_BYTES + 1];
	if (n == 0 || n > 39)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool hex =
		        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (!hex && c != ':')
			return false;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, out) == 1;
}

/* The line without its CRLF, "PROXY " already checked. */
static proxy_err v1_decode(proxy_parser *p)
{
	proxy_header *h = &p->hdr;
	h->version = 1;
	h->command = PROXY_CMD_PROXY;
	h->header_bytes = p->have;
	const char *s = (const char *)p->buf + V1_PREFIX_BYTES;
	size_t n = p->have - 2 - V1_PREFIX_BYTES;

	/* The spec: whatever follows UNKNOWN up to the CRLF is ignored. */
	if (n >= 7 && memcmp(s, "UNKNOWN", 7) == 0 && (n == 7 || s[7] == ' ')) {
		h->transport = PROXY_TRANSPORT_UNSPEC;
		return PROXY_OK;
	}
	/* Exactly five fields, split on single spaces: a double, leading or
	 * trailing space makes an empty field, which no field parser takes. */
	const char *field[5];
	size_t flen[5], nf = 0, start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (nf == 5)
			return PROXY_ERR_V1_MALFORMED;
		field[nf] = s + start;
		flen[nf] = i - start;
		nf++;
		start = i + 1;
	}
	if (nf != 5 || flen[0] != 4)
		return PROXY_ERR_V1_MALFORMED;
	proxy_addrs *a = &h->addrs;
	bool ok;
	if (memcmp(field[0], "TCP4", 4) == 0) {
		a->family = PROXY_FAM_INET;
		ok = v1_ipv4(field[1], flen[1], a->src_addr) &&
		     v1_ipv4(field[2], flen[2], a->dst_addr);
	} else if (memcmp(field[0], "TCP6", 4) == 0) {
		a->family = PROXY_FAM_INET6;
		ok = v1_ipv6(field[1], flen[1], a->src_addr) &&
		     v1_ipv6(field[2], flen[2], a->dst_addr);
	} else {
		ok = false;
	}
	unsigned sp = 0, dp = 0;
	ok = ok && v1_number(field[3], flen[3], UINT16_MAX, &sp) &&
	     v1_number(field[4], flen[4], UINT16_MAX, &dp);
	if (!ok) {
		memset(a, 0, sizeof(*a));
		return PROXY_ERR_V1_MALFORMED;
	}
	a->src_port = (uint16_t)sp;
	a->dst_port = (uint16_t)dp;
	h->transport = PROXY_TRANSPORT_STREAM;
	return PROXY_OK;
}

/* One line byte at index p->have (past the prefix): check, keep, and say
 * whether the line is complete. */
static proxy_err v1_line_byte(proxy_parser *p, uint8_t b)
{
	uint8_t prev = p->buf[p->have - 1];
	if (b == '\n' && prev != '\r')
		return PROXY_ERR_V1_MALFORMED; /* a lone LF */
	if (b != '\n' && prev == '\r')
		return PROXY_ERR_V1_MALFORMED; /* a lone CR */
	if (b != '\n' && b != '\r' && (b < 0x20 || b > 0x7e))
		return PROXY_ERR_V1_MALFORMED;
	p->buf[p->have++] = b;
	if (b == '\n')
		return v1_decode(p);
	return p->have < PROXY_V1_LINE_MAX_BYTES ? PROXY_NEED_MORE : PROXY_ERR_V1_TOO_LONG;
}

/* ---- Parser ------------------------------------------------------------ */

void proxy_parser_init(proxy_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->result = PROXY_NEED_MORE;
}

proxy_err proxy_parser_feed(proxy_parser *p, const uint8_t *bytes, size_t len, size_t *consumed)
{
	*consumed = 0;
	if (p->result != PROXY_NEED_MORE)
		return PROXY_ERR_STATE;
	proxy_err r = PROXY_NEED_MORE;
	size_t i = 0;
	while (i < len && r == PROXY_NEED_MORE) {
		if (p->have == 0 && bytes[i] != v2_signature[0] && bytes[i] != (uint8_t)'P') {
			r = PROXY_ERR_SIGNATURE;
			i++;
		} else if ((p->have == 0 ? bytes[i] : p->buf[0]) == v2_signature[0]) {
			if (p->have < PROXY_V2_FIXED_BYTES) {
				r = v2_fixed_byte(p->have, bytes[i]);
				if (r == PROXY_NEED_MORE)
					p->buf[p->have++] = bytes[i];
				i++;
				if (r == PROXY_NEED_MORE && p->have == PROXY_V2_FIXED_BYTES)
					r = v2_sized(p);
			}
			if (r == PROXY_NEED_MORE && p->total != 0) {
				size_t n = p->total - p->have;
				if (n > len - i)
					n = len - i;
				memcpy(p->buf + p->have, bytes + i, n);
				p->have += n;
				i += n;
				if (p->have == p->total)
					r = v2_decode(p);
			}
		} else if (p->have < V1_PREFIX_BYTES) {
			if (bytes[i] == (uint8_t)v1_prefix[p->have])
				p->buf[p->have++] = bytes[i];
			else
				r = p->have < 5 ? PROXY_ERR_SIGNATURE : PROXY_ERR_V1_MALFORMED;
			i++;
		} else {
			r = v1_line_byte(p, bytes[i]);
			i++;
		}
	}
	*consumed = i;
	p->result = r;
	return r;
}

const proxy_header *proxy_parser_header(const proxy_parser *p)
{
	return p->result == PROXY_OK ? &p->hdr : NULL;
}

bool proxy_tlv_next(const proxy_header *h, size_t *pos, proxy_tlv *out)
{
	/* The parser checked every TLV; the bounds stay for safety's sake. */
	if (*pos + PROXY_TLV_HEAD_BYTES > h->tlvs_bytes)
		return false;
	const uint8_t *t = h->tlvs + *pos;
	size_t len = wire_get_u16(t + 1);
	if (len > h->tlvs_bytes - *pos - PROXY_TLV_HEAD_BYTES)
		return false;
	out->type = t[0];
	out->len = (uint16_t)len;
	out->value = t + PROXY_TLV_HEAD_BYTES;
	*pos += PROXY_TLV_HEAD_BYTES + len;
	return true;
}

bool proxy_tlv_find(const proxy_header *h, uint8_t type, proxy_tlv *out)
{
	size_t pos = 0;
	while (proxy_tlv_next(h, &pos, out))
		if (out->type == type)
			return true;
	return false;
}

/* ---- Encoder ----------------------------------------------------------- */

proxy_err proxy_v2_encode(const proxy_addrs *a, const char *peer_name, uint8_t *out, size_t cap,
                          size_t *written)
{
	if (!out || !written)
		return PROXY_ERR_INVALID_ARG;
	*written = 0;
	bool local = a == NULL || a->family == PROXY_FAM_UNSPEC;
	if (!local && a->family != PROXY_FAM_INET && a->family != PROXY_FAM_INET6)
		return PROXY_ERR_INVALID_ARG;
	size_t name_len = 0;
	if (peer_name) {
		name_len = strnlen(peer_name, LULL_PEER_NAME_MAX);
		if (local || name_len == 0 || name_len >= LULL_PEER_NAME_MAX)
			return PROXY_ERR_INVALID_ARG;
	}
	size_t alen = local ? 0 : a->family == PROXY_FAM_INET ? 4 : 16;
	size_t addr_bytes = local ? 0 : 2 * alen + 4;
	size_t tlv_bytes = peer_name ? PROXY_TLV_HEAD_BYTES + name_len : 0;
	size_t total = PROXY_V2_FIXED_BYTES + addr_bytes + tlv_bytes;
	if (cap < total)
		return PROXY_ERR_BUFFER_TOO_SMALL;

	memcpy(out, v2_signature, sizeof(v2_signature));
	out[12] = (uint8_t)(V2_VERSION << 4 | (local ? PROXY_CMD_LOCAL : PROXY_CMD_PROXY));
	out[13] = local ? 0 : (uint8_t)(a->family << 4 | PROXY_TRANSPORT_STREAM);
	wire_put_u16(out + 14, (uint16_t)(total - PROXY_V2_FIXED_BYTES));
	uint8_t *q = out + PROXY_V2_FIXED_BYTES;
	if (!local) {
		memcpy(q, a->src_addr, alen);
		memcpy(q + alen, a->dst_addr, alen);
		wire_put_u16(q + 2 * alen, a->src_port);
		wire_put_u16(q + 2 * alen + 2, a->dst_port);
		q += addr_bytes;
	}
	if (peer_name) {
		q[0] = PROXY_TLV_LULL_PEER_NAME;
		wire_put_u16(q + 1, (uint16_t)name_len);
		memcpy(q + PROXY_TLV_HEAD_BYTES, peer_name, name_len);
	}
	*written = total;
	return PROXY_OK;
}
