/*
 * deadlines.c - a binary min-heap of embedded nodes (see deadlines.h).
 *
 * Invariants:
 *  - heap[i]->pos == i for every i < n; a node outside has pos
 *    DEADLINE_NOT_IN and due_ms DEADLINE_NONE.
 *  - heap[parent(i)]->due_ms <= heap[i]->due_ms.
 *  - n <= cap; only deadlines_reserve allocates.
 */
#include "deadlines.h"

#include <stdlib.h>

void deadline_node_init(deadline_node *n)
{
	n->due_ms = DEADLINE_NONE;
	n->pos = DEADLINE_NOT_IN;
}

int deadlines_reserve(deadlines *d, size_t n)
{
	if (n <= d->cap)
		return 0;
	if (n >= DEADLINE_NOT_IN)
		return -1;
	size_t cap = d->cap ? d->cap : 64;
	while (cap < n)
		cap *= 2;
	deadline_node **h = realloc(d->heap, cap * sizeof(*h));
	if (!h)
		return -1;
	d->heap = h;
	d->cap = cap;
	return 0;
}

static void place(deadlines *d, deadline_node *n, size_t i)
{
	d->heap[i] = n;
	n->pos = (uint32_t)i;
}

static void sift_up(deadlines *d, size_t i)
{
	deadline_node *n = d->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (d->heap[p]->due_ms <= n->due_ms)
			break;
		place(d, d->heap[p], i);
		i = p;
	}
	place(d, n, i);
}

static void sift_down(deadlines *d, size_t i)
{
	deadline_node *n = d->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= d->n)
			break;
		if (c + 1 < d->n && d->heap[c + 1]->due_ms < d->heap[c]->due_ms)
			c++;
		if (n->due_ms <= d->heap[c]->due_ms)
			break;
		place(d, d->heap[c], i);
		i = c;
	}
	place(d, n, i);
}

static void take_out(deadlines *d, deadline_node *n)
{
	size_t i = n->pos;
	deadline_node *last = d->heap[--d->n];
	n->pos = DEADLINE_NOT_IN;
	n->due_ms = DEADLINE_NONE;
	if (last == n)
		return;
	place(d, last, i);
	sift_up(d, i);
	sift_down(d, last->pos);
}

void deadlines_set(deadlines *d, deadline_node *n, uint64_t due_ms)
{
	if (due_ms == DEADLINE_NONE) {
		if (n->pos != DEADLINE_NOT_IN)
			take_out(d, n);
		return;
	}
	if (n->pos == DEADLINE_NOT_IN) {
		if (d->n >= d->cap)
			abort(); /* the owner did not reserve its slot */
		n->due_ms = due_ms;
		place(d, n, d->n++);
		sift_up(d, n->pos);
		return;
	}
	uint64_t old = n->due_ms;
	n->due_ms = due_ms;
	if (due_ms < old)
		sift_up(d, n->pos);
	else if (due_ms > old)
		sift_down(d, n->pos);
}

deadline_node *deadlines_first(const deadlines *d)
{
	return d->n ? d->heap[0] : NULL;
}

void deadlines_free(deadlines *d)
{
	free(d->heap);
	d->heap = NULL;
	d->n = d->cap = 0;
}
