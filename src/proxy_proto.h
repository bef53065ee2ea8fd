/*
 * proxy_proto.h - the PROXY protocol (HAProxy's proxy-protocol.txt,
 * versions 1 and 2), sans-I/O: a strict incremental header parser and a
 * version 2 encoder.
 *
 * A load balancer in TCP mode puts one PROXY header in front of the bytes
 * of each connection it relays, so the server behind it learns the
 * client's address; lull's server can send one to its target, carrying
 * the client's address and the authenticated peer's name.
 *
 * Invariants:
 *  - The parser never takes a byte past the header's end: the caller
 *    feeds whatever it read, learns how many bytes were the header's, and
 *    hands the rest to the lull engine.
 *  - It never holds more than PROXY_HEADER_MAX_BYTES, whatever a header's
 *    length field asks for, and allocates nothing.
 *  - The fixed parts are checked byte by byte as they arrive (v2:
 *    signature, version, command, family, length; v1: "PROXY ", a lone CR
 *    or LF, control bytes), so most garbage is refused at its first wrong
 *    byte rather than after a timeout; a v1 line's fields are checked at
 *    its CRLF.  Every refusal is a named proxy_err.
 *  - No sockets, no clock: the caller owns the timeout for a header that
 *    never completes.
 */
#ifndef LULL_PROXY_PROTO_H
#define LULL_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lull.h"

/*
 * The largest header accepted, either version.  The specification sizes
 * both formats to fit the smallest TCP segment (536 bytes) when they carry
 * addresses only; TLVs (HAProxy's SSL, authority, unique ID; AWS NLB's
 * endpoint ID) can take a v2 header past that, so allow 1 KiB, and refuse
 * a length field asking for more before a single byte of it is held.
 */
#define PROXY_HEADER_MAX_BYTES  1024
#define PROXY_V2_FIXED_BYTES    16  /* signature, version/command, family, length */
#define PROXY_V1_LINE_MAX_BYTES 107 /* spec: "PROXY UNKNOWN <ipv6> <ipv6> 65535 65535\r\n" */
#define PROXY_TLV_HEAD_BYTES    3   /* type:u8 | length:u16be */

/*
 * The TLV lull sends to its target: the authenticated peer's name from the
 * authorized file (UTF-8, no NUL, 1 to LULL_PEER_NAME_MAX - 1 bytes).  The
 * type is in the range the specification reserves for applications
 * (0xE0-0xEF, PP2_TYPE_MIN_CUSTOM..PP2_TYPE_MAX_CUSTOM); docs/protocol.md
 * and docs/deployment.md document it for whoever reads it.
 */
#define PROXY_TLV_LULL_PEER_NAME 0xE0

/* The largest header proxy_v2_encode writes: IPv6 and a full peer name. */
#define PROXY_V2_ENCODED_MAX_BYTES                                                                 \
	(PROXY_V2_FIXED_BYTES + 36 + PROXY_TLV_HEAD_BYTES + (LULL_PEER_NAME_MAX - 1))

typedef enum proxy_err {
	PROXY_OK = 0,                    /* a whole, valid header: see proxy_parser_header */
	PROXY_NEED_MORE = 1,             /* every byte fed so far is header: feed more */
	PROXY_ERR_SIGNATURE = 2,         /* neither the v2 signature nor "PROXY " */
	PROXY_ERR_VERSION = 3,           /* v2 signature with a version other than 2 */
	PROXY_ERR_COMMAND = 4,           /* v2 command neither LOCAL nor PROXY */
	PROXY_ERR_FAMILY = 5,            /* v2 address family or transport not in the spec */
	PROXY_ERR_TOO_LONG = 6,          /* v2 length field past PROXY_HEADER_MAX_BYTES */
	PROXY_ERR_ADDR_SHORT = 7,        /* v2 address block shorter than the family needs */
	PROXY_ERR_TLV = 8,               /* a v2 TLV runs past the end of the header */
	PROXY_ERR_V1_TOO_LONG = 9,       /* v1: no CRLF within PROXY_V1_LINE_MAX_BYTES bytes */
	PROXY_ERR_V1_MALFORMED = 10,     /* v1: the line is not of the grammar */
	PROXY_ERR_STATE = 11,            /* fed again after a result: init the parser first */
	PROXY_ERR_INVALID_ARG = 12,      /* encoder: NULL, unknown family, bad peer name */
	PROXY_ERR_BUFFER_TOO_SMALL = 13, /* encoder: the output buffer cannot hold the header */
	PROXY_ERR_COUNT
} proxy_err;

const char *proxy_strerror(proxy_err err); /* a sentence; never NULL */
const char *proxy_err_name(proxy_err err); /* "PROXY_ERR_TLV" */

typedef enum proxy_command {
	PROXY_CMD_LOCAL = 0, /* the balancer's own connection (health check): use the real peer */
	PROXY_CMD_PROXY = 1, /* relayed: the addresses are the original client's */
} proxy_command;

typedef enum proxy_family {
	PROXY_FAM_UNSPEC = 0, /* unknown (v1 UNKNOWN, v2 UNSPEC, and every LOCAL) */
	PROXY_FAM_INET = 1,   /* 4-byte addresses and ports */
	PROXY_FAM_INET6 = 2,  /* 16-byte addresses and ports */
	PROXY_FAM_UNIX = 3,   /* v2 only; the 108-byte paths are checked for length, not kept */
} proxy_family;

typedef enum proxy_transport {
	PROXY_TRANSPORT_UNSPEC = 0,
	PROXY_TRANSPORT_STREAM = 1,
	PROXY_TRANSPORT_DGRAM = 2,
} proxy_transport;

/* The connection's endpoints as the balancer saw them. */
typedef struct proxy_addrs {
	proxy_family family;
	uint8_t src_addr[16]; /* network order; the first 4 bytes for INET */
	uint8_t dst_addr[16];
	uint16_t src_port; /* host order */
	uint16_t dst_port;
} proxy_addrs;

typedef struct proxy_header {
	unsigned version; /* 1 or 2 */
	proxy_command command;
	proxy_transport transport;
	proxy_addrs addrs; /* family UNSPEC: use the socket's own peer */
	size_t header_bytes;
	/* v2 with INET, INET6 or UNIX: the TLVs, each checked to end inside
	 * the header (inside the parser, valid while it lives).  Empty for
	 * v1 and for UNSPEC and LOCAL, whose address block has no defined
	 * size, so nothing after it can be told from an address. */
	const uint8_t *tlvs;
	size_t tlvs_bytes;
} proxy_header;

typedef struct proxy_parser {
	uint8_t buf[PROXY_HEADER_MAX_BYTES];
	size_t have;      /* header bytes held */
	size_t total;     /* v2: the whole header's size once the fixed part is in; else 0 */
	proxy_err result; /* PROXY_NEED_MORE until the header is done or refused */
	proxy_header hdr;
} proxy_parser;

void proxy_parser_init(proxy_parser *p);

/*
 * Feed len bytes read from the connection.  *consumed is how many of them
 * belong to the header: all of them with PROXY_NEED_MORE, those up to the
 * header's end with PROXY_OK (the rest is the connection's own data), and
 * those up to and including the offending byte with an error.  Once a call
 * has returned PROXY_OK or an error, later calls return PROXY_ERR_STATE.
 */
proxy_err proxy_parser_feed(proxy_parser *p, const uint8_t *bytes, size_t len, size_t *consumed);

/* The header, once proxy_parser_feed returned PROXY_OK; else NULL. */
const proxy_header *proxy_parser_header(const proxy_parser *p);

typedef struct proxy_tlv {
	uint8_t type;
	uint16_t len;
	const uint8_t *value;
} proxy_tlv;

/* Iterate a header's TLVs: *pos starts at 0; false after the last one. */
bool proxy_tlv_next(const proxy_header *h, size_t *pos, proxy_tlv *out);

/* The first TLV of type, if any. */
bool proxy_tlv_find(const proxy_header *h, uint8_t type, proxy_tlv *out);

/*
 * Write a version 2 header into out: command PROXY, TCP over a's family
 * (INET or INET6), and peer_name, unless NULL, as a PROXY_TLV_LULL_PEER_NAME
 * TLV; or, when a is NULL or its family UNSPEC, command LOCAL with no
 * address and no TLV (a peer name is then refused: nothing would carry
 * it).  *written is the header's size, at most PROXY_V2_ENCODED_MAX_BYTES.
 * PROXY_ERR_INVALID_ARG: family UNIX, or a peer name that is empty or
 * longer than LULL_PEER_NAME_MAX - 1 bytes.
 */
proxy_err proxy_v2_encode(const proxy_addrs *a, const char *peer_name, uint8_t *out, size_t cap,
                          size_t *written);

#endif /* LULL_PROXY_PROTO_H */
