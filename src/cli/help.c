/*
 * help.c - usage text.  The OPTIONS of server and client come from the
 * option table (options.c) so that they cannot drift from what is parsed.
 */
#include "help.h"

#include <string.h>

#include "options.h"

static const char exit_status[] = "EXIT STATUS\n"
                                  "  0  success (for server/client: clean shutdown on SIGTERM "
                                  "or SIGINT)\n"
                                  "  1  runtime failure (unreadable or unsafe key file, bad "
                                  "authorized file, unreadable config file, cannot listen)\n"
                                  "  2  usage error (unknown option, bad value, missing "
                                  "argument)\n";

static const char units[] =
        "VALUES\n"
        "  DURATION  a whole number and a unit: ms, s, m or h (250ms, 60s, 5m, 1h).\n"
        "  SIZE      a whole number of bytes, optionally with K, M or G (powers of\n"
        "            1024): 65536, 8M, 1G.\n"
        "  Negative numbers, fractions, missing units and values that overflow are\n"
        "  refused with an error naming the option.\n";

void help_main(FILE *f)
{
	fputs("NAME\n"
	      "  lull - encrypted, mutually authenticated TCP tunnel with adaptive rekeying\n"
	      "\n"
	      "SYNOPSIS\n"
	      "  lull genkey > FILE\n"
	      "  lull pubkey < PRIVATE > PUBLIC\n"
	      "  lull genpsk > FILE\n"
	      "  lull server --listen ADDR:PORT --target HOST:PORT --key FILE "
	      "--authorized FILE [OPTIONS]\n"
	      "  lull client --listen ADDR:PORT --server HOST:PORT --key FILE "
	      "--server-pub KEY|FILE [--psk FILE] [OPTIONS]\n"
	      "  lull status [--status unix:PATH|HOST:PORT] [--json]\n"
	      "  lull version | --version | -V\n"
	      "  lull [CMD] --help\n"
	      "\n"
	      "DESCRIPTION\n"
	      "  lull carries TCP connections between two hosts, like spiped or ssh -L.\n"
	      "  The client keeps a long-lived link (a lull connection: Noise XXpsk3,\n"
	      "  mutually authenticated) to the server and carries each connection it\n"
	      "  accepts on --listen as a stream over it; the server, once the client is\n"
	      "  authenticated, connects one socket to --target per stream.\n"
	      "  Keys change when data is about to flow after an idle spell, after\n"
	      "  --rekey-bytes of data and after --rekey-max-age; idle links carry\n"
	      "  heartbeats, and data under a stale key is rejected as a spoof.\n"
	      "\n"
	      "COMMANDS\n"
	      "  genkey   print a new private key (base64, one line)\n"
	      "  pubkey   read a private key on stdin, print its public key\n"
	      "  genpsk   print a new pre-shared key\n"
	      "  server   run the server end of a tunnel\n"
	      "  client   run the client end of a tunnel\n"
	      "  status   show a running daemon's links (its --status server), like wg show\n"
	      "  version  print lull's, the library's, the protocol's, OpenSSL's and\n"
	      "           libuv's versions\n"
	      "  Run lull CMD --help for each command's options.\n"
	      "\n"
	      "EXAMPLES\n"
	      "  umask 077; lull genkey > server.key; lull pubkey < server.key > server.pub\n"
	      "  umask 077; lull genkey > alice.key; lull pubkey < alice.key > alice.pub\n"
	      "  echo \"$(cat alice.pub) alice\" > authorized\n"
	      "  lull server --listen 0.0.0.0:7000 --target 127.0.0.1:22 \\\n"
	      "              --key server.key --authorized authorized\n"
	      "  lull client --listen 127.0.0.1:2222 --server example.org:7000 \\\n"
	      "              --key alice.key --server-pub server.pub\n"
	      "  ssh -p 2222 127.0.0.1\n"
	      "\n",
	      f);
	fputs(exit_status, f);
	fputs("\nSEE ALSO\n  lull(1), lull.conf(5), liblull(3), docs/protocol.md\n", f);
}

static void help_keys(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "genkey") == 0) {
		fputs("NAME\n  lull genkey - generate a private key\n\n"
		      "SYNOPSIS\n  lull genkey > FILE\n\n"
		      "DESCRIPTION\n"
		      "  Prints a new X25519 private key as one line of base64 (44 characters).\n"
		      "  lull refuses private key files that group or others may access, so\n"
		      "  create the file private: run umask 077 first, or chmod 600 FILE after.\n"
		      "  lull warns when stdout is a file others can read.\n\n"
		      "EXAMPLES\n  (umask 077; lull genkey > client.key)\n\n",
		      f);
	} else if (strcmp(cmd, "pubkey") == 0) {
		fputs("NAME\n  lull pubkey - derive a public key\n\n"
		      "SYNOPSIS\n  lull pubkey < PRIVATE > PUBLIC\n\n"
		      "DESCRIPTION\n"
		      "  Reads a private key (one base64 line) on standard input and prints the\n"
		      "  matching public key, which is not secret: give it to the server's\n"
		      "  authorized file (client keys) or to clients' --server-pub (server "
		      "key).\n\n"
		      "EXAMPLES\n  lull pubkey < client.key > client.pub\n\n",
		      f);
	} else {
		fputs("NAME\n  lull genpsk - generate a pre-shared key\n\n"
		      "SYNOPSIS\n  lull genpsk > FILE\n\n"
		      "DESCRIPTION\n"
		      "  Prints 32 random bytes as one line of base64, for the optional third\n"
		      "  field of an authorized-file line and the client's --psk.  A PSK file\n"
		      "  must be mode 0600 or stricter (umask 077 first, or chmod 600 FILE).\n\n"
		      "EXAMPLES\n  (umask 077; lull genpsk > alice.psk)\n\n",
		      f);
	}
	fputs(exit_status, f);
}

static void help_tunnel(FILE *f, enum tunnel_role role)
{
	if (role == ROLE_SERVER) {
		fputs("NAME\n  lull server - the server end of a tunnel\n\n"
		      "SYNOPSIS\n  lull server --listen ADDR:PORT --target HOST:PORT --key FILE "
		      "--authorized FILE [OPTIONS]\n\n"
		      "DESCRIPTION\n"
		      "  Accepts lull connections on --listen.  Each one must complete a Noise\n"
		      "  XXpsk3 handshake with a client listed in --authorized; only then does\n"
		      "  the server take streams: each stream the client opens gets its own\n"
		      "  connection to --target, and bytes flow both ways with half-close.\n"
		      "  If the target cannot be reached the stream is reset with reason\n"
		      "  target_unreachable (the application sees an RST; both ends log it at\n"
		      "  warn); the link and its other streams go on.\n\n"
		      "  The authorized file has one client per line, 'PUBKEY NAME [PSKFILE]',\n"
		      "  with # comments and blank lines; NAME (1-63 of A-Z a-z 0-9 . _ - : @ +)\n"
		      "  appears in logs; a relative PSKFILE is relative to the authorized file.\n"
		      "  Errors are reported as file:line.  SIGHUP re-reads it: new handshakes\n"
		      "  (every rekey is one) see the new list, live tunnels stay up; a file\n"
		      "  with errors is refused and the old list kept.\n\n",
		      f);
	} else {
		fputs("NAME\n  lull client - the client end of a tunnel\n\n"
		      "SYNOPSIS\n  lull client --listen ADDR:PORT --server HOST:PORT --key FILE "
		      "--server-pub KEY|FILE [--psk FILE] [OPTIONS]\n\n"
		      "DESCRIPTION\n"
		      "  Brings --links links up to --server at start (its static key must be\n"
		      "  --server-pub) and keeps them up: a link that fails is retried after a\n"
		      "  jittered backoff from 200ms doubling to 30s, each failure logged at\n"
		      "  warn; a lost link is replaced at once.  Each connection accepted on\n"
		      "  --listen becomes a stream on the link with the fewest streams.  A\n"
		      "  connection accepted while no link can take it waits up to\n"
		      "  --connect-timeout (10s), then gets an RST and a logged reason.\n"
		      "  Half-close works: an application's end-of-file reaches the target as\n"
		      "  a FIN, and the reply still flows until the target's own FIN.  An\n"
		      "  abnormal end (reset, link lost, peer crash, target unreachable)\n"
		      "  reaches the application as an RST, never as a FIN.  Each stream has\n"
		      "  its own credit window (256 KiB, growing to 16 MiB), so a reader that\n"
		      "  pauses stalls only its stream: the link keeps its heartbeats and other\n"
		      "  streams flowing.  --streams-per-link 1 gives every connection its own\n"
		      "  link, handshake and key instead (spiped's model).\n\n",
		      f);
	}
	fputs("  Every policy option is announced in the handshake and both ends adopt the\n"
	      "  stricter value of each.  Logging is one logfmt line per event (ts, level,\n"
	      "  conn, peer, event, reason, epoch, bytes, err) on stderr or syslog.\n"
	      "  SIGTERM or SIGINT: stop accepting, close every link with a close frame\n"
	      "  (reason shutdown), flush, exit 0 within a few seconds.\n\n"
	      "OPTIONS\n",
	      f);
	opts_print_help(f, role);
	fputc('\n', f);
	fputs(units, f);
	fputs("\nCONFIG FILE\n"
	      "  --config FILE holds 'name = value' lines using the long option names\n"
	      "  without dashes in front (heartbeat-interval = 30s), # comments and blank\n"
	      "  lines; flags take true or false.  Errors are reported as file:line.\n"
	      "  Relative file names in it are relative to its directory (lull.conf(5)).\n\n"
	      "EXAMPLES\n",
	      f);
	if (role == ROLE_SERVER)
		fputs("  lull server --listen 0.0.0.0:7000 --target 127.0.0.1:22 \\\n"
		      "              --key server.key --authorized /etc/lull/authorized \\\n"
		      "              --heartbeat-interval 30s --rekey-bytes 256M\n\n",
		      f);
	else
		fputs("  lull client --listen 127.0.0.1:2222 --server example.org:7000 \\\n"
		      "              --key alice.key --server-pub server.pub --psk alice.psk\n\n",
		      f);
	fputs(exit_status, f);
}

int help_command(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "genkey") == 0 || strcmp(cmd, "pubkey") == 0 ||
	    strcmp(cmd, "genpsk") == 0) {
		help_keys(f, cmd);
		return 1;
	}
	if (strcmp(cmd, "server") == 0) {
		help_tunnel(f, ROLE_SERVER);
		return 1;
	}
	if (strcmp(cmd, "client") == 0) {
		help_tunnel(f, ROLE_CLIENT);
		return 1;
	}
	return 0;
}
