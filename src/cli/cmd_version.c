/*
 * cmd_version.c - "lull version", "lull --version", "lull -V": what a bug
 * report needs in one go.
 *
 * Every line reports what runs, not what was compiled in: the library's
 * lull_version(), OpenSSL_version() and uv_version_string() are asked at
 * run time, so a mismatched shared library shows up here.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <uv.h>

#include "commands.h"
#include "lull.h"

int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		cli_error("version: takes no arguments");
		return EXIT_USAGE;
	}
	printf("lull %s\n", LULL_VERSION_STRING);
	printf("liblull %s\n", lull_version());
	printf("protocol %d (Noise_XXpsk3_25519_AESGCM_SHA256, "
	       "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b)\n",
	       LULL_PROTOCOL_VERSION);
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("libuv %s\n", uv_version_string());
	return EXIT_OK;
}
