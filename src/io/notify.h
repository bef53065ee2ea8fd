/*
 * notify.h - tell the service manager what the daemon is doing
 * (sd_notify(3)): ready, reloading, stopping, and watchdog keep-alives.
 * Without NOTIFY_SOCKET in the environment every call is a no-op.
 */
#ifndef LULL_IO_NOTIFY_H
#define LULL_IO_NOTIFY_H

#include <uv.h>

/* Every socket listens: READY=1 with a STATUS line. */
void notify_ready(const char *status);
/* A SIGHUP reload begins: RELOADING=1 (with MONOTONIC_USEC, as
 * Type=notify-reload requires); notify_ready ends it. */
void notify_reloading(void);
/* Shutdown begins: STOPPING=1. */
void notify_stopping(void);

/* If the manager asked for a watchdog (WatchdogSec=, WATCHDOG_USEC), ping
 * it from loop at half the interval.  0, or a libuv error. */
int notify_watchdog_start(uv_loop_t *loop, uv_timer_t *timer);

#endif /* LULL_IO_NOTIFY_H */
