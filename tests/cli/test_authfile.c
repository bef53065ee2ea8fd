/*
 * test_authfile.c - the authorized-clients file: comments, blank lines,
 * PSK files relative to the file, and every error with file:line.
 */
#include "support/authfile.h"
#include "support/keyfile.h"
#include "cli_test.h"

static const char k1[] = "IgqbjrfGv6WyMPQWfbZ3qt1VTgMs9jG/nE7uYelKNw0=";
static const char k2[] = "/PPG45akFmN2x45sxAVP4COe26lfffLPapo1xldiTkI=";
static const char psk[] = "RwtVTXoKL2ElFsnHVTCzo9cgUKpzdNqvC76SAxJ4CDA=";

/* Load text as an authorized file; expect failure with want in err. */
static void expect_error(const char *text, const char *want_line, const char *want)
{
	auth_list l;
	char err[512];
	const char *path = cli_test_file("bad-authorized", text, 0644);
	CHECK(!auth_list_load(path, &l, err, sizeof(err)));
	CHECK(l.n == 0 && l.entries == NULL);
	char where[300];
	snprintf(where, sizeof(where), "%s:%s: ", path, want_line);
	CHECK_CONTAINS(err, where);
	CHECK_CONTAINS(err, want);
}

static void test_good(void)
{
	char text[1024];
	cli_test_file("alice.psk", psk, 0600);
	snprintf(text, sizeof(text),
	         "# clients\n"
	         "\n"
	         "   %s alice alice.psk   # with a PSK, relative to this file\n"
	         "\t%s\tbob.example@host-2\n"
	         "   \n",
	         k1, k2);
	const char *path = cli_test_file("authorized", text, 0644);
	auth_list l;
	char err[512] = "";
	CHECK(auth_list_load(path, &l, err, sizeof(err)));
	CHECK(l.n == 2);
	if (l.n == 2) {
		uint8_t want[LULL_KEY_BYTES];
		key_from_base64(k1, strlen(k1), want);
		CHECK_MEM(l.entries[0].pub, want, LULL_KEY_BYTES);
		CHECK(strcmp(l.entries[0].name, "alice") == 0);
		CHECK(l.entries[0].has_psk);
		key_from_base64(psk, strlen(psk), want);
		CHECK_MEM(l.entries[0].psk, want, LULL_KEY_BYTES);
		CHECK(strcmp(l.entries[1].name, "bob.example@host-2") == 0);
		CHECK(!l.entries[1].has_psk);
	}
	auth_list copy;
	CHECK(auth_list_copy(&copy, &l));
	CHECK(copy.n == l.n && copy.entries != l.entries);
	auth_list_free(&copy);
	auth_list_free(&l);
	CHECK(l.n == 0 && l.entries == NULL);

	/* Empty (only comments) is valid: no client is authorized. */
	path = cli_test_file("authorized-empty", "# nobody yet\n", 0644);
	CHECK(auth_list_load(path, &l, err, sizeof(err)) && l.n == 0);
}

static void test_errors(void)
{
	char text[1024];
	snprintf(text, sizeof(text), "# ok\n%s\n", k1);
	expect_error(text, "2", "expected PUBKEY NAME");
	snprintf(text, sizeof(text), "\n\nnot-a-key alice\n");
	expect_error(text, "3", "not a base64 public key");
	snprintf(text, sizeof(text), "%s alice\n%s alice\n", k1, k2);
	expect_error(text, "2", "name 'alice' already used on line 1");
	snprintf(text, sizeof(text), "%s alice\n#\n%s bob\n", k1, k1);
	expect_error(text, "3", "key already authorized on line 1");
	snprintf(text, sizeof(text), "%s alice psk extra\n", k1);
	expect_error(text, "1", "unexpected text");
	snprintf(text, sizeof(text), "%s al=ice\n", k1);
	expect_error(text, "1", "bad client name");
	snprintf(text, sizeof(text), "%s %s\n", k1,
	         "a123456789012345678901234567890123456789012345678901234567890123");
	expect_error(text, "1", "bad client name");
	snprintf(text, sizeof(text), "%s alice missing.psk\n", k1);
	expect_error(text, "1", "missing.psk");
	cli_test_file("open.psk", psk, 0644);
	snprintf(text, sizeof(text), "%s alice open.psk\n", k1);
	expect_error(text, "1", "chmod 600");
	cli_test_file("junk.psk", "junk\n", 0600);
	snprintf(text, sizeof(text), "%s alice junk.psk\n", k1);
	expect_error(text, "1", "not a key");
	char longline[5000];
	memset(longline, 'x', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	expect_error(longline, "1", "longer than");

	auth_list l;
	char err[512];
	CHECK(!auth_list_load("/nonexistent/authorized", &l, err, sizeof(err)));
	CHECK_CONTAINS(err, "/nonexistent/authorized");
}

int main(void)
{
	cli_test_mkdir();
	test_good();
	test_errors();
	return cli_test_finish();
}
