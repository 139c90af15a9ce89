#!/usr/bin/env bash
# The main job on the bundled sample: set up the services, migrate the
# database, import recorded Jetstream messages into the event store, and
# show what was recorded. Safe to run again: nothing is imported twice.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/openmeet_sync}
cargo build --quiet --locked
bin=target/debug/openmeet-sync

echo "== migrate"
"$bin" migrate
echo "== import the sample firehose capture"
"$bin" import-jetstream samples/jetstream-calendar.jsonl
echo "== the event log (newest 5 of $("$bin" events tail | wc -l) events, as auditors see it)"
"$bin" events tail | tail -n 5
