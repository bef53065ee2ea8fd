/*
 * proxy_io.c - the server's PROXY protocol hooks (see proxy_io.h).
 *
 * Invariants:
 *  - With --proxy-protocol no byte reaches the lull engine before a whole,
 *    valid header has been taken off the front of the connection, and no
 *    byte after the header is lost: the parser takes exactly the header.
 *    A refused header ends the connection; a header that never completes
 *    is bounded by the engine's handshake timeout, which runs from accept.
 *  - The parser (about 1 KiB) lives only until the header is done; what
 *    stays per tunnel is the two addresses the header gave.
 *  - A LOCAL or UNSPEC header (a balancer's own health check) means "use
 *    the socket's addresses", as the specification says.
 *  - The header sent to the target is queued before any byte of the
 *    stream can be, and only once the client has authenticated (the
 *    target is connected only then), so its peer name is the proven one.
 */
#include "proxy_io.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../support/log.h"
#include "limits.h"
#include "net.h"

struct proxy_io {
	proxy_parser *parser; /* while the balancer's header is awaited */
	bool send_target;     /* --target-proxy-protocol */
	bool header_in;       /* --proxy-protocol: the balancer's header was taken */
	bool proxied;         /* the header gave the client's addresses: */
	proxy_addrs addrs;
};

bool proxy_io_attach(proxy_io **px, bool header_in, bool header_out)
{
	*px = NULL;
	if (!header_in && !header_out)
		return true;
	proxy_io *p = calloc(1, sizeof(*p));
	if (!p)
		return false;
	p->send_target = header_out;
	if (header_in) {
		p->parser = malloc(sizeof(*p->parser));
		if (!p->parser) {
			free(p);
			return false;
		}
		proxy_parser_init(p->parser);
	}
	*px = p;
	return true;
}

void proxy_io_free(proxy_io *px)
{
	if (!px)
		return;
	free(px->parser);
	free(px);
}

/* One end of a header (INET or INET6) as a socket address. */
static void to_net_addr(proxy_family fam, const uint8_t *addr, uint16_t port, net_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (fam == PROXY_FAM_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&a->ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr, 4);
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&a->ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr, 16);
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
	}
}

bool proxy_io_client_addr(const proxy_io *px, net_addr *out)
{
	if (!px || !px->proxied)
		return false;
	to_net_addr(px->addrs.family, px->addrs.src_addr, px->addrs.src_port, out);
	return true;
}

static void header_done(proxy_io *px, uint64_t conn_id)
{
	const proxy_header *h = proxy_parser_header(px->parser);
	const proxy_addrs *a = &h->addrs;
	px->proxied = h->command == PROXY_CMD_PROXY &&
	              (a->family == PROXY_FAM_INET || a->family == PROXY_FAM_INET6);
	if (px->proxied) {
		px->addrs = *a;
		char from[ADDR_TEXT_MAX_BYTES], to[ADDR_TEXT_MAX_BYTES];
		net_addr na;
		proxy_io_client_addr(px, &na);
		net_addr_text(&na, from, sizeof(from));
		to_net_addr(a->family, a->dst_addr, a->dst_port, &na);
		net_addr_text(&na, to, sizeof(to));
		log_msg(LOG_LVL_INFO, "conn=%llu event=proxy_header version=%u from=%s to=%s",
		        (unsigned long long)conn_id, h->version, from, to);
	} else {
		/* A health check, or a family lull cannot name: the socket's
		 * own addresses stand. */
		log_msg(LOG_LVL_INFO, "conn=%llu event=proxy_header version=%u command=%s",
		        (unsigned long long)conn_id, h->version,
		        h->command == PROXY_CMD_LOCAL ? "local" : "unspec");
	}
	free(px->parser);
	px->parser = NULL;
	px->header_in = true;
}

bool proxy_io_header_done(const proxy_io *px)
{
	return px && px->header_in;
}

bool proxy_io_take_header(proxy_io *px, uint64_t conn_id, const uint8_t **bytes, size_t *len)
{
	if (!px || !px->parser)
		return true;
	size_t taken = 0;
	proxy_err r = proxy_parser_feed(px->parser, *bytes, *len, &taken);
	if (r == PROXY_NEED_MORE || r == PROXY_OK) {
		*bytes += taken;
		*len -= taken;
		if (r == PROXY_OK)
			header_done(px, conn_id);
		return true;
	}
	log_msg(LOG_LVL_WARN, "conn=%llu event=proxy_header_refused err=%s msg=\"%s\"",
	        (unsigned long long)conn_id, proxy_err_name(r), proxy_strerror(r));
	free(px->parser);
	px->parser = NULL;
	*len = 0;
	return false;
}

/* A socket address as the encoder's; false for anything but IPv4/IPv6. */
static bool from_sockaddr(const struct sockaddr_storage *ss, uint8_t *addr, uint16_t *port,
                          proxy_family *fam)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)ss;
		memcpy(addr, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
		*fam = PROXY_FAM_INET;
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;
		memcpy(addr, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		*fam = PROXY_FAM_INET6;
		return true;
	}
	return false;
}

bool proxy_io_target_header(const proxy_io *px, uint64_t conn_id, uv_tcp_t *net,
                            const char *peer_name, uint8_t out[PROXY_V2_ENCODED_MAX_BYTES],
                            size_t *len)
{
	*len = 0;
	if (!px || !px->send_target)
		return true;
	proxy_addrs a;
	if (px->proxied) {
		a = px->addrs;
	} else {
		memset(&a, 0, sizeof(a));
		struct sockaddr_storage peer, local;
		int plen = sizeof(peer), llen = sizeof(local);
		proxy_family f2;
		if (uv_tcp_getpeername(net, (struct sockaddr *)&peer, &plen) != 0 ||
		    uv_tcp_getsockname(net, (struct sockaddr *)&local, &llen) != 0 ||
		    !from_sockaddr(&peer, a.src_addr, &a.src_port, &a.family) ||
		    !from_sockaddr(&local, a.dst_addr, &a.dst_port, &f2) || f2 != a.family)
			a.family = PROXY_FAM_UNSPEC; /* LOCAL: no address to give */
	}
	const char *name = a.family == PROXY_FAM_UNSPEC ? NULL : peer_name;
	proxy_err r = proxy_v2_encode(&a, name, out, PROXY_V2_ENCODED_MAX_BYTES, len);
	if (r != PROXY_OK) {
		/* Only a name the authorized file could not hold gets here. */
		log_msg(LOG_LVL_ERROR,
		        "conn=%llu event=target_proxy_header_failed err=%s msg=\"%s\"",
		        (unsigned long long)conn_id, proxy_err_name(r), proxy_strerror(r));
		return false;
	}
	return true;
}
