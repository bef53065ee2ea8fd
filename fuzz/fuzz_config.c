/*
 * fuzz_config.c - the --config file (opts_load_file) and, on the first line
 * of the input, the value parsers it uses (durations, sizes, counts,
 * HOST:PORT).
 *
 * Checks: no crash or leak whatever the file; a file accepted by opts_parse
 * (as --config) leaves a configuration lull_config_validate accepts (the parser must never hand the
 * engine a value out of range); errors are terminated strings; parsed
 * values respect the maximum asked for.
 */
#include "cli/options.h"
#include "support/parse.h"
#include "fuzz_cli_file.h"

static void parse_values(const uint8_t *data, size_t size)
{
	char s[128];
	size_t n = 0;
	while (n < size && n < sizeof(s) - 1 && data[n] != '\n')
		n++;
	memcpy(s, data, n);
	s[n] = '\0';
	uint64_t max = size > n + 1 ? (uint64_t)data[n + 1] * 1000003u : UINT64_MAX;
	uint64_t v = 0;
	if (parse_duration_ms(s, max, &v) == NULL)
		FUZZ_CHECK(v <= max);
	if (parse_size(s, max, &v) == NULL)
		FUZZ_CHECK(v <= max);
	if (parse_count(s, max, &v) == NULL)
		FUZZ_CHECK(v <= max);
	char host[64];
	uint16_t port = 0;
	if (parse_host_port(s, host, sizeof(host), &port, n & 1) == NULL) {
		FUZZ_CHECK(memchr(host, '\0', sizeof(host)) != NULL);
		FUZZ_CHECK(port != 0 || (n & 1));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_random_reset(4);
	parse_values(data, size);
	if (!fuzz_input_ok(data, size))
		return 0;
	const char *path = fuzz_write_file(data, size);
	for (int role = ROLE_SERVER; role <= ROLE_CLIENT; role++) {
		/* The file alone: it may hold values that only make sense
		 * together with the command line, so no range claim here. */
		tunnel_opts o;
		memset(&o, 0, sizeof(o));
		o.role = (enum tunnel_role)role;
		lull_config_default(&o.cfg);
		char err[512];
		memset(err, 'x', sizeof(err));
		enum opts_result r = opts_load_file(path, &o, err, sizeof(err));
		FUZZ_CHECK(r == OPTS_OK || r == OPTS_USAGE || r == OPTS_HELP);
		if (r != OPTS_OK)
			fuzz_check_err(err, sizeof(err));
		opts_free(&o);

		/* As "lull server|client --config FILE": what it accepts, the
		 * engine must accept. */
		char a0[] = "lull", a1[] = "--config";
		char a2[sizeof(fuzz_path)];
		snprintf(a2, sizeof(a2), "%s", path);
		char *argv[] = {a0, a1, a2, NULL};
		memset(&o, 0, sizeof(o));
		memset(err, 'x', sizeof(err));
		r = opts_parse((enum tunnel_role)role, 3, argv, &o, err, sizeof(err));
		FUZZ_CHECK(r == OPTS_OK || r == OPTS_USAGE || r == OPTS_HELP);
		if (r == OPTS_OK)
			FUZZ_CHECK(lull_config_validate(&o.cfg, NULL) == LULL_OK);
		else if (r == OPTS_USAGE)
			fuzz_check_err(err, sizeof(err));
		opts_free(&o);
	}
	return 0;
}
