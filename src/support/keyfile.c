/*
 * keyfile.c - base64 key text and key files.
 *
 * Invariants:
 *  - Decoding is strict: exactly 44 characters of the standard alphabet,
 *    one '=' of padding, and the unused low bits zero, so every key has
 *    exactly one text form and a truncated or mangled file is refused.
 *    Only trailing whitespace (newline, CRLF, spaces) around it is ignored.
 *  - A secret file (private key, PSK) is refused unless it is a regular
 *    file without group/other permissions; the message says how to fix it.
 *  - Every buffer that held key text is wiped before it is released.
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text_limits.h"

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void key_to_base64(const uint8_t key[LULL_KEY_BYTES], char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < LULL_KEY_BYTES; i += 3) {
		uint32_t v = (uint32_t)key[i] << 16;
		size_t n = LULL_KEY_BYTES - i < 3 ? LULL_KEY_BYTES - i : 3;
		if (n > 1)
			v |= (uint32_t)key[i + 1] << 8;
		if (n > 2)
			v |= key[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = n > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = n > 2 ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
}

bool key_from_base64(const char *text, size_t len, uint8_t key[LULL_KEY_BYTES])
{
	/* 32 bytes = 10 groups of 3 and 2 left over: 43 symbols and one '='. */
	if (len != KEY_BASE64_CHARS || text[KEY_BASE64_CHARS - 1] != '=')
		return false;
	uint8_t out[LULL_KEY_BYTES];
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	bool ok = true;
	for (size_t i = 0; i < KEY_BASE64_CHARS - 1; i++) {
		int v = b64_value(text[i]);
		if (v < 0) {
			ok = false;
			break;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* 43 symbols carry 258 bits: the last 2 must be zero (canonical). */
	if (ok && (o != LULL_KEY_BYTES || acc != 0))
		ok = false;
	if (ok)
		memcpy(key, out, LULL_KEY_BYTES);
	lull_wipe(out, sizeof(out));
	return ok;
}

/* The file's text, after trailing whitespace is stripped: a newline, a
 * CRLF from an editor on another system, a space (WireGuard accepts them
 * too).  Whitespace inside or before the key is still refused. */
static bool key_text_decode(char *buf, size_t n, const char *name, uint8_t key[LULL_KEY_BYTES],
                            char *err, size_t cap)
{
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	                 buf[n - 1] == '\t'))
		n--;
	if (n == 0) {
		snprintf(err, cap, "%s: empty, expected a base64 key", name);
		return false;
	}
	if (memchr(buf, '\n', n)) {
		snprintf(err, cap, "%s: more than one line, expected one base64 key", name);
		return false;
	}
	if (!key_from_base64(buf, n, key)) {
		snprintf(err, cap,
		         "%s: not a key: expected %u base64 characters encoding %d bytes "
		         "(as written by lull genkey/pubkey/genpsk)",
		         name, KEY_BASE64_CHARS, LULL_KEY_BYTES);
		return false;
	}
	return true;
}

bool key_stream_read(int fd, const char *name, uint8_t key[LULL_KEY_BYTES], char *err, size_t cap)
{
	char buf[KEY_FILE_MAX_BYTES + 1];
	size_t n = 0;
	bool ok = true;
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, cap, "%s: %s", name, strerror(errno));
			ok = false;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof(buf)) {
			snprintf(err, cap, "%s: too long for a key file (over %u bytes)", name,
			         KEY_FILE_MAX_BYTES);
			ok = false;
			break;
		}
	}
	if (ok)
		ok = key_text_decode(buf, n, name, key, err, cap);
	lull_wipe(buf, sizeof(buf));
	return ok;
}

int file_open_regular(const char *path, struct stat *st, const char **why)
{
	int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	int fl = -1;
	*why = NULL;
	if (fd < 0 || fstat(fd, st) != 0)
		*why = strerror(errno);
	else if (!S_ISREG(st->st_mode))
		*why = "not a regular file";
	else if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
		*why = strerror(errno);
	if (*why && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

bool key_file_read(const char *path, bool secret, uint8_t key[LULL_KEY_BYTES], char *err,
                   size_t cap)
{
	struct stat st;
	const char *why;
	int fd = file_open_regular(path, &st, &why);
	if (fd < 0) {
		snprintf(err, cap, "%s: %s", path, why);
		return false;
	}
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, cap,
		         "%s: holds a secret but is accessible by group or others (mode %04o); "
		         "fix it with: chmod 600 %s",
		         path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return false;
	}
	bool ok = key_stream_read(fd, path, key, err, cap);
	close(fd);
	return ok;
}

bool key_arg_read(const char *arg, uint8_t key[LULL_KEY_BYTES], char *err, size_t cap)
{
	if (key_from_base64(arg, strlen(arg), key))
		return true;
	if (access(arg, F_OK) != 0) {
		snprintf(err, cap, "%s: neither a base64 public key nor a readable file", arg);
		return false;
	}
	return key_file_read(arg, false, key, err, cap);
}
