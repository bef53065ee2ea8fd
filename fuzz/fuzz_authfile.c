/*
 * fuzz_authfile.c - the authorized-clients file (auth_list_load).
 *
 * Checks: no crash or leak; all or nothing - a refused file yields an empty
 * list and a terminated "file:line: message"; an accepted list has valid,
 * unique names and unique keys, and copies exactly.
 */
#include "support/authfile.h"
#include "fuzz_cli_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_random_reset(5);
	if (!fuzz_input_ok(data, size))
		return 0;
	const char *path = fuzz_write_file(data, size);
	auth_list l;
	char err[512];
	memset(err, 'x', sizeof(err));
	if (!auth_list_load(path, &l, err, sizeof(err))) {
		FUZZ_CHECK(l.n == 0 && l.entries == NULL);
		fuzz_check_err(err, sizeof(err));
		return 0;
	}
	for (size_t i = 0; i < l.n; i++) {
		FUZZ_CHECK(auth_name_valid(l.entries[i].name));
		for (size_t j = 0; j < i; j++) {
			FUZZ_CHECK(strcmp(l.entries[i].name, l.entries[j].name) != 0);
			FUZZ_CHECK(memcmp(l.entries[i].pub, l.entries[j].pub, LULL_KEY_BYTES) != 0);
		}
	}
	auth_list c;
	FUZZ_CHECK(auth_list_copy(&c, &l));
	FUZZ_CHECK(c.n == l.n);
	FUZZ_CHECK(c.n == 0 || memcmp(c.entries, l.entries, c.n * sizeof(*c.entries)) == 0);
	auth_list_free(&c);
	auth_list_free(&l);
	return 0;
}
