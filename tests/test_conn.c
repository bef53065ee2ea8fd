/*
 * test_conn.c - the connection engine on a virtual clock: handshake with
 * interval session keys and per-session data keys, records, fragmentation,
 * authentication failures, tampering, replay and timeouts.
 */
#include "dh_count.h"
#include "conn_pair.h"

static const uint8_t HS_FRAMES_CLIENT[] = {WIRE_HS1, WIRE_HS3, 0};
static const uint8_t HS_FRAMES_SERVER[] = {WIRE_HS2, WIRE_KEYS, 0};

static void test_handshake_frames_and_events(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	CHECK(side_frames_are(&p.client, 0, HS_FRAMES_CLIENT));
	CHECK(side_frames_are(&p.server, 0, HS_FRAMES_SERVER));
	CHECK(lull_conn_epoch(p.client.conn) == 1);
	CHECK(lull_conn_epoch(p.server.conn) == 1);
	/* Events, in order, on both sides. */
	CHECK(p.client.n_events == 2 && p.server.n_events == 2);
	CHECK(p.client.events[0].ev.type == LULL_EV_HANDSHAKE_STARTED);
	CHECK(p.client.events[0].ev.epoch == 1);
	CHECK(p.client.events[0].ev.rekey_reason == LULL_REKEY_NONE);
	CHECK(p.client.events[1].ev.type == LULL_EV_HANDSHAKE_DONE);
	CHECK(p.client.events[1].ev.epoch == 1);
	CHECK(p.server.events[0].ev.type == LULL_EV_HANDSHAKE_STARTED);
	CHECK(p.server.events[1].ev.type == LULL_EV_HANDSHAKE_DONE);
	CHECK(strcmp(p.server.events[1].peer_name, "alice") == 0);
	CHECK(strcmp(lull_conn_peer_name(p.server.conn), "alice") == 0);
	/* One SRK created, reported by the server context. */
	CHECK(p.n_srv_events == 1 && p.srv_events[0].ev.type == LULL_EV_SRK_CREATED);
	/* The agreed policy is the same at both ends. */
	CHECK(memcmp(&p.client.conn->agreed, &p.server.conn->agreed, sizeof(lull_config)) == 0);
	pair_free(&p);
}

static void send_and_check(pair *p, size_t len, unsigned seed)
{
	uint8_t *msg = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		msg[i] = (uint8_t)(i * 31 + seed);
	unsigned before = p->server.n_messages;
	CHECK_OK(lull_conn_send(p->client.conn, p->now, msg, len));
	pair_pump(p);
	CHECK(p->server.n_messages == before + 1);
	CHECK(p->server.last_message_len == len);
	CHECK(len == 0 || memcmp(p->server.last_message, msg, len) == 0);
	/* And back. */
	before = p->client.n_messages;
	CHECK_OK(lull_conn_send(p->server.conn, p->now, msg, len));
	pair_pump(p);
	CHECK(p->client.n_messages == before + 1);
	CHECK(p->client.last_message_len == len);
	CHECK(len == 0 || memcmp(p->client.last_message, msg, len) == 0);
	free(msg);
}

static void test_message_sizes(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	const size_t R = WIRE_RECORD_PAYLOAD_MAX_BYTES;
	const size_t sizes[] = {0, 1, R - 1, R, R + 1, 10u << 20, LULL_DEFAULT_MAX_MESSAGE_BYTES};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		send_and_check(&p, sizes[i], (unsigned)i);
	/* One record per R bytes: an R+1 message is exactly two DATA frames. */
	unsigned f0 = p.client.n_frames;
	uint8_t buf[2 * WIRE_RECORD_PAYLOAD_MAX_BYTES];
	memset(buf, 7, sizeof(buf));
	CHECK_OK(lull_conn_send(p.client.conn, p.now, buf, R + 1));
	pair_pump(&p);
	static const uint8_t two_data[] = {WIRE_DATA, WIRE_DATA, 0};
	CHECK(side_frames_are(&p.client, f0, two_data));

	/* max_message + 1 is refused up front and nothing is queued. */
	size_t too_big = (size_t)LULL_DEFAULT_MAX_MESSAGE_BYTES + 1;
	uint8_t *big = calloc(1, too_big);
	CHECK_ERR(lull_conn_send(p.client.conn, p.now, big, too_big), LULL_ERR_MESSAGE_TOO_LARGE);
	CHECK(lull_conn_output_pending(p.client.conn) == 0);
	CHECK(lull_conn_is_open(p.client.conn));
	free(big);
	pair_free(&p);
}

/* A message given in parts (conn_send_parts, the stream layer's path)
 * arrives as the one message they make, whether sealed at once or held
 * until the keys are ready, across record boundaries and empty parts. */
static void test_message_in_parts(void)
{
	const size_t R = WIRE_RECORD_PAYLOAD_MAX_BYTES;
	static uint8_t msg[3 * WIRE_RECORD_PAYLOAD_MAX_BYTES + 100];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	const size_t cuts[][5] = {
	        {5, R - 5, 0, 0, 0},          /* a stream frame: header + chunk, one record */
	        {5, R, 0, 0, 0},              /* one byte over a record */
	        {1, 0, R - 1, 2, 2 * R + 96}, /* an empty part; cuts at record boundaries */
	        {3 * R + 100, 0, 0, 0, 0},    /* one part */
	};
	for (int held = 0; held < 2; held++) {
		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			pair p;
			pair_init(&p);
			if (!held)
				pair_connect(&p);
			else {
				CHECK_OK(lull_conn_start(p.server.conn, p.now));
				CHECK_OK(lull_conn_start(p.client.conn, p.now));
			}
			crypto_part parts[5];
			size_t len = 0;
			for (size_t j = 0; j < 5; j++) {
				parts[j] = (crypto_part){.data = msg + len, .len = cuts[i][j]};
				len += cuts[i][j];
			}
			unsigned before = p.server.n_messages;
			CHECK_OK(conn_send_parts(p.client.conn, p.now, parts, 5));
			pair_pump(&p);
			CHECK(p.server.n_messages == before + 1);
			CHECK(p.server.last_message_len == len);
			CHECK(len == 0 || memcmp(p.server.last_message, msg, len) == 0);
			pair_free(&p);
		}
	}
	pair p;
	pair_init(&p);
	pair_connect(&p);
	crypto_part too_many[CONN_PARTS_MAX + 1];
	for (size_t j = 0; j < CONN_PARTS_MAX + 1; j++)
		too_many[j] = (crypto_part){.data = msg, .len = 1};
	CHECK_ERR(conn_send_parts(p.client.conn, p.now, too_many, CONN_PARTS_MAX + 1),
	          LULL_ERR_INVALID_ARG);
	crypto_part missing[2] = {{.data = msg, .len = 1}, {.data = NULL, .len = 4}};
	CHECK_ERR(conn_send_parts(p.client.conn, p.now, missing, 2), LULL_ERR_INVALID_ARG);
	CHECK(lull_conn_output_pending(p.client.conn) == 0);
	pair_free(&p);
}

/* A receiver refuses a message over its max_message without buffering it,
 * even when the sender's limit was higher. */
static void test_receiver_refuses_oversize(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	/* Pretend the sender never agreed to the limit (a malicious peer). */
	p.client.conn->agreed.max_message_bytes = 4 * WIRE_RECORD_PAYLOAD_MAX_BYTES;
	p.server.conn->agreed.max_message_bytes = 2 * WIRE_RECORD_PAYLOAD_MAX_BYTES;
	size_t len = 3 * WIRE_RECORD_PAYLOAD_MAX_BYTES;
	uint8_t *msg = calloc(1, len);
	CHECK_OK(lull_conn_send(p.client.conn, p.now, msg, len));
	pair_pump(&p);
	CHECK(!lull_conn_is_open(p.server.conn));
	CHECK(p.server.last_receive_err == LULL_ERR_MESSAGE_TOO_LARGE);
	CHECK(p.server.n_messages == 0);
	const lull_event *ev = side_last_event(&p.server);
	CHECK(ev && ev->type == LULL_EV_CLOSED && ev->close_reason == LULL_CLOSE_MESSAGE_TOO_LARGE);
	/* The client learns why, authenticated. */
	ev = side_last_event(&p.client);
	CHECK(ev && ev->type == LULL_EV_CLOSED && ev->by_peer &&
	      ev->close_reason == LULL_CLOSE_MESSAGE_TOO_LARGE);
	free(msg);
	pair_free(&p);
}

static void expect_closed(const pair_side *s, lull_close_reason reason, bool by_peer)
{
	const lull_event *ev = side_last_event(s);
	CHECK(ev && ev->type == LULL_EV_CLOSED);
	if (ev && ev->type == LULL_EV_CLOSED) {
		CHECK(ev->close_reason == reason);
		CHECK(ev->by_peer == by_peer);
		if (ev->close_reason != reason || ev->by_peer != by_peer)
			fprintf(stderr, "  closed: reason %s by_peer %d\n",
			        lull_close_reason_name(ev->close_reason), ev->by_peer);
	}
	CHECK(!lull_conn_is_open(s->conn));
}

static void test_unknown_client(void)
{
	pair p;
	pair_init(&p);
	lull_server_clear_authorized(p.srv);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(p.server.last_receive_err == LULL_ERR_UNKNOWN_CLIENT);
	int i = side_find_event(&p.server, LULL_EV_AUTH_FAILED, 0);
	CHECK(i >= 0 && p.server.events[i].ev.err == LULL_ERR_UNKNOWN_CLIENT);
	expect_closed(&p.server, LULL_CLOSE_UNKNOWN_CLIENT, false);
	expect_closed(&p.client, LULL_CLOSE_UNKNOWN_CLIENT, true);
	CHECK(p.client.last_receive_err == LULL_ERR_PEER_CLOSED);
	/* The server said no more than a reason code: HS2, then one 1-byte frame. */
	static const uint8_t frames[] = {WIRE_HS2, WIRE_HS_FAILED, 0};
	CHECK(side_frames_are(&p.server, 0, frames));
	pair_free(&p);
}

static void test_wrong_psk(void)
{
	pair p;
	pair_init(&p);
	uint8_t other_psk[LULL_KEY_BYTES];
	memset(other_psk, 0x43, sizeof(other_psk));
	CHECK_OK(lull_server_authorize(p.srv, p.client_key.pub, "alice", other_psk));
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(p.server.last_receive_err == LULL_ERR_AUTH_FAILED);
	CHECK(side_find_event(&p.server, LULL_EV_AUTH_FAILED, 0) >= 0);
	expect_closed(&p.server, LULL_CLOSE_AUTH_FAILED, false);
	expect_closed(&p.client, LULL_CLOSE_AUTH_FAILED, true);
	pair_free(&p);

	/* No PSK on the client while the server expects one: same failure. */
	pair_init(&p);
	lull_conn_free(p.client.conn);
	CHECK_OK(pair_new_client(&p, &p.client, &p.client_key, p.server_key.pub, NULL));
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(p.server.last_receive_err == LULL_ERR_AUTH_FAILED);
	pair_free(&p);
}

static void test_wrong_server_key(void)
{
	pair p;
	pair_init(&p);
	lull_keypair impostor;
	CHECK_OK(lull_keypair_generate(&impostor));
	lull_conn_free(p.client.conn);
	CHECK_OK(pair_new_client(&p, &p.client, &p.client_key, impostor.pub, p.psk));
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(p.client.last_receive_err == LULL_ERR_SERVER_KEY_MISMATCH);
	int i = side_find_event(&p.client, LULL_EV_AUTH_FAILED, 0);
	CHECK(i >= 0 && p.client.events[i].ev.err == LULL_ERR_SERVER_KEY_MISMATCH);
	expect_closed(&p.client, LULL_CLOSE_AUTH_FAILED, false);
	expect_closed(&p.server, LULL_CLOSE_AUTH_FAILED, true);
	/* The client never sent message 3: its identity stays hidden. */
	static const uint8_t frames[] = {WIRE_HS1, WIRE_HS_FAILED, 0};
	CHECK(side_frames_are(&p.client, 0, frames));
	pair_free(&p);
}

/* The pinned server key is checked on every handshake, not only the first:
 * a rekey answered with another static key (a server that changed identity,
 * or a man in the middle who took over the TCP connection) is refused. */
static void test_rekey_checks_server_key(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	CHECK(lull_conn_epoch(p.client.conn) == 1);

	/* The same connection, now answered by a server with another key that
	 * also knows alice: everything else about the rekey is valid. */
	lull_keypair impostor;
	lull_server *srv2 = NULL;
	CHECK_OK(lull_keypair_generate(&impostor));
	CHECK_OK(lull_server_new(&srv2, &p.server_cfg, &impostor, NULL, NULL));
	CHECK_OK(lull_server_authorize(srv2, p.client_key.pub, "alice", p.psk));
	p.server.conn->srv = srv2;
	unsigned from = p.client.n_events;
	CHECK_OK(lull_conn_rekey(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(p.client.last_receive_err == LULL_ERR_SERVER_KEY_MISMATCH);
	int i = side_find_event(&p.client, LULL_EV_AUTH_FAILED, from);
	CHECK(i >= 0 && p.client.events[i].ev.err == LULL_ERR_SERVER_KEY_MISMATCH);
	expect_closed(&p.client, LULL_CLOSE_AUTH_FAILED, false);
	CHECK(lull_conn_epoch(p.client.conn) == 1);
	CHECK(side_find_event(&p.client, LULL_EV_HANDSHAKE_DONE, from) < 0);
	pair_free(&p);
	lull_server_free(srv2);
	lull_wipe(&impostor, sizeof(impostor));
}

/* Capture two DATA records from the client without delivering them. */
static size_t capture_two_records(pair *p, uint8_t *buf, size_t cap, size_t *first_len)
{
	CHECK_OK(lull_conn_send(p->client.conn, p->now, (const uint8_t *)"first", 5));
	*first_len = pair_take_output(&p->client, buf, cap);
	CHECK_OK(lull_conn_send(p->client.conn, p->now, (const uint8_t *)"second", 6));
	return *first_len + pair_take_output(&p->client, buf + *first_len, cap - *first_len);
}

static void test_tampered_records(void)
{
	/* Flip every bit position class: header type, flags, length, epoch,
	 * ciphertext, tag.  Each is detected, none delivers data. */
	const size_t offsets[] = {1, 3, 4, 7, 8, 12, 20};
	for (size_t t = 0; t < sizeof(offsets) / sizeof(offsets[0]); t++) {
		pair p;
		pair_init(&p);
		pair_connect(&p);
		uint8_t buf[256];
		size_t first = 0;
		size_t n = capture_two_records(&p, buf, sizeof(buf), &first);
		CHECK(first == WIRE_RECORD_OVERHEAD_BYTES + 5);
		buf[offsets[t]] ^= 0x01;
		lull_err err = lull_conn_receive(p.server.conn, p.now, buf, n);
		CHECK(err != LULL_OK);
		CHECK(p.server.n_messages == 0);
		CHECK(!lull_conn_is_open(p.server.conn));
		pair_free(&p);
	}
}

static void test_truncated_replayed_reordered(void)
{
	pair p;
	uint8_t buf[256], bad[256];
	size_t first = 0, n;

	/* Truncated: the first record loses its last byte; framing then eats
	 * into the next one and authentication fails. */
	pair_init(&p);
	pair_connect(&p);
	n = capture_two_records(&p, buf, sizeof(buf), &first);
	memcpy(bad, buf, first - 1);
	memcpy(bad + first - 1, buf + first, n - first);
	CHECK(lull_conn_receive(p.server.conn, p.now, bad, n - 1) != LULL_OK);
	CHECK(p.server.n_messages == 0 && !lull_conn_is_open(p.server.conn));
	pair_free(&p);

	/* Replayed: the same record twice.  The first is delivered, the copy
	 * fails (its nonce is spent). */
	pair_init(&p);
	pair_connect(&p);
	n = capture_two_records(&p, buf, sizeof(buf), &first);
	memcpy(bad, buf, first);
	memcpy(bad + first, buf, first);
	CHECK_ERR(lull_conn_receive(p.server.conn, p.now, bad, 2 * first), LULL_ERR_DECRYPT);
	CHECK(p.server.n_messages == 1);
	expect_closed(&p.server, LULL_CLOSE_DECRYPT_FAILED, false);
	pair_free(&p);

	/* Reordered: second before first. */
	pair_init(&p);
	pair_connect(&p);
	n = capture_two_records(&p, buf, sizeof(buf), &first);
	memcpy(bad, buf + first, n - first);
	memcpy(bad + (n - first), buf, first);
	CHECK_ERR(lull_conn_receive(p.server.conn, p.now, bad, n), LULL_ERR_DECRYPT);
	CHECK(p.server.n_messages == 0);
	pair_free(&p);

	/* Dropped: only the second arrives. */
	pair_init(&p);
	pair_connect(&p);
	n = capture_two_records(&p, buf, sizeof(buf), &first);
	CHECK_ERR(lull_conn_receive(p.server.conn, p.now, buf + first, n - first),
	          LULL_ERR_DECRYPT);
	CHECK(p.server.n_messages == 0);
	pair_free(&p);
}

/* Byte-at-a-time delivery reassembles frames exactly like bulk delivery. */
static void test_byte_at_a_time(void)
{
	pair p;
	pair_init(&p);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	uint8_t msg[3 * WIRE_RECORD_PAYLOAD_MAX_BYTES / 2];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i ^ (i >> 8));
	CHECK_OK(lull_conn_send(p.client.conn, p.now, msg, sizeof(msg))); /* held for keys */
	for (int round = 0; round < 10; round++) {
		pair_side *sides[2] = {&p.client, &p.server};
		for (int s = 0; s < 2; s++) {
			const uint8_t *bytes;
			size_t n = lull_conn_output(sides[s]->conn, &bytes);
			uint8_t *copy = malloc(n ? n : 1);
			if (n)
				memcpy(copy, bytes, n);
			lull_conn_output_consume(sides[s]->conn, n);
			for (size_t i = 0; i < n; i++)
				CHECK_OK(lull_conn_receive(sides[1 - s]->conn, p.now, copy + i, 1));
			free(copy);
		}
	}
	CHECK(p.server.n_messages == 1);
	CHECK(p.server.last_message_len == sizeof(msg) &&
	      memcmp(p.server.last_message, msg, sizeof(msg)) == 0);
	pair_free(&p);
}

/* Garbage and oversize length fields close at once, allocating nothing big. */
static void test_bad_frames(void)
{
	const uint8_t cases[][4] = {
	        {0, 0, 0, 0},                                  /* type 0 */
	        {11, 0, 0, 1},                                 /* unknown type */
	        {WIRE_DATA, 0, 0xff, 0xff},                    /* length over the record maximum */
	        {WIRE_HS1, 0, 0, 33},                          /* HS1 one byte short */
	        {WIRE_DATA, 0x80, 0, 40},                      /* undefined flag */
	        {WIRE_HS1, WIRE_FLAG_MORE, 0, WIRE_HS1_BYTES}, /* flag not allowed on HS1 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pair p;
		pair_init(&p);
		CHECK_OK(lull_conn_start(p.server.conn, p.now));
		CHECK_ERR(lull_conn_receive(p.server.conn, p.now, cases[i], 4), LULL_ERR_PROTOCOL);
		expect_closed(&p.server, LULL_CLOSE_PROTOCOL_ERROR, false);
		CHECK(p.server.conn->in_buf == NULL);
		pair_free(&p);
	}
	/* A client must never receive HS1; a server never HS2. */
	pair p;
	pair_init(&p);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	uint8_t hs1[64];
	size_t n = pair_take_output(&p.client, hs1, sizeof(hs1));
	CHECK_ERR(lull_conn_receive(p.client.conn, p.now, hs1, n), LULL_ERR_PROTOCOL);
	pair_free(&p);
}

/* Server side: the HS2 of a handshake carries the SRK as its first 32 bytes. */
/* Run a first handshake one flight at a time, keeping the SRK the server
 * answered with, the KEYS frame, and the DRK set inside it (opened with the
 * client's k2, as the client itself does). */
static void run_handshake_capture(pair *p, uint8_t srk_pub[32], uint8_t keys_frame[128],
                                  uint8_t drk[WIRE_KEYS_PLAINTEXT_BYTES])
{
	CHECK_OK(lull_conn_start(p->server.conn, p->now));
	CHECK_OK(lull_conn_start(p->client.conn, p->now));
	uint8_t buf[512];
	size_t n = pair_take_output(&p->client, buf, sizeof(buf));
	CHECK_OK(lull_conn_receive(p->server.conn, p->now, buf, n));
	n = pair_take_output(&p->server, buf, sizeof(buf));
	CHECK(n == WIRE_HEADER_BYTES + WIRE_HS2_BYTES);
	memcpy(srk_pub, buf + WIRE_HEADER_BYTES, 32);
	CHECK_OK(lull_conn_receive(p->client.conn, p->now, buf, n));
	n = pair_take_output(&p->client, buf, sizeof(buf));
	CHECK_OK(lull_conn_receive(p->server.conn, p->now, buf, n));
	n = pair_take_output(&p->server, buf, sizeof(buf));
	CHECK(n == WIRE_RECORD_OVERHEAD_BYTES + WIRE_KEYS_PLAINTEXT_BYTES);
	memcpy(keys_frame, buf, n);
	memset(drk, 0, WIRE_KEYS_PLAINTEXT_BYTES);
	record_key k2;
	wire_header h;
	size_t drk_len = 0;
	CHECK(p->client.conn->hs != NULL && p->client.conn->state == CONN_WAIT_KEYS);
	CHECK_OK(wire_header_read(buf, &h));
	CHECK_OK(record_key_init(&k2, CRYPTO_AEAD_AESGCM, p->client.conn->hs->pending_k2, 1));
	CHECK_OK(record_open(&k2, &h, buf, drk, &drk_len));
	CHECK(drk_len == WIRE_KEYS_PLAINTEXT_BYTES);
	record_key_destroy(&k2);
	CHECK_OK(lull_conn_receive(p->client.conn, p->now, buf, n));
	CHECK(lull_conn_is_ready(p->client.conn));
}

static void test_srk_shared_in_interval_drk_fresh(void)
{
	pair p;
	pair_init(&p);
	/* A second client of the same server. */
	pair_side c2 = {0}, s2 = {0};
	CHECK_OK(pair_new_client(&p, &c2, &p.client_key, p.server_key.pub, p.psk));
	CHECK_OK(pair_new_server(&p, &s2));

	uint8_t srk1[32], srk2[32], keys1[128], keys2[128];
	uint8_t drk1[WIRE_KEYS_PLAINTEXT_BYTES], drk2[WIRE_KEYS_PLAINTEXT_BYTES];
	uint8_t drk3[WIRE_KEYS_PLAINTEXT_BYTES];
	run_handshake_capture(&p, srk1, keys1, drk1);
	/* Same interval (a few ms later). */
	p.now += 5;
	pair q = p; /* borrow the harness with the second pair of sides */
	q.client = c2;
	q.server = s2;
	run_handshake_capture(&q, srk2, keys2, drk2);

	CHECK_MEM(srk1, srk2, 32); /* one SRK for the interval */
	CHECK(p.srv->pool.created_total == 1);
	/* B3: each session its own random DRK set - the sessions share the
	 * SRK, so the DRKs are what makes their keys independent.  Compared
	 * directly: traffic keys would differ anyway, through h. */
	CHECK(memcmp(drk1, drk2, sizeof(drk1)) != 0);
	CHECK(memcmp(drk1, drk1 + WIRE_DRK_BYTES, WIRE_DRK_BYTES) != 0);
	CHECK(!crypto_is_zero(drk1, sizeof(drk1)) && !crypto_is_zero(drk2, sizeof(drk2)));
	/* Different DRKs and traffic keys. */
	CHECK(memcmp(keys1, keys2, sizeof(keys1)) != 0);
	CHECK(memcmp(p.client.conn->tx.key, q.client.conn->tx.key, 32) != 0);
	CHECK(memcmp(p.client.conn->rx.key, q.client.conn->rx.key, 32) != 0);
	/* And the two directions of one session differ. */
	CHECK(memcmp(p.client.conn->tx.key, p.client.conn->rx.key, 32) != 0);
	/* Each end derived the same keys as its peer. */
	CHECK_MEM(p.client.conn->tx.key, p.server.conn->rx.key, 32);
	CHECK_MEM(q.client.conn->rx.key, q.server.conn->tx.key, 32);

	/* A handshake in the next interval gets a new SRK. */
	lull_conn_free(c2.conn);
	lull_conn_free(s2.conn);
	memset(&c2, 0, sizeof(c2));
	memset(&s2, 0, sizeof(s2));
	CHECK_OK(pair_new_client(&p, &c2, &p.client_key, p.server_key.pub, p.psk));
	CHECK_OK(pair_new_server(&p, &s2));
	q = p;
	q.client = c2;
	q.server = s2;
	q.now = p.now + p.server_cfg.srk_interval_ms;
	uint8_t srk3[32], keys3[128];
	run_handshake_capture(&q, srk3, keys3, drk3);
	CHECK(memcmp(drk3, drk1, sizeof(drk1)) != 0 && memcmp(drk3, drk2, sizeof(drk2)) != 0);
	CHECK(memcmp(srk1, srk3, 32) != 0);
	CHECK(p.srv->pool.created_total == 2);
	lull_conn_free(c2.conn);
	lull_conn_free(s2.conn);
	free(c2.last_message);
	free(s2.last_message);
	pair_free(&p);
}

/* N handshakes in one interval: 1 SRK, and the server spends exactly 3
 * X25519 operations per handshake beyond the single SRK generation. */
static void test_server_dh_cost(void)
{
	enum { N = 20 };
	pair p;
	pair_init(&p);
	lull_conn_free(p.client.conn);
	lull_conn_free(p.server.conn);
	p.client.conn = p.server.conn = NULL;
	uint64_t server_ops = 0;
	for (int i = 0; i < N; i++) {
		pair_side c = {0}, s = {0};
		CHECK_OK(pair_new_client(&p, &c, &p.client_key, p.server_key.pub, p.psk));
		CHECK_OK(pair_new_server(&p, &s));
		CHECK_OK(lull_conn_start(s.conn, p.now));
		CHECK_OK(lull_conn_start(c.conn, p.now));
		uint8_t buf[512];
		const uint8_t *out;
		size_t n;
		for (int step = 0; step < 4; step++) {
			bool to_server = step % 2 == 0;
			pair_side *from = to_server ? &c : &s, *to = to_server ? &s : &c;
			n = lull_conn_output(from->conn, &out);
			memcpy(buf, out, n);
			lull_conn_output_consume(from->conn, n);
			uint64_t before = dh_count();
			CHECK_OK(lull_conn_receive(to->conn, p.now, buf, n));
			if (to_server)
				server_ops += dh_count() - before;
		}
		CHECK(lull_conn_is_ready(c.conn));
		lull_conn_free(c.conn);
		lull_conn_free(s.conn);
		free(c.last_message);
		free(s.last_message);
	}
	CHECK(p.srv->pool.created_total == 1);
	CHECK(server_ops == 1 + 3 * N);
	if (server_ops != 1 + 3 * N)
		fprintf(stderr, "  server X25519 ops for %d handshakes: %llu\n", N,
		        (unsigned long long)server_ops);

	/* With the pool disabled, every handshake pays a key generation. */
	pair_free(&p);
	lull_config cfg;
	lull_config_default(&cfg);
	lull_config scfg = cfg;
	scfg.srk_pool_disabled = true;
	pair_init_cfg(&p, &cfg, &scfg);
	uint64_t before = dh_count();
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(lull_conn_is_ready(p.client.conn));
	CHECK(p.srv->pool.created_total == 0);
	/* client: e, ee, es, se = 4; server: fresh e, ee, es, se = 4 */
	CHECK(dh_count() - before == 8);
	pair_free(&p);
}

static void test_replayed_message1(void)
{
	pair p;
	pair_init(&p);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	uint8_t hs1[64];
	size_t n = pair_take_output(&p.client, hs1, sizeof(hs1));
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, hs1, n));

	/* The same message 1 on another connection, same interval: refused. */
	pair_side other = {0};
	CHECK_OK(pair_new_server(&p, &other));
	CHECK_OK(lull_conn_start(other.conn, p.now + 1));
	CHECK_ERR(lull_conn_receive(other.conn, p.now + 1, hs1, n), LULL_ERR_REPLAY);
	CHECK(side_find_event(&other, LULL_EV_REPLAY_REFUSED, 0) >= 0);
	expect_closed(&other, LULL_CLOSE_REPLAY, false);
	CHECK(p.srv->pool.replays_refused_total == 1);
	lull_conn_free(other.conn);
	free(other.last_message);

	/* The original handshake is unaffected. */
	pair_pump(&p);
	CHECK(lull_conn_is_ready(p.client.conn) && lull_conn_is_ready(p.server.conn));
	pair_free(&p);
}

static void test_handshake_timeout(void)
{
	/* Server: message 3 arrives after srk_lifetime. */
	pair p;
	pair_init(&p);
	const uint64_t life = p.server_cfg.srk_lifetime_ms;
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	p.hold_client_output = true;
	pair_pump(&p); /* HS1 held */
	uint8_t buf[512];
	size_t n = pair_take_output(&p.client, buf, sizeof(buf));
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, buf, n));
	pair_pump(&p); /* HS2 to the client, HS3 held */
	uint64_t t1 = p.now;
	CHECK(lull_conn_next_deadline(p.server.conn) == t1 + life);
	pair_advance_to(&p, t1 + life - 1);
	CHECK(lull_conn_is_open(p.server.conn));
	pair_advance_to(&p, t1 + life);
	CHECK(!lull_conn_is_open(p.server.conn));
	expect_closed(&p.server, LULL_CLOSE_HANDSHAKE_TIMEOUT, false);
	pair_free(&p);

	/* Client: no answer at all. */
	pair_init(&p);
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	uint64_t t0 = p.now;
	n = pair_take_output(&p.client, buf, sizeof(buf));
	CHECK(lull_conn_next_deadline(p.client.conn) == t0 + life);
	CHECK_OK(lull_conn_tick(p.client.conn, t0 + life - 1));
	CHECK(lull_conn_is_open(p.client.conn));
	CHECK_ERR(lull_conn_tick(p.client.conn, t0 + life), LULL_ERR_HANDSHAKE_TIMEOUT);
	expect_closed(&p.client, LULL_CLOSE_HANDSHAKE_TIMEOUT, false);
	pair_free(&p);

	/* Server: a client that connects and never speaks (slow loris). */
	pair_init(&p);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_ERR(lull_conn_tick(p.server.conn, p.now + life), LULL_ERR_HANDSHAKE_TIMEOUT);
	pair_free(&p);
}

/* Data sent before the handshake completes waits for the key, then flows. */
static void test_data_waits_for_keys(void)
{
	pair p;
	pair_init(&p);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"early", 5));
	/* Nothing but HS1 is on the wire. */
	CHECK(lull_conn_output_pending(p.client.conn) == WIRE_HEADER_BYTES + WIRE_HS1_BYTES);
	pair_pump(&p);
	CHECK(p.server.n_messages == 1 && p.server.last_message_len == 5);
	static const uint8_t frames[] = {WIRE_HS1, WIRE_HS3, WIRE_DATA, 0};
	CHECK(side_frames_are(&p.client, 0, frames));
	pair_free(&p);
}

static void test_close_normal_and_api_errors(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	lull_conn_close(p.client.conn, p.now, LULL_CLOSE_NORMAL);
	lull_conn_close(p.client.conn, p.now, LULL_CLOSE_NORMAL); /* idempotent */
	pair_pump(&p);
	CHECK(side_count_events(&p.client, LULL_EV_CLOSED) == 1);
	expect_closed(&p.server, LULL_CLOSE_NORMAL, true);
	CHECK(p.server.last_receive_err == LULL_OK);
	CHECK_ERR(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"x", 1), LULL_ERR_CLOSED);
	CHECK_ERR(lull_conn_receive(p.server.conn, p.now, (const uint8_t *)"x", 1),
	          LULL_ERR_CLOSED);
	CHECK_ERR(lull_conn_start(p.client.conn, p.now), LULL_ERR_CLOSED);
	pair_free(&p);

	/* Bad arguments and bad configuration. */
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.srk_keep = 0;
	lull_keypair kp;
	CHECK_OK(lull_keypair_generate(&kp));
	lull_conn *c = NULL;
	CHECK_ERR(lull_conn_new_client(&c, &cfg, &kp, kp.pub, NULL, NULL), LULL_ERR_CONFIG);
	CHECK(c == NULL);
	lull_server *srv = NULL;
	CHECK_ERR(lull_server_new(&srv, &cfg, &kp, NULL, NULL), LULL_ERR_CONFIG);
	CHECK_ERR(lull_conn_new_server(&c, NULL, NULL), LULL_ERR_INVALID_ARG);
	lull_config_default(&cfg);
	CHECK_OK(lull_server_new(&srv, &cfg, &kp, NULL, NULL));
	CHECK_ERR(lull_server_authorize(srv, kp.pub, "", NULL), LULL_ERR_INVALID_ARG);
	char long_name[LULL_PEER_NAME_MAX + 1];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK_ERR(lull_server_authorize(srv, kp.pub, long_name, NULL), LULL_ERR_INVALID_ARG);
	lull_server_free(srv);
}

/* Many authorized clients: lookups find each, re-adding replaces. */
static void test_authorized_table(void)
{
	lull_config cfg;
	lull_config_default(&cfg);
	lull_keypair kp;
	CHECK_OK(lull_keypair_generate(&kp));
	lull_server *srv = NULL;
	CHECK_OK(lull_server_new(&srv, &cfg, &kp, NULL, NULL));
	uint8_t keys[100][32];
	for (int i = 0; i < 100; i++) {
		CHECK_OK(crypto_random(keys[i], 32));
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		CHECK_OK(lull_server_authorize(srv, keys[i], name, NULL));
	}
	CHECK(srv->n_clients == 100);
	for (int i = 0; i < 100; i++) {
		const authorized_client *ac = server_find_client(srv, keys[i]);
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		CHECK(ac && strcmp(ac->name, name) == 0);
	}
	CHECK_OK(lull_server_authorize(srv, keys[5], "renamed", NULL));
	CHECK(srv->n_clients == 100);
	CHECK(strcmp(server_find_client(srv, keys[5])->name, "renamed") == 0);
	lull_server_clear_authorized(srv);
	CHECK(server_find_client(srv, keys[5]) == NULL);
	lull_server_free(srv);
}

static void test_chachapoly_suite(void)
{
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.suite = LULL_SUITE_CHACHAPOLY_BLAKE2B;
	pair p;
	pair_init_cfg(&p, &cfg, &cfg);
	pair_connect(&p);
	send_and_check(&p, 40000, 3);
	CHECK(p.client.conn->prev_hash_len == 64); /* BLAKE2b handshake hash */
	pair_free(&p);

	/* Suite mismatch: the server refuses with a version/suite reason. */
	lull_config other;
	lull_config_default(&other);
	pair_init_cfg(&p, &cfg, &other);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(p.server.last_receive_err == LULL_ERR_VERSION);
	expect_closed(&p.client, LULL_CLOSE_VERSION, true);
	pair_free(&p);
}

/* What a connection must not hold between calls, busy or idle. */
static bool side_holds_working_set(const pair_side *s)
{
	const lull_conn *c = s->conn;
	return record_key_holds_context(&c->tx) || record_key_holds_context(&c->rx) ||
	       record_key_holds_context(&c->rx_prev) || c->scratch || c->in_buf || c->out_buf ||
	       c->msg_buf;
}

/*
 * Idle memory: the Noise state lives only during a handshake, and cipher
 * contexts, plaintext scratch and buffers never outlive a call: after the
 * handshake, after DATA both ways (one record and several), after a
 * heartbeat on an idle link.  The keys stay live and their sequence
 * numbers carry on across the rebuilt contexts.
 */
static void test_idle_connection_holds_no_working_set(void)
{
	pair p;
	pair_init(&p);
	CHECK(p.client.conn->hs == NULL && p.server.conn->hs == NULL);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	CHECK(p.client.conn->hs != NULL);
	/* HS1 and HS2 by hand: the client has sent HS3 and waits for KEYS
	 * with the split keys and the hash, its Noise state (key handles,
	 * split keys) already destroyed. */
	uint8_t frame[512];
	size_t n = pair_take_output(&p.client, frame, sizeof(frame));
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, frame, n));
	n = pair_take_output(&p.server, frame, sizeof(frame));
	CHECK_OK(lull_conn_receive(p.client.conn, p.now, frame, n));
	CHECK(p.client.conn->state == CONN_WAIT_KEYS && p.client.conn->hs != NULL);
	CHECK(crypto_is_zero((const uint8_t *)&p.client.conn->hs->noise,
	                     sizeof(p.client.conn->hs->noise)));
	CHECK(p.client.conn->hs->h_len == 32 && !crypto_is_zero(p.client.conn->hs->h, 32));
	pair_pump(&p);
	CHECK(lull_conn_is_ready(p.client.conn) && lull_conn_is_ready(p.server.conn));
	CHECK(p.client.conn->hs == NULL && p.server.conn->hs == NULL);
	CHECK(!side_holds_working_set(&p.client) && !side_holds_working_set(&p.server));
	CHECK(p.client.conn->tx.live && p.server.conn->rx.live);

	send_and_check(&p, 100, 1);
	CHECK(!side_holds_working_set(&p.client) && !side_holds_working_set(&p.server));
	send_and_check(&p, 3 * WIRE_RECORD_PAYLOAD_MAX_BYTES + 7, 2);
	CHECK(!side_holds_working_set(&p.client) && !side_holds_working_set(&p.server));
	/* 1 + 4 records sealed each way, each under a context built anew. */
	CHECK(p.client.conn->tx.seq == 5 && p.server.conn->rx.seq == 5);
	CHECK(p.server.conn->tx.seq == 5 && p.client.conn->rx.seq == 5);

	/* A record key builds its context on first use, not when installed,
	 * and keeps its sequence across a release. */
	record_key k;
	uint8_t out[WIRE_RECORD_OVERHEAD_BYTES + 1];
	CHECK_OK(record_key_init(&k, CRYPTO_AEAD_AESGCM, p.client.conn->tx.key, 9));
	CHECK(k.live && !record_key_holds_context(&k));
	CHECK_OK(record_seal(&k, WIRE_DATA, 0, (const uint8_t *)"x", 1, out));
	CHECK(record_key_holds_context(&k) && k.seq == 1);
	record_key_release(&k);
	CHECK(k.live && !record_key_holds_context(&k) && k.seq == 1);
	record_key_destroy(&k);
	CHECK_ERR(record_key_init(&k, (crypto_aead_alg)7, p.client.conn->tx.key, 9),
	          LULL_ERR_INVALID_ARG);

	/* A heartbeat on the idle link. */
	unsigned acked = side_count_events(&p.client, LULL_EV_HEARTBEAT_ACKED);
	pair_advance(&p, LULL_DEFAULT_HEARTBEAT_INTERVAL_MS);
	CHECK(side_count_events(&p.client, LULL_EV_HEARTBEAT_ACKED) == acked + 1);
	CHECK(!side_holds_working_set(&p.client) && !side_holds_working_set(&p.server));
	CHECK(p.client.conn->hs == NULL && p.server.conn->hs == NULL);
	CHECK(lull_conn_is_open(p.client.conn) && lull_conn_is_open(p.server.conn));
	pair_free(&p);
}

/* Callbacks that call back into the engine (lull.h lists what is allowed). */
static lull_err nested_receive_err;

static void on_message_then_receive(void *user, const uint8_t *msg, size_t len)
{
	pair_side *s = user;
	nested_receive_err = lull_conn_receive(s->conn, 0, NULL, 0);
	pair_on_message(user, msg, len);
}

static void on_event_close_on_rekey_request(void *user, const lull_event *ev)
{
	pair_side *s = user;
	pair_on_event(user, ev);
	if (ev->type == LULL_EV_REKEY_REQUESTED)
		lull_conn_close(s->conn, ev->now_ms, LULL_CLOSE_NORMAL);
}

/*
 * A receive from inside a receive's callback is refused, and the outer
 * call goes on with its own buffers: both records of one read delivered.
 * A connection closed by a callback does nothing more: no handshake state,
 * no HS1 after the close frame, no event after CLOSED.
 */
static void test_callbacks_reentering_the_engine(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	p.server.conn->cb.on_message = on_message_then_receive;
	const uint8_t a[] = "first", b[] = "second";
	CHECK_OK(lull_conn_send(p.client.conn, p.now, a, sizeof(a)));
	CHECK_OK(lull_conn_send(p.client.conn, p.now, b, sizeof(b)));
	nested_receive_err = LULL_OK;
	pair_pump(&p); /* both records in one lull_conn_receive */
	CHECK(nested_receive_err == LULL_ERR_STATE);
	CHECK(p.server.n_messages == 2 && p.server.last_receive_err == LULL_OK);
	CHECK(p.server.last_message_len == sizeof(b) &&
	      memcmp(p.server.last_message, b, sizeof(b)) == 0);
	CHECK(lull_conn_is_open(p.server.conn) && p.server.conn->scratch == NULL);
	pair_free(&p);

	pair_init(&p);
	pair_connect(&p);
	p.client.conn->cb.on_event = on_event_close_on_rekey_request;
	unsigned frames_before = p.client.n_frames;
	CHECK_OK(lull_conn_rekey(p.server.conn, p.now));
	pair_pump(&p);
	CHECK(!lull_conn_is_open(p.client.conn));
	CHECK(p.client.conn->hs == NULL && !conn_hs_running(p.client.conn));
	CHECK(p.client.n_frames == frames_before + 1 &&
	      p.client.frame_types[frames_before] == WIRE_CLOSE);
	const lull_event *last = side_last_event(&p.client);
	CHECK(last && last->type == LULL_EV_CLOSED);
	CHECK(side_count_events(&p.client, LULL_EV_HANDSHAKE_STARTED) == 1);
	pair_free(&p);
}

/* lull_server_next_deadline: none before an SRK exists, the SRK's erasure
 * once a handshake created it, none again once lull_server_tick erased it. */
static void test_server_next_deadline(void)
{
	CHECK(lull_server_next_deadline(NULL) == UINT64_MAX);
	pair p;
	pair_init(&p);
	CHECK(lull_server_next_deadline(p.srv) == UINT64_MAX);
	pair_connect(&p);
	uint64_t d = lull_server_next_deadline(p.srv);
	CHECK(d != UINT64_MAX && d > p.now);
	CHECK(d == srk_pool_next_deadline(&p.srv->pool));
	CHECK(lull_server_tick(p.srv, d - 1) == d && lull_server_next_deadline(p.srv) == d);
	CHECK(p.srv->pool.erased_total == 0);
	CHECK(lull_server_tick(p.srv, d) == UINT64_MAX);
	CHECK(lull_server_next_deadline(p.srv) == UINT64_MAX && p.srv->pool.erased_total == 1);
	pair_free(&p);
}

int main(void)
{
	test_handshake_frames_and_events();
	test_message_sizes();
	test_message_in_parts();
	test_receiver_refuses_oversize();
	test_unknown_client();
	test_wrong_psk();
	test_wrong_server_key();
	test_rekey_checks_server_key();
	test_tampered_records();
	test_truncated_replayed_reordered();
	test_byte_at_a_time();
	test_bad_frames();
	test_srk_shared_in_interval_drk_fresh();
	test_server_dh_cost();
	test_replayed_message1();
	test_handshake_timeout();
	test_data_waits_for_keys();
	test_close_normal_and_api_errors();
	test_authorized_table();
	test_chachapoly_suite();
	test_idle_connection_holds_no_working_set();
	test_callbacks_reentering_the_engine();
	test_server_next_deadline();
	return test_summary();
}
