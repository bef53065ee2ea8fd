/*
 * link.h - one lull connection between the two daemons over its own TCP
 * socket, carrying streams (lull_stream.h): the client end connects it,
 * the server end accepts it.  A link knows nothing of the worker that owns
 * it: it reports through link_hooks, and the worker decides.
 */
#ifndef LULL_IO_LINK_H
#define LULL_IO_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "deadlines.h"
#include "lull.h"
#include "lull_stream.h"
#include "net.h"

struct link;
struct plain;

/* What every link and stream of one event loop reads; set up once. */
typedef struct link_params {
	bool server;
	lull_config cfg;
	lull_mux_config mux_cfg;
	lull_keypair key;                   /* client: own key */
	uint8_t server_pub[LULL_KEY_BYTES]; /* client */
	bool has_psk;
	uint8_t psk[LULL_KEY_BYTES];
	net_addr remote; /* server: the target; client: the lull server */
	char remote_text[64];
	uint32_t connect_timeout_ms;
	uint32_t streams_per_link; /* 0: no limit */
	/* Server, behind a balancer: --proxy-protocol (a PROXY header before
	 * the handshake), --target-proxy-protocol (one before each target
	 * connection's data). */
	bool proxy_protocol;
	bool target_proxy_protocol;
} link_params;

/* How a link talks to its owner.  Every hook is optional. */
typedef struct link_hooks {
	void *owner;
	/* The first handshake completed: streams may be opened. */
	void (*up)(void *owner, struct link *l);
	/* Client: the server sent GOAWAY on l (it drains): l takes no new
	 * stream and closes once its last one ended. */
	void (*goaway)(void *owner, struct link *l);
	/* A stream ended on l: a slot is free (or l is spent and closing). */
	void (*stream_ended)(void *owner, struct link *l);
	/* Every handle is closed; l is freed when the hook returns. */
	void (*gone)(void *owner, struct link *l);
	void (*log_event)(void *owner, uint64_t conn, const lull_event *ev, const char *note);
	void (*timer_late)(void *owner, uint64_t now_ms, uint64_t late_ms);
	/* After each engine call (the server context may have made an SRK). */
	void (*engine_done)(void *owner);
	/* A stream socket was freed (the owner may be waiting to stop). */
	void (*plain_gone)(void *owner);
	/* Server: may one more target socket be opened now? */
	bool (*admit_socket)(void *owner);
	/* Server: may this client (the socket's peer, or the one a balancer's
	 * PROXY header names) start a handshake?  False closes the link at
	 * once, before a byte reaches the engine. */
	bool (*admit_client)(void *owner, struct link *l, const net_addr *client);
	/* Every engine event of l (after log_event). */
	void (*link_event)(void *owner, struct link *l, const lull_event *ev);
	/* n bytes of application data carried on l: dir 0 received from the
	 * peer (written to our socket), 1 sent to it. */
	void (*bytes)(void *owner, struct link *l, int dir, size_t n);
} link_hooks;

struct link_env;

/*
 * What a link asks of its streams' sockets (plain.c provides it as
 * plain_stream_ops; the worker wires it in), so that link.c never names
 * plain.c: the sockets depend on the link, not the other way round.
 */
typedef struct link_stream_ops {
	/* Server: a peer opened stream id on l: connect its target. */
	void (*open_target)(struct link_env *env, struct link *l, uint32_t id);
	/* An event for the stream whose socket is stream_user. */
	void (*stream_event)(void *stream_user, const lull_stream_event *ev);
	/* Server: the earliest target-connect deadline of l's streams. */
	uint64_t (*next_connect_deadline)(const struct link_env *env, const struct link *l);
	/* Server: give up the target connects of l due at now_ms. */
	void (*expire_connects)(struct link_env *env, struct link *l, uint64_t now_ms);
	/* Write what the streams' sockets gathered during this callback;
	 * called by link l, which sends the credit that frees (other links
	 * are kicked). */
	void (*flush_writes)(struct link_env *env, struct link *l);
} link_stream_ops;

/* Shared by the links and streams of one loop (the worker embeds it). */
typedef struct link_env {
	uv_loop_t *loop;
	uint8_t *readbuf; /* NET_READ_BYTES, reads are consumed synchronously */
	const link_params *p;
	lull_server *srv; /* server role */
	link_hooks h;
	const link_stream_ops *streams; /* required */
	struct plain *plains;           /* every stream socket, for shutdown */
	struct plain *batched;          /* sockets with DATA gathered, not yet written */
	struct pwreq *spare_batch;      /* one batch buffer kept for reuse (plain.c) */
	bool spare_busy;                /* it is some socket's batch now */
	size_t n_plains;
	size_t n_links;
	size_t n_connecting; /* plains connecting their target */
	/* Every link's deadline, behind one timer (link.c). */
	deadlines deadlines;
	uv_timer_t deadline_timer;
	uint64_t deadline_armed_ms; /* when it fires; DEADLINE_NONE: stopped */
	bool deadlines_closed;
} link_env;

uint64_t link_env_now(link_env *env);
/* After loop is set: the links' timer (0, or a libuv error). */
int link_env_start(link_env *env);
/* Once no link is left: close the timer (the loop then runs down). */
void link_env_stop(link_env *env);
/* After the loop ended. */
void link_env_free(link_env *env);

/* Client: a link that connects to the server now. NULL: no memory. */
struct link *link_connect(link_env *env);
/* Server: accept a link from the listener (already admitted). */
struct link *link_accept(link_env *env, uv_stream_t *listener);

/* Close the link (close frame with reason); its streams are reset. */
void link_close(struct link *l, lull_close_reason reason);
/* Server, drain: send GOAWAY; open streams carry on and the link closes
 * normally after the last one.  A link not yet up is closed (shutdown). */
void link_goaway(struct link *l);

uint64_t link_id(const struct link *l);
bool link_is_up(const struct link *l);      /* first handshake done, open */
bool link_is_closing(const struct link *l); /* or draining: it takes no stream */
bool link_was_up(const struct link *l);     /* its first handshake completed once */
/* It closed on an authentication or version failure: retrying will not
 * help the connections waiting for it. */
bool link_refused_us(const struct link *l);
/* Streams it may still take: 0 if it is not up, at its cap, or spent. */
size_t link_free_slots(const struct link *l);
/* Streams not yet assigned of its streams_per_link budget (SIZE_MAX: no
 * budget); a link still connecting counts here. */
size_t link_budget_left(const struct link *l);
size_t link_stream_count(const struct link *l);

struct link *link_next(struct link *l);
void link_set_next(struct link *l, struct link *next);

/* The owner's own pointer for l (e.g. its status record); NULL at first. */
void link_set_owner_data(struct link *l, void *data);
void *link_owner_data(const struct link *l);
/* Server: the authenticated peer's name (NULL before the first handshake). */
const char *link_peer_name(const struct link *l);
/* Server, --target-proxy-protocol: the PROXY v2 header for a target
 * connection of l, into out (*len bytes; 0: none to send).  False: none
 * could be made, and the stream must not reach the target without it. */
bool link_target_proxy_header(struct link *l, uint8_t *out, size_t cap, size_t *len);

/* For plain.c: the link's mux, and the call to make after using it. */
lull_mux *link_mux(struct link *l);
void link_kick(struct link *l);
/* Count one stream started on l (its streams_per_link budget). */
void link_stream_started(struct link *l);

#endif /* LULL_IO_LINK_H */
