/*
 * proxy_io.h - the server's PROXY protocol hooks: --proxy-protocol (a
 * balancer's PROXY header before the lull handshake) and
 * --target-proxy-protocol (a v2 header, with the peer's name, in front of
 * each target connection).  The parsing and encoding are the library's
 * (src/proxy_proto.c); this is the glue tunnel.c calls in three places.
 * Every function takes a NULL proxy_io (neither option on) and then does
 * nothing.
 */
#ifndef LULL_IO_PROXY_IO_H
#define LULL_IO_PROXY_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net.h"
#include "../proxy_proto.h"

typedef struct proxy_io proxy_io;

/* A new link's state when either option is on (header_in: --proxy-protocol,
 * header_out: --target-proxy-protocol; else *px stays NULL).  False: out of
 * memory. */
bool proxy_io_attach(proxy_io **px, bool header_in, bool header_out);

void proxy_io_free(proxy_io *px);

/*
 * A net read: while the header is awaited, take its bytes from the front
 * of (*bytes, *len), leaving what follows it (possibly nothing).  False:
 * the header was refused (logged, with the reason); the caller closes the
 * connection and feeds nothing to the engine.
 */
bool proxy_io_take_header(proxy_io *px, uint64_t conn_id, const uint8_t **bytes, size_t *len);

/* --proxy-protocol: the balancer's header has been taken (whatever it named). */
bool proxy_io_header_done(const proxy_io *px);

/*
 * The client's address from the balancer's header, once it has been taken
 * and named one (command PROXY, IPv4 or IPv6); false before, without
 * --proxy-protocol, and for LOCAL or UNSPEC headers (the socket's peer
 * stands).  What logs - and anything keyed by source address, such as a
 * per-source handshake budget - should use instead of the socket's peer,
 * which is the balancer.
 */
bool proxy_io_client_addr(const proxy_io *px, net_addr *out);

/*
 * The header to write to the target before anything else, into out (*len
 * bytes; 0: send none): the original client (from the balancer's header
 * when there was one, else the net socket's peer), the address it
 * connected to, and peer_name.  False (logged): no header could be made,
 * and the target must not get the stream without one.
 */
bool proxy_io_target_header(const proxy_io *px, uint64_t conn_id, uv_tcp_t *net,
                            const char *peer_name, uint8_t out[PROXY_V2_ENCODED_MAX_BYTES],
                            size_t *len);

#endif /* LULL_IO_PROXY_IO_H */
