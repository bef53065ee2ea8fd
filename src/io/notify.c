/*
 * notify.c - the service manager protocol through libsystemd's
 * sd_notify(3), not a hand-made one.
 *
 * Invariants:
 *  - Called from the main thread only (its loop owns the watchdog timer).
 *  - The environment is left in place (unset_environment = 0): a process
 *    that reloads must be able to notify again.
 *  - The watchdog pings from the main loop at half of WATCHDOG_USEC, so a
 *    main loop that stops running (a blocked call, a stopped process) is
 *    noticed and the service restarted; a failed ping is only logged.
 */
#include "notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "../support/log.h"

static void send_state(const char *state)
{
	int r = sd_notify(0, state);
	if (r < 0)
		log_msg(LOG_LVL_WARN, "event=notify_failed errno=%d", -r);
}

void notify_ready(const char *status)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	send_state(msg);
}

void notify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[96];
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ull +
	                 (unsigned long long)ts.tv_nsec / 1000);
	send_state(msg);
}

void notify_stopping(void)
{
	send_state("STOPPING=1");
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	send_state("WATCHDOG=1");
}

int notify_watchdog_start(uv_loop_t *loop, uv_timer_t *timer)
{
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	int r = uv_timer_init(loop, timer);
	if (r != 0)
		return r;
	uint64_t every_ms = usec / 2000;
	if (every_ms == 0)
		every_ms = 1;
	log_msg(LOG_LVL_INFO, "event=watchdog_enabled interval_ms=%llu",
	        (unsigned long long)every_ms);
	on_watchdog(timer);
	return uv_timer_start(timer, on_watchdog, every_ms, every_ms);
}
