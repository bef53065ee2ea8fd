/*
 * wire.h - lull's frame format, byte by byte (docs/protocol.md is the prose).
 *
 *   frame  = type:u8 | flags:u8 | length:u16be | body[length]
 *
 * Handshake frames carry Noise messages in the clear (Noise protects what
 * needs protecting).  Every other frame is a record:
 *
 *   body   = epoch:u32be | AEAD(key[epoch], nonce = seq, ad = header|epoch,
 *                               plaintext)
 *
 * Invariants:
 *  - Each type has an exact body length or a tight range, checked from the
 *    4-byte header alone, before a single body byte is buffered: an attacker
 *    cannot make a receiver allocate more than WIRE_FRAME_MAX_BYTES.
 *  - Flags other than those a type allows are a protocol error, so every bit
 *    on the wire means something (and is authenticated as associated data).
 */
#ifndef LULL_WIRE_H
#define LULL_WIRE_H

#include <stdint.h>

#include "crypto.h"
#include "lull.h"

#define WIRE_VERSION                  2
#define WIRE_HEADER_BYTES             4
#define WIRE_EPOCH_BYTES              4
#define WIRE_RECORD_OVERHEAD_BYTES    (WIRE_HEADER_BYTES + WIRE_EPOCH_BYTES + CRYPTO_AEAD_TAG_BYTES)
#define WIRE_RECORD_PAYLOAD_MAX_BYTES 16384 /* per DATA record; messages are fragmented */
#define WIRE_FRAME_MAX_BYTES          (WIRE_RECORD_OVERHEAD_BYTES + WIRE_RECORD_PAYLOAD_MAX_BYTES)

/* Handshake bodies (both suites: X25519, 16-byte tags). */
#define WIRE_DH_BYTES     32
#define WIRE_POLICY_BYTES 52 /* policy.h: the announced policy */
/* In psk mode 'e' also keys the cipher, so even message 1's empty payload
 * carries a tag. */
#define WIRE_HS1_MSG_BYTES             (WIRE_DH_BYTES + 16)
#define WIRE_HS1_BYTES                 (2 + WIRE_HS1_MSG_BYTES) /* version, suite, Noise message 1 */
#define WIRE_HS2_BYTES                 (WIRE_DH_BYTES + WIRE_DH_BYTES + 16 + WIRE_POLICY_BYTES + 16)
#define WIRE_HS3_BYTES                 (WIRE_DH_BYTES + 16 + WIRE_POLICY_BYTES + 16)
#define WIRE_DRK_BYTES                 32 /* one data key per direction */
#define WIRE_KEYS_PLAINTEXT_BYTES      (2 * WIRE_DRK_BYTES)
#define WIRE_HEARTBEAT_PLAINTEXT_BYTES 4 /* heartbeat id, echoed by the ack */
#define WIRE_REASON_PLAINTEXT_BYTES    1 /* close reason, rekey reason */

typedef enum wire_type {
	WIRE_HS1 = 1,           /* client -> server: Noise message 1 (e) */
	WIRE_HS2 = 2,           /* server -> client: message 2 (e = SRK, ee, s, es) + policy */
	WIRE_HS3 = 3,           /* client -> server: message 3 (s, se, psk) + policy */
	WIRE_KEYS = 4,          /* server -> client: DRK set under the handshake's split key */
	WIRE_DATA = 5,          /* application data fragment */
	WIRE_HEARTBEAT = 6,     /* client -> server while idle */
	WIRE_HEARTBEAT_ACK = 7, /* server -> client */
	WIRE_REKEY_REQUEST = 8, /* server -> client: please start a handshake */
	WIRE_CLOSE = 9,         /* authenticated close with a reason */
	WIRE_HS_FAILED = 10,    /* plaintext reason code, only before the first key */
	WIRE_KEY_END = 11,      /* both: the last record under this send key */
} wire_type;

#define WIRE_TYPE_MAX WIRE_KEY_END

#define WIRE_FLAG_MORE 0x01 /* DATA: more fragments of this message follow */

typedef struct wire_header {
	uint8_t type;
	uint8_t flags;
	uint16_t length; /* body bytes */
} wire_header;

static inline void wire_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void wire_put_u64(uint8_t *p, uint64_t v)
{
	wire_put_u32(p, (uint32_t)(v >> 32));
	wire_put_u32(p + 4, (uint32_t)v);
}

static inline uint16_t wire_get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t wire_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t wire_get_u64(const uint8_t *p)
{
	return ((uint64_t)wire_get_u32(p) << 32) | wire_get_u32(p + 4);
}

static inline void wire_header_write(uint8_t out[WIRE_HEADER_BYTES], uint8_t type, uint8_t flags,
                                     uint16_t length)
{
	out[0] = type;
	out[1] = flags;
	wire_put_u16(out + 2, length);
}

/*
 * Parse and check a header: known type, allowed flags, body length exactly
 * (or within the range) its type permits.  LULL_ERR_PROTOCOL otherwise.
 */
lull_err wire_header_read(const uint8_t in[WIRE_HEADER_BYTES], wire_header *h);

/* True for the types whose body is an AEAD record (epoch | ciphertext). */
static inline int wire_type_is_record(uint8_t type)
{
	return (type >= WIRE_KEYS && type <= WIRE_CLOSE) || type == WIRE_KEY_END;
}

#endif /* LULL_WIRE_H */
