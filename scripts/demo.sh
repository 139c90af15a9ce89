#!/usr/bin/env bash
# The main job on the bundled sample: set up the services, migrate the
# database, replay a recorded firehose capture through the NATS JetStream
# bus into the event store, and show what was recorded. Safe to run again:
# the consumer resumes after what the bus holds, and nothing is recorded twice.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/openmeet_sync}
cargo build --quiet --locked
bin=target/debug/openmeet-sync

echo "== migrate"
"$bin" migrate
echo "== consume two recorded captures into the NATS JetStream bus"
# Firehose frames (CBOR/CAR) recorded from the reference PDS, and Jetstream
# JSON lines with a few broken inputs.
"$bin" ingest consume "file://$PWD/samples/pds-capture.frames"
"$bin" ingest consume "file://$PWD/samples/jetstream-calendar.jsonl"
echo "== process the bus into the event store (a second run would add nothing)"
"$bin" ingest process --until-idle
echo "== the process manager: our own echoes, conflicts between the platforms (decisions are events)"
"$bin" reconcile --until-idle
echo "== audit: replay the whole log against the recorded decisions and check its hash chain"
"$bin" audit verify
echo "== audit: the history of one record (an event updated on Bluesky)"
"$bin" audit show at://did:plc:samplerustberlin/community.lexicon.calendar.event/3mrust2aaa2k
echo "== the event log (newest 3 of $("$bin" events tail | wc -l) events, as auditors see it)"
"$bin" events tail | tail -n 3
echo "== build the read models from the log, then verify them row for row"
"$bin" rebuild
"$bin" rebuild --verify
echo "== the occurrences read model"
psql "$DATABASE_URL" -c "SELECT slug, name, status, state, origin, starts_at FROM read.occurrences ORDER BY starts_at"
psql "$DATABASE_URL" -c "SELECT o.name, a.status, a.origin FROM read.attendees a JOIN read.occurrences o ON o.id = a.occurrence_id ORDER BY o.name, a.status"
echo "== series proposed by detection in the process manager (latest version of each)"
psql "$DATABASE_URL" -c "SELECT organizer, version, jsonb_array_length(uris) AS events, confidence, explanation->>'pattern' AS pattern, replace(rrule, E'\n', ' ') AS rrule FROM read.series_proposals ORDER BY organizer"
bash scripts/demo-publishing.sh
