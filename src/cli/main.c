/*
 * main.c - lull's entry point: dispatch to a subcommand.
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage error; every error
 * goes to stderr as "lull: ..." naming what is wrong.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "help.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lull: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
        {"genkey", cmd_genkey}, {"pubkey", cmd_pubkey},     {"genpsk", cmd_genpsk},
        {"server", cmd_server}, {"client", cmd_client},     {"version", cmd_version},
        {"status", cmd_status}, {"--version", cmd_version}, {"-V", cmd_version},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_error("missing command (see lull --help)");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			if (!help_command(stdout, argv[2])) {
				cli_error("unknown command '%.60s' (see lull --help)", argv[2]);
				return EXIT_USAGE;
			}
			return EXIT_OK;
		}
		help_main(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	cli_error("unknown command '%.60s' (see lull --help)", argv[1]);
	return EXIT_USAGE;
}
