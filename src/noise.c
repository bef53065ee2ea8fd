/*
 * noise.c - Noise rev 34 CipherState, SymmetricState, HandshakeState.
 *
 * Patterns are data: one table row per pattern of §7.4, §7.5 and §18.1 with
 * its pre-messages and token lists.  The pskN modifiers are applied by
 * rewriting a copy of the row at init, so no code is specific to a pattern.
 *
 * Invariants (beyond those in noise.h):
 *  - Every DH output lives in one stack buffer that is wiped right after
 *    MixKey, on success and failure alike.
 *  - A handshake message is sized in full (token_bytes) before any byte of
 *    it is produced or consumed, so buffer and length errors never leave a
 *    half-processed message; and every error poisons regardless.
 */
#include "noise.h"

#include <string.h>

/* ---- CipherState -------------------------------------------------------- */

void noise_cipher_init_empty(noise_cipher *c, crypto_aead_alg alg)
{
	memset(c, 0, sizeof(*c));
	c->alg = alg;
}

lull_err noise_cipher_initialize_key(noise_cipher *c, const uint8_t key[NOISE_KEY_BYTES])
{
	/* Build the new context before dropping the old, so a failure leaves c
	 * keyless rather than half-keyed. */
	crypto_aead fresh = {0};
	lull_err err = crypto_aead_init(&fresh, c->alg, key);
	crypto_aead_free(&c->aead);
	c->has_key = false;
	c->n = 0;
	if (err != LULL_OK) {
		crypto_aead_free(&fresh);
		return err;
	}
	c->aead = fresh;
	c->has_key = true;
	return LULL_OK;
}

bool noise_cipher_has_key(const noise_cipher *c)
{
	return c->has_key;
}

void noise_cipher_set_nonce(noise_cipher *c, uint64_t n)
{
	c->n = n;
}

uint64_t noise_cipher_get_nonce(const noise_cipher *c)
{
	return c->n;
}

lull_err noise_cipher_encrypt(noise_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                              size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t need = pt_len + (c->has_key ? NOISE_TAG_BYTES : 0);
	if (pt_len > NOISE_MAX_MESSAGE_BYTES || need > NOISE_MAX_MESSAGE_BYTES)
		return LULL_ERR_MSG_TOO_LARGE;
	if (need > out_cap)
		return LULL_ERR_BUFFER_TOO_SMALL;
	if (!c->has_key) {
		if (pt_len > 0 && out != pt)
			memmove(out, pt, pt_len);
		*out_len = pt_len;
		return LULL_OK;
	}
	if (c->n == NOISE_NONCE_RESERVED)
		return LULL_ERR_NONCE_EXHAUSTED;
	lull_err err = crypto_aead_seal(&c->aead, c->n, ad, ad_len, pt, pt_len, out);
	if (err != LULL_OK)
		return err;
	c->n++;
	*out_len = need;
	return LULL_OK;
}

lull_err noise_cipher_decrypt(noise_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                              size_t ct_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	if (ct_len > NOISE_MAX_MESSAGE_BYTES)
		return LULL_ERR_MSG_TOO_LARGE;
	if (!c->has_key) {
		if (ct_len > out_cap)
			return LULL_ERR_BUFFER_TOO_SMALL;
		if (ct_len > 0 && out != ct)
			memmove(out, ct, ct_len);
		*out_len = ct_len;
		return LULL_OK;
	}
	if (ct_len < NOISE_TAG_BYTES)
		return LULL_ERR_MSG_TRUNCATED;
	if (ct_len - NOISE_TAG_BYTES > out_cap)
		return LULL_ERR_BUFFER_TOO_SMALL;
	if (c->n == NOISE_NONCE_RESERVED)
		return LULL_ERR_NONCE_EXHAUSTED;
	lull_err err = crypto_aead_open(&c->aead, c->n, ad, ad_len, ct, ct_len, out);
	if (err != LULL_OK)
		return err;
	c->n++;
	*out_len = ct_len - NOISE_TAG_BYTES;
	return LULL_OK;
}

void noise_cipher_move(noise_cipher *dst, noise_cipher *src)
{
	*dst = *src;
	noise_cipher_init_empty(src, src->alg);
}

void noise_cipher_destroy(noise_cipher *c)
{
	crypto_aead_free(&c->aead);
	noise_cipher_init_empty(c, c->alg);
}

/* ---- SymmetricState ----------------------------------------------------- */

lull_err noise_symmetric_init(noise_symmetric *ss, const uint8_t *protocol_name, size_t name_len,
                              crypto_aead_alg cipher, crypto_hash_alg hash)
{
	memset(ss, 0, sizeof(*ss));
	noise_cipher_init_empty(&ss->cipher, cipher);
	ss->hash = hash;
	ss->hash_len = crypto_hash_len(hash);
	if (ss->hash_len == 0 || ss->hash_len > NOISE_MAX_HASH_BYTES)
		return LULL_ERR_INVALID_ARG;
	if (name_len <= ss->hash_len) {
		memcpy(ss->h, protocol_name, name_len);
	} else {
		lull_err err = crypto_hash(hash, protocol_name, name_len, NULL, 0, ss->h);
		if (err != LULL_OK)
			return err;
	}
	memcpy(ss->ck, ss->h, ss->hash_len);
	return LULL_OK;
}

lull_err noise_symmetric_mix_key(noise_symmetric *ss, const uint8_t *ikm, size_t ikm_len)
{
	uint8_t ck[NOISE_MAX_HASH_BYTES], temp_k[NOISE_MAX_HASH_BYTES];
	lull_err err = crypto_hkdf(ss->hash, ss->ck, ikm, ikm_len, 2, ck, temp_k, NULL);
	if (err == LULL_OK) {
		memcpy(ss->ck, ck, ss->hash_len);
		/* Truncation to 32 bytes for 64-byte hashes is implicit. */
		err = noise_cipher_initialize_key(&ss->cipher, temp_k);
	}
	crypto_wipe(ck, sizeof(ck));
	crypto_wipe(temp_k, sizeof(temp_k));
	return err;
}

lull_err noise_symmetric_mix_hash(noise_symmetric *ss, const uint8_t *data, size_t len)
{
	uint8_t h[NOISE_MAX_HASH_BYTES];
	lull_err err = crypto_hash(ss->hash, ss->h, ss->hash_len, data, len, h);
	if (err == LULL_OK)
		memcpy(ss->h, h, ss->hash_len);
	return err;
}

lull_err noise_symmetric_mix_key_and_hash(noise_symmetric *ss, const uint8_t *ikm, size_t ikm_len)
{
	uint8_t ck[NOISE_MAX_HASH_BYTES], temp_h[NOISE_MAX_HASH_BYTES],
	        temp_k[NOISE_MAX_HASH_BYTES];
	lull_err err = crypto_hkdf(ss->hash, ss->ck, ikm, ikm_len, 3, ck, temp_h, temp_k);
	if (err == LULL_OK) {
		memcpy(ss->ck, ck, ss->hash_len);
		err = noise_symmetric_mix_hash(ss, temp_h, ss->hash_len);
	}
	if (err == LULL_OK)
		err = noise_cipher_initialize_key(&ss->cipher, temp_k);
	crypto_wipe(ck, sizeof(ck));
	crypto_wipe(temp_h, sizeof(temp_h));
	crypto_wipe(temp_k, sizeof(temp_k));
	return err;
}

const uint8_t *noise_symmetric_handshake_hash(const noise_symmetric *ss)
{
	return ss->h;
}

lull_err noise_symmetric_encrypt_and_hash(noise_symmetric *ss, const uint8_t *pt, size_t pt_len,
                                          uint8_t *out, size_t out_cap, size_t *out_len)
{
	lull_err err = noise_cipher_encrypt(&ss->cipher, ss->h, ss->hash_len, pt, pt_len, out,
	                                    out_cap, out_len);
	if (err != LULL_OK)
		return err;
	return noise_symmetric_mix_hash(ss, out, *out_len);
}

lull_err noise_symmetric_decrypt_and_hash(noise_symmetric *ss, const uint8_t *ct, size_t ct_len,
                                          uint8_t *out, size_t out_cap, size_t *out_len)
{
	lull_err err = noise_cipher_decrypt(&ss->cipher, ss->h, ss->hash_len, ct, ct_len, out,
	                                    out_cap, out_len);
	if (err != LULL_OK)
		return err;
	return noise_symmetric_mix_hash(ss, ct, ct_len);
}

lull_err noise_symmetric_split(noise_symmetric *ss, noise_cipher *c1, noise_cipher *c2)
{
	uint8_t k1[NOISE_MAX_HASH_BYTES], k2[NOISE_MAX_HASH_BYTES];
	noise_cipher_init_empty(c1, ss->cipher.alg);
	noise_cipher_init_empty(c2, ss->cipher.alg);
	lull_err err = crypto_hkdf(ss->hash, ss->ck, NULL, 0, 2, k1, k2, NULL);
	if (err == LULL_OK)
		err = noise_cipher_initialize_key(c1, k1);
	if (err == LULL_OK)
		err = noise_cipher_initialize_key(c2, k2);
	if (err != LULL_OK) {
		noise_cipher_destroy(c1);
		noise_cipher_destroy(c2);
	}
	crypto_wipe(k1, sizeof(k1));
	crypto_wipe(k2, sizeof(k2));
	return err;
}

lull_err noise_symmetric_split_raw(const noise_symmetric *ss, uint8_t k1[NOISE_KEY_BYTES],
                                   uint8_t k2[NOISE_KEY_BYTES])
{
	uint8_t t1[NOISE_MAX_HASH_BYTES], t2[NOISE_MAX_HASH_BYTES];
	lull_err err = crypto_hkdf(ss->hash, ss->ck, NULL, 0, 2, t1, t2, NULL);
	if (err == LULL_OK) {
		memcpy(k1, t1, NOISE_KEY_BYTES);
		memcpy(k2, t2, NOISE_KEY_BYTES);
	}
	crypto_wipe(t1, sizeof(t1));
	crypto_wipe(t2, sizeof(t2));
	return err;
}

void noise_symmetric_destroy(noise_symmetric *ss)
{
	noise_cipher_destroy(&ss->cipher);
	crypto_wipe(ss->ck, sizeof(ss->ck));
	crypto_wipe(ss->h, sizeof(ss->h));
}

/* ---- Pattern table ------------------------------------------------------ */

enum noise_token {
	TOK_END = 0, /* terminates a row's token list */
	TOK_E,
	TOK_S,
	TOK_EE,
	TOK_ES,
	TOK_SE,
	TOK_SS,
	TOK_PSK,
};

/* Pre-message contents. */
#define PRE_NONE 0
#define PRE_S    1

struct pattern_def {
	const char *name;
	uint8_t pre_initiator, pre_responder;
	/* Base patterns have at most 5 tokens per message; modifiers add more. */
	uint8_t messages[NOISE_MAX_MESSAGES][6];
};

#define E  TOK_E
#define S  TOK_S
#define EE TOK_EE
#define ES TOK_ES
#define SE TOK_SE
#define SS TOK_SS

static const struct pattern_def patterns[] = {
        /* One-way, §7.4. */
        {"N", PRE_NONE, PRE_S, {{E, ES}}},
        {"K", PRE_S, PRE_S, {{E, ES, SS}}},
        {"X", PRE_NONE, PRE_S, {{E, ES, S, SS}}},
        /* Fundamental interactive, §7.5. */
        {"NN", PRE_NONE, PRE_NONE, {{E}, {E, EE}}},
        {"NK", PRE_NONE, PRE_S, {{E, ES}, {E, EE}}},
        {"NX", PRE_NONE, PRE_NONE, {{E}, {E, EE, S, ES}}},
        {"KN", PRE_S, PRE_NONE, {{E}, {E, EE, SE}}},
        {"KK", PRE_S, PRE_S, {{E, ES, SS}, {E, EE, SE}}},
        {"KX", PRE_S, PRE_NONE, {{E}, {E, EE, SE, S, ES}}},
        {"XN", PRE_NONE, PRE_NONE, {{E}, {E, EE}, {S, SE}}},
        {"XK", PRE_NONE, PRE_S, {{E, ES}, {E, EE}, {S, SE}}},
        {"XX", PRE_NONE, PRE_NONE, {{E}, {E, EE, S, ES}, {S, SE}}},
        {"IN", PRE_NONE, PRE_NONE, {{E, S}, {E, EE, SE}}},
        {"IK", PRE_NONE, PRE_S, {{E, ES, S, SS}, {E, EE, SE}}},
        {"IX", PRE_NONE, PRE_NONE, {{E, S}, {E, EE, SE, S, ES}}},
        /* Deferred, §18.1. */
        {"NK1", PRE_NONE, PRE_S, {{E}, {E, EE, ES}}},
        {"NX1", PRE_NONE, PRE_NONE, {{E}, {E, EE, S}, {ES}}},
        {"X1N", PRE_NONE, PRE_NONE, {{E}, {E, EE}, {S}, {SE}}},
        {"X1K", PRE_NONE, PRE_S, {{E, ES}, {E, EE}, {S}, {SE}}},
        {"XK1", PRE_NONE, PRE_S, {{E}, {E, EE, ES}, {S, SE}}},
        {"X1K1", PRE_NONE, PRE_S, {{E}, {E, EE, ES}, {S}, {SE}}},
        {"X1X", PRE_NONE, PRE_NONE, {{E}, {E, EE, S, ES}, {S}, {SE}}},
        {"XX1", PRE_NONE, PRE_NONE, {{E}, {E, EE, S}, {ES, S, SE}}},
        {"X1X1", PRE_NONE, PRE_NONE, {{E}, {E, EE, S}, {ES, S}, {SE}}},
        {"K1N", PRE_S, PRE_NONE, {{E}, {E, EE}, {SE}}},
        {"K1K", PRE_S, PRE_S, {{E, ES}, {E, EE}, {SE}}},
        {"KK1", PRE_S, PRE_S, {{E}, {E, EE, SE, ES}}},
        {"K1K1", PRE_S, PRE_S, {{E}, {E, EE, ES}, {SE}}},
        {"K1X", PRE_S, PRE_NONE, {{E}, {E, EE, S, ES}, {SE}}},
        {"KX1", PRE_S, PRE_NONE, {{E}, {E, EE, SE, S}, {ES}}},
        {"K1X1", PRE_S, PRE_NONE, {{E}, {E, EE, S}, {SE, ES}}},
        {"I1N", PRE_NONE, PRE_NONE, {{E, S}, {E, EE}, {SE}}},
        {"I1K", PRE_NONE, PRE_S, {{E, ES, S}, {E, EE}, {SE}}},
        {"IK1", PRE_NONE, PRE_S, {{E, S}, {E, EE, SE, ES}}},
        {"I1K1", PRE_NONE, PRE_S, {{E, S}, {E, EE, ES}, {SE}}},
        {"I1X", PRE_NONE, PRE_NONE, {{E, S}, {E, EE, S, ES}, {SE}}},
        {"IX1", PRE_NONE, PRE_NONE, {{E, S}, {E, EE, SE, S}, {ES}}},
        {"I1X1", PRE_NONE, PRE_NONE, {{E, S}, {E, EE, S}, {SE, ES}}},
};

#undef E
#undef S
#undef EE
#undef ES
#undef SE
#undef SS

/* ---- Protocol name parsing ---------------------------------------------- */

struct protocol {
	const struct pattern_def *pattern;
	uint8_t psk_slots[NOISE_MAX_PSKS]; /* modifier numbers, in name order */
	uint8_t psk_modifiers;
	crypto_dh_alg dh;
	crypto_aead_alg cipher;
	crypto_hash_alg hash;
};

/* s[0..len) equals the NUL-terminated word. */
static bool span_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* One "pskN" modifier; N is a decimal without leading zeros. */
static bool parse_psk_modifier(const char *s, size_t len, uint8_t *slot)
{
	if (len < 4 || memcmp(s, "psk", 3) != 0)
		return false;
	if (len > 5 || (len == 5 && s[3] == '0'))
		return false;
	unsigned v = 0;
	for (size_t i = 3; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*slot = (uint8_t)v;
	return true;
}

/* "<Pattern><mod>+<mod>..." with the pattern name in upper case and digits. */
static lull_err parse_pattern(const char *s, size_t len, struct protocol *proto)
{
	size_t base_len = 0;
	while (base_len < len && ((s[base_len] >= 'A' && s[base_len] <= 'Z') ||
	                          (s[base_len] >= '0' && s[base_len] <= '9')))
		base_len++;
	proto->pattern = NULL;
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (span_is(s, base_len, patterns[i].name))
			proto->pattern = &patterns[i];
	}
	if (proto->pattern == NULL)
		return LULL_ERR_UNKNOWN_PROTOCOL;

	proto->psk_modifiers = 0;
	size_t pos = base_len;
	while (pos < len) {
		size_t end = pos;
		while (end < len && s[end] != '+')
			end++;
		uint8_t slot;
		/* "fallback" (§10.2) and anything else is not supported. */
		if (!parse_psk_modifier(s + pos, end - pos, &slot))
			return LULL_ERR_UNKNOWN_PROTOCOL;
		for (unsigned i = 0; i < proto->psk_modifiers; i++) {
			if (proto->psk_slots[i] == slot)
				return LULL_ERR_UNKNOWN_PROTOCOL;
		}
		if (proto->psk_modifiers == NOISE_MAX_PSKS)
			return LULL_ERR_UNKNOWN_PROTOCOL;
		proto->psk_slots[proto->psk_modifiers++] = slot;
		if (end == len)
			break;
		pos = end + 1;
		if (pos == len) /* trailing '+' */
			return LULL_ERR_UNKNOWN_PROTOCOL;
	}
	return LULL_OK;
}

static lull_err parse_protocol_name(const char *name, struct protocol *proto)
{
	if (name == NULL)
		return LULL_ERR_UNKNOWN_PROTOCOL;
	size_t name_len = strnlen(name, NOISE_MAX_PROTOCOL_NAME_BYTES + 1);
	if (name_len > NOISE_MAX_PROTOCOL_NAME_BYTES)
		return LULL_ERR_UNKNOWN_PROTOCOL;

	/* Exactly five '_'-separated sections, none empty. */
	const char *section[5];
	size_t section_len[5];
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= name_len; i++) {
		if (i < name_len && name[i] != '_')
			continue;
		if (n == 5 || i == start)
			return LULL_ERR_UNKNOWN_PROTOCOL;
		section[n] = name + start;
		section_len[n] = i - start;
		n++;
		start = i + 1;
	}
	if (n != 5 || !span_is(section[0], section_len[0], "Noise"))
		return LULL_ERR_UNKNOWN_PROTOCOL;

	lull_err err = parse_pattern(section[1], section_len[1], proto);
	if (err != LULL_OK)
		return err;

	if (span_is(section[2], section_len[2], "25519"))
		proto->dh = CRYPTO_DH_25519;
	else if (span_is(section[2], section_len[2], "448"))
		proto->dh = CRYPTO_DH_448;
	else
		return LULL_ERR_UNKNOWN_PROTOCOL;

	if (span_is(section[3], section_len[3], "AESGCM"))
		proto->cipher = CRYPTO_AEAD_AESGCM;
	else if (span_is(section[3], section_len[3], "ChaChaPoly"))
		proto->cipher = CRYPTO_AEAD_CHACHAPOLY;
	else
		return LULL_ERR_UNKNOWN_PROTOCOL;

	if (span_is(section[4], section_len[4], "SHA256"))
		proto->hash = CRYPTO_HASH_SHA256;
	else if (span_is(section[4], section_len[4], "SHA512"))
		proto->hash = CRYPTO_HASH_SHA512;
	else if (span_is(section[4], section_len[4], "BLAKE2s"))
		proto->hash = CRYPTO_HASH_BLAKE2S;
	else if (span_is(section[4], section_len[4], "BLAKE2b"))
		proto->hash = CRYPTO_HASH_BLAKE2B;
	else
		return LULL_ERR_UNKNOWN_PROTOCOL;
	return LULL_OK;
}

/* ---- HandshakeState: setup ---------------------------------------------- */

/* Copy the pattern's tokens into hs and apply the psk modifiers (§9.4). */
static lull_err load_pattern(noise_handshake *hs, const struct protocol *proto)
{
	const struct pattern_def *p = proto->pattern;
	hs->message_count = 0;
	for (unsigned m = 0; m < NOISE_MAX_MESSAGES && p->messages[m][0] != TOK_END; m++) {
		unsigned t = 0;
		while (t < sizeof(p->messages[m]) && p->messages[m][t] != TOK_END) {
			hs->tokens[m][t] = p->messages[m][t];
			t++;
		}
		hs->token_count[m] = (uint8_t)t;
		hs->message_count++;
	}
	for (unsigned i = 0; i < proto->psk_modifiers; i++) {
		unsigned slot = proto->psk_slots[i];
		unsigned m = slot == 0 ? 0 : slot - 1;
		if (m >= hs->message_count || hs->token_count[m] == NOISE_MAX_TOKENS)
			return LULL_ERR_UNKNOWN_PROTOCOL;
		if (slot == 0) {
			memmove(&hs->tokens[0][1], &hs->tokens[0][0], hs->token_count[0]);
			hs->tokens[0][0] = TOK_PSK;
		} else {
			hs->tokens[m][hs->token_count[m]] = TOK_PSK;
		}
		hs->token_count[m]++;
	}
	hs->psk_mode = proto->psk_modifiers > 0;
	return LULL_OK;
}

static bool message_is_initiators(unsigned index)
{
	return index % 2 == 0;
}

/* Whether the pattern makes this side use its own static key pair. */
static bool needs_local_static(const noise_handshake *hs, const struct pattern_def *p)
{
	bool initiator = hs->role == NOISE_INITIATOR;
	if ((initiator ? p->pre_initiator : p->pre_responder) & PRE_S)
		return true;
	for (unsigned m = 0; m < hs->message_count; m++) {
		for (unsigned t = 0; t < hs->token_count[m]; t++) {
			uint8_t tok = hs->tokens[m][t];
			bool ours = message_is_initiators(m) == initiator;
			if ((tok == TOK_S && ours) || tok == TOK_SS ||
			    (tok == TOK_SE && initiator) || (tok == TOK_ES && !initiator))
				return true;
		}
	}
	return false;
}

static unsigned count_psk_tokens(const noise_handshake *hs)
{
	unsigned n = 0;
	for (unsigned m = 0; m < hs->message_count; m++) {
		for (unsigned t = 0; t < hs->token_count[m]; t++)
			n += hs->tokens[m][t] == TOK_PSK;
	}
	return n;
}

/* Drop every DH key handle (the remote ones only hold public keys). */
static void release_dh_keys(noise_handshake *hs)
{
	crypto_dh_key_free(hs->s_key);
	crypto_dh_key_free(hs->e_key);
	crypto_dh_key_free(hs->rs_key);
	crypto_dh_key_free(hs->re_key);
	hs->s_key = hs->e_key = hs->rs_key = hs->re_key = NULL;
}

/* Wipe everything secret the handshake holds except the split ciphers. */
static void wipe_handshake_secrets(noise_handshake *hs)
{
	noise_cipher_destroy(&hs->ss.cipher);
	crypto_wipe(hs->ss.ck, sizeof(hs->ss.ck));
	crypto_wipe(hs->s_priv, sizeof(hs->s_priv));
	crypto_wipe(hs->e_priv, sizeof(hs->e_priv));
	crypto_wipe(hs->psks, sizeof(hs->psks));
	release_dh_keys(hs);
	hs->has_s = hs->has_e = false;
}

/* A local key handle hs can use: its curve, with a private key. */
static bool key_fits(const noise_handshake *hs, const crypto_dh_key *key)
{
	return crypto_dh_key_has_private(key) && crypto_dh_key_alg(key) == hs->dh;
}

/* Poison hs: the only way out of a failed call. */
static lull_err fail(noise_handshake *hs, lull_err err)
{
	wipe_handshake_secrets(hs);
	noise_cipher_destroy(&hs->c1);
	noise_cipher_destroy(&hs->c2);
	crypto_wipe(hs->ss.h, sizeof(hs->ss.h));
	crypto_wipe(hs->split_k1, sizeof(hs->split_k1));
	crypto_wipe(hs->split_k2, sizeof(hs->split_k2));
	hs->has_rs = hs->has_re = false;
	hs->status = NOISE_HS_FAILED;
	return err;
}

lull_err noise_handshake_init(noise_handshake *hs, const noise_handshake_params *p)
{
	memset(hs, 0, sizeof(*hs));
	hs->status = NOISE_HS_FAILED;
	if (p == NULL || (p->prologue == NULL && p->prologue_len > 0) ||
	    (p->psks == NULL && p->psk_count > 0) ||
	    (p->role != NOISE_INITIATOR && p->role != NOISE_RESPONDER))
		return fail(hs, LULL_ERR_INVALID_ARG);

	struct protocol proto;
	lull_err err = parse_protocol_name(p->protocol_name, &proto);
	if (err == LULL_OK)
		err = load_pattern(hs, &proto);
	if (err != LULL_OK)
		return fail(hs, err);
	hs->role = p->role;
	if (p->rng != NULL)
		hs->rng = *p->rng;
	hs->dh = proto.dh;
	hs->dh_len = crypto_dh_len(proto.dh);
	if (hs->dh_len == 0 || hs->dh_len > NOISE_MAX_DH_BYTES)
		return fail(hs, LULL_ERR_INVALID_ARG);
	noise_cipher_init_empty(&hs->c1, proto.cipher);
	noise_cipher_init_empty(&hs->c2, proto.cipher);

	/* Key checks first: a missing key must cost no crypto. */
	bool initiator = p->role == NOISE_INITIATOR;
	bool need_s = needs_local_static(hs, proto.pattern);
	bool need_rs = ((initiator ? proto.pattern->pre_responder : proto.pattern->pre_initiator) &
	                PRE_S) != 0;
	unsigned need_psks = count_psk_tokens(hs);
	if ((need_s && p->static_priv == NULL && p->static_key == NULL) ||
	    (need_rs && p->remote_static == NULL) ||
	    (p->psk_count < need_psks && p->psk_lookup == NULL))
		return fail(hs, LULL_ERR_MISSING_KEY);
	/* Surplus PSKs mean caller and pattern disagree about the protocol. */
	if (p->psk_count > need_psks)
		return fail(hs, LULL_ERR_INVALID_ARG);
	if (need_s && p->static_key != NULL && !key_fits(hs, p->static_key))
		return fail(hs, LULL_ERR_INVALID_ARG);

	if (need_s && p->static_key != NULL) {
		hs->s_key = crypto_dh_key_ref(p->static_key);
		memcpy(hs->s_pub,
		       p->static_pub != NULL ? p->static_pub : crypto_dh_key_public(hs->s_key),
		       hs->dh_len);
		hs->has_s = true;
	} else if (need_s) {
		memcpy(hs->s_priv, p->static_priv, hs->dh_len);
		if (p->static_pub != NULL)
			memcpy(hs->s_pub, p->static_pub, hs->dh_len);
		else if ((err = crypto_dh_public(hs->dh, hs->s_priv, hs->s_pub)) != LULL_OK)
			return fail(hs, err);
		hs->has_s = true;
	}
	if (need_rs) {
		memcpy(hs->rs, p->remote_static, hs->dh_len);
		hs->has_rs = true;
	}
	if (p->psk_count > 0)
		memcpy(hs->psks, p->psks, p->psk_count * NOISE_PSK_BYTES);
	hs->psk_count = (uint8_t)p->psk_count;
	hs->psk_lookup = p->psk_lookup;
	hs->psk_lookup_user = p->psk_lookup_user;

	size_t name_len = strlen(p->protocol_name);
	err = noise_symmetric_init(&hs->ss, (const uint8_t *)p->protocol_name, name_len,
	                           proto.cipher, proto.hash);
	if (err == LULL_OK)
		err = noise_symmetric_mix_hash(&hs->ss, p->prologue, p->prologue_len);
	/* Pre-messages: the initiator's keys first (§5.3). */
	if (err == LULL_OK && (proto.pattern->pre_initiator & PRE_S))
		err = noise_symmetric_mix_hash(&hs->ss, initiator ? hs->s_pub : hs->rs, hs->dh_len);
	if (err == LULL_OK && (proto.pattern->pre_responder & PRE_S))
		err = noise_symmetric_mix_hash(&hs->ss, initiator ? hs->rs : hs->s_pub, hs->dh_len);
	if (err != LULL_OK)
		return fail(hs, err);
	hs->status = NOISE_HS_IN_PROGRESS;
	return LULL_OK;
}

lull_err noise_handshake_set_ephemeral(noise_handshake *hs, const uint8_t *priv, const uint8_t *pub)
{
	if (hs->status == NOISE_HS_DONE)
		return LULL_ERR_HANDSHAKE_DONE;
	if (hs->status != NOISE_HS_IN_PROGRESS)
		return LULL_ERR_STATE;
	if (priv == NULL)
		return fail(hs, LULL_ERR_INVALID_ARG);
	if (hs->e_sent)
		return fail(hs, LULL_ERR_STATE);
	crypto_dh_key_free(hs->e_key);
	hs->e_key = NULL;
	memcpy(hs->e_priv, priv, hs->dh_len);
	if (pub != NULL) {
		memcpy(hs->e_pub, pub, hs->dh_len);
	} else {
		lull_err err = crypto_dh_public(hs->dh, hs->e_priv, hs->e_pub);
		if (err != LULL_OK)
			return fail(hs, err);
	}
	hs->has_e = true;
	return LULL_OK;
}

lull_err noise_handshake_set_ephemeral_key(noise_handshake *hs, crypto_dh_key *key)
{
	if (hs->status == NOISE_HS_DONE)
		return LULL_ERR_HANDSHAKE_DONE;
	if (hs->status != NOISE_HS_IN_PROGRESS)
		return LULL_ERR_STATE;
	if (key == NULL || !key_fits(hs, key))
		return fail(hs, LULL_ERR_INVALID_ARG);
	if (hs->e_sent)
		return fail(hs, LULL_ERR_STATE);
	crypto_wipe(hs->e_priv, sizeof(hs->e_priv));
	crypto_dh_key_free(hs->e_key);
	hs->e_key = crypto_dh_key_ref(key);
	memcpy(hs->e_pub, crypto_dh_key_public(key), hs->dh_len);
	hs->has_e = true;
	return LULL_OK;
}

/* ---- HandshakeState: messages ------------------------------------------- */

/*
 * The bytes the current message's tokens occupy (without the payload), and
 * whether the payload will be encrypted: replays HasKey() through the tokens.
 */
static size_t token_bytes(const noise_handshake *hs, bool *payload_keyed)
{
	unsigned m = hs->message_index;
	bool keyed = noise_cipher_has_key(&hs->ss.cipher);
	size_t len = 0;
	for (unsigned t = 0; t < hs->token_count[m]; t++) {
		switch (hs->tokens[m][t]) {
		case TOK_E:
			len += hs->dh_len;
			keyed = keyed || hs->psk_mode;
			break;
		case TOK_S:
			len += hs->dh_len + (keyed ? NOISE_TAG_BYTES : 0);
			break;
		default: /* DH and psk tokens: MixKey */
			keyed = true;
			break;
		}
	}
	*payload_keyed = keyed;
	return len;
}

/*
 * The handle for a local key (ephemeral or static): the one given or
 * generated, else the raw pair imported now - once, and its raw private
 * bytes wiped, since every later DH uses the handle.
 */
static lull_err local_key(noise_handshake *hs, bool eph, crypto_dh_key **out)
{
	crypto_dh_key **slot = eph ? &hs->e_key : &hs->s_key;
	uint8_t *priv = eph ? hs->e_priv : hs->s_priv;
	if (*slot == NULL) {
		lull_err err = crypto_dh_key_new(hs->dh, priv, eph ? hs->e_pub : hs->s_pub, slot);
		if (err != LULL_OK)
			return err;
		crypto_wipe(priv, NOISE_MAX_DH_BYTES);
	}
	*out = *slot;
	return LULL_OK;
}

/* The handle for a remote public key, imported on its first DH: the
 * responder's re serves ee and es, so it is imported once for both. */
static lull_err remote_key(noise_handshake *hs, bool eph, crypto_dh_key **out)
{
	crypto_dh_key **slot = eph ? &hs->re_key : &hs->rs_key;
	if (*slot == NULL) {
		lull_err err = crypto_dh_key_new_public(hs->dh, eph ? hs->re : hs->rs, slot);
		if (err != LULL_OK)
			return err;
	}
	*out = *slot;
	return LULL_OK;
}

/* MixKey(DH(local, remote)), the DH output wiped whatever happens.  One
 * scalar multiplication: the local handle holds its public half. */
static lull_err mix_dh(noise_handshake *hs, bool local_eph, bool remote_eph)
{
	if (!(local_eph ? hs->has_e : hs->has_s) || !(remote_eph ? hs->has_re : hs->has_rs))
		return LULL_ERR_MISSING_KEY;
	crypto_dh_key *own = NULL, *peer = NULL;
	uint8_t shared[NOISE_MAX_DH_BYTES];
	lull_err err = local_key(hs, local_eph, &own);
	if (err == LULL_OK)
		err = remote_key(hs, remote_eph, &peer);
	if (err == LULL_OK)
		err = crypto_dh_key_derive(own, peer, shared);
	if (err == LULL_OK)
		err = noise_symmetric_mix_key(&hs->ss, shared, hs->dh_len);
	crypto_wipe(shared, sizeof(shared));
	return err;
}

/* The ee/es/se/ss/psk tokens: the same on both the writing and reading side. */
static lull_err process_key_token(noise_handshake *hs, uint8_t tok)
{
	bool initiator = hs->role == NOISE_INITIATOR;
	switch (tok) {
	case TOK_EE:
		return mix_dh(hs, true, true);
	case TOK_SS:
		return mix_dh(hs, false, false);
	case TOK_ES:
		return initiator ? mix_dh(hs, true, false) : mix_dh(hs, false, true);
	case TOK_SE:
		return initiator ? mix_dh(hs, false, true) : mix_dh(hs, true, false);
	case TOK_PSK: {
		if (hs->psk_next < hs->psk_count)
			return noise_symmetric_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_next++],
			                                        NOISE_PSK_BYTES);
		if (hs->psk_lookup == NULL)
			return LULL_ERR_MISSING_KEY;
		uint8_t psk[NOISE_PSK_BYTES];
		lull_err err = hs->psk_lookup(hs->psk_lookup_user, hs->has_rs ? hs->rs : NULL, psk);
		if (err == LULL_OK)
			err = noise_symmetric_mix_key_and_hash(&hs->ss, psk, NOISE_PSK_BYTES);
		crypto_wipe(psk, sizeof(psk));
		return err;
	}
	default:
		return LULL_ERR_STATE;
	}
}

/* MixHash(e.pub), and MixKey(e.pub) too in PSK handshakes (§9.2). */
static lull_err mix_ephemeral(noise_handshake *hs, const uint8_t *pub)
{
	lull_err err = noise_symmetric_mix_hash(&hs->ss, pub, hs->dh_len);
	if (err == LULL_OK && hs->psk_mode)
		err = noise_symmetric_mix_key(&hs->ss, pub, hs->dh_len);
	return err;
}

/* After the last message: Split(), then drop what is no longer needed. */
static lull_err finish_if_last(noise_handshake *hs)
{
	hs->message_index++;
	if (hs->message_index < hs->message_count)
		return LULL_OK;
	/* Split()'s keys only: noise_handshake_split keys the CipherStates if
	 * and when it is called (lull takes the raw keys alone). */
	lull_err err = noise_symmetric_split_raw(&hs->ss, hs->split_k1, hs->split_k2);
	if (err != LULL_OK)
		return err;
	wipe_handshake_secrets(hs);
	hs->status = NOISE_HS_DONE;
	return LULL_OK;
}

/* The checks every write and read start with; fatal ones poison. */
static lull_err check_turn(noise_handshake *hs, bool writing)
{
	if (hs->status == NOISE_HS_DONE)
		return LULL_ERR_HANDSHAKE_DONE;
	if (hs->status != NOISE_HS_IN_PROGRESS)
		return LULL_ERR_STATE;
	if (noise_handshake_is_my_turn(hs) != writing)
		return fail(hs, LULL_ERR_STATE);
	return LULL_OK;
}

static lull_err write_tokens(noise_handshake *hs, const uint8_t *payload, size_t payload_len,
                             uint8_t *out, size_t out_cap, size_t *pos)
{
	unsigned m = hs->message_index;
	lull_err err = LULL_OK;
	size_t len;
	for (unsigned t = 0; t < hs->token_count[m] && err == LULL_OK; t++) {
		uint8_t tok = hs->tokens[m][t];
		switch (tok) {
		case TOK_E:
			if (!hs->has_e) {
				/* The private key stays inside the handle. */
				err = crypto_dh_key_generate(hs->dh, &hs->rng, NULL, hs->e_pub,
				                             &hs->e_key);
				if (err != LULL_OK)
					break;
				hs->has_e = true;
			}
			hs->e_sent = true;
			memcpy(out + *pos, hs->e_pub, hs->dh_len);
			*pos += hs->dh_len;
			err = mix_ephemeral(hs, hs->e_pub);
			break;
		case TOK_S:
			if (!hs->has_s) {
				err = LULL_ERR_MISSING_KEY;
				break;
			}
			err = noise_symmetric_encrypt_and_hash(&hs->ss, hs->s_pub, hs->dh_len,
			                                       out + *pos, out_cap - *pos, &len);
			*pos += err == LULL_OK ? len : 0;
			break;
		default:
			err = process_key_token(hs, tok);
			break;
		}
	}
	if (err == LULL_OK) {
		err = noise_symmetric_encrypt_and_hash(&hs->ss, payload, payload_len, out + *pos,
		                                       out_cap - *pos, &len);
		*pos += err == LULL_OK ? len : 0;
	}
	return err;
}

lull_err noise_handshake_write(noise_handshake *hs, const uint8_t *payload, size_t payload_len,
                               uint8_t *out, size_t out_cap, size_t *out_len)
{
	lull_err err = check_turn(hs, true);
	if (err != LULL_OK)
		return err;
	if (out == NULL || out_len == NULL || (payload == NULL && payload_len > 0))
		return fail(hs, LULL_ERR_INVALID_ARG);

	bool keyed;
	size_t need = token_bytes(hs, &keyed);
	if (payload_len > NOISE_MAX_MESSAGE_BYTES ||
	    need + payload_len + (keyed ? NOISE_TAG_BYTES : 0) > NOISE_MAX_MESSAGE_BYTES)
		return fail(hs, LULL_ERR_MSG_TOO_LARGE);
	need += payload_len + (keyed ? NOISE_TAG_BYTES : 0);
	if (need > out_cap)
		return fail(hs, LULL_ERR_BUFFER_TOO_SMALL);

	size_t pos = 0;
	err = write_tokens(hs, payload, payload_len, out, out_cap, &pos);
	if (err == LULL_OK)
		err = finish_if_last(hs);
	if (err != LULL_OK) {
		/* Nothing of a failed message may reach the wire. */
		crypto_wipe(out, pos);
		return fail(hs, err);
	}
	*out_len = pos;
	return LULL_OK;
}

static lull_err read_tokens(noise_handshake *hs, const uint8_t *msg, size_t msg_len,
                            uint8_t *payload, size_t payload_cap, size_t *payload_len)
{
	unsigned m = hs->message_index;
	size_t pos = 0, len;
	lull_err err = LULL_OK;
	for (unsigned t = 0; t < hs->token_count[m] && err == LULL_OK; t++) {
		uint8_t tok = hs->tokens[m][t];
		size_t take;
		switch (tok) {
		case TOK_E:
			/* token_bytes checked the length; re is empty (one 'e' each). */
			memcpy(hs->re, msg + pos, hs->dh_len);
			hs->has_re = true;
			pos += hs->dh_len;
			err = mix_ephemeral(hs, hs->re);
			break;
		case TOK_S:
			take = hs->dh_len +
			       (noise_cipher_has_key(&hs->ss.cipher) ? NOISE_TAG_BYTES : 0);
			if (hs->has_rs) { /* a pattern never sends a pre-message key again */
				err = LULL_ERR_STATE;
				break;
			}
			err = noise_symmetric_decrypt_and_hash(&hs->ss, msg + pos, take, hs->rs,
			                                       sizeof(hs->rs), &len);
			hs->has_rs = err == LULL_OK;
			pos += take;
			break;
		default:
			err = process_key_token(hs, tok);
			break;
		}
	}
	if (err == LULL_OK)
		err = noise_symmetric_decrypt_and_hash(&hs->ss, msg + pos, msg_len - pos, payload,
		                                       payload_cap, payload_len);
	return err;
}

lull_err noise_handshake_read(noise_handshake *hs, const uint8_t *msg, size_t msg_len,
                              uint8_t *payload, size_t payload_cap, size_t *payload_len)
{
	static uint8_t no_payload[1];
	lull_err err = check_turn(hs, false);
	if (err != LULL_OK)
		return err;
	if ((msg == NULL && msg_len > 0) || payload_len == NULL ||
	    (payload == NULL && payload_cap > 0))
		return fail(hs, LULL_ERR_INVALID_ARG);
	if (msg_len > NOISE_MAX_MESSAGE_BYTES)
		return fail(hs, LULL_ERR_MSG_TOO_LARGE);

	bool keyed;
	size_t need = token_bytes(hs, &keyed) + (keyed ? NOISE_TAG_BYTES : 0);
	if (msg_len < need)
		return fail(hs, LULL_ERR_MSG_TRUNCATED);
	if (msg_len - need > payload_cap)
		return fail(hs, LULL_ERR_BUFFER_TOO_SMALL);
	if (payload == NULL)
		payload = no_payload; /* payload_cap is 0 and so is the payload */

	err = read_tokens(hs, msg, msg_len, payload, payload_cap, payload_len);
	if (err == LULL_OK)
		err = finish_if_last(hs);
	if (err != LULL_OK) {
		crypto_wipe(payload, payload_cap);
		return fail(hs, err);
	}
	return LULL_OK;
}

/* ---- HandshakeState: results -------------------------------------------- */

bool noise_handshake_is_done(const noise_handshake *hs)
{
	return hs->status == NOISE_HS_DONE;
}

bool noise_handshake_is_my_turn(const noise_handshake *hs)
{
	return hs->status == NOISE_HS_IN_PROGRESS &&
	       message_is_initiators(hs->message_index) == (hs->role == NOISE_INITIATOR);
}

noise_role noise_handshake_role(const noise_handshake *hs)
{
	return hs->role;
}

size_t noise_handshake_dh_len(const noise_handshake *hs)
{
	return hs->dh_len;
}

const uint8_t *noise_handshake_remote_static(const noise_handshake *hs)
{
	return hs->status != NOISE_HS_FAILED && hs->has_rs ? hs->rs : NULL;
}

const uint8_t *noise_handshake_remote_ephemeral(const noise_handshake *hs)
{
	return hs->status != NOISE_HS_FAILED && hs->has_re ? hs->re : NULL;
}

lull_err noise_handshake_get_hash(const noise_handshake *hs, uint8_t *out, size_t out_cap,
                                  size_t *out_len)
{
	if (hs->status != NOISE_HS_DONE)
		return LULL_ERR_STATE;
	if (out_cap < hs->ss.hash_len)
		return LULL_ERR_BUFFER_TOO_SMALL;
	memcpy(out, noise_symmetric_handshake_hash(&hs->ss), hs->ss.hash_len);
	*out_len = hs->ss.hash_len;
	return LULL_OK;
}

/* The Split() keys go once nobody can ask for them again. */
static void wipe_split_keys_if_taken(noise_handshake *hs)
{
	if (hs->split_taken && hs->split_raw_taken) {
		crypto_wipe(hs->split_k1, sizeof(hs->split_k1));
		crypto_wipe(hs->split_k2, sizeof(hs->split_k2));
	}
}

lull_err noise_handshake_split(noise_handshake *hs, noise_cipher *c1, noise_cipher *c2)
{
	if (hs->status != NOISE_HS_DONE || hs->split_taken)
		return LULL_ERR_STATE;
	lull_err err = noise_cipher_initialize_key(&hs->c1, hs->split_k1);
	if (err == LULL_OK)
		err = noise_cipher_initialize_key(&hs->c2, hs->split_k2);
	if (err != LULL_OK) {
		noise_cipher_destroy(&hs->c1);
		noise_cipher_destroy(&hs->c2);
		noise_cipher_init_empty(c1, hs->c1.alg);
		noise_cipher_init_empty(c2, hs->c2.alg);
		return err;
	}
	noise_cipher_move(c1, &hs->c1);
	noise_cipher_move(c2, &hs->c2);
	hs->split_taken = true;
	wipe_split_keys_if_taken(hs);
	return LULL_OK;
}

lull_err noise_handshake_split_raw(noise_handshake *hs, uint8_t k1[NOISE_KEY_BYTES],
                                   uint8_t k2[NOISE_KEY_BYTES])
{
	if (hs->status != NOISE_HS_DONE || hs->split_raw_taken)
		return LULL_ERR_STATE;
	memcpy(k1, hs->split_k1, NOISE_KEY_BYTES);
	memcpy(k2, hs->split_k2, NOISE_KEY_BYTES);
	hs->split_raw_taken = true;
	wipe_split_keys_if_taken(hs);
	return LULL_OK;
}

void noise_handshake_destroy(noise_handshake *hs)
{
	release_dh_keys(hs);
	noise_symmetric_destroy(&hs->ss);
	noise_cipher_destroy(&hs->c1);
	noise_cipher_destroy(&hs->c2);
	crypto_wipe(hs, sizeof(*hs));
}
