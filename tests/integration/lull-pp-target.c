/*
 * lull-pp-target - a target that expects a PROXY v2 header on every
 * connection (what lull server --target-proxy-protocol sends), records it,
 * and then echoes the stream.
 *
 *   lull-pp-target --port-file F --record FILE
 *
 * Listens on 127.0.0.1 on a free port (written to F).  For each
 * connection, reads the 16-byte fixed part and exactly the length it
 * announces (at most 1 KiB), appends one line "hex-of-the-header" to
 * FILE (one write, so concurrent connections do not interleave), then
 * echoes every byte until EOF.  A connection whose first 16 bytes are not
 * a v2 signature, or whose header announces more than 1 KiB, is recorded
 * as "BAD <hex of what came>" and closed.  It parses nothing else: the
 * test script checks the header's fields itself, so this tool shares no
 * code with lull's encoder.  One process per connection (fork), the
 * parent only accepts; it runs until killed.
 */
#include <signal.h>
#include <stdbool.h>

#include "tool_common.h"

#define PP_FIXED_BYTES 16
#define PP_MAX_BYTES   1024

static const uint8_t pp_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* Read exactly n bytes; the count actually read. */
static size_t read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static bool write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void record(const char *path, const char *tag, const uint8_t *h, size_t n)
{
	char line[16 + 2 * PP_MAX_BYTES + 2];
	size_t off = (size_t)snprintf(line, sizeof(line), "%s", tag);
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%02x", h[i]);
	line[off++] = '\n';
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd >= 0) {
		(void)write_full(fd, (const uint8_t *)line, off);
		close(fd);
	}
}

static void serve(int fd, const char *rec)
{
	uint8_t h[PP_MAX_BYTES];
	size_t got = read_full(fd, h, PP_FIXED_BYTES);
	size_t total = got == PP_FIXED_BYTES ? PP_FIXED_BYTES + ((size_t)h[14] << 8 | h[15]) : 0;
	if (got < PP_FIXED_BYTES || memcmp(h, pp_sig, sizeof(pp_sig)) != 0 ||
	    total > PP_MAX_BYTES) {
		record(rec, "BAD ", h, got);
		return;
	}
	got += read_full(fd, h + PP_FIXED_BYTES, total - PP_FIXED_BYTES);
	if (got < total) {
		record(rec, "BAD ", h, got);
		return;
	}
	record(rec, "", h, total);
	uint8_t buf[1 << 16];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !write_full(fd, buf, (size_t)r))
			break;
	}
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *rec = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0) {
			port_file = argv[i + 1];
		} else if (strcmp(argv[i], "--record") == 0) {
			rec = argv[i + 1];
		} else {
			fprintf(stderr, "lull-pp-target: bad argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!port_file || !rec || argc % 2 == 0) {
		fprintf(stderr, "usage: lull-pp-target --port-file F --record FILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	int lfd = listen_loopback("lull-pp-target", port_file);
	if (lfd < 0)
		return 1;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("lull-pp-target: accept");
			return 1;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			serve(fd, rec);
			_exit(0);
		}
		close(fd);
	}
}
