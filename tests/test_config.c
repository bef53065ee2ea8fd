/*
 * test_config.c - defaults are the design brief's, every out-of-range knob is
 * refused with its own name, derived caps follow the brief's formulas.
 */
#include "config.h"
#include "test.h"

typedef void (*mutate_fn)(lull_config *);

#define MUTATION(name, body)                                                                       \
	static void name(lull_config *c)                                                           \
	{                                                                                          \
		body;                                                                              \
	}

MUTATION(bad_suite, c->suite = (lull_suite)3)
MUTATION(zero_hb_interval, c->heartbeat_interval_ms = 0)
MUTATION(zero_hb_timeout, c->heartbeat_timeout_ms = 0)
MUTATION(hb_timeout_reaches_interval, c->heartbeat_timeout_ms = c->heartbeat_interval_ms)
MUTATION(hb_retries_reach_interval, c->heartbeat_retries = 5) /* 6 x 10 s >= 60 s */
MUTATION(many_retries, c->heartbeat_retries = LULL_HEARTBEAT_RETRIES_MAX + 1)
MUTATION(bad_missed_ack, c->on_missed_ack = (lull_on_missed_ack)2)
MUTATION(bad_spoof, c->on_spoof = (lull_on_spoof)7)
MUTATION(bad_missing_hb, c->on_missing_heartbeat = (lull_on_missing_heartbeat)2)
MUTATION(zero_rekey_bytes, c->rekey_bytes = 0)
MUTATION(zero_max_age, c->rekey_max_age_ms = 0)
MUTATION(low_reject_bytes, c->reject_after_bytes = c->rekey_bytes - 1)
MUTATION(low_reject_age, c->reject_after_age_ms = c->rekey_max_age_ms - 1)
MUTATION(short_srk_interval, c->srk_interval_ms = LULL_SRK_INTERVAL_MIN_MS - 1)
MUTATION(zero_replay_max, c->srk_replay_max = 0)
MUTATION(big_replay_max, c->srk_replay_max = LULL_SRK_REPLAY_MAX_LIMIT + 1)
MUTATION(long_srk_interval, c->srk_interval_ms = LULL_SRK_INTERVAL_MAX_MS + 1)
MUTATION(huge_srk_interval, c->srk_interval_ms = UINT32_MAX)
MUTATION(zero_srk_lifetime, c->srk_lifetime_ms = 0)
MUTATION(long_srk_lifetime, c->srk_lifetime_ms = LULL_SRK_LIFETIME_MAX_MS + 1)
MUTATION(zero_srk_keep, c->srk_keep = 0)
MUTATION(big_srk_keep, c->srk_keep = LULL_SRK_KEEP_MAX + 1)
MUTATION(zero_max_message, c->max_message_bytes = 0)
MUTATION(huge_max_message, c->max_message_bytes = LULL_MAX_MESSAGE_LIMIT_BYTES + 1)
MUTATION(message_over_byte_cap, c->rekey_bytes = 1000; c->max_message_bytes = 2001)

static const struct {
	mutate_fn mutate;
	const char *field;
} bad_cases[] = {
        {bad_suite, "suite"},
        {zero_hb_interval, "heartbeat_interval"},
        {zero_hb_timeout, "heartbeat_timeout"},
        {hb_timeout_reaches_interval, "heartbeat_timeout"},
        {hb_retries_reach_interval, "heartbeat_timeout"},
        {many_retries, "heartbeat_retries"},
        {bad_missed_ack, "on_missed_ack"},
        {bad_spoof, "on_spoof"},
        {bad_missing_hb, "on_missing_heartbeat"},
        {zero_rekey_bytes, "rekey_bytes"},
        {zero_max_age, "rekey_max_age"},
        {low_reject_bytes, "reject_after_bytes"},
        {low_reject_age, "reject_after_age"},
        {short_srk_interval, "srk_interval"},
        {long_srk_interval, "srk_interval"},
        {zero_replay_max, "srk_replay_max"},
        {big_replay_max, "srk_replay_max"},
        {huge_srk_interval, "srk_interval"},
        {zero_srk_lifetime, "srk_lifetime"},
        {long_srk_lifetime, "srk_lifetime"},
        {zero_srk_keep, "srk_keep"},
        {big_srk_keep, "srk_keep"},
        {zero_max_message, "max_message"},
        {huge_max_message, "max_message"},
        {message_over_byte_cap, "max_message"},
};

int main(void)
{
	lull_config cfg;
	const char *field = "untouched";

	lull_config_default(&cfg);
	CHECK_OK(lull_config_validate(&cfg, &field));
	CHECK(field == NULL);

	/* The design brief's defaults (§1A, §1B, §3). */
	CHECK(cfg.suite == LULL_SUITE_AESGCM_SHA256);
	CHECK(cfg.heartbeat_interval_ms == 60000);
	CHECK(cfg.heartbeat_timeout_ms == 10000);
	CHECK(cfg.heartbeat_retries == 0);
	CHECK(cfg.on_missed_ack == LULL_ON_MISSED_ACK_CLOSE);
	CHECK(cfg.on_spoof == LULL_ON_SPOOF_CLOSE);
	CHECK(cfg.on_missing_heartbeat == LULL_ON_MISSING_HEARTBEAT_CLOSE);
	CHECK(cfg.rekey_bytes == 1073741824ull);
	CHECK(cfg.rekey_max_age_ms == 3600000ull);
	CHECK(cfg.srk_interval_ms == 10000);
	CHECK(cfg.srk_lifetime_ms == 30000);
	CHECK(cfg.srk_keep == 2);
	CHECK(cfg.max_message_bytes == 16u * 1024 * 1024);
	CHECK(!cfg.srk_pool_disabled);

	/* Derived hard caps. */
	CHECK(config_reject_after_bytes(&cfg) == 2ull * 1073741824ull);
	CHECK(config_reject_after_age_ms(&cfg) == 3600000ull + 30000ull);
	cfg.reject_after_bytes = 5ull << 30;
	cfg.reject_after_age_ms = 7200000;
	CHECK(config_reject_after_bytes(&cfg) == 5ull << 30);
	CHECK(config_reject_after_age_ms(&cfg) == 7200000);

	/* Every bad value is refused and named. */
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		lull_config_default(&cfg);
		bad_cases[i].mutate(&cfg);
		field = NULL;
		CHECK_ERR(lull_config_validate(&cfg, &field), LULL_ERR_CONFIG);
		CHECK(field != NULL && strcmp(field, bad_cases[i].field) == 0);
		if (!field || strcmp(field, bad_cases[i].field) != 0)
			fprintf(stderr, "  case %zu: got field %s, want %s\n", i,
			        field ? field : "(null)", bad_cases[i].field);
	}
	/* Boundaries that must still be accepted. */
	lull_config_default(&cfg);
	cfg.srk_interval_ms = LULL_SRK_INTERVAL_MIN_MS;
	cfg.srk_lifetime_ms = LULL_SRK_LIFETIME_MAX_MS;
	cfg.srk_keep = LULL_SRK_KEEP_MAX;
	cfg.reject_after_bytes = cfg.rekey_bytes;
	cfg.heartbeat_retries = 4; /* 5 x 10 s < 60 s */
	CHECK_OK(lull_config_validate(&cfg, NULL));
	cfg.srk_interval_ms = LULL_SRK_INTERVAL_MAX_MS;
	CHECK_OK(lull_config_validate(&cfg, NULL));
	cfg.rekey_bytes = 1000;
	cfg.reject_after_bytes = 0;
	cfg.max_message_bytes = 2000; /* = the derived 2 x rekey_bytes */
	CHECK_OK(lull_config_validate(&cfg, NULL));
	CHECK_ERR(lull_config_validate(NULL, NULL), LULL_ERR_INVALID_ARG);

	/* Names used in logs. */
	CHECK(strcmp(lull_event_name(LULL_EV_SPOOF_REJECTED), "spoof_rejected") == 0);
	CHECK(strcmp(lull_rekey_reason_name(LULL_REKEY_IDLE), "idle") == 0);
	CHECK(strcmp(lull_close_reason_name(LULL_CLOSE_HEARTBEAT_MISSED), "heartbeat_missed") == 0);
	CHECK(strcmp(lull_close_reason_name((lull_close_reason)200), "unknown") == 0);
	for (int r = 0; r < LULL_CLOSE_REASON_COUNT; r++)
		CHECK(strcmp(lull_close_reason_name((lull_close_reason)r), "unknown") != 0);
	for (int t = LULL_EV_HANDSHAKE_STARTED; t <= LULL_EV_HEARTBEAT_RECEIVED; t++)
		CHECK(strcmp(lull_event_name((lull_event_type)t), "unknown") != 0);
	return test_summary();
}
