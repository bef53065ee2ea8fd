/*
 * tunnel.h - one carried connection: a plain TCP socket (the application
 * on the client, the target on the server) joined to a lull connection
 * over its own TCP socket.
 */
#ifndef LULL_IO_TUNNEL_H
#define LULL_IO_TUNNEL_H

#include <uv.h>

#include "worker.h"

/* Accept one connection from the listener: a lull peer (server role) or an
 * application (client role). */
void tunnel_accept(worker *w, uv_stream_t *listener);

/* Close cleanly (close frame, reason shutdown), flush, then free. */
void tunnel_shutdown(struct tunnel *t);

struct tunnel *tunnel_next(struct tunnel *t);

#endif /* LULL_IO_TUNNEL_H */
