/*
 * test_keyfile.c - base64 keys are decoded strictly, key files are one
 * line, and secret files with group/other bits are refused with the fix.
 */
#include "support/keyfile.h"
#include "cli_test.h"

static const char good[] = "IgqbjrfGv6WyMPQWfbZ3qt1VTgMs9jG/nE7uYelKNw0=";

static void test_base64(void)
{
	uint8_t k[LULL_KEY_BYTES], k2[LULL_KEY_BYTES];
	char text[44 + 1];
	for (int i = 0; i < LULL_KEY_BYTES; i++)
		k[i] = (uint8_t)(i * 37 + 5);
	key_to_base64(k, text);
	CHECK(strlen(text) == 44 && text[43] == '=');
	CHECK(key_from_base64(text, strlen(text), k2));
	CHECK_MEM(k2, k, LULL_KEY_BYTES);
	CHECK(key_from_base64(good, strlen(good), k));
	key_to_base64(k, text);
	CHECK(strcmp(text, good) == 0);

	char bad[64];
	CHECK(!key_from_base64(good, 43, k)); /* truncated */
	snprintf(bad, sizeof(bad), "%sA", good);
	CHECK(!key_from_base64(bad, strlen(bad), k)); /* too long */
	memcpy(bad, good, sizeof(good));
	bad[10] = '*';
	CHECK(!key_from_base64(bad, strlen(bad), k)); /* not in the alphabet */
	memcpy(bad, good, sizeof(good));
	bad[43] = 'A';
	CHECK(!key_from_base64(bad, strlen(bad), k)); /* no padding */
	memcpy(bad, good, sizeof(good));
	bad[42] = '1'; /* '0' -> '1' sets one of the two unused bits */
	CHECK(!key_from_base64(bad, strlen(bad), k));
	memcpy(bad, good, sizeof(good));
	bad[20] = '-'; /* URL-safe alphabet is not ours */
	CHECK(!key_from_base64(bad, strlen(bad), k));
}

static void test_files(void)
{
	uint8_t k[LULL_KEY_BYTES];
	char err[512];
	char line[64];
	snprintf(line, sizeof(line), "%s\n", good);
	const char *ok = cli_test_file("ok.key", line, 0600);
	CHECK(key_file_read(ok, true, k, err, sizeof(err)));
	const char *ro = cli_test_file("ro.key", good, 0400); /* no newline: fine */
	CHECK(key_file_read(ro, true, k, err, sizeof(err)));

	const char *open_mode = cli_test_file("open.key", line, 0644);
	CHECK(!key_file_read(open_mode, true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, open_mode);
	CHECK_CONTAINS(err, "chmod 600");
	CHECK_CONTAINS(err, "0644");
	const char *group = cli_test_file("group.key", line, 0640);
	CHECK(!key_file_read(group, true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "chmod 600");
	/* A public key may be world-readable. */
	CHECK(key_file_read(open_mode, false, k, err, sizeof(err)));

	const char *empty = cli_test_file("empty.key", "", 0600);
	CHECK(!key_file_read(empty, true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "empty");
	char two[128];
	snprintf(two, sizeof(two), "%s\n%s\n", good, good);
	const char *twolines = cli_test_file("two.key", two, 0600);
	CHECK(!key_file_read(twolines, true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "more than one line");
	const char *junk = cli_test_file("junk.key", "hello\n", 0600);
	CHECK(!key_file_read(junk, true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, junk);
	CHECK_CONTAINS(err, "not a key");
	/* Trailing whitespace is not part of the key: CRLF from another
	 * system's editor, a space or tab left by a copy and paste. */
	uint8_t want[LULL_KEY_BYTES];
	CHECK(key_from_base64(good, strlen(good), want));
	const char *tails[] = {"\r\n", " ", " \n", "\t\r\n", "  \r\n\n"};
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "%s%s", good, tails[i]);
		const char *f = cli_test_file("tail.key", text, 0600);
		memset(k, 0, sizeof(k));
		CHECK(key_file_read(f, true, k, err, sizeof(err)));
		CHECK_MEM(k, want, LULL_KEY_BYTES);
	}
	/* Whitespace before or inside the key still makes it "not a key". */
	char lead[64];
	snprintf(lead, sizeof(lead), " %s\n", good);
	CHECK(!key_file_read(cli_test_file("lead.key", lead, 0600), true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "not a key");
	char inner[64];
	snprintf(inner, sizeof(inner), "%.20s %s\n", good, good + 20);
	CHECK(!key_file_read(cli_test_file("inner.key", inner, 0600), true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "not a key");
	CHECK(!key_file_read(cli_test_file("blank.key", " \r\n", 0600), true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "empty");
	char big[512];
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *huge = cli_test_file("huge.key", big, 0600);
	CHECK(!key_file_read(huge, true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "too long");

	CHECK(!key_file_read("/nonexistent/x.key", true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "/nonexistent/x.key");
	CHECK(!key_file_read(cli_test_dir, true, k, err, sizeof(err)));
	CHECK_CONTAINS(err, "not a regular file");

	/* --server-pub: inline key or a file. */
	CHECK(key_arg_read(good, k, err, sizeof(err)));
	CHECK(key_arg_read(open_mode, k, err, sizeof(err)));
	CHECK(!key_arg_read("notakey", k, err, sizeof(err)));
	CHECK_CONTAINS(err, "neither");
}

int main(void)
{
	cli_test_mkdir();
	test_base64();
	test_files();
	return cli_test_finish();
}
