#!/usr/bin/env python3
"""http_get.py URL - print the body of a GET on URL (loopback only), exit 1
on any error or a status other than 200.  http_get.py --free-port prints a
TCP port free on 127.0.0.1 (for servers that cannot take port 0)."""
import socket
import sys
import urllib.request

if sys.argv[1] == "--free-port":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()
    sys.exit(0)
url = sys.argv[1]
if not url.startswith("http://127.0.0.1:"):
    sys.exit("http_get.py: loopback URLs only")
try:
    with urllib.request.urlopen(url, timeout=10) as r:
        sys.stdout.write(r.read().decode())
except Exception as e:  # noqa: BLE001 - any failure is a failed check
    sys.exit(f"http_get.py: {url}: {e}")
