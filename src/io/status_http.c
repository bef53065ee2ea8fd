/*
 * status_http.c - /metrics, /status and /healthz over HTTP, served by
 * libmicrohttpd (no hand-written HTTP parser).
 *
 * Invariants:
 *  - The listening socket is made here (TCP, or a unix socket whose path
 *    is removed on stop) and handed to libmicrohttpd, so a bad address is
 *    a start-up error with a reason, before the daemon says it listens.
 *  - Handlers only read: atomic counters (metrics.c) and link snapshots
 *    taken under each registry's lock (linkstat.c); they never touch a
 *    worker's loop or a connection.
 *  - Bounded: a few concurrent clients (STATUS_MAX_CLIENTS), each with a
 *    timeout; only GET and HEAD; request bodies are refused.
 */
#include "status_http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "../support/parse.h"
#include "limits.h"
#include "metrics.h"
#include "net.h"

struct status_server {
	struct MHD_Daemon *mhd;
	status_view *view;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static uint64_t mono_ms(void)
{
	return uv_hrtime() / 1000000u;
}

/* ---- Addresses ---------------------------------------------------------- */

static bool unix_addr(const char *path, struct sockaddr_un *sun, char *err, size_t cap)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, cap, "unix socket path empty or longer than %zu bytes",
		         sizeof(sun->sun_path) - 1);
		return false;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return true;
}

static bool tcp_addr(const char *spec, bool listen, net_addr *a, char *err, size_t cap)
{
	char host[256];
	uint16_t port;
	const char *why = parse_host_port(spec, host, sizeof(host), &port, listen);
	if (why) {
		snprintf(err, cap, "'%.80s': %s (want unix:PATH or HOST:PORT)", spec, why);
		return false;
	}
	return net_resolve(host, port, listen, a, err, cap);
}

static int listen_unix(const char *path, char *err, size_t cap)
{
	struct sockaddr_un sun;
	if (!unix_addr(path, &sun, err, cap))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, cap, "socket: %s", strerror(errno));
		return -1;
	}
	int r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (r != 0 && errno == EADDRINUSE) {
		/* A socket file left by a process that is gone may be replaced;
		 * one that answers belongs to a live process. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct stat st;
		bool stale = probe >= 0 && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		             connect(probe, (struct sockaddr *)&sun, sizeof(sun)) != 0 &&
		             errno == ECONNREFUSED;
		if (probe >= 0)
			close(probe);
		if (!stale) {
			snprintf(err, cap, "%s: address already in use", path);
			close(fd);
			return -1;
		}
		unlink(path);
		r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	}
	if (r != 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, STATUS_BACKLOG) != 0) {
		snprintf(err, cap, "%s: listen: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

static int listen_tcp(const char *spec, char *bound, size_t bound_cap, char *err, size_t cap)
{
	net_addr a;
	if (!tcp_addr(spec, true, &a, err, cap))
		return -1;
	if (net_addr_port(&a) != 0 && !net_probe_free(&a, err, cap))
		return -1;
	int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a.ss, a.len) != 0 || listen(fd, STATUS_BACKLOG) != 0) {
		snprintf(err, cap, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	net_addr got;
	if (net_local_addr(fd, &got))
		net_addr_text(&got, bound, bound_cap);
	return fd;
}

int status_connect(const char *spec, char *err, size_t cap)
{
	int fd;
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un sun;
		if (!unix_addr(spec + 5, &sun, err, cap))
			return -1;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
	} else {
		net_addr a;
		if (!tcp_addr(spec, false, &a, err, cap))
			return -1;
		fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a.ss, a.len) == 0)
			return fd;
	}
	snprintf(err, cap, "%s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* ---- Pages -------------------------------------------------------------- */

/* Names are log-safe (the authorized file restricts them) but JSON
 * still gets them escaped. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static uint64_t ago(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

typedef struct page {
	FILE *f;
	status_view *view;
	uint64_t now;
	unsigned n;
	metrics_gauges g;
} page;

static const char *peer_of(const page *p, const link_info *li)
{
	/* A client's peer is its server: the engine names only clients. */
	return li->peer[0] ? li->peer : p->view->remote_text;
}

static void link_json(void *ctx, const link_info *li)
{
	page *p = ctx;
	FILE *f = p->f;
	fprintf(f, "%s\n    {\"id\": %llu, \"worker\": %u, \"peer\": ", p->n++ ? "," : "",
	        (unsigned long long)li->id, li->worker);
	json_str(f, peer_of(p, li));
	fprintf(f, ", \"state\": \"%s\", \"epoch\": %u", linkstat_state_name(li), li->epoch);
	if (li->handshake_ms)
		fprintf(f,
		        ", \"key_age_ms\": %llu, \"last_handshake_reason\": \"%s\", "
		        "\"last_handshake_age_ms\": %llu",
		        (unsigned long long)ago(p->now, li->handshake_ms),
		        lull_rekey_reason_name(li->last_reason),
		        (unsigned long long)ago(p->now, li->handshake_ms));
	else
		fprintf(f, ", \"key_age_ms\": null, \"last_handshake_reason\": null, "
		           "\"last_handshake_age_ms\": null");
	fprintf(f, ", \"bytes_since_rekey\": %llu, \"bytes_received\": %llu, \"bytes_sent\": %llu",
	        (unsigned long long)li->bytes_since_rekey,
	        (unsigned long long)li->bytes[LINK_RECEIVED],
	        (unsigned long long)li->bytes[LINK_SENT]);
	fprintf(f, ", \"streams\": %u, \"last_heartbeat_age_ms\": ", li->streams);
	if (li->last_heartbeat_ms)
		fprintf(f, "%llu", (unsigned long long)ago(p->now, li->last_heartbeat_ms));
	else
		fputs("null", f);
	fprintf(f, ", \"age_ms\": %llu}", (unsigned long long)ago(p->now, li->opened_ms));
}

static void write_status_json(page *p)
{
	FILE *f = p->f;
	fprintf(f, "{\"role\": \"%s\", \"version\": \"%s\", \"protocol\": %d, \"listen\": ",
	        p->view->role, lull_version(), LULL_PROTOCOL_VERSION);
	json_str(f, p->view->listen_text);
	fprintf(f, ", \"%s\": ", strcmp(p->view->role, "server") == 0 ? "target" : "server");
	json_str(f, p->view->remote_text);
	fprintf(f, ", \"uptime_ms\": %llu, \"links\": [",
	        (unsigned long long)ago(p->now, p->view->started_ms));
	p->view->foreach_link(p->view->ctx, p->now, link_json, p);
	fputs(p->n ? "\n  ]}\n" : "]}\n", f);
}

/* "3s", "2m", "1h" ago: the coarsest unit that keeps the number small. */
static const char *span(uint64_t ms, char *buf, size_t cap)
{
	if (ms < 10000)
		snprintf(buf, cap, "%llums", (unsigned long long)ms);
	else if (ms < 600000)
		snprintf(buf, cap, "%llus", (unsigned long long)(ms / 1000));
	else if (ms < 36000000)
		snprintf(buf, cap, "%llum", (unsigned long long)(ms / 60000));
	else
		snprintf(buf, cap, "%lluh", (unsigned long long)(ms / 3600000));
	return buf;
}

static void link_text(void *ctx, const link_info *li)
{
	page *p = ctx;
	FILE *f = p->f;
	char a[32], b[32];
	p->n++;
	fprintf(f, "\nlink %llu (worker %u)\n", (unsigned long long)li->id, li->worker);
	fprintf(f, "  peer: %s\n", peer_of(p, li));
	fprintf(f, "  state: %s\n", linkstat_state_name(li));
	if (li->handshake_ms) {
		fprintf(f, "  epoch: %u (%s, %s ago)\n", li->epoch,
		        lull_rekey_reason_name(li->last_reason),
		        span(ago(p->now, li->handshake_ms), a, sizeof(a)));
		fprintf(f, "  key age: %s\n", span(ago(p->now, li->handshake_ms), a, sizeof(a)));
	} else {
		fprintf(f, "  epoch: 0 (handshake under way)\n");
	}
	fprintf(f, "  bytes since rekey: %s\n", format_size(li->bytes_since_rekey, a, sizeof(a)));
	fprintf(f, "  transfer: %s received, %s sent\n",
	        format_size(li->bytes[LINK_RECEIVED], a, sizeof(a)),
	        format_size(li->bytes[LINK_SENT], b, sizeof(b)));
	fprintf(f, "  streams: %u\n", li->streams);
	if (li->last_heartbeat_ms)
		fprintf(f, "  latest heartbeat: %s ago\n",
		        span(ago(p->now, li->last_heartbeat_ms), a, sizeof(a)));
	else
		fprintf(f, "  latest heartbeat: none\n");
}

static void write_status_text(page *p)
{
	FILE *f = p->f;
	char a[32];
	fprintf(f, "lull %s %s, listening on %s, %s %s, up %s\n", p->view->role, lull_version(),
	        p->view->listen_text, strcmp(p->view->role, "server") == 0 ? "target" : "server",
	        p->view->remote_text, span(ago(p->now, p->view->started_ms), a, sizeof(a)));
	p->view->foreach_link(p->view->ctx, p->now, link_text, p);
	if (p->n == 0)
		fprintf(f, "\nno links\n");
}

static void count_link(void *ctx, const link_info *li)
{
	metrics_gauges *g = ctx;
	if (li->state == LINK_CLOSED)
		return;
	g->links++;
	g->streams += li->streams;
	if (li->state == LINK_HANDSHAKING)
		g->handshakes_pending++;
}

/* ---- libmicrohttpd ------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                             size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	char *body = strdup(text);
	if (!body)
		return MHD_NO;
	return reply(c, code, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_ctx)
{
	(void)version;
	(void)upload;
	status_server *s = cls;
	static int first_call;
	/* libmicrohttpd calls twice: once with the headers, then for the body. */
	if (*req_ctx == NULL) {
		*req_ctx = &first_call;
		return MHD_YES;
	}
	if (*upload_size != 0)
		return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "no request body, please\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or HEAD only\n");
	if (strcmp(url, "/healthz") == 0)
		return atomic_load(&s->view->stopping)
		               ? reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n")
		               : reply_text(c, MHD_HTTP_OK, "ok\n");
	bool metrics = strcmp(url, "/metrics") == 0;
	if (!metrics && strcmp(url, "/status") != 0 && strcmp(url, "/") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND,
		                  "not found: try /metrics, /status, /healthz\n");

	page p = {.view = s->view, .now = mono_ms()};
	char *body = NULL;
	size_t len = 0;
	p.f = open_memstream(&body, &len);
	if (!p.f)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	const char *type;
	const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	if (metrics) {
		s->view->foreach_link(s->view->ctx, p.now, count_link, &p.g);
		metrics_write(p.f, &p.g);
		type = "text/plain; version=0.0.4; charset=utf-8";
	} else if (format && strcmp(format, "text") == 0) {
		write_status_text(&p);
		type = "text/plain; charset=utf-8";
	} else {
		write_status_json(&p);
		type = "application/json";
	}
	if (fclose(p.f) != 0 || !body) {
		free(body);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	return reply(c, MHD_HTTP_OK, type, body, len);
}

status_server *status_server_start(const char *spec, status_view *view, char *bound,
                                   size_t bound_cap, char *err, size_t cap)
{
	status_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	s->view = view;
	int fd;
	if (strncmp(spec, "unix:", 5) == 0) {
		fd = listen_unix(spec + 5, err, cap);
		if (fd >= 0) {
			snprintf(s->unix_path, sizeof(s->unix_path), "%s", spec + 5);
			snprintf(bound, bound_cap, "%s", spec);
		}
	} else {
		fd = listen_tcp(spec, bound, bound_cap, err, cap);
	}
	if (fd < 0) {
		free(s);
		return NULL;
	}
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
	                          on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)STATUS_MAX_CLIENTS,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)STATUS_TIMEOUT_S,
	                          MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, cap, "the HTTP server (libmicrohttpd) did not start");
		close(fd);
		if (s->unix_path[0])
			unlink(s->unix_path);
		free(s);
		return NULL;
	}
	return s;
}

void status_server_stop(status_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd); /* joins its thread and closes the socket */
	if (s->unix_path[0])
		unlink(s->unix_path);
	free(s);
}
