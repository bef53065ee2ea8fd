#!/usr/bin/env python3
"""notify_listen.py SOCKET OUT SECONDS - play the service manager's side of
sd_notify(3): bind a unix datagram socket at SOCKET and append every
datagram received to OUT, one message per line with newlines inside a
message replaced by ' | ', for at most SECONDS."""
import os
import socket
import sys
import time

path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
end = time.monotonic() + seconds
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        f.write(data.decode(errors="replace").replace("\n", " | ") + "\n")
s.close()
os.unlink(path)
