/*
 * rekey.pml - the rekey, heartbeat and spoof rules of lull, checked by spin.
 *
 * What is modelled: one connection.  The client and the server policy
 * machines (src/policy.c) as src/conn.c drives them: the first handshake
 * and every rekey (HS1 -> HS2 -> HS3 -> KEY_END/KEYS -> KEY_END), data held
 * and flushed, idle detection (A1/A2), heartbeats with retries and acks
 * (A4-A6), staleness per key (A8), rekey triggers by reason (idle, bytes/age
 * at the client, the server's REKEY_REQUEST backstop, missed ack, peer
 * request, application), on_missed_ack, on_missing_heartbeat (A9), on_spoof,
 * and the stricter-of-two policy agreement (A11).  The two directions are
 * ordered channels (TCP) with a man in the middle who may lose, duplicate
 * or delay any frame, and an attacker who holds the current traffic key and
 * injects DATA records sealed with it.
 *
 * Abstractions (each says what it stands for in the code):
 *  - Time.  No clock: "an interval passed since the last activity" is a flag
 *    per end (c_idle, s_idle) that the environment may set at any moment and
 *    that data (sent or received) and a key install clear: the idle test of
 *    policy_check_send and the heartbeat grid of policy_tick both read it.
 *    Timers that only fire when the peer or the channel is late (ack
 *    deadline, handshake deadline, rx_prev deadline, the server's
 *    missing-heartbeat deadline) may fire at any moment while the channel
 *    is unfair (`faults`); on a fair, timely channel they never fire.
 *    Byte and age limits (rekey_bytes, rekey_max_age, and the server's
 *    backstop after heartbeat_timeout of grace) and lull_conn_rekey are
 *    nondeterministic triggers.  reject_after_* is a flag per end (c_cap,
 *    s_cap) that makes policy_check_send hold; it is in the model only with
 *    -DWITH_CAPS (it multiplies the state space by five; checked apart,
 *    model/README.md).  The receiver's LULL_ERR_KEY_EXPIRED check is not
 *    modelled (it only closes).
 *  - Sequence numbers.  record.c's nonce is the per-key sequence number, so
 *    a lost record leaves a hole: the next honest record under that key fails
 *    authentication (the model closes there); a duplicated record fails when
 *    its copy is read.  hole_c2s / hole_s2c hold the epoch with a hole (one
 *    at a time).  A forged record takes the next sequence number: accepted,
 *    it makes the honest next record under that key fail (a hole);
 *    rejected as a spoof with on_spoof=drop, on_spoof rewinds the key's
 *    sequence (k->seq--) and the honest stream goes on; sent into a hole,
 *    it fills it.
 *  - Lost handshake frames (HS1, HS2, HS3, KEYS) stall the handshake, which
 *    the handshake deadline then closes.  A duplicated handshake frame is
 *    refused by the hs_step / hs_active checks of on_frame and server_on_hs1.
 *  - Messages: one held message stands for the whole held queue (c_held);
 *    flush_held sends it all.  Heartbeat ids are not modelled: an ack that
 *    arrives while one is awaited answers it (ids only guard against acks
 *    from an earlier spell, which the ordered stream cannot deliver late).
 *  - Epochs count 1, 2, 3, 4, 1, ... (0: no key yet).  At most the previous,
 *    current and next epoch are ever in flight, so four values are enough.
 *  - Either end closing ends the connection for both (CLOSE frame or EOF).
 *  - Policy knobs: on_missed_ack, on_spoof, on_missing_heartbeat (close or
 *    lenient) and heartbeat_retries (0 or 1), as the bits of a byte; each
 *    end announces its own in HS2 / HS3 (carried in the message's epoch
 *    field) and merges.  Two agreed policies are explored (all lenient with
 *    one retry, all close with none: see init).
 *  - Bounds, for a state space spin searches in seconds: the attacker
 *    injects MAX_FORGERIES records, the man in the middle loses one frame and
 *    duplicates one, and the applications and timers start something on a
 *    direction only while fewer than ROOM frames are in flight on it.
 *
 * Mutations (-DMUT_...) break one rule each; model/check.sh --mutant shows
 * that spin then finds a counterexample.
 */

#define CAP 5 /* frames in flight per direction */
/* The applications, timers and attacker start something on a direction
 * only while fewer than ROOM frames are in flight on it and the other
 * direction is not backed up (frames sent in answer to a frame are not
 * limited): this keeps the state space small and still lets a frame cross
 * one going the other way. */
#ifndef ROOM
#define ROOM 1
#endif
#ifndef MAX_FORGERIES
#define MAX_FORGERIES 1
#endif
#define C_ROOM (len(c2s) < ROOM && len(s2c) < CAP - 3)
#define S_ROOM (len(s2c) < ROOM && len(c2s) < CAP - 3)
#define NEXT(e) ((e) % 4 + 1)
#define NOEP 0
#define LATE (faults || lost) /* a deadline may pass: the peer or the channel is late */

/* Policy knob bits (policy_encode's bytes 1-3 and heartbeat_retries). */
#define MA_CLOSE 1  /* on_missed_ack = close (else rekey) */
#define SP_CLOSE 2  /* on_spoof = close (else drop) */
#define MH_CLOSE 4  /* on_missing_heartbeat = close (else stale) */
#define RETRY1 8    /* heartbeat_retries >= 1 (else 0) */
/* policy_merge_stricter: close beats the lenient action, fewer retries win. */
#define MERGE(a, b) ((((a) | (b)) & 7) | ((a) & (b) & RETRY1))

mtype = { HS1, HS2, HS3, KEYS, DATA, HB, ACK, RKREQ, KEY_END };

/* type, epoch (or policy byte in HS2/HS3), forged by the attacker, a duplicate */
chan c2s = [CAP] of { mtype, byte, bit, bit };
chan s2c = [CAP] of { mtype, byte, bit, bit };

bool faults = true; /* the channel may still misbehave; false: fair and timely for ever */
bool closed;

/* ---- client (policy_state + the conn fields that matter) ---- */
byte c_cfg, c_agreed, c_pend;
byte c_ep;                  /* c->epoch */
byte c_step;                /* c->hs_step: 0 idle, 1 WAIT_HS2, 2 WAIT_KEYS */
bool c_started;             /* pol.rekey_started (== hs_active at the client) */
bool c_tx_stale, c_rx_stale, c_idle, c_cap;
bool c_awaiting;            /* pol.hb_awaiting */
byte c_resends;
bool c_rx_ended;
bool c_held;

/* ---- server ---- */
byte s_cfg, s_agreed, s_pend;
byte s_ep;
bool s_hs;                  /* hs_active, == pol.rekey_started after HS1 */
bool s_asked;               /* pol.rekey_asked */
bool s_tx_stale, s_rx_stale, s_idle, s_cap;
bool s_missing_reported;
bool s_prev_live, s_prev_stale;
byte s_prev_ep;
bool s_held;

byte hole_c2s = NOEP, hole_s2c = NOEP;

/* ---- ghosts: what the properties watch ---- */
bool c_acked_cur;      /* the client saw an ack under its current key */
bool s_hb_cur;         /* the server saw a heartbeat while this key was current */
bool s_prev_hb;        /* ... while its previous receive key was current */
bool bad_accept;       /* data accepted under a key after its receiver saw a heartbeat on it */
bool bad_seal;         /* data sealed under a key after a heartbeat exchange on it */
bool honest_spoofed;   /* an honest DATA record was rejected as a spoof */
bool lost;             /* the man in the middle lost a frame (sticky) */
bool dupped;           /* ... or duplicated one */
byte forgeries;        /* DATA records the attacker injected */

#define is_record(t) (t == DATA || t == HB || t == ACK || t == RKREQ || t == KEY_END)

/* Queue one frame on a direction; while faults are on, the man in the middle
 * may lose it or deliver it twice. */
inline SEND(ch, hole, t, e)
{
	assert(len(ch) < CAP);
	if
	:: ch!t, e, 0, 0
	:: faults && !lost && hole == NOEP ->
		lost = true;
		if
		:: is_record(t) -> hole = e /* the next record under e fails */
		:: else -> skip             /* the handshake stalls: deadline */
		fi
	:: faults && !dupped && len(ch) < CAP - 1 -> dupped = true; ch!t, e, 0, 0; ch!t, e, 0, 1
	fi
}

/* Either end closing ends the connection.  What was in flight is discarded
 * and every variable but the ghosts reset, so that all closed connections
 * are one state (nothing after a close can matter to a property). */
inline close_conn()
{
	closed = true;
	do
	:: nempty(c2s) -> c2s?_, _, _, _
	:: nempty(s2c) -> s2c?_, _, _, _
	:: empty(c2s) && empty(s2c) -> break
	od;
	c_cfg = 0; c_agreed = 0; c_pend = 0; c_ep = 0; c_step = 0; c_started = false;
	c_tx_stale = false; c_rx_stale = false; c_idle = false; c_cap = false;
	c_awaiting = false; c_resends = 0; c_rx_ended = false; c_held = false;
	s_cfg = 0; s_agreed = 0; s_pend = 0; s_ep = 0; s_hs = false; s_asked = false;
	s_tx_stale = false; s_rx_stale = false; s_idle = false; s_cap = false;
	s_missing_reported = false; s_prev_live = false; s_prev_stale = false; s_prev_ep = 0; s_prev_hb = false;
	s_held = false; hole_c2s = NOEP; hole_s2c = NOEP; c_acked_cur = false; s_hb_cur = false;
	dupped = false; forgeries = 0
}

/* ---- client actions ---- */

/* client_begin_handshake */
inline c_begin_hs()
{
	SEND(c2s, hole_c2s, HS1, 0);
	c_step = 1;
	c_started = true
}

/* conn_want_rekey, client side */
inline c_want_rekey()
{
	if
	:: !c_started -> c_begin_hs()
	:: else -> skip
	fi
}

/* policy_check_send + conn_check_send: sets ok; a needed rekey is begun. */
inline c_check_send(ok)
{
	ok = false;
	if
	:: c_ep == NOEP -> skip /* the first handshake ends the hold */
	:: else ->
		if
		:: c_idle -> c_tx_stale = true
		:: else -> skip
		fi;
		if
		:: c_tx_stale || c_cap -> c_want_rekey() /* IDLE, or BYTES/AGE past reject_after */
		:: else -> ok = true
		fi
	fi
}

/* conn_send_now: seal under c_ep, count, activity. */
inline c_seal()
{
	if
	:: c_acked_cur -> bad_seal = true
	:: else -> skip
	fi;
	SEND(c2s, hole_c2s, DATA, c_ep);
	c_idle = false
	/* policy_on_sent may cross rekey_bytes: the nondeterministic byte
	 * trigger in Env covers it. */
}

inline c_flush()
{
	if
	:: c_held ->
		c_check_send(c_ok);
		if
		:: c_ok -> c_held = false; c_seal()
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/* install_keys + client_on_keys' flush_held */
inline c_install()
{
	c_ep = NEXT(c_ep);
	c_agreed = c_pend;
	c_pend = 0;
	c_step = 0;
	c_started = false;
	c_tx_stale = false;
	c_rx_stale = false;
	c_idle = false;
	c_cap = false;
	c_awaiting = false;
	c_resends = 0;
	c_rx_ended = false;
	c_acked_cur = false;
#ifndef MUT_INSTALL_DOES_NOT_FLUSH
	c_flush()
#else
	skip
#endif
}

/* send_heartbeat / policy_heartbeat_sent */
inline c_send_hb()
{
	if
	:: c_awaiting -> c_resends++
	:: else -> c_awaiting = true; c_resends = 0
	fi;
	c_tx_stale = true;
	SEND(c2s, hole_c2s, HB, c_ep)
}

/* ---- server actions ---- */

/* conn_want_rekey, server side: ask once per key */
inline s_want_rekey()
{
	if
	:: !s_hs && !s_asked -> SEND(s2c, hole_s2c, RKREQ, s_ep); s_asked = true
	:: else -> skip
	fi
}

inline s_check_send(ok)
{
	ok = false;
	if
	:: s_ep == NOEP -> skip
	:: else ->
		if
		:: s_idle -> s_tx_stale = true
		:: else -> skip
		fi;
		if
		:: s_tx_stale || s_cap ->
			if
			:: !s_hs && !s_asked -> s_want_rekey() /* rekey_pending() false */
			:: else -> skip
			fi
		:: else -> ok = true
		fi
	fi
}

inline s_seal()
{
	if
	:: s_hb_cur -> bad_seal = true
	:: else -> skip
	fi;
	SEND(s2c, hole_s2c, DATA, s_ep);
	s_idle = false
}

inline s_flush()
{
	if
	:: s_held ->
		s_check_send(s_ok);
		if
		:: s_ok -> s_held = false; s_seal()
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/* server_on_hs3 + install_keys */
inline s_install()
{
	if
	:: s_ep != NOEP -> SEND(s2c, hole_s2c, KEY_END, s_ep)
	:: else -> skip
	fi;
	SEND(s2c, hole_s2c, KEYS, NEXT(s_ep));
	if
	:: s_ep != NOEP ->
		s_prev_live = true;
		s_prev_ep = s_ep;
		s_prev_stale = s_rx_stale;
		s_prev_hb = s_hb_cur
	:: else -> s_prev_live = false; s_prev_stale = false; s_prev_ep = 0; s_prev_hb = false
	fi;
	s_ep = NEXT(s_ep);
	s_agreed = s_pend;
	s_pend = 0;
	s_hs = false;
	s_asked = false;
	s_tx_stale = false;
	s_rx_stale = false;
	s_idle = false;
	s_cap = false;
	s_missing_reported = false;
	s_hb_cur = false;
	s_flush()
}

/* ---- receivers ---- */

/* on_spoof: report, then drop (rewinding the key's sequence) or close.
 * by_hb: the key went stale through a heartbeat exchange (not through A9,
 * which on a link later than its deadline does condemn honest data). */
inline spoof(agreed, forged, by_hb)
{
	if
	:: !forged && by_hb -> honest_spoofed = true
	:: else -> skip
	fi;
	if
	:: agreed & SP_CLOSE -> close_conn()
	:: else -> skip /* k->seq--: the hole state is as before */
	fi
}

/* A record that authenticated took its sequence number: a forged one fills
 * a hole or opens one before the honest record it displaced. */
inline took_seq(hole, e, forged)
{
	if
	:: forged && hole == e -> hole = NOEP
	:: forged && hole != e -> hole = e
	:: else -> skip
	fi
}

proctype ClientRx()
{
	mtype t;
	byte e;
	bit forged, dup;
	bool c_ok;
end:	do
	:: atomic { s2c?t, e, forged, dup ->
		if
		:: closed -> skip
		:: t == HS2 ->
			if
			:: c_step != 1 -> close_conn()
			:: else ->
				c_pend = MERGE(c_cfg, e); /* client_on_hs2 */
				SEND(c2s, hole_c2s, HS3, c_cfg);
				c_step = 2
			fi
		:: t == KEYS ->
			if
			:: c_step != 2 || e != NEXT(c_ep) || (c_ep != NOEP && !c_rx_ended) -> close_conn()
			:: else ->
				if
				:: c_ep != NOEP -> SEND(c2s, hole_c2s, KEY_END, c_ep)
				:: else -> skip
				fi;
				c_install()
			fi
		:: t == HS1 || t == HS3 -> close_conn()
		:: else -> /* on_record: the client keeps no previous receive key */
			if
			:: c_ep == NOEP || e != c_ep -> close_conn() /* retired or unknown epoch */
			:: dup || (!forged && hole_s2c == e) -> close_conn() /* authentication fails */
			:: else ->
				took_seq(hole_s2c, e, forged);
				if
				:: c_rx_ended -> close_conn() /* nothing follows KEY_END */
				:: t == DATA ->
#ifndef MUT_CLIENT_ACCEPTS_AFTER_ACK
					if
					:: c_rx_stale -> spoof(c_agreed, forged, true) /* only an ack makes it stale */
					:: else ->
#else
					if
					:: true ->
#endif
						if
						:: c_acked_cur -> bad_accept = true
						:: else -> skip
						fi;
						c_idle = false
					fi
				:: t == ACK -> /* policy_on_heartbeat_ack */
					if
					:: c_awaiting -> c_awaiting = false; c_resends = 0; c_acked_cur = true
					:: else -> skip /* late: accepted and ignored */
					fi;
#ifndef MUT_ACK_LEAVES_RX_FRESH
					c_rx_stale = true
#else
					skip
#endif
				:: t == RKREQ -> c_want_rekey() /* on_rekey_request */
				:: t == KEY_END ->
					if
					:: c_step == 2 -> c_rx_ended = true
					:: else -> close_conn()
					fi
				:: else -> close_conn() /* a control record sent the wrong way */
				fi
			fi
		fi
		;
		t = 0; e = 0; forged = 0; dup = 0; c_ok = false /* locals carry no state */
	}
	od
}

proctype ServerRx()
{
	mtype t;
	byte e;
	bit forged, dup;
	bool s_ok, prev;
end:	do
	:: atomic { c2s?t, e, forged, dup ->
		if
		:: closed -> skip
		:: t == HS1 ->
			if
			:: s_hs -> close_conn() /* server_on_hs1: one handshake at a time */
			:: else ->
				s_hs = true;
				SEND(s2c, hole_s2c, HS2, s_cfg)
			fi
		:: t == HS3 ->
			if
			:: !s_hs || dup -> close_conn() /* hs_step != WAIT_HS3 */
			:: else ->
#ifndef MUT_SERVER_KEEPS_OWN_POLICY
				s_pend = MERGE(e, s_cfg); /* server_on_hs3 */
#else
				s_pend = s_cfg;
#endif
				s_install()
			fi
		:: t == HS2 || t == KEYS -> close_conn()
		:: else -> /* on_record, key_for_epoch */
			if
			:: s_ep != NOEP && e == s_ep -> prev = false
			:: s_prev_live && e == s_prev_ep -> prev = true
			:: else -> close_conn()
			fi;
			if
			:: closed -> skip
			:: dup || (!forged && hole_c2s == e) -> close_conn()
			:: else ->
				took_seq(hole_c2s, e, forged);
				if
				:: !prev && s_prev_live -> close_conn() /* old stream not ended */
				:: t == DATA && prev ->
					if
					:: s_prev_stale -> spoof(s_agreed, forged, s_prev_hb)
					:: else -> /* policy_on_received_previous_key */
						if
						:: s_prev_hb -> bad_accept = true
						:: else -> skip
						fi;
						s_idle = false
					fi
				:: t == DATA && !prev ->
#ifndef MUT_SERVER_ACCEPTS_AFTER_HB
					if
					:: s_rx_stale -> spoof(s_agreed, forged, s_hb_cur)
					:: else ->
#else
					if
					:: true ->
#endif
						if
						:: s_hb_cur -> bad_accept = true
						:: else -> skip
						fi;
						s_idle = false;
						s_missing_reported = false
					fi
				:: t == HB -> /* on_heartbeat: stale both ways, whichever key carried it */
					s_tx_stale = true;
					s_rx_stale = true;
					s_missing_reported = false;
					s_hb_cur = true;
					SEND(s2c, hole_s2c, ACK, s_ep)
				:: t == KEY_END && prev -> /* the client's old stream is complete */
					s_prev_live = false; s_prev_stale = false; s_prev_ep = 0; s_prev_hb = false
				:: else -> close_conn()
				fi
			fi
		fi
		;
		t = 0; e = 0; forged = 0; dup = 0; s_ok = false; prev = false
	}
	od
}

/* The applications, the clocks, the attacker and the man in the middle. */
proctype Env()
{
	bool c_ok, s_ok;
end:	do
	/* time: an interval passes without data at one end */
	:: atomic { !closed && !c_idle -> c_idle = true }
	:: atomic { !closed && !s_idle -> s_idle = true }
	/* reject_after_* reached */
#ifdef WITH_CAPS
	:: atomic { !closed && c_ep != NOEP && !c_cap -> c_cap = true }
	:: atomic { !closed && s_ep != NOEP && !s_cap -> s_cap = true }
#endif

	/* the client application sends (lull_conn_send) */
	:: atomic { !closed && C_ROOM ->
		if
		:: c_held -> skip /* queued behind the held ones */
		:: else ->
			c_check_send(c_ok);
			if
			:: c_ok -> c_seal()
			:: else -> c_held = true
			fi
		fi;
		c_ok = false }
	:: atomic { !closed && S_ROOM ->
		if
		:: s_held -> skip
		:: else ->
			s_check_send(s_ok);
			if
			:: s_ok -> s_seal()
			:: else -> s_held = true
			fi
		fi;
		s_ok = false }

	/* client timers (conn_policy_tick) */
	:: atomic { !closed && c_ep != NOEP && !c_started && C_ROOM ->
		/* rekey_bytes / rekey_max_age (not on a dead key), or lull_conn_rekey */
		c_begin_hs() }
	:: atomic { !closed && c_ep != NOEP && !c_started && !c_awaiting && c_idle &&
	            C_ROOM -> c_send_hb() } /* a grid point */
	:: atomic { LATE && !closed && c_ep != NOEP && !c_started && c_awaiting &&
	            C_ROOM -> /* the ack deadline passed */
		if
		:: (c_agreed & RETRY1) && c_resends < 1 -> c_send_hb()
		:: else ->
			c_awaiting = false;
			if
			:: c_agreed & MA_CLOSE -> close_conn()
			:: else -> c_want_rekey() /* LULL_REKEY_MISSED_ACK */
			fi
		fi }
	:: atomic { LATE && !closed && (c_started || c_ep == NOEP) -> close_conn() } /* handshake deadline */

	/* server timers */
	:: atomic { !closed && s_ep != NOEP && !s_hs && !s_asked && !(s_tx_stale && s_rx_stale) &&
	            S_ROOM -> s_want_rekey() } /* byte/age backstop */
	:: atomic { LATE && !closed && s_ep != NOEP && !s_hs && !s_missing_reported ->
		s_missing_reported = true; /* A9 */
		if
		:: s_agreed & MH_CLOSE -> close_conn()
		:: else -> s_tx_stale = true; s_rx_stale = true
		fi }
	:: atomic { LATE && !closed && (s_hs || s_prev_live) -> close_conn() } /* deadlines */

	/* the attacker, holding a current key, injects DATA */
	:: atomic { faults && forgeries < MAX_FORGERIES && !closed && c_ep != NOEP && C_ROOM -> c2s!DATA, c_ep, 1, 0; forgeries++ }
	:: atomic { faults && forgeries < MAX_FORGERIES && !closed && s_ep != NOEP && S_ROOM -> s2c!DATA, s_ep, 1, 0; forgeries++ }
	:: atomic { faults && forgeries < MAX_FORGERIES && !closed && c_ep != NOEP && S_ROOM -> s2c!DATA, c_ep, 1, 0; forgeries++ }
	:: atomic { faults && forgeries < MAX_FORGERIES && !closed && s_ep != NOEP && C_ROOM -> c2s!DATA, s_ep, 1, 0; forgeries++ }

	/* from now on the channel is fair and timely, the attacker gone */
	:: atomic { faults -> faults = false }
	od
}

init
{
	atomic {
		/* Two agreed policies: every knob lenient with one heartbeat retry,
		 * or every knob close with none; the second is reached from
		 * announcements that differ, so the merge is exercised. */
		s_cfg = RETRY1;
		if
		:: c_cfg = RETRY1
		:: c_cfg = MA_CLOSE | SP_CLOSE | MH_CLOSE
		fi;
		c_begin_hs(); /* lull_conn_start */
		run ClientRx();
		run ServerRx();
		run Env()
	}
}

/* ---- properties ---- */

/* A8: no data is accepted under a key after its receiver saw a heartbeat on
 * it (the server: the heartbeat; the client: its ack). */
ltl no_data_after_heartbeat { [] !bad_accept }

/* A2/A5: after a heartbeat exchange on a key no data is sealed under it (the
 * client: once its heartbeat was acked; the server: once it saw one), so the
 * next data flows under a new epoch. */
ltl new_epoch_after_ack { [] !bad_seal }

/* A8: the rules never condemn honest data: a key made stale by a heartbeat
 * exchange never refuses a record its honest peer sealed. */
ltl honest_never_spoofed { [] !honest_spoofed }

/* Data held at either end is eventually sent (or the connection closed)
 * once the channel turns fair: no deadlock, no livelock.  Runs with a lost
 * frame are left out: such a connection is condemned (the next record under
 * that key fails authentication, or a deadline closes it), but the model's
 * deadlines and byte/age triggers are not forced to fire. */
ltl held_data_sent { ([] !lost && <>[] !faults) -> [] ((c_held -> <> (!c_held || closed)) && (s_held -> <> (!s_held || closed))) }

/* Both ends agree on the epoch: the server leads by at most one (it
 * installs at HS3, the client at KEYS), on a fair channel they meet again,
 * and at the same epoch they hold the same agreed policy (A11). */
#define EPOCHS_OK ((s_ep == c_ep && c_agreed == s_agreed) || s_ep == (c_ep % 4 + 1))
ltl epochs_agree { [] EPOCHS_OK }
ltl epochs_converge { ([] !lost && <>[] !faults) -> [] (s_ep != c_ep -> <> (s_ep == c_ep || closed)) }

/* The four safety properties above as one claim: one pass over the state
 * space instead of four (what `make test` runs; scripts/model.sh --each
 * checks them one by one). */
ltl safety { [] (!bad_accept && !bad_seal && !honest_spoofed && EPOCHS_OK) }

/* The two liveness properties as one claim. */
ltl liveness { ([] !lost && <>[] !faults) -> [] ((c_held -> <> (!c_held || closed)) && (s_held -> <> (!s_held || closed)) && (s_ep != c_ep -> <> (s_ep == c_ep || closed))) }
