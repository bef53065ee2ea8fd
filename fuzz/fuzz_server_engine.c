/*
 * fuzz_server_engine.c - the server end of a connection fed arbitrary bytes
 * (fresh, or after a real handshake) and driven by fuzz commands: time,
 * ticks, data both ways, rekeys, tampering on the wire, a malicious peer.
 * engine_harness.h has the input format and the invariants checked.
 */
#include "engine_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return eh_fuzz_one(data, size, true);
}
