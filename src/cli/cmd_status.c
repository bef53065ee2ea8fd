/*
 * cmd_status.c - "lull status [--status ADDR] [--json]": what a running
 * daemon's --status server reports about its links, as a table (like
 * wg show) or as the JSON of /status.
 *
 * The daemon renders both; this command sends one HTTP/1.0 GET and
 * prints the body, so the table cannot drift from /status.  The reply is
 * bounded (STATUS_REPLY_MAX_BYTES) and must be a 200.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../io/limits.h"
#include "../io/status_http.h"
#include "commands.h"

#define STATUS_REPLY_MAX_BYTES (4u << 20)
#define STATUS_WAIT_MS         10000

static int usage(void)
{
	cli_error("status: usage: lull status [--status unix:PATH|HOST:PORT] [--json] (default "
	          "%s)",
	          STATUS_DEFAULT_ADDR);
	return EXIT_USAGE;
}

/* Read until EOF into a growing buffer; NULL with err. */
static char *read_all(int fd, size_t *len, char *err, size_t cap)
{
	size_t n = 0, size = 8192;
	char *buf = malloc(size + 1);
	while (buf) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, STATUS_WAIT_MS) <= 0) {
			snprintf(err, cap, "no answer within %d s", STATUS_WAIT_MS / 1000);
			break;
		}
		ssize_t r = read(fd, buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, cap, "%s", strerror(errno));
			break;
		}
		if (r == 0) {
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		n += (size_t)r;
		if (n == size) {
			if (size >= STATUS_REPLY_MAX_BYTES) {
				snprintf(err, cap, "reply longer than %u bytes",
				         STATUS_REPLY_MAX_BYTES);
				break;
			}
			char *bigger = realloc(buf, size * 2 + 1);
			if (!bigger)
				break;
			buf = bigger;
			size *= 2;
		}
	}
	if (!buf)
		snprintf(err, cap, "out of memory");
	free(buf);
	return NULL;
}

int cmd_status(int argc, char **argv)
{
	const char *addr = STATUS_DEFAULT_ADDR;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
			addr = argv[++i];
		else if (strncmp(argv[i], "--status=", 9) == 0)
			addr = argv[i] + 9;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return usage();
	}
	char err[CLI_ERR_BYTES];
	int fd = status_connect(addr, err, sizeof(err));
	if (fd < 0) {
		cli_error("status: --status %s", err);
		return EXIT_RUNTIME;
	}
	const char *req = json ? "GET /status HTTP/1.0\r\nHost: lull\r\n\r\n"
	                       : "GET /status?format=text HTTP/1.0\r\nHost: lull\r\n\r\n";
	size_t len = 0;
	char *reply = NULL;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		snprintf(err, sizeof(err), "%s", strerror(errno));
	else
		reply = read_all(fd, &len, err, sizeof(err));
	close(fd);
	if (!reply) {
		cli_error("status: %s: %s", addr, err);
		return EXIT_RUNTIME;
	}
	char *body = strstr(reply, "\r\n\r\n");
	int rc = EXIT_OK;
	if (strncmp(reply, "HTTP/1.", 7) != 0 || strlen(reply) < 12 || !body) {
		cli_error("status: %s: not an HTTP reply from a lull --status server", addr);
		rc = EXIT_RUNTIME;
	} else if (strncmp(reply + 9, "200", 3) != 0) {
		cli_error("status: %s: the server answered %.3s", addr, reply + 9);
		rc = EXIT_RUNTIME;
	} else {
		fputs(body + 4, stdout);
	}
	free(reply);
	return rc;
}
