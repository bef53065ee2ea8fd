/*
 * daemon.h - run a tunnel end (server or client) until SIGTERM/SIGINT.
 */
#ifndef LULL_IO_DAEMON_H
#define LULL_IO_DAEMON_H

#include "params.h"

/* Returns the exit status: 0 after a clean shutdown, 1 on failure. */
int daemon_run(daemon_params *p);

#endif /* LULL_IO_DAEMON_H */
