/*
 * test_deadlines.c - the links' deadline heap (src/io/deadlines.c): nodes
 * come out earliest first whatever order they went in, a moved or removed
 * node keeps the order right, equal deadlines all come out, insertion
 * takes only reserved room, and a random workload checked against a plain
 * scan keeps every invariant.
 */
#include "cli_test.h"
#include "io/deadlines.h"

#define N_NODES 1000u

static deadline_node nodes[N_NODES];

/* Every heap invariant of deadlines.c. */
static void check_heap(const deadlines *d)
{
	CHECK(d->n <= d->cap);
	for (size_t i = 0; i < d->n; i++) {
		CHECK(d->heap[i]->pos == i);
		if (i > 0)
			CHECK(d->heap[(i - 1) / 2]->due_ms <= d->heap[i]->due_ms);
	}
}

/* Take every node out in order; they must come out sorted. */
static size_t drain_sorted(deadlines *d)
{
	size_t n = 0;
	uint64_t last = 0;
	deadline_node *f;
	while ((f = deadlines_first(d)) != NULL) {
		CHECK(f->due_ms >= last);
		last = f->due_ms;
		deadlines_set(d, f, DEADLINE_NONE);
		CHECK(f->pos == DEADLINE_NOT_IN && f->due_ms == DEADLINE_NONE);
		n++;
	}
	return n;
}

static void test_order(void)
{
	deadlines d = {0};
	CHECK(deadlines_first(&d) == NULL);
	CHECK(deadlines_reserve(&d, N_NODES) == 0);
	CHECK(d.cap >= N_NODES);
	for (unsigned i = 0; i < N_NODES; i++) {
		deadline_node_init(&nodes[i]);
		deadlines_set(&d, &nodes[i], (uint64_t)((i * 7919u) % N_NODES) + 5);
	}
	check_heap(&d);
	CHECK(deadlines_first(&d)->due_ms == 5);
	/* Move one earlier, one later, take one out. */
	deadlines_set(&d, &nodes[500], 1);
	CHECK(deadlines_first(&d) == &nodes[500]);
	deadlines_set(&d, &nodes[500], 100000);
	CHECK(deadlines_first(&d)->due_ms == 5);
	deadline_node *first = deadlines_first(&d);
	deadlines_set(&d, first, DEADLINE_NONE);
	CHECK(deadlines_first(&d)->due_ms == 6);
	check_heap(&d);
	CHECK(drain_sorted(&d) == N_NODES - 1);
	/* Taking out a node that is not in is nothing. */
	deadlines_set(&d, &nodes[3], DEADLINE_NONE);
	CHECK(d.n == 0);
	deadlines_free(&d);
}

static void test_equal_deadlines(void)
{
	deadlines d = {0};
	CHECK(deadlines_reserve(&d, 10) == 0);
	for (unsigned i = 0; i < 10; i++) {
		deadline_node_init(&nodes[i]);
		deadlines_set(&d, &nodes[i], 42);
	}
	CHECK(drain_sorted(&d) == 10);
	deadlines_free(&d);
}

static void test_reserve(void)
{
	deadlines d = {0};
	CHECK(deadlines_reserve(&d, 1) == 0);
	size_t cap = d.cap;
	CHECK(cap >= 1);
	CHECK(deadlines_reserve(&d, cap) == 0 && d.cap == cap); /* enough: nothing moves */
	CHECK(deadlines_reserve(&d, cap + 1) == 0 && d.cap > cap);
	CHECK(deadlines_reserve(&d, (size_t)DEADLINE_NOT_IN) == -1); /* pos must fit */
	deadlines_free(&d);
	CHECK(d.heap == NULL && d.cap == 0);
}

/* Random sets, moves and removals against a scan of the nodes. */
static void test_random(void)
{
	deadlines d = {0};
	CHECK(deadlines_reserve(&d, N_NODES) == 0);
	for (unsigned i = 0; i < N_NODES; i++)
		deadline_node_init(&nodes[i]);
	uint64_t x = 88172645463325252ull;
	for (unsigned step = 0; step < 200000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		deadline_node *n = &nodes[x % N_NODES];
		uint64_t due = (x >> 20) % 4 == 0 ? DEADLINE_NONE : (x >> 24) % 5000;
		deadlines_set(&d, n, due);
		if (step % 1000 == 0) {
			check_heap(&d);
			uint64_t min = DEADLINE_NONE;
			size_t in = 0;
			for (unsigned i = 0; i < N_NODES; i++) {
				if (nodes[i].pos != DEADLINE_NOT_IN) {
					in++;
					if (nodes[i].due_ms < min)
						min = nodes[i].due_ms;
				}
			}
			CHECK(in == d.n);
			CHECK(d.n == 0 || deadlines_first(&d)->due_ms == min);
		}
	}
	check_heap(&d);
	drain_sorted(&d);
	deadlines_free(&d);
}

int main(void)
{
	test_order();
	test_equal_deadlines();
	test_reserve();
	test_random();
	return test_summary();
}
