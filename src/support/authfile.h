/*
 * authfile.h - the server's authorized-clients file:
 *
 *     # comment
 *     PUBKEY NAME [PSKFILE]
 *
 * parsed whole into a list, or refused whole with file:line: message.
 */
#ifndef LULL_CLI_AUTHFILE_H
#define LULL_CLI_AUTHFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lull.h"

typedef struct auth_entry {
	uint8_t pub[LULL_KEY_BYTES];
	char name[LULL_PEER_NAME_MAX];
	bool has_psk;
	uint8_t psk[LULL_KEY_BYTES];
} auth_entry;

typedef struct auth_list {
	auth_entry *entries;
	size_t n;
} auth_list;

/* Parse path into *out (which the caller frees with auth_list_free).  On
 * failure out is left empty and err holds "path:line: message". */
bool auth_list_load(const char *path, auth_list *out, char *err, size_t cap);

/* Deep copy (for handing one list to each worker). */
bool auth_list_copy(auth_list *dst, const auth_list *src);

/* Wipes every PSK, then frees. */
void auth_list_free(auth_list *l);

/* A name is 1..63 bytes of [A-Za-z0-9._:@+-]: safe in a log line unquoted. */
bool auth_name_valid(const char *name);

#endif /* LULL_CLI_AUTHFILE_H */
