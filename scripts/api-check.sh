#!/usr/bin/env bash
# The API against its own document: schemathesis (pinned, installed by
# scripts/setup.sh) runs every check over every operation of
# /api/openapi.json of a running `serve` on a scratch database holding the
# bundled sample, as an anonymous caller, an ordinary user and an
# administrator, and logout last. Any failure fails the run.
# scripts/schemathesis.toml says where an answer beyond the defaults is
# expected, and why.
# Usage: bash scripts/api-check.sh [EXAMPLES] (per operation, default 50;
# seed SCHEMATHESIS_SEED, default 1, so a failure reruns).
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${1:-50}"
seed="${SCHEMATHESIS_SEED:-1}"
st="${XDG_CACHE_HOME:-$HOME/.cache}/openmeet-sync/schemathesis-4.32.5/bin/st"
[ -x "$st" ] || { echo "api-check: schemathesis is missing; run scripts/setup.sh" >&2; exit 1; }

cargo build --quiet --locked --bin openmeet-sync
bin=$PWD/target/debug/openmeet-sync
database="openmeet_sync_apicheck_$$"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database"
admin=did:web:admin.apicheck.test
user=did:plc:apicheckordinaryuser0000
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
serve_pid=
cleanup() {
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" migrate >/dev/null
"$bin" import-jetstream samples/jetstream-calendar.jsonl >/dev/null
admin_token=$("$bin" auth session --did "$admin" | tail -n 1)
user_token=$("$bin" auth session --did "$user" | tail -n 1)

# OAuth on (a loopback client), identities resolved against this server
# itself, which knows none: every login fails the same way, offline.
LISTEN="127.0.0.1:$port" ADMIN_DIDS="$admin" NO_IDENTITY_ENRICHMENT=1 \
    CREDENTIALS_KEY="$(head -c 32 /dev/urandom | base64)" \
    PLC_URL="http://127.0.0.1:$port" HANDLE_RESOLVER_URL="http://127.0.0.1:$port" ALLOW_PRIVATE_ADDRESSES=1 \
    REDIS_KEY_PREFIX="apicheck:$$:" RUST_LOG=error \
    "$bin" serve >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/api/openapi.json" && break
    sleep 0.1
done

run() {
    local who=$1
    shift
    echo "== schemathesis as $who"
    "$st" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/api/openapi.json" --checks all --max-examples "$examples" \
        --seed "$seed" --workers 1 --suppress-health-check all --warnings off "$@"
}
status=0
run anonymous || status=1
run "an ordinary user" -H "Authorization: Bearer $user_token" --exclude-path /api/auth/logout || status=1
run "an administrator" -H "Authorization: Bearer $admin_token" --exclude-path /api/auth/logout || status=1
run "an administrator logging out" -H "Authorization: Bearer $admin_token" --include-path /api/auth/logout || status=1
if [ "$status" -ne 0 ]; then
    echo "api-check: the API and its document disagree (serve's log: $work/serve.log)" >&2
    tail -n 20 "$work/serve.log" >&2
fi
exit "$status"
