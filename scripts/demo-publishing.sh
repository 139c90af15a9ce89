#!/usr/bin/env bash
# The publishing direction of the demo: OpenMeet's own weekly series put in
# through the API and published to a real PDS (the project's local one,
# tests/pds), one occurrence at a time, while you watch: an edit, the same
# record edited on the PDS side and the conflict resolved, one occurrence
# cancelled alone, the roll forward to the next, that one moved alone, the
# series made members-only (unpublished, sharing refused) and deleted; then
# a record written on the PDS while nothing listened, brought in by a
# backfill from the PDS itself.
# Called by
# scripts/demo.sh with DATABASE_URL set; when the PDS cannot start it says
# so and leaves the rest of the demo alone.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/debug/openmeet-sync
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { python3 -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[int(k)] if k.isdigit() else v[k]
print(v)' "$1"; }
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== the publishing direction: start the local PDS"
pds_port=$(free_port)
PDS_PORT=$pds_port bash tests/pds/start.sh >"$work/pds.out" 2>"$work/pds.err" &
pids+=($!)
for _ in $(seq 1 150); do
    grep -q '^READY ' "$work/pds.out" 2>/dev/null && break
    sleep 0.2
done
if ! grep -q '^READY ' "$work/pds.out" 2>/dev/null; then
    echo "the local PDS did not start (run scripts/setup.sh to install it); the publishing half is left out:"
    tail -n 5 "$work/pds.err" || true
    exit 0
fi
pds="http://127.0.0.1:$pds_port"
plc=$(sed -n 's/^READY //p' "$work/pds.out" | field plc)
echo "PDS at $pds, its PLC directory at $plc"

handle="organizer$RANDOM.test"
password="demo-app-password"
account=$(curl -fsS -X POST "$pds/xrpc/com.atproto.server.createAccount" -H 'content-type: application/json' \
    -d "{\"handle\":\"$handle\",\"email\":\"$handle@example.test\",\"password\":\"$password\"}")
did=$(echo "$account" | field did)
echo "a demo organizer on the PDS: $handle ($did)"

api_port=$(free_port)
api="http://127.0.0.1:$api_port"
LISTEN="127.0.0.1:$api_port" PLC_URL="$plc" HANDLE_RESOLVER_URL="$pds" ALLOW_PRIVATE_ADDRESSES=1 \
    CREDENTIALS_KEY="$(head -c 32 /dev/urandom | base64)" PUBLISH_TICK_SECS=2 NO_IDENTITY_ENRICHMENT=1 \
    REDIS_KEY_PREFIX="demo:$$:" RUST_LOG=warn \
    "$bin" serve >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -fs -o /dev/null "$api/api/openapi.json" && break
    sleep 0.1
done

echo "== log the organizer in with an app password (POST /api/auth/bluesky/app-password)"
session=$(curl -fsS -X POST "$api/api/auth/bluesky/app-password" -H 'content-type: application/json' \
    -d "{\"identifier\":\"$handle\",\"password\":\"$password\"}")
token=$(echo "$session" | field token)
echo "$session" | python3 -c 'import json, sys; s = json.load(sys.stdin); print({k: s[k] for k in ("did", "user_id", "claimed_shadow")})'

echo "== OpenMeet puts a weekly series in (POST /api/series): its first occurrence ends in a minute"
start=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d '+65 seconds' +%Y-%m-%dT%H:%M:%SZ)
created=$(curl -fsS -X POST "$api/api/series" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"id\":\"demo-$did\",\"ownerDid\":\"$did\",\"name\":\"Demo Meetup\",\"description\":\"Talks and pizza\",
         \"timeZone\":\"Europe/Berlin\",\"recurrenceRule\":{\"frequency\":\"WEEKLY\",\"count\":4},
         \"templateStartDate\":\"$start\",\"templateEndDate\":\"$end\",\"templateType\":\"hybrid\",
         \"templateLocation\":\"c-base, Berlin\",\"templateLocationOnline\":\"https://meet.example/demo\"}")
echo "$created"
slug=$(echo "$created" | field slug)
position=$(echo "$created" | field position)
curl -fsS "$api/api/series/$slug?after=$position" | python3 -c 'import json, sys; s = json.load(sys.stdin); print({k: s[k] for k in ("slug", "rrule", "time_zone", "starts_at", "origin")})'

echo "== the organizer turns sharing on (POST /api/events/$slug/bluesky-settings)"
curl -fsS -X POST "$api/api/events/$slug/bluesky-settings" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"enabled":true}'
echo

records() {
    curl -fsS "$pds/xrpc/com.atproto.repo.listRecords?repo=$did&collection=community.lexicon.calendar.event"
}
wait_for_records() {
    for _ in $(seq 1 "$2"); do
        [ "$(records | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["records"]))')" -ge "$1" ] && return 0
        sleep 1
    done
    return 1
}
show_records() {
    records | python3 -c 'import json, sys
for r in json.load(sys.stdin)["records"]:
    v = r["value"]
    print(" ", r["uri"], "|", v["name"], "|", v["startsAt"], "->", v.get("endsAt"), "|", v["uris"][0]["uri"])'
}

echo "== the publisher writes the next occurrence, and only it, to the organizer's repository"
if wait_for_records 1 30; then
    show_records
else
    echo "no record within 30 s; serve's log:"; tail -n 20 "$work/serve.log"; exit 1
fi

echo "== the firehose brings our own write back: recognised as ours, nothing imported twice"
# A bus stream of its own, so the sample captures' resume points stay theirs.
export INGEST_STREAM=DEMO_PUBLISHING INGEST_SUBJECT_ROOT=demo-publishing
timeout 6 "$bin" ingest consume "ws://127.0.0.1:$pds_port/xrpc/com.atproto.sync.subscribeRepos" --cursor 0 >/dev/null 2>&1 || true
"$bin" ingest process --until-idle | tail -n 1
for _ in $(seq 1 20); do
    "$bin" events tail >"$work/log.jsonl"
    grep -q SelfPublishedEchoMatched "$work/log.jsonl" && break
    sleep 0.5
done
grep SelfPublishedEchoMatched "$work/log.jsonl" | tail -n 1 | cut -c1-240

echo "== an edit in OpenMeet goes out to the same record (putRecord with swapRecord, the CID last written)"
first=$(curl -fsS "$api/api/series/$slug" | field occurrences.0.slug)
curl -fsS -X PATCH "$api/api/events/$first" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"description":"Talks, pizza and a quiz"}'
echo
for _ in $(seq 1 30); do
    records | grep -q 'a quiz' && break
    sleep 1
done
records | python3 -c 'import json, sys
for r in json.load(sys.stdin)["records"]:
    print(" ", r["uri"], "| description:", repr(r["value"].get("description")), "| cid", r["cid"])'

echo "== the same record edited on the PDS side (another Bluesky client): the conflict resolved by policy"
pds_session=$(curl -fsS -X POST "$pds/xrpc/com.atproto.server.createSession" -H 'content-type: application/json' \
    -d "{\"identifier\":\"$handle\",\"password\":\"$password\"}")
pds_token=$(echo "$pds_session" | field accessJwt)
record=$(records | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["records"][0]))')
rkey=$(echo "$record" | python3 -c 'import json, sys; print(json.load(sys.stdin)["uri"].rsplit("/", 1)[1])')
echo "$record" | python3 -c 'import json, sys
r = json.load(sys.stdin)
v = r["value"]
v["name"] = v["name"] + " (renamed on Bluesky)"
v["description"] = "Changed in another client"
print(json.dumps({"repo": r["uri"].split("/")[2], "collection": "community.lexicon.calendar.event",
                  "rkey": r["uri"].rsplit("/", 1)[1], "record": v, "swapRecord": r["cid"]}))' >"$work/edit.json"
curl -fsS -X POST "$pds/xrpc/com.atproto.repo.putRecord" -H "authorization: Bearer $pds_token" \
    -H 'content-type: application/json' -d @"$work/edit.json" | python3 -c 'import json, sys; print("  the PDS now holds", json.load(sys.stdin)["cid"])'
resolved_before=$("$bin" events tail | grep -c ConflictResolved || true)
timeout 6 "$bin" ingest consume "ws://127.0.0.1:$pds_port/xrpc/com.atproto.sync.subscribeRepos" --cursor 0 >/dev/null 2>&1 || true
"$bin" ingest process --until-idle | tail -n 1
for _ in $(seq 1 20); do
    "$bin" events tail >"$work/log.jsonl"
    [ "$(grep -c ConflictResolved "$work/log.jsonl" || true)" -gt "$resolved_before" ] && break
    sleep 0.5
done
grep ConflictResolved "$work/log.jsonl" | tail -n +"$((resolved_before + 1))" | python3 -c 'import json, sys
for line in sys.stdin:
    e = json.loads(line)
    p = e.get("payload", e)
    print("  ConflictResolved:", json.dumps({k: p.get(k) for k in ("policy", "winner", "openmeet", "bluesky", "resolved")})[:300])'

echo "== OpenMeet cancels this occurrence alone (POST /api/series/$slug/occurrences/$start/cancel): published as cancelled"
curl -fsS -X POST "$api/api/series/$slug/occurrences/$start/cancel" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"reason":"the venue is closed this week"}'
echo
for _ in $(seq 1 30); do
    records | grep -q 'calendar.event#cancelled' && break
    sleep 1
done
records | python3 -c 'import json, sys
for r in json.load(sys.stdin)["records"]:
    v = r["value"]
    print(" ", r["uri"], "|", v["name"], "|", v.get("status"), "| cid", r["cid"])'

echo "== the roll forward: once the first occurrence ends, the next one is published (waiting about a minute)"
if wait_for_records 2 120; then
    show_records
else
    echo "the next occurrence was not published within 2 minutes; serve's log:"; tail -n 20 "$work/serve.log"; exit 1
fi

count_records() {
    records | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["records"]))'
}
wait_for_count() {
    for _ in $(seq 1 "$2"); do
        [ "$(count_records)" -eq "$1" ] && return 0
        sleep 1
    done
    return 1
}

next=$(date -u -d "$start + 7 days" +%Y-%m-%dT%H:%M:%SZ)
later=$(date -u -d "$start + 7 days + 2 hours" +%Y-%m-%dT%H:%M:%SZ)
echo "== OpenMeet moves the next occurrence alone two hours later (POST /api/series/$slug/occurrences/$next/move)"
curl -fsS -X POST "$api/api/series/$slug/occurrences/$next/move" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d "{\"startDate\":\"$later\"}"
echo
for _ in $(seq 1 30); do
    records | grep -q "${later%Z}" && break
    sleep 1
done
show_records

echo "== the series made members-only (PATCH /api/series/$slug, visibility): everything on Bluesky is public, so it is unpublished"
curl -fsS -X PATCH "$api/api/series/$slug" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"visibility":"authenticated"}'
echo
wait_for_count 0 30 && echo "  the PDS holds $(count_records) records of the organizer"
curl -sS -X POST "$api/api/events/$slug/bluesky-settings" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"enabled":true}'
echo

echo "== OpenMeet deletes the series (DELETE /api/series/$slug) with the occurrences scheduled of it"
curl -fsS -X DELETE "$api/api/series/$slug" -H "authorization: Bearer $token"
echo
curl -sS -o /dev/null -w "  GET /api/series/$slug now answers %{http_code}\n" "$api/api/series/$slug"

echo "== a record written on the PDS while nothing listened comes back from the PDS itself (ingest backfill --did $did)"
curl -fsS -X POST "$pds/xrpc/com.atproto.repo.putRecord" -H "authorization: Bearer $pds_token" \
    -H 'content-type: application/json' \
    -d "{\"repo\":\"$did\",\"collection\":\"community.lexicon.calendar.event\",\"rkey\":\"3demobackfill1\",
         \"record\":{\"\$type\":\"community.lexicon.calendar.event\",\"name\":\"Written while nobody listened\",
                   \"createdAt\":\"$start\",\"startsAt\":\"$next\"}}" >/dev/null
PLC_URL="$plc" HANDLE_RESOLVER_URL="$pds" ALLOW_PRIVATE_ADDRESSES=1 RUST_LOG=warn "$bin" ingest backfill --did "$did"
echo "  and once more: nothing is recorded twice"
PLC_URL="$plc" HANDLE_RESOLVER_URL="$pds" ALLOW_PRIVATE_ADDRESSES=1 RUST_LOG=warn "$bin" ingest backfill --did "$did"

echo "== audit: the whole log replayed, the publishing decisions with the rest"
"$bin" audit verify | tail -n 4
