/*
 * version.c - the version of the linked library, for programs that want
 * to know what they run against rather than what they were compiled with.
 *
 * Invariant: the header's version and the wire version agree with what the
 * engine speaks; a mismatch is a compile error, not a wrong report.
 */
#include "lull.h"
#include "wire.h"

_Static_assert(LULL_PROTOCOL_VERSION == WIRE_VERSION,
               "lull.h's LULL_PROTOCOL_VERSION must be the version HS1 carries");

const char *lull_version(void)
{
	return LULL_VERSION_STRING;
}

unsigned lull_version_number(void)
{
	return LULL_VERSION_NUMBER;
}
