/*
 * help.h - the text of "lull --help" and "lull CMD --help".  docs/lull.1
 * carries the same content in man(7) form.
 */
#ifndef LULL_CLI_HELP_H
#define LULL_CLI_HELP_H

#include <stdio.h>

void help_main(FILE *f);
/* cmd: "genkey", "pubkey", "genpsk", "server", "client"; 0 if unknown. */
int help_command(FILE *f, const char *cmd);

#endif /* LULL_CLI_HELP_H */
