/*
 * noise_vectors.c - run the Noise test vectors of cacophony and snow against
 * src/noise.c.
 *
 *   noise_vectors FILE...
 *
 * For each vector: build initiator and responder from its keys, run the
 * handshake checking every ciphertext byte for byte and every decrypted
 * payload, then the handshake hash (when given) and the transport messages
 * under the split CipherStates.
 *
 * Invariants:
 *  - Never a silent pass: a missing file exits 77 (CTest "skipped") with a
 *    message, a vector we cannot run is counted as skipped with its reason,
 *    and the last line is always "N passed, M failed, K skipped".
 *  - The JSON parser is strict and small: objects, arrays and strings, the
 *    only values the vector files use.  Anything else is an error with its
 *    byte offset, exit 2, because a misparsed file could hide vectors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "noise.h"

#define MAX_FILE_BYTES   (64u << 20)
#define MAX_JSON_DEPTH   32
#define MAX_SKIP_REASONS 32
#define MAX_PRINTED_FAIL 10

/* ---- JSON --------------------------------------------------------------- */

enum json_type { JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	const char *str; /* JSON_STRING: points into the file buffer, NUL-terminated in place */
	size_t str_len;
	struct json **items; /* arrays: values; objects: alternating key, value */
	size_t count;
};

struct parser {
	char *buf;
	size_t len, pos;
	const char *file;
	const char *error;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (q == NULL) {
		fprintf(stderr, "noise_vectors: out of memory\n");
		exit(2);
	}
	return q;
}

static void json_free(struct json *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->count; i++)
		json_free(v->items[i]);
	free(v->items);
	free(v);
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len && (p->buf[p->pos] == ' ' || p->buf[p->pos] == '\t' ||
	                           p->buf[p->pos] == '\n' || p->buf[p->pos] == '\r'))
		p->pos++;
}

static struct json *parse_value(struct parser *p, int depth);

/* Strings are decoded in place: escapes only shrink them. */
static struct json *parse_string(struct parser *p)
{
	p->pos++; /* opening quote */
	char *out = p->buf + p->pos;
	size_t n = 0;
	while (p->pos < p->len && p->buf[p->pos] != '"') {
		char c = p->buf[p->pos];
		if ((unsigned char)c < 0x20) {
			p->error = "control character in string";
			return NULL;
		}
		if (c == '\\') {
			if (++p->pos >= p->len)
				break;
			switch (p->buf[p->pos]) {
			case '"':
			case '\\':
			case '/':
				c = p->buf[p->pos];
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			default:
				p->error = "unsupported escape in string";
				return NULL;
			}
		}
		out[n++] = c;
		p->pos++;
	}
	if (p->pos >= p->len) {
		p->error = "unterminated string";
		return NULL;
	}
	p->buf[p->pos++] = '\0'; /* closing quote; out[n] is at or before it */
	out[n] = '\0';
	struct json *v = xrealloc(NULL, sizeof(*v));
	*v = (struct json){.type = JSON_STRING, .str = out, .str_len = n};
	return v;
}

static void push_item(struct json *v, struct json *item)
{
	v->items = xrealloc(v->items, (v->count + 1) * sizeof(*v->items));
	v->items[v->count++] = item;
}

/* Arrays and objects share their grammar; objects have "key": before each value. */
static struct json *parse_container(struct parser *p, int depth, enum json_type type)
{
	char close = type == JSON_ARRAY ? ']' : '}';
	struct json *v = xrealloc(NULL, sizeof(*v));
	*v = (struct json){.type = type};
	p->pos++;
	skip_space(p);
	if (p->pos < p->len && p->buf[p->pos] == close) {
		p->pos++;
		return v;
	}
	for (;;) {
		skip_space(p);
		if (type == JSON_OBJECT) {
			if (p->pos >= p->len || p->buf[p->pos] != '"') {
				p->error = "expected a string key";
				break;
			}
			struct json *key = parse_string(p);
			if (key == NULL)
				break;
			push_item(v, key);
			skip_space(p);
			if (p->pos >= p->len || p->buf[p->pos] != ':') {
				p->error = "expected ':'";
				break;
			}
			p->pos++;
		}
		struct json *item = parse_value(p, depth + 1);
		if (item == NULL)
			break;
		push_item(v, item);
		skip_space(p);
		if (p->pos < p->len && p->buf[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->buf[p->pos] == close) {
			p->pos++;
			return v;
		}
		p->error = type == JSON_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'";
		break;
	}
	json_free(v);
	return NULL;
}

static struct json *parse_value(struct parser *p, int depth)
{
	if (depth > MAX_JSON_DEPTH) {
		p->error = "nesting too deep";
		return NULL;
	}
	skip_space(p);
	if (p->pos >= p->len) {
		p->error = "unexpected end of input";
		return NULL;
	}
	switch (p->buf[p->pos]) {
	case '"':
		return parse_string(p);
	case '[':
		return parse_container(p, depth, JSON_ARRAY);
	case '{':
		return parse_container(p, depth, JSON_OBJECT);
	default:
		p->error = "unsupported value (only objects, arrays and strings)";
		return NULL;
	}
}

static const struct json *json_get(const struct json *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i + 1 < obj->count; i += 2) {
		if (strcmp(obj->items[i]->str, key) == 0)
			return obj->items[i + 1];
	}
	return NULL;
}

static const char *json_get_string(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);
	return v != NULL && v->type == JSON_STRING ? v->str : NULL;
}

/* ---- Files -------------------------------------------------------------- */

/* Read path whole; exits 2 on a read error or an oversized file. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "noise_vectors: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			if (cap >= MAX_FILE_BYTES) {
				fprintf(stderr,
				        "noise_vectors: %s: larger than %u bytes, refused\n", path,
				        MAX_FILE_BYTES);
				exit(2);
			}
			cap = cap == 0 ? 1u << 20 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "noise_vectors: %s: read error\n", path);
		exit(2);
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- Running one vector ------------------------------------------------- */

struct bytes {
	uint8_t *p;
	size_t len;
};

struct totals {
	unsigned passed, failed, skipped;
	struct {
		char reason[160];
		unsigned count;
	} skips[MAX_SKIP_REASONS];
	unsigned skip_kinds;
};

static void add_skip(struct totals *t, const char *reason)
{
	t->skipped++;
	for (unsigned i = 0; i < t->skip_kinds; i++) {
		if (strcmp(t->skips[i].reason, reason) == 0) {
			t->skips[i].count++;
			return;
		}
	}
	unsigned i = t->skip_kinds < MAX_SKIP_REASONS ? t->skip_kinds++ : MAX_SKIP_REASONS - 1;
	if (t->skips[i].count == 0 || i < MAX_SKIP_REASONS - 1)
		snprintf(t->skips[i].reason, sizeof(t->skips[i].reason), "%s", reason);
	else
		snprintf(t->skips[i].reason, sizeof(t->skips[i].reason), "other reasons");
	t->skips[i].count++;
}

/* One vector's context, for failure messages. */
struct run {
	struct totals *t;
	const char *file;
	size_t index;
	const char *name;
	bool failed, skipped;
};

static void fail_vector(struct run *r, const char *fmt, ...)
{
	if (!r->failed && r->t->failed < MAX_PRINTED_FAIL) {
		va_list ap;
		va_start(ap, fmt);
		fprintf(stderr, "FAIL %s vector %zu %s: ", r->file, r->index, r->name);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	r->failed = true;
}

/* Decode a hex string into a fresh allocation; false if malformed. */
static bool hex_decode(const char *hex, struct bytes *out)
{
	size_t n = strlen(hex);
	out->p = xrealloc(NULL, n / 2 + 1);
	out->len = 0;
	if (n % 2 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = hex[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (d < 0)
			return false;
		if (i % 2 == 0)
			out->p[i / 2] = (uint8_t)(d << 4);
		else
			out->p[i / 2] |= (uint8_t)d;
	}
	out->len = n / 2;
	return true;
}

/* Hex field (absent = empty); false if present and malformed. */
static bool hex_field(const struct json *v, const char *key, struct bytes *out)
{
	const struct json *field = json_get(v, key);
	out->p = NULL;
	out->len = 0;
	if (field == NULL)
		return true;
	return field->type == JSON_STRING && hex_decode(field->str, out);
}

/* The psk array: each 32 bytes, concatenated in order. */
static bool psk_field(const struct json *v, const char *key, struct bytes *out, size_t *count)
{
	const struct json *arr = json_get(v, key);
	out->p = NULL;
	out->len = 0;
	*count = 0;
	if (arr == NULL)
		return true;
	if (arr->type != JSON_ARRAY)
		return false;
	out->p = xrealloc(NULL, arr->count * NOISE_PSK_BYTES + 1);
	for (size_t i = 0; i < arr->count; i++) {
		struct bytes one = {0};
		bool ok = arr->items[i]->type == JSON_STRING &&
		          hex_decode(arr->items[i]->str, &one) && one.len == NOISE_PSK_BYTES;
		if (ok)
			memcpy(out->p + i * NOISE_PSK_BYTES, one.p, NOISE_PSK_BYTES);
		free(one.p);
		if (!ok)
			return false;
	}
	*count = arr->count;
	out->len = arr->count * NOISE_PSK_BYTES;
	return true;
}

struct side_keys {
	struct bytes prologue, psks, s, e, rs;
	size_t psk_count;
};

static void free_side(struct side_keys *k)
{
	free(k->prologue.p);
	free(k->psks.p);
	free(k->s.p);
	free(k->e.p);
	free(k->rs.p);
}

static bool load_side(const struct json *v, const char *prefix, struct side_keys *k)
{
	char key[64];
	bool ok = true;
	snprintf(key, sizeof(key), "%s_prologue", prefix);
	ok &= hex_field(v, key, &k->prologue);
	snprintf(key, sizeof(key), "%s_psks", prefix);
	ok &= psk_field(v, key, &k->psks, &k->psk_count);
	snprintf(key, sizeof(key), "%s_static", prefix);
	ok &= hex_field(v, key, &k->s);
	snprintf(key, sizeof(key), "%s_ephemeral", prefix);
	ok &= hex_field(v, key, &k->e);
	snprintf(key, sizeof(key), "%s_remote_static", prefix);
	ok &= hex_field(v, key, &k->rs);
	return ok;
}

static lull_err init_side(noise_handshake *hs, const char *name, noise_role role,
                          const struct side_keys *k)
{
	noise_handshake_params p = {
	        .protocol_name = name,
	        .role = role,
	        .prologue = k->prologue.p,
	        .prologue_len = k->prologue.len,
	        .static_priv = k->s.len ? k->s.p : NULL,
	        .remote_static = k->rs.len ? k->rs.p : NULL,
	        .psks = k->psks.p,
	        .psk_count = k->psk_count,
	};
	lull_err err = noise_handshake_init(hs, &p);
	if (err == LULL_OK && k->e.len > 0)
		err = noise_handshake_set_ephemeral(hs, k->e.p, NULL);
	return err;
}

/* One message from sender to receiver, by handshake or by cipher. */
static void check_message(struct run *r, size_t i, const struct json *msg, noise_handshake *from,
                          noise_handshake *to, noise_cipher *enc, noise_cipher *dec)
{
	static uint8_t out[NOISE_MAX_MESSAGE_BYTES], plain[NOISE_MAX_MESSAGE_BYTES];
	struct bytes payload, ct;
	size_t out_len = 0, plain_len = 0;
	lull_err err;
	if (!hex_field(msg, "payload", &payload) || !hex_field(msg, "ciphertext", &ct) ||
	    json_get_string(msg, "payload") == NULL || json_get_string(msg, "ciphertext") == NULL) {
		fail_vector(r, "message %zu: missing or malformed payload/ciphertext", i);
		goto out;
	}
	const char *kind = from != NULL ? "handshake" : "transport";
	err = from != NULL ? noise_handshake_write(from, payload.p, payload.len, out, sizeof(out),
	                                           &out_len)
	                   : noise_cipher_encrypt(enc, NULL, 0, payload.p, payload.len, out,
	                                          sizeof(out), &out_len);
	if (err != LULL_OK) {
		fail_vector(r, "%s message %zu: write: %s", kind, i, lull_err_name(err));
		goto out;
	}
	if (out_len != ct.len || memcmp(out, ct.p, ct.len) != 0) {
		fail_vector(r, "%s message %zu: ciphertext mismatch (%zu bytes, want %zu)", kind, i,
		            out_len, ct.len);
		goto out;
	}
	err = to != NULL ? noise_handshake_read(to, ct.p, ct.len, plain, sizeof(plain), &plain_len)
	                 : noise_cipher_decrypt(dec, NULL, 0, ct.p, ct.len, plain, sizeof(plain),
	                                        &plain_len);
	if (err != LULL_OK) {
		fail_vector(r, "%s message %zu: read: %s", kind, i, lull_err_name(err));
		goto out;
	}
	if (plain_len != payload.len || memcmp(plain, payload.p, payload.len) != 0)
		fail_vector(r, "%s message %zu: decrypted payload mismatch", kind, i);
out:
	free(payload.p);
	free(ct.p);
}

static void run_vector(struct run *r, const struct json *v)
{
	struct side_keys ik = {0}, rk = {0};
	struct bytes want_hash = {0};
	noise_handshake init, resp;
	noise_cipher i_c1, i_c2, r_c1, r_c2;
	memset(&init, 0, sizeof(init));
	memset(&resp, 0, sizeof(resp));
	noise_cipher_init_empty(&i_c1, CRYPTO_AEAD_CHACHAPOLY);
	noise_cipher_init_empty(&i_c2, CRYPTO_AEAD_CHACHAPOLY);
	noise_cipher_init_empty(&r_c1, CRYPTO_AEAD_CHACHAPOLY);
	noise_cipher_init_empty(&r_c2, CRYPTO_AEAD_CHACHAPOLY);

	const struct json *messages = json_get(v, "messages");
	if (r->name == NULL || messages == NULL || messages->type != JSON_ARRAY ||
	    !load_side(v, "init", &ik) || !load_side(v, "resp", &rk) ||
	    !hex_field(v, "handshake_hash", &want_hash)) {
		if (r->name == NULL)
			r->name = "(no protocol_name)";
		fail_vector(r, "malformed vector");
		goto out;
	}

	lull_err err = init_side(&init, r->name, NOISE_INITIATOR, &ik);
	if (err == LULL_OK)
		err = init_side(&resp, r->name, NOISE_RESPONDER, &rk);
	if (err == LULL_ERR_UNKNOWN_PROTOCOL) {
		/* Skip reason: the part of the name we do not support. */
		char reason[160];
		snprintf(reason, sizeof(reason), "unsupported protocol %s", r->name);
		add_skip(r->t, reason);
		r->skipped = true;
		goto out;
	}
	if (err != LULL_OK) {
		fail_vector(r, "init: %s", lull_err_name(err));
		goto out;
	}

	size_t i = 0;
	for (; i < messages->count && !noise_handshake_is_done(&init); i++) {
		bool initiator_sends = noise_handshake_is_my_turn(&init);
		if (initiator_sends == noise_handshake_is_my_turn(&resp)) {
			fail_vector(r, "message %zu: both or neither side's turn", i);
			goto out;
		}
		noise_handshake *from = initiator_sends ? &init : &resp;
		noise_handshake *to = initiator_sends ? &resp : &init;
		check_message(r, i, messages->items[i], from, to, NULL, NULL);
		if (r->failed)
			goto out;
	}
	if (!noise_handshake_is_done(&init) || !noise_handshake_is_done(&resp)) {
		fail_vector(r, "handshake not finished after %zu messages", i);
		goto out;
	}
	size_t handshake_messages = i;

	uint8_t ih[NOISE_MAX_HASH_BYTES], rh[NOISE_MAX_HASH_BYTES];
	size_t ih_len = 0, rh_len = 0;
	if (noise_handshake_get_hash(&init, ih, sizeof(ih), &ih_len) != LULL_OK ||
	    noise_handshake_get_hash(&resp, rh, sizeof(rh), &rh_len) != LULL_OK ||
	    ih_len != rh_len || memcmp(ih, rh, ih_len) != 0) {
		fail_vector(r, "handshake hashes differ between the two sides");
		goto out;
	}
	if (want_hash.p != NULL && (ih_len != want_hash.len || memcmp(ih, want_hash.p, ih_len))) {
		fail_vector(r, "handshake_hash mismatch");
		goto out;
	}
	if (noise_handshake_split(&init, &i_c1, &i_c2) != LULL_OK ||
	    noise_handshake_split(&resp, &r_c1, &r_c2) != LULL_OK) {
		fail_vector(r, "split failed");
		goto out;
	}

	/* One-way patterns send everything initiator->responder with c1. */
	bool one_way = handshake_messages == 1;
	for (; i < messages->count && !r->failed; i++) {
		bool initiator_sends = one_way || i % 2 == 0;
		check_message(r, i, messages->items[i], NULL, NULL, initiator_sends ? &i_c1 : &r_c2,
		              initiator_sends ? &r_c1 : &i_c2);
	}

out:
	if (r->failed)
		r->t->failed++;
	else if (!r->skipped)
		r->t->passed++;
	noise_handshake_destroy(&init);
	noise_handshake_destroy(&resp);
	noise_cipher_destroy(&i_c1);
	noise_cipher_destroy(&i_c2);
	noise_cipher_destroy(&r_c1);
	noise_cipher_destroy(&r_c2);
	free_side(&ik);
	free_side(&rk);
	free(want_hash.p);
}

static void run_file(const char *path, struct totals *t)
{
	size_t len;
	char *buf = read_file(path, &len);
	struct parser p = {.buf = buf, .len = len, .file = path};
	struct json *root = parse_value(&p, 0);
	if (root != NULL) {
		skip_space(&p);
		if (p.pos != p.len) {
			p.error = "trailing data after the top-level value";
			json_free(root);
			root = NULL;
		}
	}
	if (root == NULL) {
		fprintf(stderr, "noise_vectors: %s: malformed JSON at byte %zu: %s\n", path, p.pos,
		        p.error);
		exit(2);
	}
	const struct json *vectors = json_get(root, "vectors");
	if (vectors == NULL || vectors->type != JSON_ARRAY) {
		fprintf(stderr, "noise_vectors: %s: no \"vectors\" array\n", path);
		exit(2);
	}
	for (size_t i = 0; i < vectors->count; i++) {
		struct run r = {
		        .t = t,
		        .file = path,
		        .index = i,
		        .name = json_get_string(vectors->items[i], "protocol_name"),
		};
		run_vector(&r, vectors->items[i]);
	}
	json_free(root);
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: noise_vectors FILE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == NULL && errno == ENOENT) {
			printf("noise_vectors: %s not found: skipping (vectors live in "
			       "../shared/vectors)\n",
			       argv[i]);
			return 77;
		}
		if (f != NULL)
			fclose(f);
	}

	static struct totals t;
	for (int i = 1; i < argc; i++)
		run_file(argv[i], &t);

	for (unsigned i = 0; i < t.skip_kinds; i++)
		printf("skipped %u: %s\n", t.skips[i].count, t.skips[i].reason);
	if (t.failed > MAX_PRINTED_FAIL)
		printf("(only the first %u failures are shown)\n", MAX_PRINTED_FAIL);
	printf("%u passed, %u failed, %u skipped\n", t.passed, t.failed, t.skipped);
	return t.failed > 0 || t.passed == 0 ? 1 : 0;
}
