/*
 * make_corpus.c - write the seed corpora under fuzz/corpus/<target>/.
 *
 * Real frames come from a real client/server pair on the engine harness's
 * fixed keys and fixed random stream, so a captured session replays byte
 * for byte in the engine targets' raw mode (up to the first rekey, whose
 * random draws interleave differently).  The rest are edge cases and
 * command scripts.  Every file is at most 4 KiB.  Deterministic: running it
 * twice writes the same bytes.
 *
 * Usage: make_corpus OUTDIR   (fuzz/make_corpus runs it on fuzz/corpus)
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

#pragma GCC diagnostic ignored "-Wunused-function"
#include "engine_harness.h"
#include "proxy_proto.h"

#include "support/keyfile.h"

#define SEED_MAX 4096

static const char *outdir;
static unsigned n_written;

static void put(const char *target, const char *name, const uint8_t *bytes, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, name);
	if (len > SEED_MAX)
		len = SEED_MAX;
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	n_written++;
}

static void put_str(const char *target, const char *name, const char *s)
{
	put(target, name, (const uint8_t *)s, strlen(s));
}

/* ---- A recorded session ------------------------------------------------ */

typedef struct log_buf {
	uint8_t b[1 << 16];
	size_t len;
	size_t hs_end; /* bytes up to the end of the first handshake */
} log_buf;

static log_buf c2s, s2c;

static void rec_append(log_buf *l, const uint8_t *bytes, size_t n)
{
	if (n > sizeof(l->b) - l->len)
		n = sizeof(l->b) - l->len;
	memcpy(l->b + l->len, bytes, n);
	l->len += n;
}

/* Pump both ways, logging what crossed. */
static void rec_pump(eh *h)
{
	for (int round = 0; round < 100; round++) {
		bool moved = false;
		eh_side *sides[2] = {h->client, h->server};
		for (int i = 0; i < 2; i++) {
			const uint8_t *bytes;
			size_t n = lull_conn_output(sides[i]->conn, &bytes);
			if (n == 0)
				continue;
			uint8_t *copy = malloc(n);
			memcpy(copy, bytes, n);
			lull_conn_output_consume(sides[i]->conn, n);
			rec_append(i == 0 ? &c2s : &s2c, copy, n);
			if (lull_conn_is_open(sides[1 - i]->conn))
				eh_receive(h, sides[1 - i], copy, n);
			free(copy);
			moved = true;
		}
		if (!moved)
			return;
	}
}

static void record_session(uint8_t cfg_byte)
{
	c2s.len = s2c.len = 0;
	fuzz_random_reset(0x6c756c6c);
	eh h;
	eh_init(&h, true, cfg_byte);
	rec_pump(&h);
	c2s.hs_end = c2s.len;
	s2c.hs_end = s2c.len;
	eh_send(&h, h.client, h.server, 100);
	eh_send(&h, h.server, h.client, 60);
	rec_pump(&h);
	eh_send(&h, h.client, h.server, 0);
	eh_send(&h, h.client, h.server, 1000);
	rec_pump(&h);
	/* Idle: heartbeats and their acks, then data again (an idle rekey
	 * begins, so stop before its frames). */
	for (int i = 0; i < 3; i++) {
		uint64_t d = eh_min_deadline(&h);
		if (d == UINT64_MAX || !lull_conn_is_open(h.client->conn))
			break;
		if (d > h.now)
			h.now = d;
		eh_tick_all(&h);
		rec_pump(&h);
	}
	eh_free(&h);
}

/* Each frame of a log as its own file (plus 3 trailing bytes). */
static void put_frames(const char *target, const char *prefix, const log_buf *l, size_t max)
{
	size_t off = 0;
	unsigned i = 0;
	while (off + WIRE_HEADER_BYTES <= l->len && i < max) {
		size_t flen = WIRE_HEADER_BYTES + wire_get_u16(l->b + off + 2);
		if (off + flen > l->len)
			break;
		uint8_t buf[SEED_MAX];
		size_t n = flen + 3 <= sizeof(buf) ? flen : sizeof(buf) - 3;
		memcpy(buf, l->b + off, n);
		memset(buf + n, 0xa5, 3);
		char name[64];
		snprintf(name, sizeof(name), "%s-%02u-type%u", prefix, i, l->b[off]);
		put(target, name, buf, n + 3);
		off += flen;
		i++;
	}
}

/* Raw mode seed: mode, config, chunk seed, then the bytes. */
static void put_raw(const char *target, const char *name, uint8_t mode, uint8_t cfg,
                    uint8_t chunk_seed, const uint8_t *bytes, size_t len)
{
	uint8_t buf[SEED_MAX];
	buf[0] = mode;
	buf[1] = cfg;
	buf[2] = chunk_seed;
	if (len > sizeof(buf) - 3)
		len = sizeof(buf) - 3;
	memcpy(buf + 3, bytes, len);
	put(target, name, buf, len + 3);
}

/* ---- Frames ------------------------------------------------------------ */

static void frame_edges(void)
{
	static const struct {
		uint8_t type, flags;
		uint16_t len;
	} edges[] = {
	        {0, 0, 0},
	        {WIRE_HS1, 0, WIRE_HS1_BYTES - 1},
	        {WIRE_HS1, 0, WIRE_HS1_BYTES + 1},
	        {WIRE_HS2, 0x80, WIRE_HS2_BYTES},
	        {WIRE_DATA, WIRE_FLAG_MORE, WIRE_EPOCH_BYTES + CRYPTO_AEAD_TAG_BYTES},
	        {WIRE_DATA, 0, WIRE_EPOCH_BYTES + CRYPTO_AEAD_TAG_BYTES - 1},
	        {WIRE_DATA, 0x02, 64},
	        {WIRE_DATA, 0,
	         WIRE_EPOCH_BYTES + WIRE_RECORD_PAYLOAD_MAX_BYTES + CRYPTO_AEAD_TAG_BYTES},
	        {WIRE_DATA, 0,
	         WIRE_EPOCH_BYTES + WIRE_RECORD_PAYLOAD_MAX_BYTES + CRYPTO_AEAD_TAG_BYTES + 1},
	        {WIRE_DATA, 0, 0xffff},
	        {WIRE_HEARTBEAT, 0, 24},
	        {WIRE_CLOSE, 0, 21},
	        {WIRE_CLOSE, 0, 22},
	        {WIRE_HS_FAILED, 0, 1},
	        {WIRE_TYPE_MAX + 1, 0, 1},
	        {0xff, 0xff, 0xffff},
	};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		uint8_t buf[96];
		wire_header_write(buf, edges[i].type, edges[i].flags, edges[i].len);
		for (size_t j = WIRE_HEADER_BYTES; j < sizeof(buf); j++)
			buf[j] = (uint8_t)(j * 13);
		buf[4] = buf[5] = buf[6] = 0;
		buf[7] = 1; /* epoch 1 */
		char name[32];
		snprintf(name, sizeof(name), "edge-%02zu", i);
		put("fuzz_frame", name, buf, sizeof(buf));
	}
}

/* ---- Engine command scripts -------------------------------------------- */

typedef struct script {
	uint8_t b[SEED_MAX];
	size_t len;
} script;

static void sc(script *s, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n && s->len < sizeof(s->b); i++)
		s->b[s->len++] = (uint8_t)va_arg(ap, int);
	va_end(ap);
}

/* Message length encodings for eh_msg_len. */
#define LEN_SMALL(n) (n & 0x3f)
#define LEN_U16      0x40

static void engine_scripts(const char *target)
{
	static const uint8_t cfgs[] = {0x00, 0x10, 0x13, 0x1c, 0x20, 0x36, 0x5e, 0x91};
	for (size_t c = 0; c < sizeof(cfgs); c++) {
		char name[64];
		script s = {{0}, 0};
		/* Data both ways, a multi-fragment message, heartbeats, rekeys. */
		sc(&s, 2, 3, cfgs[c]);
		sc(&s, 2, OP_PEER_SEND, LEN_SMALL(10));
		sc(&s, 1, OP_PUMP);
		sc(&s, 2, OP_TARGET_SEND, LEN_SMALL(33));
		sc(&s, 1, OP_PUMP);
		sc(&s, 4, OP_PEER_SEND, LEN_U16, 0x50, 0x00);
		sc(&s, 2, OP_DELIVER_CHUNK, 200);
		sc(&s, 1, OP_DELIVER);
		for (int i = 0; i < 6; i++)
			sc(&s, 2, OP_DEADLINE, OP_PUMP);
		sc(&s, 2, OP_PEER_SEND, LEN_SMALL(5));
		sc(&s, 1, OP_PUMP);
		sc(&s, 2, OP_REKEY, c & 1);
		sc(&s, 1, OP_PUMP);
		sc(&s, 2, OP_TARGET_SEND, LEN_SMALL(7));
		sc(&s, 2, OP_PEER_SEND, LEN_SMALL(8));
		sc(&s, 1, OP_PUMP);
		sc(&s, 3, OP_ADVANCE, 0x80, 0x10);
		sc(&s, 1, OP_PUMP);
		sc(&s, 2, OP_CLOSE, 0);
		sc(&s, 1, OP_PUMP);
		snprintf(name, sizeof(name), "cmd-session-cfg%02x", cfgs[c]);
		put(target, name, s.b, s.len);
	}
	struct {
		const char *name;
		uint8_t bytes[48];
		size_t len;
	} scripts[] = {
	        /* fresh: the handshake frame by frame, with time passing */
	        {"cmd-fresh-stepwise",
	         {1, 0x10, OP_DELIVER, OP_TO_PEER, OP_DELIVER, OP_TO_PEER, OP_DELIVER, OP_TO_PEER,
	          OP_DELIVER, OP_PEER_SEND, 4, OP_PUMP},
	         12},
	        /* fresh: a handshake that times out */
	        {"cmd-fresh-timeout", {1, 0x10, OP_DELIVER, OP_DEADLINE, OP_DEADLINE, OP_PUMP}, 6},
	        /* fresh: raw garbage first */
	        {"cmd-fresh-raw", {1, 0, OP_RAW, 4, 1, 0, 0, 50, OP_PUMP}, 9},
	        /* bit flip in a data record */
	        {"cmd-flip", {3, 0, OP_PEER_SEND, 20, OP_FLIP, 0, 30, 3, OP_DELIVER, OP_PUMP}, 10},
	        /* bytes dropped */
	        {"cmd-drop", {3, 0, OP_PEER_SEND, 20, OP_DROP, 0, 5, OP_DELIVER, OP_PUMP}, 9},
	        /* a replayed record */
	        {"cmd-replay",
	         {3, 0, OP_PEER_SEND, 20, OP_DELIVER, OP_REPLAY, 7, OP_DELIVER, OP_PUMP},
	         9},
	        /* replayed handshake message after a rekey */
	        {"cmd-replay-hs",
	         {3, 0x10, OP_REKEY, 1, OP_PUMP, OP_REPLAY, 0, OP_REPLAY, 1, OP_DELIVER, OP_PUMP},
	         11},
	        /* authenticated garbage: every record type */
	        {"cmd-forge",
	         {3,          0x10,     OP_FORGE,  WIRE_DATA,
	          1,          3,        'a',       'b',
	          'c',        OP_FORGE, WIRE_DATA, 0,
	          1,          'd',      OP_FORGE,  WIRE_HEARTBEAT,
	          0,          4,        0,         0,
	          0,          9,        OP_FORGE,  WIRE_REKEY_REQUEST,
	          0,          1,        200,       OP_FORGE,
	          WIRE_CLOSE, 0,        1,         99,
	          OP_PUMP},
	         33},
	        /* a peer ignoring max_message */
	        {"cmd-lie",
	         {3, 0x20, OP_PEER_LIE, OP_PEER_SEND, LEN_U16 | 0x80, 0x40, 0x00, OP_PUMP},
	         8},
	        /* idle long enough for heartbeats, then data (idle rekey) */
	        {"cmd-idle",
	         {3, 0x1e, OP_ADVANCE, 0x40, 0x08, OP_PUMP, OP_DEADLINE, OP_PUMP, OP_DEADLINE,
	          OP_PUMP, OP_PEER_SEND, 9, OP_TARGET_SEND, 9, OP_PUMP},
	         15},
	        /* heartbeat acks eaten: the target never hears back */
	        {"cmd-missed-ack",
	         {3, 0x14, OP_DEADLINE, OP_DEADLINE, OP_DEADLINE, OP_DEADLINE, OP_PEER_SEND, 3,
	          OP_PUMP},
	         9},
	        /* byte rekey under a burst */
	        {"cmd-bytes",
	         {3, 0x10, OP_PEER_SEND, LEN_U16, 0x3f, 0xff, OP_PUMP, OP_PEER_SEND, LEN_U16, 0x3f,
	          0xff, OP_PUMP, OP_TARGET_SEND, LEN_U16, 0x3f, 0xff, OP_PUMP},
	         17},
	};
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
		put(target, scripts[i].name, scripts[i].bytes, scripts[i].len);
}

/* ---- Noise ------------------------------------------------------------- */

static void noise_seeds(void)
{
	for (unsigned p = 0; p < 9; p++) {
		for (unsigned pos = 0; pos < 3; pos++) {
			uint8_t buf[2 + 128] = {(uint8_t)p, (uint8_t)(0x80 | pos)};
			char name[32];
			snprintf(name, sizeof(name), "honest-p%u-m%u", p, pos);
			put("fuzz_noise_read", name, buf, sizeof(buf));
		}
		uint8_t raw[2 + 96] = {(uint8_t)p, (uint8_t)(p % 3)};
		for (size_t j = 2; j < sizeof(raw); j++)
			raw[j] = (uint8_t)(j * 29 + p);
		char name[32];
		snprintf(name, sizeof(name), "raw-p%u", p);
		put("fuzz_noise_read", name, raw, sizeof(raw));
	}
}

/* ---- PROXY headers ----------------------------------------------------- */

/* A chunking byte, the header, then the connection's first bytes. */
static void put_proxy(const char *name, uint8_t chunk, const uint8_t *hdr, size_t len)
{
	uint8_t buf[1 + PROXY_HEADER_MAX_BYTES + 8];
	if (len > PROXY_HEADER_MAX_BYTES)
		len = PROXY_HEADER_MAX_BYTES;
	buf[0] = chunk;
	memcpy(buf + 1, hdr, len);
	memcpy(buf + 1 + len, "\x01\x00\x00\x32", 4); /* a lull frame header */
	put("fuzz_proxy_proto", name, buf, len + 5);
}

static void proxy_seeds(void)
{
	static const struct {
		const char *name;
		const char *hex;
	} v2[] = {
	        {"v2-inet-tlvs",
	         "0d0a0d0a000d0a515549540a21110019c0a80001c0a8000bdc0401bb0400026162"
	         "e00005616c696365"},
	        {"v2-inet6", "0d0a0d0a000d0a515549540a2121002420010db80000000000000000000000010000"
	                     "00000000000000000000000000010001ffff"},
	        {"v2-local", "0d0a0d0a000d0a515549540a20000000"},
	        {"v2-local-addr", "0d0a0d0a000d0a515549540a2011000c7f0000017f00000104d21b58"},
	        {"v2-unspec", "0d0a0d0a000d0a515549540a21000003aabbcc"},
	        {"v2-udp", "0d0a0d0a000d0a515549540a2112000c7f0000017f00000104d21b58"},
	        {"v2-tlv-past-end", "0d0a0d0a000d0a515549540a21110010c0a80001c0a8000bdc0401bbe00005"
	                            "61"},
	        {"v2-tlv-stray", "0d0a0d0a000d0a515549540a2111000ec0a80001c0a8000bdc0401bb0400"},
	        {"v2-tlv-one-short",
	         "0d0a0d0a000d0a515549540a21110010c0a80001c0a8000bdc0401bbe00002"
	         "ff"},
	        {"v2-addr-short", "0d0a0d0a000d0a515549540a2121000cc0a80001c0a8000bdc0401bb"},
	        {"v2-too-long", "0d0a0d0a000d0a515549540a2111ffff"},
	        /* Whole headers, wrong in one byte: a parser that misses it
	         * accepts them. */
	        {"v2-bad-signature", "0d0a0d0a000d0a515549540b2111000c7f0000017f00000104d21b58"},
	        {"v2-bad-version", "0d0a0d0a000d0a515549540a1111000c7f0000017f00000104d21b58"},
	        {"v2-bad-command", "0d0a0d0a000d0a515549540a2211000c7f0000017f00000104d21b58"},
	        {"v2-bad-family", "0d0a0d0a000d0a515549540a2141000c7f0000017f00000104d21b58"},
	        {"v2-bad-transport", "0d0a0d0a000d0a515549540a2113000c7f0000017f00000104d21b58"},
	};
	for (size_t i = 0; i < sizeof(v2) / sizeof(v2[0]); i++) {
		uint8_t h[PROXY_HEADER_MAX_BYTES];
		size_t n = strlen(v2[i].hex) / 2;
		for (size_t j = 0; j < n; j++) {
			unsigned v;
			sscanf(v2[i].hex + 2 * j, "%2x", &v);
			h[j] = (uint8_t)v;
		}
		put_proxy(v2[i].name, 0, h, n);
		if (i == 0)
			put_proxy("v2-inet-tlvs-bytewise", 1, h, n);
	}
	uint8_t unix_h[16 + 216 + 3] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
	                                0x55, 0x49, 0x54, 0x0a, 0x21, 0x31, 0x00, 216 + 3};
	unix_h[16 + 216] = 0x04;
	put_proxy("v2-unix", 7, unix_h, sizeof(unix_h));

	static const char *v1[] = {
	        "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
	        "PROXY TCP6 2001:db8::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 0 65535\r\n",
	        "PROXY UNKNOWN\r\n",
	        "PROXY UNKNOWN ::1 ::2 1 2\r\n",
	        "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
	        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
	        "PROXY UNKNOWN x\n",
	        "PROXY UNKNOWN \r x\r\n",
	        "PROXY UNKNOWN \x01\r\n",
	        "PROXY UNKNOWNX\r\n",
	        "PROXY UNKNOWN fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	        "ffffffffffffffffffffffffffffffffffffff\r\n",
	};
	for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "v1-%02zu", i);
		put_proxy(name, (uint8_t)(i * 5), (const uint8_t *)v1[i], strlen(v1[i]));
	}

	/* What lull itself sends its target. */
	proxy_addrs a = {.family = PROXY_FAM_INET6, .src_port = 40000, .dst_port = 7000};
	a.src_addr[15] = 1;
	a.dst_addr[15] = 1;
	uint8_t out[PROXY_V2_ENCODED_MAX_BYTES];
	size_t w;
	if (proxy_v2_encode(&a, "alice@example.org", out, sizeof(out), &w) == PROXY_OK)
		put_proxy("v2-lull-peer-name", 3, out, w);
}

/* ---- CLI files --------------------------------------------------------- */

static void cli_seeds(void)
{
	char k1[45], k2[45];
	uint8_t key[LULL_KEY_BYTES];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	key_to_base64(key, k1);
	memset(key, 0xff, sizeof(key));
	key_to_base64(key, k2);
	char buf[1024];

	put_str("fuzz_keyfile", "key", k1);
	snprintf(buf, sizeof(buf), "%s\n", k1);
	put_str("fuzz_keyfile", "key-nl", buf);
	snprintf(buf, sizeof(buf), "%s\r\n", k1);
	put_str("fuzz_keyfile", "key-crlf", buf);
	snprintf(buf, sizeof(buf), "%s\n\n", k2);
	put_str("fuzz_keyfile", "key-2nl", buf);
	snprintf(buf, sizeof(buf), " %s", k2);
	put_str("fuzz_keyfile", "key-space", buf);
	snprintf(buf, sizeof(buf), "%.43s", k1);
	put_str("fuzz_keyfile", "key-short", buf);
	snprintf(buf, sizeof(buf), "%.42sB=", k1);
	put_str("fuzz_keyfile", "key-noncanonical", buf);
	put_str("fuzz_keyfile", "key-bad-char", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*=");
	put_str("fuzz_keyfile", "empty", "");

	snprintf(buf, sizeof(buf),
	         "# a server\nlisten = 127.0.0.1:7000\ntarget = [::1]:22\nkey = server.key\n"
	         "authorized = clients\nthreads = 2\nheartbeat-interval = 60s\n"
	         "heartbeat-timeout = 10s\nheartbeat-retries = 1\non-missed-ack = rekey\n"
	         "on-spoof = drop\non-missing-heartbeat = stale\nrekey-bytes = 1G\n"
	         "rekey-max-age = 1h\nreject-after-bytes = 3G\nreject-after-age = 2h\n"
	         "srk-interval = 10s\nsrk-lifetime = 30s\nsrk-keep = 2\nmax-message = 16M\n"
	         "suite = chachapoly\nno-srk-pool = on\nsyslog = off\n");
	put_str("fuzz_config", "server", buf);
	put_str("fuzz_config", "client",
	        "listen = 127.0.0.1:7001\nserver = lull.example:7000\nkey = client.key\n"
	        "server-pub = server.pub\npsk = psk\n  suite=aesgcm   # trailing\n"
	        "heartbeat-interval=500ms\nheartbeat-timeout=100ms\n");
	put_str("fuzz_config", "bad-range",
	        "heartbeat-interval = 1s\nheartbeat-timeout = 2s\nsrk-keep = 11\n");
	put_str("fuzz_config", "bad-line", "listen\n= x\nunknown = 1\n");
	put_str("fuzz_config", "values", "18446744073709551615ms\n\x07");
	put_str("fuzz_config", "hostport", "[fe80::1]:65535\n\x01");

	snprintf(buf, sizeof(buf), "# clients\n%s alice\n%s bob\t\n\n", k1, k2);
	put_str("fuzz_authfile", "two", buf);
	snprintf(buf, sizeof(buf), "%s alice psk.missing\n", k1);
	put_str("fuzz_authfile", "psk-missing", buf);
	snprintf(buf, sizeof(buf), "%s alice\n%s alice\n", k1, k2);
	put_str("fuzz_authfile", "dup-name", buf);
	snprintf(buf, sizeof(buf), "%s alice\n%s bob\n", k1, k1);
	put_str("fuzz_authfile", "dup-key", buf);
	snprintf(buf, sizeof(buf), "%s bad name!\r\n", k1);
	put_str("fuzz_authfile", "bad-name", buf);
	put_str("fuzz_authfile", "comments", "# nothing\n   \n\t# more\n");
}

/* ---- fuzz_stream: scripts over a mux pair (fuzz/fuzz_stream.c) ------- */

enum {
	FS_INJECT = 0,
	FS_OPEN = 1,
	FS_CWRITE = 2,
	FS_SWRITE = 3,
	FS_CFIN = 4,
	FS_SFIN = 5,
	FS_RESET = 6,
	FS_STALL = 7,
	FS_PUMP = 8,
	FS_ADVANCE = 10,
	FS_GOAWAY = 130, /* op % 11 == 9 with the high bit: the server drains */
};

static void stream_scripts(void)
{
	static const uint8_t cfgs[] = {0x00, 0x13, 0x5a, 0xff};
	for (size_t c = 0; c < sizeof(cfgs); c++) {
		char name[64];
		script s = {{0}, 0};
		/* Open three, data both ways past the windows, a stall, FINs in
		 * both orders, a reset, an idle spell. */
		sc(&s, 1, cfgs[c]);
		for (int i = 0; i < 3; i++)
			sc(&s, 2, FS_OPEN, 0);
		sc(&s, 4, FS_CWRITE, 0, 0x40, 0x00);
		sc(&s, 4, FS_SWRITE, 0, 0x20, 0x00);
		sc(&s, 2, FS_STALL, 1);
		sc(&s, 4, FS_CWRITE, 1, 0xff, 0xff);
		sc(&s, 2, FS_PUMP, 0);
		sc(&s, 4, FS_CWRITE, 2, 0x10, 0x00);
		sc(&s, 2, FS_CFIN, 0);
		sc(&s, 2, FS_PUMP, 0);
		sc(&s, 2, FS_SFIN, 0);
		sc(&s, 2, FS_SFIN, 2);
		sc(&s, 2, FS_PUMP, 0);
		sc(&s, 4, FS_ADVANCE, 0, 0x03, 0x00);
		sc(&s, 2, FS_STALL, 1);
		sc(&s, 3, FS_RESET, 2, 1);
		sc(&s, 2, FS_CFIN, 2);
		sc(&s, 2, FS_PUMP, 0);
		snprintf(name, sizeof(name), "flow-cfg%02x", cfgs[c]);
		put("fuzz_stream", name, s.b, s.len);
	}
	/* Drain: GOAWAY while one stream carries data both ways, then an
	 * open that must fail and the stream's normal end. */
	{
		script s = {{0}, 0};
		sc(&s, 1, 0x00);
		sc(&s, 2, FS_OPEN, 0);
		sc(&s, 2, FS_PUMP, 0);
		sc(&s, 2, FS_GOAWAY, 0);
		sc(&s, 4, FS_CWRITE, 0, 0x40, 0x00);
		sc(&s, 4, FS_SWRITE, 0, 0x20, 0x00);
		sc(&s, 2, FS_OPEN, 0);
		sc(&s, 2, FS_PUMP, 0);
		sc(&s, 2, FS_CFIN, 0);
		sc(&s, 2, FS_SFIN, 0);
		sc(&s, 2, FS_PUMP, 0);
		put("fuzz_stream", "goaway", s.b, s.len);
	}
	/* Each malformed frame of test_stream.c, after one open stream. */
	static const char *const frames[] = {
	        "0300000001",   "030000000103",       "020000000158", "050000000140000000",
	        "0200000063aa", "01000000",           "0600000001",   "0100000000",
	        "0200000001",   "050000000100000000", "0100000002",   "0100000001",
	        "040000000103", "0100000003",         "0100000005",   "0600000000",
	        "060000000000",
	};
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		script s = {{0}, 0};
		sc(&s, 3, 0x00, FS_OPEN, 0);
		sc(&s, 2, FS_PUMP, 0);
		size_t n = strlen(frames[i]) / 2;
		sc(&s, 3, FS_INJECT, 0, (int)n);
		for (size_t k = 0; k < n; k++) {
			unsigned v;
			sscanf(frames[i] + 2 * k, "%2x", &v);
			sc(&s, 1, (int)v);
		}
		sc(&s, 2, FS_PUMP, 0);
		sc(&s, 4, FS_CWRITE, 0, 0x01, 0x00);
		sc(&s, 2, FS_PUMP, 0);
		char name[64];
		snprintf(name, sizeof(name), "frame-%02zu", i);
		put("fuzz_stream", name, s.b, s.len);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);

	static const uint8_t cfgs[] = {0x00, 0x11, 0x1e};
	for (size_t c = 0; c < sizeof(cfgs); c++) {
		record_session(cfgs[c]);
		char name[64];
		if (c == 0) {
			put_frames("fuzz_frame", "c2s", &c2s, 12);
			put_frames("fuzz_frame", "s2c", &s2c, 12);
		}
		snprintf(name, sizeof(name), "raw-hs-cfg%02x", cfgs[c]);
		put_raw("fuzz_server_engine", name, 0, cfgs[c], 1, c2s.b, c2s.hs_end);
		put_raw("fuzz_client_engine", name, 0, cfgs[c], 1, s2c.b, s2c.hs_end);
		snprintf(name, sizeof(name), "raw-session-cfg%02x", cfgs[c]);
		put_raw("fuzz_server_engine", name, 0, cfgs[c], 6, c2s.b, c2s.len);
		put_raw("fuzz_client_engine", name, 0, cfgs[c], 6, s2c.b, s2c.len);
		/* After the handshake: the data part alone, to a ready target
		 * whose keys came from the same stream. */
		snprintf(name, sizeof(name), "raw-ready-cfg%02x", cfgs[c]);
		put_raw("fuzz_server_engine", name, 2, cfgs[c], 3, c2s.b + c2s.hs_end,
		        c2s.len - c2s.hs_end);
		put_raw("fuzz_client_engine", name, 2, cfgs[c], 3, s2c.b + s2c.hs_end,
		        s2c.len - s2c.hs_end);
	}
	frame_edges();
	engine_scripts("fuzz_server_engine");
	engine_scripts("fuzz_client_engine");
	noise_seeds();
	proxy_seeds();
	cli_seeds();
	stream_scripts();
	printf("make_corpus: %u files in %s\n", n_written, outdir);
	return 0;
}
