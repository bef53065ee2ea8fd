/*
 * mitm_actions.c - what lull-mitm does to a frame: match it against the
 * rules, apply their actions left to right on one working copy (drop,
 * delay, dup, capture, replay, flip, truncate, inject, swap, cut, log), keep
 * the capture slots, and fire the timed (at=MS) rules.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mitm.h"

/* ---- slots -------------------------------------------------------------- */

static void slot_path(const slot *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s.frame", capture_dir, s->name);
}

void slot_store(int i, const uint8_t *f, size_t len)
{
	slot *s = &slots[i];
	free(s->data);
	s->data = malloc(len ? len : 1);
	if (!s->data)
		die_oom();
	memcpy(s->data, f, len);
	s->len = len;
	if (!capture_dir)
		return;
	/* Write, then rename: a reader in another process never sees half. */
	char path[MITM_PATH_MAX], tmp[MITM_PATH_MAX + 8];
	slot_path(s, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *fp = fopen(tmp, "wb");
	if (!fp || fwrite(f, 1, len, fp) != len || fclose(fp) != 0 || rename(tmp, path) != 0)
		fprintf(stderr, "lull-mitm: capture %s: %s\n", path, strerror(errno));
}

/* The slot's frame, loaded from the capture directory if not yet held. */
const slot *slot_get(int i)
{
	slot *s = &slots[i];
	if (s->data || !capture_dir)
		return s->data ? s : NULL;
	char path[MITM_PATH_MAX];
	slot_path(s, path, sizeof(path));
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	uint8_t buf[WIRE_FRAME_MAX_BYTES];
	size_t n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	if (n == 0)
		return NULL;
	s->data = malloc(n);
	if (!s->data)
		die_oom();
	memcpy(s->data, buf, n);
	s->len = n;
	return s;
}

bool rule_matches_conn(const rule *r, const pconn *c)
{
	return !r->has_conn || (c->id >= r->conn.lo && c->id <= r->conn.hi);
}

void replay_now(pconn *c, int dir, int slot_idx, uint64_t now, const uint8_t *f, size_t flen,
                uint64_t n)
{
	const slot *s = slot_get(slot_idx);
	char extra[96];
	if (!s) {
		snprintf(extra, sizeof(extra), "slot=%s missing=1", slots[slot_idx].name);
		if (f)
			log_frame(c, dir, f, flen, n, "replay", extra);
		else
			log_conn(c, "dir=%s action=replay %s", dir_name(dir), extra);
		return;
	}
	snprintf(extra, sizeof(extra), "slot=%s slot_len=%zu", s->name, s->len);
	if (f)
		log_frame(c, dir, f, flen, n, "replay", extra);
	else
		log_conn(c, "dir=%s action=replay %s", dir_name(dir), extra);
	enqueue(&c->h[dir], s->data, s->len, now);
}

/* Apply every matching rule to one complete frame of direction dir. */
void process_frame(pconn *c, int dir, uint64_t now)
{
	half *h = &c->h[dir];
	uint8_t f[WIRE_FRAME_MAX_BYTES];
	size_t flen = h->have;
	memcpy(f, h->frame, flen);
	unsigned type = f[0];
	uint64_t n = ++h->count_type[type];
	uint64_t n_all = ++h->count_all;
	uint64_t since = now - c->start_ms;
	bool drop = false, swap = false, acted = false;
	unsigned copies = 1;
	uint64_t delay = 0;
	int cut = -1;
	char extra[96];

	for (unsigned ri = 0; ri < n_rules; ri++) {
		const rule *r = &rules[ri];
		if (r->timed || !rule_matches_conn(r, c) || (r->dir != DIR_ANY && r->dir != dir))
			continue;
		if (r->has_type && r->type != type)
			continue;
		uint64_t occ = r->has_type ? n : n_all;
		if (r->has_nth && (occ < r->nth.lo || occ > r->nth.hi))
			continue;
		if ((r->has_after && since < r->after) || (r->has_before && since >= r->before))
			continue;
		for (unsigned ai = 0; ai < r->n_acts; ai++) {
			const action *a = &r->acts[ai];
			extra[0] = '\0';
			switch (a->kind) {
			case ACT_PASS:
			case ACT_LOG:
				break;
			case ACT_DROP:
				drop = true;
				break;
			case ACT_DELAY:
				delay = (uint64_t)a->n;
				snprintf(extra, sizeof(extra), "ms=%lld", (long long)a->n);
				break;
			case ACT_DUP:
				copies++;
				break;
			case ACT_SWAP:
				swap = true;
				break;
			case ACT_CUT:
				cut = a->side;
				snprintf(extra, sizeof(extra), "side=%s",
				         a->side == SIDE_BOTH     ? "both"
				         : a->side == SIDE_CLIENT ? "client"
				                                  : "server");
				break;
			case ACT_CAPTURE:
				slot_store(a->slot, f, flen);
				snprintf(extra, sizeof(extra), "slot=%s", slots[a->slot].name);
				break;
			case ACT_REPLAY:
				if (a->n == 0) {
					replay_now(c, dir, a->slot, now, f, flen, n);
					acted = true;
					continue;
				} else {
					sched *s = calloc(1, sizeof(*s));
					if (!s)
						die_oom();
					s->due_ms = now + (uint64_t)a->n;
					s->dir = dir;
					s->slot = a->slot;
					s->next = c->sched;
					c->sched = s;
					snprintf(extra, sizeof(extra), "slot=%s in_ms=%lld",
					         slots[a->slot].name, (long long)a->n);
				}
				break;
			case ACT_FLIP: {
				int64_t bits = (int64_t)flen * 8;
				int64_t k = a->n < 0 ? bits + a->n : a->n;
				if (k < 0 || k >= bits) {
					snprintf(extra, sizeof(extra),
					         "bit=%lld skipped=out_of_range", (long long)a->n);
				} else {
					f[k / 8] ^= (uint8_t)(0x80u >> (k % 8));
					snprintf(extra, sizeof(extra), "bit=%lld", (long long)k);
				}
				break;
			}
			case ACT_TRUNCATE: {
				int64_t keep = a->n < 0 ? (int64_t)flen + a->n : a->n;
				if (keep < 0)
					keep = 0;
				if ((size_t)keep < flen)
					flen = (size_t)keep;
				snprintf(extra, sizeof(extra), "to=%zu", flen);
				break;
			}
			case ACT_INJECT:
				enqueue(h, a->hex, a->hex_len, now);
				snprintf(extra, sizeof(extra), "bytes=%zu", a->hex_len);
				break;
			}
			log_frame(c, dir, h->frame, h->have, n, act_names[a->kind], extra);
			acted = true;
		}
	}
	if (trace && !acted)
		log_frame(c, dir, h->frame, h->have, n, "pass", "trace=1");

	/* Emit: a swapped frame is held; a held one follows the next frame. */
	bool sent = false, hold = false;
	if (!drop) {
		for (unsigned i = 0; i < copies; i++) {
			if (swap && i == 0) {
				hold = true;
				continue;
			}
			enqueue(h, f, flen, now + delay);
			sent = true;
		}
	}
	if (sent || hold)
		release_held(h, now + delay);
	if (hold) {
		h->held = malloc(flen ? flen : 1);
		if (!h->held)
			die_oom();
		memcpy(h->held, f, flen);
		h->held_len = flen;
	}
	if (cut == SIDE_BOTH) {
		c->detached[0] = c->detached[1] = false;
		for (int d = 0; d < 2; d++) {
			queue_free(&c->h[d]);
			c->h[d].in_eof = c->h[d].out_shut = true;
		}
	} else if (cut >= 0) {
		detach_side(c, cut);
	}
}

/* Feed bytes read from one side into that direction's frame parser. */
void run_timers(pconn *c, uint64_t now)
{
	for (unsigned ri = 0; ri < n_rules; ri++) {
		const rule *r = &rules[ri];
		if (!r->timed || c->fired[ri] || !rule_matches_conn(r, c) ||
		    now < c->start_ms + r->at)
			continue;
		c->fired[ri] = true;
		for (unsigned ai = 0; ai < r->n_acts; ai++) {
			const action *a = &r->acts[ai];
			if (a->kind == ACT_REPLAY) {
				replay_now(c, r->dir, a->slot, now, NULL, 0, 0);
			} else if (a->kind == ACT_INJECT) {
				log_conn(c, "dir=%s action=inject bytes=%zu at=%llu",
				         dir_name(r->dir), a->hex_len, (unsigned long long)r->at);
				enqueue(&c->h[r->dir], a->hex, a->hex_len, now);
			} else if (a->kind == ACT_LOG) {
				log_conn(c, "action=log at=%llu", (unsigned long long)r->at);
			} else if (a->kind == ACT_CUT) {
				log_conn(c, "action=cut side=%s at=%llu",
				         a->side == SIDE_BOTH     ? "both"
				         : a->side == SIDE_CLIENT ? "client"
				                                  : "server",
				         (unsigned long long)r->at);
				if (a->side == SIDE_BOTH) {
					c->detached[0] = c->detached[1] = false;
					for (int d = 0; d < 2; d++) {
						queue_free(&c->h[d]);
						c->h[d].in_eof = c->h[d].out_shut = true;
					}
				} else {
					detach_side(c, a->side);
				}
			}
		}
	}
	for (sched **pp = &c->sched; *pp;) {
		sched *s = *pp;
		if (s->due_ms > now) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		if (c->h[s->dir].out_shut)
			log_conn(c, "dir=%s action=replay slot=%s dropped=closed", dir_name(s->dir),
			         slots[s->slot].name);
		else
			replay_now(c, s->dir, s->slot, now, NULL, 0, 0);
		free(s);
	}
}

/* Earliest time this connection needs the loop to wake up for. */
