/*
 * keyfile.h - keys as text: base64 of 32 bytes on one line, read from files
 * whose mode is checked when they hold a secret.
 */
#ifndef LULL_CLI_KEYFILE_H
#define LULL_CLI_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lull.h"

/*
 * Open a file the daemon reads (keys, PSKs, the authorized list, config):
 * a regular file only, opened with O_NONBLOCK so that a FIFO cannot hang
 * the start or a reload, then switched back to blocking reads.  The fd with
 * *st filled, or -1 with *why saying what is wrong.
 */
int file_open_regular(const char *path, struct stat *st, const char **why);

/* base64 of a key plus NUL: out must hold KEY_BASE64_CHARS + 1 bytes. */
void key_to_base64(const uint8_t key[LULL_KEY_BYTES], char *out);

/* Exactly KEY_BASE64_CHARS canonical base64 characters (len of them). */
bool key_from_base64(const char *text, size_t len, uint8_t key[LULL_KEY_BYTES]);

/*
 * Read a key file: one base64 line, optionally ending in a newline.  When
 * secret, the file must be a regular file with no group or other permission
 * bits.  On failure returns false with err (cap bytes) naming the file and
 * the fix.  The file's bytes are wiped before returning.
 */
bool key_file_read(const char *path, bool secret, uint8_t key[LULL_KEY_BYTES], char *err,
                   size_t cap);

/* Read a key from an open stream (stdin for "lull pubkey"); same rules,
 * name is what to call the stream in err. */
bool key_stream_read(int fd, const char *name, uint8_t key[LULL_KEY_BYTES], char *err, size_t cap);

/* Either a base64 key given inline or the path of a public key file. */
bool key_arg_read(const char *arg, uint8_t key[LULL_KEY_BYTES], char *err, size_t cap);

#endif /* LULL_CLI_KEYFILE_H */
