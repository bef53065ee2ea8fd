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
	CHECK_CONTAINS(err, "--srk-interval: 61s: value too large (at most 1m)");
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
	/* Range checks come from lull_config_validate, named as the option
	 * with its value and the values that would do. */
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--srk-keep", "11") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--srk-keep 11: out of range: must be 1 to 10");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-interval", "0s") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--heartbeat-interval 0ms: out of range: must be at least 1ms");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--rekey-bytes", "8M", "--reject-after-bytes",
	            "4M") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--reject-after-bytes 4M: out of range: must be 0 (2 x --rekey-bytes) "
	                    "or at least --rekey-bytes 8M");
	opts_free(&o);
}

/* A limit that ties options together blames the one the user set, never a
 * default the user did not type, and says what would be accepted. */
static void test_range_blames_what_was_set(void)
{
	tunnel_opts o;
	char err[512];
	/* 5s is shorter than the default 10s timeout: the interval is wrong. */
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-interval", "5s") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--heartbeat-interval 5s: out of range: must be more than 10s");
	CHECK(strstr(err, "--heartbeat-timeout 10s") != NULL);
	CHECK(strncmp(err, "--heartbeat-timeout", 19) != 0);
	opts_free(&o);
	/* The timeout alone against the default 60s interval. */
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-timeout", "70s") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--heartbeat-timeout 70s: out of range: must be at most 59999ms");
	opts_free(&o);
	/* Both typed: the timeout is the one to change. */
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-interval", "5s",
	            "--heartbeat-timeout", "2s", "--heartbeat-retries", "2") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--heartbeat-timeout 2s: out of range: must be at most 1666ms");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--heartbeat-retries", "6") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--heartbeat-retries 6: out of range: must be at most 4");
	opts_free(&o);
	/* --rekey-bytes 1 makes reject-after-bytes 2 < max-message: the
	 * user typed --rekey-bytes, so that is the error. */
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--rekey-bytes", "1") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--rekey-bytes 1: out of range: must be at least 8M");
	CHECK(strncmp(err, "--max-message", 13) != 0);
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--reject-after-bytes", "1M", "--rekey-bytes",
	            "1K") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--reject-after-bytes 1M: out of range: must be at least 16M");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--max-message", "1G", "--rekey-bytes",
	            "256M") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--max-message 1G: out of range: must be at most 512M");
	opts_free(&o);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--rekey-max-age", "2h", "--reject-after-age",
	            "1h") == OPTS_USAGE);
	CHECK_CONTAINS(err, "--reject-after-age 1h: out of range");
	CHECK_CONTAINS(err, "at least --rekey-max-age 2h");
	opts_free(&o);
	/* The same from a config file. */
	const char *cfg = cli_test_file("hb.conf", "heartbeat-interval = 5s\n", 0644);
	CHECK(PARSE(ROLE_SERVER, &o, err, REQUIRED, "--config", (char *)cfg) == OPTS_USAGE);
	CHECK_CONTAINS(err, "--heartbeat-interval 5s: out of range");
	opts_free(&o);
}

/* File names in a config file are relative to that file's directory, so a
 * service started in / finds its keys; on the command line they stay
 * relative to the working directory.  Inline keys are left alone. */
static void test_config_relative_paths(void)
{
	tunnel_opts o;
	char err[512];
	char dir[256], sub[300];
	snprintf(dir, sizeof(dir), "%s", cli_test_dir);
	snprintf(sub, sizeof(sub), "%s/etc", dir);
	CHECK(mkdir(sub, 0700) == 0);
	char path[400], want[400];
	snprintf(path, sizeof(path), "%s/server.conf", sub);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("listen = 127.0.0.1:0\ntarget = 127.0.0.1:1\nkey = server.key\n"
	      "authorized = ../clients\n",
	      f);
	fclose(f);
	CHECK(opts_parse(ROLE_SERVER, 3, (char *[]){"server", "--config", path, NULL}, &o, err,
	                 sizeof(err)) == OPTS_OK);
	snprintf(want, sizeof(want), "%s/server.key", sub);
	CHECK(o.key_file && strcmp(o.key_file, want) == 0);
	snprintf(want, sizeof(want), "%s/../clients", sub);
	CHECK(o.authorized && strcmp(o.authorized, want) == 0);
	opts_free(&o);
	/* The command line overrides with its own, cwd-relative, name. */
	CHECK(opts_parse(ROLE_SERVER, 5,
	                 (char *[]){"server", "--config", path, "--key", "mine.key", NULL}, &o, err,
	                 sizeof(err)) == OPTS_OK);
	CHECK(o.key_file && strcmp(o.key_file, "mine.key") == 0);
	opts_free(&o);

	snprintf(path, sizeof(path), "%s/client.conf", sub);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f,
	        "listen = 127.0.0.1:0\nserver = 127.0.0.1:1\nkey = /abs/c.key\n"
	        "psk = c.psk\nserver-pub = %s\n",
	        "IgqbjrfGv6WyMPQWfbZ3qt1VTgMs9jG/nE7uYelKNw0=");
	fclose(f);
	CHECK(opts_parse(ROLE_CLIENT, 3, (char *[]){"client", "--config", path, NULL}, &o, err,
	                 sizeof(err)) == OPTS_OK);
	CHECK(o.key_file && strcmp(o.key_file, "/abs/c.key") == 0);
	snprintf(want, sizeof(want), "%s/c.psk", sub);
	CHECK(o.psk_file && strcmp(o.psk_file, want) == 0);
	CHECK(o.server_pub &&
	      strcmp(o.server_pub, "IgqbjrfGv6WyMPQWfbZ3qt1VTgMs9jG/nE7uYelKNw0=") == 0);
	opts_free(&o);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("listen = 127.0.0.1:0\nserver = 127.0.0.1:1\nkey = c.key\nserver-pub = s.pub\n", f);
	fclose(f);
	CHECK(opts_parse(ROLE_CLIENT, 3, (char *[]){"client", "--config", path, NULL}, &o, err,
	                 sizeof(err)) == OPTS_OK);
	snprintf(want, sizeof(want), "%s/s.pub", sub);
	CHECK(o.server_pub && strcmp(o.server_pub, want) == 0);
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

/* Every option in the table is documented in the man page: lull.1 as
 * --name, lull.conf.5 as the bare name (all but config itself). */
static void test_man_page(const char *srcdir, const char *page, bool dashes)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/docs/%s", srcdir, page);
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
		if (!dashes && strcmp(opts_name_at(i), "config") == 0)
			continue;
		/* man(7) escapes '-' as '\-'. */
		snprintf(want, sizeof(want), "%s", dashes ? "\\-\\-" : "");
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
	test_range_blames_what_was_set();
	test_config_relative_paths();
	if (argc > 1)
		test_man_page(argv[1], "lull.1", true);
	if (argc > 1)
		test_man_page(argv[1], "lull.conf.5", false);
	return cli_test_finish();
}
