/*
 * commands.h - the subcommands of lull.  Each returns the process exit
 * status: 0 ok, 1 runtime failure, 2 usage error (see EXIT_* below).
 */
#ifndef LULL_CLI_COMMANDS_H
#define LULL_CLI_COMMANDS_H

#define EXIT_OK      0
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

int cmd_genkey(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_genpsk(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* "lull: " + message on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* LULL_CLI_COMMANDS_H */
