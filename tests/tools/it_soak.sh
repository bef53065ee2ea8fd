#!/bin/sh
# The short soak of `make test`: scripts/soak.sh for 20 seconds of traffic
# (20 bursty clients, idle, byte and age rekeys, every byte checked, the
# server's fds and memory back to baseline).  `make soak DURATION=...` runs
# the long one.
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=20 exec sh "$HERE/../../scripts/soak.sh" "$1"
