/*
 * cmd_keys.c - genkey, pubkey, genpsk: keys in and out as base64 text.
 *
 * Invariants: key material lives only in local buffers that are wiped
 * before return, whatever the path out; nothing secret goes to stderr.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "../io/limits.h"
#include "commands.h"
#include "help.h"
#include "../support/keyfile.h"

static int no_args(int argc, char **argv, const char *cmd)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		help_command(stdout, cmd);
		return -1;
	}
	if (argc > 1) {
		cli_error("%s: unexpected argument '%.60s' (see lull %s --help)", cmd, argv[1],
		          cmd);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* A secret written to a file others can read is worth a warning. */
static void warn_if_exposed(const char *what)
{
	struct stat st;
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & (S_IRWXG | S_IRWXO)))
		cli_error("warning: the %s is being written to a file that group or others can "
		          "read (mode %04o); run chmod 600 on it, or umask 077 before lull %s",
		          what, (unsigned)(st.st_mode & 07777),
		          strcmp(what, "private key") == 0 ? "genkey" : "genpsk");
}

static int print_key(const uint8_t key[LULL_KEY_BYTES])
{
	char text[KEY_BASE64_CHARS + 2];
	key_to_base64(key, text);
	text[KEY_BASE64_CHARS] = '\n';
	text[KEY_BASE64_CHARS + 1] = '\0';
	int rc = fputs(text, stdout) == EOF || fflush(stdout) != 0 ? EXIT_RUNTIME : EXIT_OK;
	lull_wipe(text, sizeof(text));
	if (rc != EXIT_OK)
		cli_error("cannot write the key to stdout");
	return rc;
}

int cmd_genkey(int argc, char **argv)
{
	int rc = no_args(argc, argv, "genkey");
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	lull_keypair kp;
	lull_err err = lull_keypair_generate(&kp);
	if (err != LULL_OK) {
		cli_error("genkey: %s", lull_strerror(err));
		return EXIT_RUNTIME;
	}
	warn_if_exposed("private key");
	rc = print_key(kp.priv);
	lull_wipe(&kp, sizeof(kp));
	return rc;
}

int cmd_genpsk(int argc, char **argv)
{
	int rc = no_args(argc, argv, "genpsk");
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	uint8_t psk[LULL_KEY_BYTES];
	if (RAND_bytes(psk, sizeof(psk)) != 1) {
		cli_error("genpsk: %s", lull_strerror(LULL_ERR_RANDOM));
		return EXIT_RUNTIME;
	}
	warn_if_exposed("pre-shared key");
	rc = print_key(psk);
	lull_wipe(psk, sizeof(psk));
	return rc;
}

int cmd_pubkey(int argc, char **argv)
{
	int rc = no_args(argc, argv, "pubkey");
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	char err[CLI_ERR_BYTES];
	uint8_t priv[LULL_KEY_BYTES];
	if (!key_stream_read(STDIN_FILENO, "stdin", priv, err, sizeof(err))) {
		cli_error("pubkey: %s", err);
		return EXIT_RUNTIME;
	}
	lull_keypair kp;
	lull_err e = lull_keypair_from_private(&kp, priv);
	lull_wipe(priv, sizeof(priv));
	if (e != LULL_OK) {
		lull_wipe(&kp, sizeof(kp));
		cli_error("pubkey: %s", lull_strerror(e));
		return EXIT_RUNTIME;
	}
	rc = print_key(kp.pub);
	lull_wipe(&kp, sizeof(kp));
	return rc;
}
