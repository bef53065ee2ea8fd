/*
 * plain.h - a stream's own TCP socket: the application's (client end) or
 * the target's (server end), joined to one stream of a link.
 */
#ifndef LULL_IO_PLAIN_H
#define LULL_IO_PLAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "link.h"

typedef struct plain plain;

/* Client: accept an application connection; it waits for a link
 * (plain_attach) until its deadline.  NULL if nothing could be accepted. */
plain *plain_accept(link_env *env, uv_stream_t *listener);
/* Client: open a stream for p on l (which has a free slot). */
bool plain_attach(plain *p, struct link *l);
/* Client: no link took p in time (or its link failed): RST, warn. */
void plain_refuse(plain *p, lull_stream_reason why);
uint64_t plain_deadline(const plain *p);
plain *plain_wait_next(plain *p);
void plain_set_wait_next(plain *p, plain *next);

/* Server: the peer opened stream id on l: connect the target for it. */
void plain_open_target(link_env *env, struct link *l, uint32_t id);

/* From the link: its mux's events for the stream p carries. */
void plain_on_stream_event(plain *p, const lull_stream_event *ev);
/* Server streams still connecting on l: fail those past their deadline
 * (RESET target_unreachable), and the earliest deadline of the others
 * (UINT64_MAX: none). */
void plain_expire_connects(link_env *env, struct link *l, uint64_t now_ms);
/* Write the DATA gathered while a link read (every link entry point:
 * current is the link doing so). */
void plain_flush_writes(link_env *env, struct link *current);
uint64_t plain_next_connect_deadline(const link_env *env, const struct link *l);

/* The five above, as the link calls them (link_env.streams). */
extern const link_stream_ops plain_stream_ops;

/* Daemon stopping: reset every stream socket still open. */
void plain_reset_all(link_env *env);
/* What the streams keep per loop (a spare write buffer), once it ran. */
void plain_env_release(link_env *env);

#endif /* LULL_IO_PLAIN_H */
