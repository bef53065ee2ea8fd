/*
 * gen.c - the built-in traffic shapes of issue 8, from a seed.
 *
 *   messaging-day  24 h of a chat link: a quiet night with a stray message
 *                  now and then, a morning ramp, office hours of
 *                  conversations (bursts up to 10 msg/s) broken by idle
 *                  spells, a lunch lull and a thinner evening.
 *   trickle        24 h, one small client message every 30 s: never idle
 *                  (30 s < 60 s heartbeat interval), never near 1 GiB.
 *   bulk           90 min: two 30-min server-to-client transfers of large
 *                  messages (~1.1 GiB each) with small client acks and a
 *                  10-min pause between them.
 *   iot            24 h, a sensor reading every ~15 min and a rare command
 *                  back: idle most of the time.
 *
 * Invariants:
 *  - Every shape constant lives in the tables below, with its unit.
 *  - A generator draws from its own stream (test_rng_seed's label), so adding
 *    a generator never changes another one's trace for the same seed.
 *  - Messages are added in time order; a generator never relies on the
 *    trace sorting them.
 */
#include "gen.h"

#include <string.h>

#include "rng.h"

/* ---- Message sizes ------------------------------------------------------ */

/* Chat message sizes: a share (per mille) and a uniform byte range. */
typedef struct size_band {
	unsigned per_mille;
	uint32_t lo_bytes, hi_bytes;
} size_band;

static const size_band chat_sizes[] = {
        {600, 40, 300},                  /* text */
        {320, 300, 4 * SIM_KIB},         /* rich text, receipts, stickers */
        {78, 4 * SIM_KIB, 64 * SIM_KIB}, /* images, thumbnails */
        {2, 256 * SIM_KIB, 4 * SIM_MIB}, /* attachments */
};

static uint64_t draw_size(sim_rng *r, const size_band *bands, size_t n)
{
	uint64_t pick = test_rng_range(r, 0, 999);
	for (size_t i = 0; i < n; i++) {
		if (pick < bands[i].per_mille)
			return test_rng_range(r, bands[i].lo_bytes, bands[i].hi_bytes);
		pick -= bands[i].per_mille;
	}
	return test_rng_range(r, bands[n - 1].lo_bytes, bands[n - 1].hi_bytes);
}

static sim_dir draw_dir(sim_rng *r)
{
	return test_rng_chance(r, 1, 2) ? SIM_C2S : SIM_S2C;
}

/* ---- messaging-day ------------------------------------------------------- */

/*
 * One part of the day.  With conversations (session_mean_ms > 0) the part
 * alternates active sessions and idle gaps; inside a session messages come
 * with exponential gaps of gap_mean_ms, and with burst_per_mille chance a
 * burst of burst_msgs messages at burst_gap_ms starts instead.  Without
 * sessions, single messages come with exponential gaps of idle_mean_ms.
 */
typedef struct day_part {
	uint64_t start_ms, end_ms;
	uint64_t session_mean_ms;
	uint64_t idle_mean_ms;
	uint64_t gap_mean_ms;
	unsigned burst_per_mille;
} day_part;

#define DAY_BURST_MIN_MSGS 10
#define DAY_BURST_MAX_MSGS 150
#define DAY_BURST_GAP_MS   100 /* 10 msg/s: the peak rate of the day */

static const day_part day_parts[] = {
        /* night: a stray message every ~50 min */
        {0, 7 * SIM_MS_PER_H + 30 * SIM_MS_PER_MIN, 0, 50 * SIM_MS_PER_MIN, 0, 0},
        /* morning ramp: short chats */
        {7 * SIM_MS_PER_H + 30 * SIM_MS_PER_MIN, 9 * SIM_MS_PER_H, 8 * SIM_MS_PER_MIN,
         7 * SIM_MS_PER_MIN, 4 * SIM_MS_PER_S, 20},
        /* office morning */
        {9 * SIM_MS_PER_H, 12 * SIM_MS_PER_H + 30 * SIM_MS_PER_MIN, 25 * SIM_MS_PER_MIN,
         4 * SIM_MS_PER_MIN, 800, 15},
        /* lunch */
        {12 * SIM_MS_PER_H + 30 * SIM_MS_PER_MIN, 13 * SIM_MS_PER_H + 30 * SIM_MS_PER_MIN, 0,
         12 * SIM_MS_PER_MIN, 0, 0},
        /* office afternoon */
        {13 * SIM_MS_PER_H + 30 * SIM_MS_PER_MIN, 18 * SIM_MS_PER_H, 25 * SIM_MS_PER_MIN,
         4 * SIM_MS_PER_MIN, 800, 15},
        /* evening: thinner chats */
        {18 * SIM_MS_PER_H, 22 * SIM_MS_PER_H, 6 * SIM_MS_PER_MIN, 18 * SIM_MS_PER_MIN,
         3 * SIM_MS_PER_S, 10},
        /* late night */
        {22 * SIM_MS_PER_H, SIM_MS_PER_DAY, 0, 50 * SIM_MS_PER_MIN, 0, 0},
};

static sim_err day_message(sim_trace *tr, sim_rng *r, uint64_t t)
{
	return sim_trace_add(tr, t, draw_dir(r),
	                     draw_size(r, chat_sizes, sizeof(chat_sizes) / sizeof(chat_sizes[0])));
}

static sim_err gen_messaging_day(sim_trace *tr, uint64_t seed)
{
	sim_rng r;
	test_rng_seed(&r, seed, 1);
	sim_trace_init(tr, "messaging-day", SIM_MS_PER_DAY);
	sim_err err = SIM_OK;
	for (size_t p = 0; p < sizeof(day_parts) / sizeof(day_parts[0]) && !err; p++) {
		const day_part *dp = &day_parts[p];
		uint64_t t = dp->start_ms;
		if (dp->session_mean_ms == 0) {
			while (!err && (t += sim_rng_exp_ms(&r, dp->idle_mean_ms)) < dp->end_ms)
				err = day_message(tr, &r, t);
			continue;
		}
		/* Start idle: a part boundary is not a conversation. */
		t += sim_rng_exp_ms(&r, dp->idle_mean_ms);
		while (!err && t < dp->end_ms) {
			uint64_t session_end = t + sim_rng_exp_ms(&r, dp->session_mean_ms);
			if (session_end > dp->end_ms)
				session_end = dp->end_ms;
			while (!err && t < session_end) {
				if (test_rng_chance(&r, dp->burst_per_mille, 1000)) {
					uint64_t n = test_rng_range(&r, DAY_BURST_MIN_MSGS,
					                            DAY_BURST_MAX_MSGS);
					for (uint64_t i = 0; i < n && !err && t < session_end;
					     i++) {
						err = day_message(tr, &r, t);
						t += DAY_BURST_GAP_MS;
					}
				} else {
					err = day_message(tr, &r, t);
				}
				t += 1 + sim_rng_exp_ms(&r, dp->gap_mean_ms);
			}
			t = session_end + sim_rng_exp_ms(&r, dp->idle_mean_ms);
		}
	}
	return err;
}

/* ---- trickle ------------------------------------------------------------- */

#define TRICKLE_DURATION_MS SIM_MS_PER_DAY
#define TRICKLE_PERIOD_MS   (30ull * SIM_MS_PER_S)
#define TRICKLE_MIN_BYTES   64
#define TRICKLE_MAX_BYTES   256

static sim_err gen_trickle(sim_trace *tr, uint64_t seed)
{
	sim_rng r;
	test_rng_seed(&r, seed, 2);
	sim_trace_init(tr, "trickle", TRICKLE_DURATION_MS);
	sim_err err = SIM_OK;
	for (uint64_t t = TRICKLE_PERIOD_MS; t < TRICKLE_DURATION_MS && !err;
	     t += TRICKLE_PERIOD_MS)
		err = sim_trace_add(tr, t, SIM_C2S,
		                    test_rng_range(&r, TRICKLE_MIN_BYTES, TRICKLE_MAX_BYTES));
	return err;
}

/* ---- bulk ----------------------------------------------------------------- */

/* Two transfers with a pause between: the pause is an idle spell. */
#define BULK_DURATION_MS      (90ull * SIM_MS_PER_MIN)
#define BULK_TRANSFER_MS      (30ull * SIM_MS_PER_MIN)
#define BULK_FIRST_START_MS   (5ull * SIM_MS_PER_MIN)
#define BULK_SECOND_START_MS  (45ull * SIM_MS_PER_MIN)
#define BULK_CHUNK_MIN_BYTES  (512u * SIM_KIB)
#define BULK_CHUNK_MAX_BYTES  (2u * SIM_MIB)
#define BULK_CHUNK_GAP_MIN_MS 1600 /* ~0.6 MiB/s: ~1.1 GiB per transfer */
#define BULK_CHUNK_GAP_MAX_MS 2400
#define BULK_ACK_EVERY        8 /* chunks per client ack */
#define BULK_ACK_BYTES        64

static sim_err gen_bulk(sim_trace *tr, uint64_t seed)
{
	sim_rng r;
	test_rng_seed(&r, seed, 3);
	sim_trace_init(tr, "bulk", BULK_DURATION_MS);
	const uint64_t starts[] = {BULK_FIRST_START_MS, BULK_SECOND_START_MS};
	sim_err err = SIM_OK;
	for (size_t k = 0; k < 2 && !err; k++) {
		uint64_t chunks = 0;
		for (uint64_t t = starts[k]; t < starts[k] + BULK_TRANSFER_MS && !err;
		     t += test_rng_range(&r, BULK_CHUNK_GAP_MIN_MS, BULK_CHUNK_GAP_MAX_MS)) {
			err = sim_trace_add(
			        tr, t, SIM_S2C,
			        test_rng_range(&r, BULK_CHUNK_MIN_BYTES, BULK_CHUNK_MAX_BYTES));
			if (!err && ++chunks % BULK_ACK_EVERY == 0)
				err = sim_trace_add(tr, t, SIM_C2S, BULK_ACK_BYTES);
		}
	}
	return err;
}

/* ---- iot ------------------------------------------------------------------ */

#define IOT_DURATION_MS       SIM_MS_PER_DAY
#define IOT_PERIOD_MS         (15ull * SIM_MS_PER_MIN)
#define IOT_JITTER_MS         (60ull * SIM_MS_PER_S)
#define IOT_READING_MIN_BYTES 40
#define IOT_READING_MAX_BYTES 200
#define IOT_COMMAND_PER_MILLE 60 /* of readings answered by a command */
#define IOT_COMMAND_DELAY_MS  (2ull * SIM_MS_PER_S)
#define IOT_COMMAND_BYTES     128

static sim_err gen_iot(sim_trace *tr, uint64_t seed)
{
	sim_rng r;
	test_rng_seed(&r, seed, 4);
	sim_trace_init(tr, "iot", IOT_DURATION_MS);
	sim_err err = SIM_OK;
	for (uint64_t slot = IOT_PERIOD_MS; slot + IOT_JITTER_MS < IOT_DURATION_MS && !err;
	     slot += IOT_PERIOD_MS) {
		uint64_t t = slot - IOT_JITTER_MS + test_rng_range(&r, 0, 2 * IOT_JITTER_MS);
		err = sim_trace_add(
		        tr, t, SIM_C2S,
		        test_rng_range(&r, IOT_READING_MIN_BYTES, IOT_READING_MAX_BYTES));
		if (!err && test_rng_chance(&r, IOT_COMMAND_PER_MILLE, 1000))
			err = sim_trace_add(tr, t + IOT_COMMAND_DELAY_MS, SIM_S2C,
			                    IOT_COMMAND_BYTES);
	}
	return err;
}

/* ---- Registry ------------------------------------------------------------ */

const sim_generator sim_generators[] = {
        {"messaging-day", "24 h chat link: quiet night, office hours with bursts and idle spells",
         gen_messaging_day},
        {"trickle", "24 h, a small message every 30 s: never idle, never near 1 GiB", gen_trickle},
        {"bulk", "90 min, two ~1.1 GiB transfers with a 10 min pause", gen_bulk},
        {"iot", "24 h, a sensor reading every ~15 min, rare commands", gen_iot},
        {NULL, NULL, NULL},
};

const sim_generator *sim_generator_find(const char *name)
{
	for (const sim_generator *g = sim_generators; g->name; g++)
		if (strcmp(g->name, name) == 0)
			return g;
	return NULL;
}
