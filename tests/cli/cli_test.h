/*
 * cli_test.h - helpers for the CLI parser tests: a private temporary
 * directory and files written into it with a chosen mode.
 */
#ifndef LULL_CLI_TEST_H
#define LULL_CLI_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char cli_test_dir[64];

static inline void cli_test_mkdir(void)
{
	snprintf(cli_test_dir, sizeof(cli_test_dir), "/tmp/lull-cli-test-XXXXXX");
	if (!mkdtemp(cli_test_dir)) {
		perror("mkdtemp");
		exit(1);
	}
}

/* Write text to DIR/name with mode; returns the path (static buffer ring). */
static inline const char *cli_test_file(const char *name, const char *text, mode_t mode)
{
	static char paths[8][256];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, 256, "%s/%s", cli_test_dir, name);
	FILE *f = fopen(p, "w");
	if (!f) {
		perror(p);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

static inline void cli_test_cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cli_test_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", cli_test_dir);
}

/* Check that err contains want, printing both otherwise. */
#define CHECK_CONTAINS(err, want)                                                                  \
	do {                                                                                       \
		if (strstr((err), (want))) {                                                       \
			test_passed_count++;                                                       \
		} else {                                                                           \
			test_failed_count++;                                                       \
			fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, \
			        (err), (want));                                                    \
		}                                                                                  \
	} while (0)

static inline int cli_test_finish(void)
{
	cli_test_cleanup();
	return test_summary();
}

#endif /* LULL_CLI_TEST_H */
