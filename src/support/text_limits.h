/*
 * text_limits.h - the text limits of the support layer (log lines, key
 * files, the authorized file, error messages), with their units.  The
 * daemon's other constants live in src/io/limits.h, which includes this.
 */
#ifndef LULL_SUPPORT_TEXT_LIMITS_H
#define LULL_SUPPORT_TEXT_LIMITS_H

/* Text limits. */
#define CLI_ERR_BYTES       512u  /* one error message, without the "lull: " prefix */
#define CLI_LINE_MAX_BYTES  4096u /* one line of a config or authorized file */
#define KEY_FILE_MAX_BYTES  128u  /* a key file is one base64 line (44 chars + newline) */
#define KEY_BASE64_CHARS    44u   /* base64 of LULL_KEY_BYTES with padding */
#define LOG_LINE_MAX_BYTES  1024u /* one log line, truncated beyond */
#define ADDR_TEXT_MAX_BYTES 64u   /* "[v6addr]:port" as text */

#endif /* LULL_SUPPORT_TEXT_LIMITS_H */
