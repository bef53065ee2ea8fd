/*
 * deadlines.h - many deadlines behind one timer: a binary min-heap of
 * nodes that their owners embed.  The links of a worker use it instead of
 * a uv_timer_t each (152 bytes; a node is 16): issue 13's memory per idle
 * link.
 *
 * A node is in the heap iff it has a deadline.  Insertion never allocates:
 * deadlines_reserve makes room beforehand (when the owner is created), so
 * setting a deadline cannot fail in the middle of a callback.
 */
#ifndef LULL_IO_DEADLINES_H
#define LULL_IO_DEADLINES_H

#include <stddef.h>
#include <stdint.h>

#define DEADLINE_NONE   UINT64_MAX /* due_ms of a node not in the heap */
#define DEADLINE_NOT_IN UINT32_MAX /* pos of a node not in the heap */

typedef struct deadline_node {
	uint64_t due_ms;
	uint32_t pos; /* index in the heap, or DEADLINE_NOT_IN */
} deadline_node;

typedef struct deadlines {
	deadline_node **heap;
	size_t n, cap;
} deadlines;

void deadline_node_init(deadline_node *n);
/* Room for n nodes in all: 0, or -1 with no memory (nothing changed). */
int deadlines_reserve(deadlines *d, size_t n);
/* Set n's deadline (DEADLINE_NONE takes it out).  Inserting needs a slot
 * deadlines_reserve made; abort()s without one (a bug, not a condition). */
void deadlines_set(deadlines *d, deadline_node *n, uint64_t due_ms);
/* The earliest node, or NULL. */
deadline_node *deadlines_first(const deadlines *d);
void deadlines_free(deadlines *d); /* the array only: nodes are their owners' */

#endif /* LULL_IO_DEADLINES_H */
