/*
 * fuzz_frame.c - the frame header parser (wire_header_read) and the record
 * open path on arbitrary bytes.
 *
 * Input: the bytes of one frame as it would arrive (header, body), followed
 * by nothing or by anything.  Checks:
 *  - an accepted header names a known type, carries only the flags the type
 *    allows, and a body no longer than WIRE_FRAME_MAX_BYTES allows - and a
 *    record type's body holds at least epoch + tag, so record_open cannot
 *    underflow;
 *  - record_open on an accepted record frame, under keys for the claimed
 *    epoch and for another, never reads outside the frame, never writes
 *    more than WIRE_RECORD_PAYLOAD_MAX_BYTES, and (a forged tag) never
 *    succeeds on bytes no one sealed;
 *  - the input's tail sealed as a record with the header's type and flags
 *    opens back to itself, and any single flipped bit makes it fail.
 */
#include "fuzz_util.h"
#include "record.h"
#include "wire.h"

static const uint8_t frame_key[CRYPTO_AEAD_KEY_BYTES] = {
        0x6c, 0x75, 0x6c, 0x6c, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
        13,   14,   15,   16,   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
};

static void check_header(const wire_header *h)
{
	FUZZ_CHECK(h->type >= WIRE_HS1 && h->type <= WIRE_TYPE_MAX);
	FUZZ_CHECK(WIRE_HEADER_BYTES + (size_t)h->length <= WIRE_FRAME_MAX_BYTES);
	if (h->type != WIRE_DATA)
		FUZZ_CHECK(h->flags == 0);
	else
		FUZZ_CHECK((h->flags & ~WIRE_FLAG_MORE) == 0);
	if (wire_type_is_record(h->type))
		FUZZ_CHECK(h->length >= WIRE_EPOCH_BYTES + CRYPTO_AEAD_TAG_BYTES);
}

/* Open the frame under a key for epoch; it must fail (nobody sealed it). */
static void open_forged(crypto_aead_alg alg, uint32_t epoch, const wire_header *h,
                        const uint8_t *frame)
{
	record_key k;
	FUZZ_CHECK(record_key_init(&k, alg, frame_key, epoch) == LULL_OK);
	uint8_t *out = malloc(WIRE_RECORD_PAYLOAD_MAX_BYTES);
	FUZZ_CHECK(out);
	size_t out_len = 0;
	lull_err err = record_open(&k, h, frame, out, &out_len);
	if (epoch != record_frame_epoch(frame))
		FUZZ_CHECK(err == LULL_ERR_STATE);
	else
		FUZZ_CHECK(err == LULL_ERR_DECRYPT);
	FUZZ_CHECK(k.seq == 0);
	free(out);
	record_key_destroy(&k);
}

/* Seal pt as type/flags, open it back, then flip each of a few bits. */
static void round_trip(crypto_aead_alg alg, uint8_t type, uint8_t flags, const uint8_t *pt,
                       size_t len, const uint8_t *flips, size_t n_flips)
{
	record_key tx, rx;
	FUZZ_CHECK(record_key_init(&tx, alg, frame_key, 7) == LULL_OK);
	size_t frame_len = WIRE_RECORD_OVERHEAD_BYTES + len;
	uint8_t *frame = malloc(frame_len);
	uint8_t *out = malloc(WIRE_RECORD_PAYLOAD_MAX_BYTES);
	FUZZ_CHECK(frame && out);
	FUZZ_CHECK(record_seal(&tx, type, flags, pt, len, frame) == LULL_OK);
	wire_header h;
	if (wire_header_read(frame, &h) == LULL_OK) {
		check_header(&h);
		FUZZ_CHECK(h.length == frame_len - WIRE_HEADER_BYTES);
		for (size_t i = 0; i <= n_flips; i++) {
			uint8_t *copy = malloc(frame_len);
			FUZZ_CHECK(copy);
			memcpy(copy, frame, frame_len);
			if (i < n_flips) {
				size_t bit =
				        ((size_t)flips[i] * 257u + i * 8191u) % (frame_len * 8);
				copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			wire_header hc;
			if (wire_header_read(copy, &hc) != LULL_OK ||
			    WIRE_HEADER_BYTES + (size_t)hc.length != frame_len) {
				free(copy); /* framing refuses it before any crypto */
				continue;
			}
			FUZZ_CHECK(record_key_init(&rx, alg, frame_key, 7) == LULL_OK);
			size_t out_len = 0;
			lull_err err = record_open(&rx, &hc, copy, out, &out_len);
			if (i == n_flips) {
				FUZZ_CHECK(err == LULL_OK);
				FUZZ_CHECK(out_len == len &&
				           (len == 0 || memcmp(out, pt, len) == 0));
				FUZZ_CHECK(rx.seq == 1);
				/* The same record again is a replay: nonce 1 now. */
				FUZZ_CHECK(record_open(&rx, &hc, copy, out, &out_len) ==
				           LULL_ERR_DECRYPT);
			} else {
				FUZZ_CHECK(err != LULL_OK);
			}
			record_key_destroy(&rx);
			free(copy);
		}
	}
	free(frame);
	free(out);
	record_key_destroy(&tx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_random_reset(1);
	if (size < WIRE_HEADER_BYTES)
		return 0;
	wire_header h;
	lull_err err = wire_header_read(data, &h);
	FUZZ_CHECK(err == LULL_OK || err == LULL_ERR_PROTOCOL);
	if (err != LULL_OK)
		return 0;
	check_header(&h);
	size_t frame_len = WIRE_HEADER_BYTES + (size_t)h.length;
	crypto_aead_alg alg = (h.length & 1) ? CRYPTO_AEAD_CHACHAPOLY : CRYPTO_AEAD_AESGCM;
	if (wire_type_is_record(h.type) && size >= frame_len) {
		/* An exact copy so ASan catches a read past the frame. */
		uint8_t *frame = malloc(frame_len);
		FUZZ_CHECK(frame);
		memcpy(frame, data, frame_len);
		uint32_t epoch = record_frame_epoch(frame);
		open_forged(alg, epoch, &h, frame);
		open_forged(alg, epoch + 1, &h, frame);
		free(frame);
	}
	if (wire_type_is_record(h.type)) {
		/* The body after the epoch is the plaintext; what follows the
		 * frame picks bits to flip. */
		size_t body = size - WIRE_HEADER_BYTES;
		size_t len = h.length - WIRE_EPOCH_BYTES - CRYPTO_AEAD_TAG_BYTES;
		if (len > body)
			len = body;
		const uint8_t *tail = data + WIRE_HEADER_BYTES + len;
		size_t n_flips = size - WIRE_HEADER_BYTES - len;
		round_trip(alg, h.type, h.flags, data + WIRE_HEADER_BYTES, len, tail,
		           n_flips > 8 ? 8 : n_flips);
	}
	return 0;
}
