/*
 * test_options.c - the option table: command line, config file, their
 * precedence, errors naming the option or file:line, validation naming
 * the bad field, and docs/lull.1 documenting every option.
 */
#include "cli/options.h"
#include "cli_test.h"

#define ARGV(...) ((char *[]){"server", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"server", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(role, o, err, ...)                                                                   \
	opts_parse(role, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, err, sizeof(err))

#define REQUIRED                                                                                   \
	"--listen", "127.0.0.1:0", "--target", "127.0.0.1:1", "--key", "k", "--authorized", "a"

static void test_defaults_and_flags(void)
{
	tunnel_opts o;
	char err[512] = "";
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED) == OPTS_OK);
	lull_config def;
	lull_config_default(&def);
	CHECK(o.cfg.heartbeat_interval_ms == def.heartbeat_interval_ms &&
	      o.cfg.heartbeat_timeout_ms == def.heartbeat_timeout_ms &&
	      o.cfg.rekey_bytes == def.rekey_bytes &&
	      o.cfg.rekey_max_age_ms == def.rekey_max_age_ms && o.cfg.reject_after_bytes == 0 &&
	      o.cfg.srk_keep == def.srk_keep && o.cfg.suite == def.suite &&
	      o.cfg.max_message_bytes == def.max_message_bytes && !o.cfg.srk_pool_disabled);
	CHECK(strcmp(o.listen, "127.0.0.1:0") == 0 && strcmp(o.target, "127.0.0.1:1") == 0);
	opts_free(&o);

	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-interval", "10s",
	            "--heartbeat-timeout=1500ms", "--heartbeat-retries", "3", "--on-missed-ack",
	            "rekey", "--on-spoof", "drop", "--on-missing-heartbeat", "stale",
	            "--rekey-bytes", "8M", "--rekey-max-age", "10m", "--reject-after-bytes", "32M",
	            "--reject-after-age", "1h", "--srk-interval", "500ms", "--srk-lifetime", "20s",
	            "--srk-keep", "3", "--max-message", "64K", "--suite", "chachapoly",
	            "--no-srk-pool", "--threads", "2", "-v", "-v", "-q") == OPTS_OK);
	CHECK(o.cfg.heartbeat_interval_ms == 10000);
	CHECK(o.cfg.heartbeat_timeout_ms == 1500);
	CHECK(o.cfg.heartbeat_retries == 3);
	CHECK(o.cfg.on_missed_ack == LULL_ON_MISSED_ACK_REKEY);
	CHECK(o.cfg.on_spoof == LULL_ON_SPOOF_DROP);
	CHECK(o.cfg.on_missing_heartbeat == LULL_ON_MISSING_HEARTBEAT_STALE);
	CHECK(o.cfg.rekey_bytes == 8u << 20);
	CHECK(o.cfg.rekey_max_age_ms == 600000);
	CHECK(o.cfg.reject_after_bytes == 32u << 20);
	CHECK(o.cfg.reject_after_age_ms == 3600000);
	CHECK(o.cfg.srk_interval_ms == 500);
	CHECK(o.cfg.srk_lifetime_ms == 20000);
	CHECK(o.cfg.srk_keep == 3);
	CHECK(o.cfg.max_message_bytes == 65536);
	CHECK(o.cfg.suite == LULL_SUITE_CHACHAPOLY_BLAKE2B);
	CHECK(o.cfg.srk_pool_disabled);
	CHECK(o.threads == 2);
	CHECK(o.verbosity == 3);
	opts_free(&o);

	CHECK(PARSE(ROLE_SERVER, &o, err, "--help") == OPTS_HELP);
	opts_free(&o);
}

static void test_errors(void)
{
	tunnel_opts o;
	char err[512];
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-interval", "5") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--heartbeat-interval: 5: missing unit");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--rekey-bytes", "-1") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--rekey-bytes");
	CHECK_CONTAINS(err, "negative");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-interval", "4294968s") ==
	      OPTS_USAGE);
	CHECK_CONTAINS(err, "too large");
	opts_free(&o);
	/* The server's forward-secrecy window has a ceiling: 60 s intervals. */
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--srk-interval", "61s") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--srk-interval");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--srk-interval", "60s") == OPTS_OK);
	CHECK(o.cfg.srk_interval_ms == LULL_SRK_INTERVAL_MAX_MS);
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--srk-replay-max", "0") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--srk-replay-max");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--suite", "des") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--suite: des: not one of the choices aesgcm|chachapoly");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--bogus", "1") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--bogus: unknown option");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--server-pub", "x") == OPTS_USAGE);
	CHECK_CONTAINS(err, "not an option of lull server");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--srk-keep") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--srk-keep: missing value");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--no-srk-pool=1") == OPTS_USAGE);
	CHECK_CONTAINS(err, "takes no value");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "stray") == OPTS_USAGE);
	CHECK_CONTAINS(err, "unexpected argument 'stray'");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, "--listen", "127.0.0.1:0") == OPTS_USAGE);
	CHECK_CONTAINS(err, "missing --key FILE");
	opts_free(&o);
	/* Range checks come from lull_config_validate, named as the option. */
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--srk-keep", "11") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--srk-keep: value out of the allowed range");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-interval", "0s") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--heartbeat-interval: value out");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--rekey-bytes", "8M", "--reject-after-bytes",
	            "4M") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--reject-after-bytes: value out");
	opts_free(&o);
}

/* The fleet flags: off unless asked, each sets its own, server only. */
static void test_fleet_flags(void)
{
	tunnel_opts o;
	char err[512];
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED) == OPTS_OK && !o.reuseport &&
	      !o.proxy_protocol && !o.target_proxy_protocol);
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--reuseport") == OPTS_OK && o.reuseport &&
	      !o.proxy_protocol && !o.target_proxy_protocol);
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--proxy-protocol") == OPTS_OK &&
	      !o.reuseport && o.proxy_protocol && !o.target_proxy_protocol);
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--target-proxy-protocol") == OPTS_OK &&
	      !o.reuseport && !o.proxy_protocol && o.target_proxy_protocol);
	opts_free(&o);
	CHECK(opts_parse(ROLE_CLIENT, 2, (char *[]){"client", "--proxy-protocol", NULL}, &o, err,
	                 sizeof(err)) == OPTS_USAGE);
	CHECK_CONTAINS(err, "--proxy-protocol: not an option of lull client");
	opts_free(&o);
	CHECK(opts_parse(ROLE_CLIENT, 3, (char *[]){"client", "--reuseport", "x", NULL}, &o, err,
	                 sizeof(err)) == OPTS_USAGE);
	CHECK_CONTAINS(err, "--reuseport: not an option of lull client");
	opts_free(&o);
}

static void test_config_file(void)
{
	tunnel_opts o;
	char err[512];
	const char *cfg = cli_test_file("lull.conf",
	                                "# demo settings\n"
	                                "heartbeat-interval = 2s   # short\n"
	                                "heartbeat-timeout = 500ms\n"
	                                "\n"
	                                "  rekey-bytes=8M\n"
	                                "suite = chachapoly\n"
	                                "no-srk-pool = true\n"
	                                "target = 127.0.0.1:9\n",
	                                0644);
	/* The command line wins over the file, wherever --config appears. */
	CHECK(PARSE(ROLE_SERVER, &o, err, "--rekey-bytes", "16M", "--config", (char *)cfg,
	            REQUIRED) == OPTS_OK);
	CHECK(o.cfg.heartbeat_interval_ms == 2000);
	CHECK(o.cfg.rekey_bytes == 16u << 20);
	CHECK(o.cfg.suite == LULL_SUITE_CHACHAPOLY_BLAKE2B);
	CHECK(o.cfg.srk_pool_disabled);
	CHECK(strcmp(o.target, "127.0.0.1:1") == 0);
	opts_free(&o);

	struct {
		const char *text;
		const char *want;
	} bad[] = {
	        {"heartbeat-interval = 2s\nrekey-bytes = 8X\n",
	         ":2: rekey-bytes: 8X: unknown unit"},
	        {"\n\nbogus = 1\n", ":3: bogus: unknown option"},
	        {"heartbeat-interval 2s\n", ":1: expected 'name = value'"},
	        {"suite =\n", ":1: suite: missing value"},
	        {"server-pub = abc\n", ":1: server-pub: not an option of lull server"},
	        {"config = other\n", ":1: config: unknown option"},
	        {"no-srk-pool = yes\n", ":1: no-srk-pool: yes: expected true or false"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = cli_test_file("bad.conf", bad[i].text, 0644);
		CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--config", (char *)path) ==
		      OPTS_USAGE);
		CHECK_CONTAINS(err, path);
		CHECK_CONTAINS(err, bad[i].want);
		opts_free(&o);
	}
	/* An unreadable file is a runtime failure (exit 1) naming --config. */
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--config", "/nonexistent.conf") ==
	      OPTS_RUNTIME);
	CHECK_CONTAINS(err, "--config /nonexistent.conf: ");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--config", "/") == OPTS_RUNTIME);
	CHECK_CONTAINS(err, "--config /: not a regular file");
	opts_free(&o);
}

/* Every option in the table is documented in the man page. */
static void test_man_page(const char *srcdir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/docs/lull.1", srcdir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	static char text[1 << 17];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	for (size_t i = 0; opts_name_at(i); i++) {
		char want[96];
		/* man(7) escapes '-' as '\-'. */
		snprintf(want, sizeof(want), "\\-\\-");
		size_t w = strlen(want);
		for (const char *p = opts_name_at(i); *p && w + 3 < sizeof(want); p++) {
			if (*p == '-')
				want[w++] = '\\';
			want[w++] = *p;
		}
		want[w] = '\0';
		CHECK_CONTAINS(text, want);
	}
}

int main(int argc, char **argv)
{
	cli_test_mkdir();
	test_defaults_and_flags();
	test_errors();
	test_fleet_flags();
	test_config_file();
	if (argc > 1)
		test_man_page(argv[1]);
	return cli_test_finish();
}
