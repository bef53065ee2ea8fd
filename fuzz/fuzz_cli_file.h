/*
 * fuzz_cli_file.h - the CLI parsers read files by path, so their targets
 * write each input to one private temporary file (created once per
 * process, in a private directory, rewritten per input) and parse that.
 *
 * Inputs that name device or kernel files are skipped: a PSKFILE of
 * /dev/stdin would block the fuzzer on a read that tells us nothing.
 */
#ifndef LULL_FUZZ_CLI_FILE_H
#define LULL_FUZZ_CLI_FILE_H

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"

static char fuzz_dir[64];
static char fuzz_path[96];

static void fuzz_cleanup(void)
{
	if (fuzz_path[0])
		unlink(fuzz_path);
	if (fuzz_dir[0])
		rmdir(fuzz_dir);
}

/* True when the input may be parsed (it names no special file). */
static bool fuzz_input_ok(const uint8_t *data, size_t size)
{
	static const char *const bad[] = {"/dev", "/proc", "/sys", "/run", ".."};
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		size_t n = strlen(bad[b]);
		for (size_t i = 0; i + n <= size; i++)
			if (memcmp(data + i, bad[b], n) == 0)
				return false;
	}
	return true;
}

/* The input as a file (mode 0600); its path. */
static const char *fuzz_write_file(const uint8_t *data, size_t size)
{
	if (!fuzz_dir[0]) {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/lull-fuzz-XXXXXX");
		FUZZ_CHECK(mkdtemp(fuzz_dir) != NULL);
		snprintf(fuzz_path, sizeof(fuzz_path), "%s/input", fuzz_dir);
		atexit(fuzz_cleanup);
	}
	int fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	FUZZ_CHECK(fd >= 0);
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		FUZZ_CHECK(n > 0);
		off += (size_t)n;
	}
	FUZZ_CHECK(close(fd) == 0);
	return fuzz_path;
}

/* A bounded, NUL-terminated copy of an error message was produced. */
static void fuzz_check_err(const char *err, size_t cap)
{
	FUZZ_CHECK(memchr(err, '\0', cap) != NULL);
}

#endif /* LULL_FUZZ_CLI_FILE_H */
