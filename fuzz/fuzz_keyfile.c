/*
 * fuzz_keyfile.c - key text: key_from_base64 on the raw input, and
 * key_stream_read (the same rules as key files) on the input through a pipe.
 *
 * Checks: an accepted key is canonical - encoding it again gives back
 * exactly the text accepted (so one key has one spelling); the stream
 * reader accepts exactly "base64" followed by nothing but trailing
 * whitespace (spaces, tabs, CR, LF); errors are terminated.
 */
#include <unistd.h>

#include "support/keyfile.h"
#include "fuzz_util.h"

#define KEY_TEXT 44 /* base64 of 32 bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_random_reset(3);
	uint8_t key[LULL_KEY_BYTES];
	char text[KEY_TEXT + 1];
	/* An exact-size copy for ASan. */
	char *copy = calloc(size ? size : 1, 1);
	FUZZ_CHECK(copy);
	if (size)
		memcpy(copy, data, size);
	bool ok = key_from_base64(copy, size, key);
	if (ok) {
		FUZZ_CHECK(size == KEY_TEXT);
		key_to_base64(key, text);
		FUZZ_CHECK(strlen(text) == KEY_TEXT && memcmp(text, copy, KEY_TEXT) == 0);
	}
	free(copy);

	/* The stream reader: a pipe holds a 4 KiB input without blocking. */
	if (size > 4096)
		return 0;
	int fds[2];
	FUZZ_CHECK(pipe(fds) == 0);
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(fds[1], data + off, size - off);
		FUZZ_CHECK(n > 0);
		off += (size_t)n;
	}
	close(fds[1]);
	char err[256];
	memset(err, 'x', sizeof(err));
	bool sok = key_stream_read(fds[0], "fuzz", key, err, sizeof(err));
	close(fds[0]);
	if (sok) {
		bool plain = size >= KEY_TEXT;
		for (size_t i = KEY_TEXT; plain && i < size; i++)
			plain = data[i] == ' ' || data[i] == '\t' || data[i] == '\r' ||
			        data[i] == '\n';
		FUZZ_CHECK(plain);
		key_to_base64(key, text);
		FUZZ_CHECK(memcmp(text, data, KEY_TEXT) == 0);
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	}
	return 0;
}
