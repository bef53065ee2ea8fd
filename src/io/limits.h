/*
 * limits.h - every constant of the daemon and CLI, with its unit, in one
 * place.  The engine's own limits live in include/lull.h.
 *
 * The buffer caps together bound what one tunnel may hold, whatever the
 * peers do: one read buffer per worker, at most NET_WRITE_QUEUE_BYTES (plus
 * one chunk of engine output) queued towards the lull peer, at most
 * PLAIN_WRITE_QUEUE_BYTES plus the messages of one transport read queued
 * towards the application, one stashed plain read, and what the engine
 * itself bounds (LULL_SEND_BUFFER_BYTES, one message in reassembly).
 */
#ifndef LULL_IO_LIMITS_H
#define LULL_IO_LIMITS_H

/* One plain read becomes one message; matching the engine's record payload
 * (16 KiB) lets every message travel as one record, never reassembled. */
#define PLAIN_READ_BYTES (16u << 10)
/* One transport read, shared per worker (reads are consumed synchronously). */
#define NET_READ_BYTES (64u << 10)

/* Stop reading the plain socket while more than this is queued to the lull
 * socket (engine output included); resume below half of it. */
#define NET_WRITE_QUEUE_BYTES (512u << 10)
/* Stop reading the lull socket while more than this is queued to the plain
 * socket; resume below half of it. */
#define PLAIN_WRITE_QUEUE_BYTES (512u << 10)

/* A TCP connect (to the lull server or to the target) that has not
 * completed by then is abandoned. */
#define CONNECT_TIMEOUT_MS 10000u
/* Once a tunnel is closing, its sockets get this long to flush and see the
 * peer's FIN before they are closed regardless. */
#define CLOSE_LINGER_MS 3000u

/* Tunnels one worker carries at once; further connections are refused. */
#define WORKER_MAX_TUNNELS 16384u
#define WORKER_MAX_THREADS 256u
#define LISTEN_BACKLOG     1024

/* Text limits. */
#define CLI_ERR_BYTES       512u  /* one error message, without the "lull: " prefix */
#define CLI_LINE_MAX_BYTES  4096u /* one line of a config or authorized file */
#define KEY_FILE_MAX_BYTES  128u  /* a key file is one base64 line (44 chars + newline) */
#define KEY_BASE64_CHARS    44u   /* base64 of LULL_KEY_BYTES with padding */
#define LOG_LINE_MAX_BYTES  1024u /* one log line, truncated beyond */
#define ADDR_TEXT_MAX_BYTES 64u   /* "[v6addr]:port" as text */

#endif /* LULL_IO_LIMITS_H */
