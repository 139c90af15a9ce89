#!/usr/bin/env bash
# Fuzzes the input decoders with libFuzzer (cargo-fuzz), each target seeded
# from the bundled samples and fixtures:
#   intake           a Jetstream message through intake to the read model
#   jetstream_lines  a capture through the line reader and routing
#   firehose_frame   a subscribeRepos frame through the frame/CAR decoder
#   lexicon          a JSON value through the lexicon validator
#   record_mapping   an event record into the domain and back
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...] (default 60 s, all).
# A finding is saved under fuzz/artifacts/TARGET/ and the run fails.
# Needs a nightly toolchain for the sanitizer flags; without one it asks the
# stable compiler to accept them (RUSTC_BOOTSTRAP).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(intake jetstream_lines firehose_frame lexicon record_mapping)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

seed() {
    local target=$1 corpus=fuzz/corpus/$1
    mkdir -p "$corpus"
    case $target in
        intake) split -l 1 -d -a 3 samples/jetstream-calendar.jsonl "$corpus/sample-" ;;
        jetstream_lines)
            cp samples/jetstream-calendar.jsonl "$corpus/sample"
            split -l 8 -d -a 3 samples/pds-capture.jsonl "$corpus/pds-" ;;
        firehose_frame) python3 scripts/split-frames.py samples/pds-capture.frames "$corpus" ;;
        lexicon | record_mapping)
            python3 -c '
import json, sys
for n, line in enumerate(open("schemas/tests/fixtures/records.jsonl")):
    with open(f"{sys.argv[1]}/fixture-{n:03}", "w") as out:
        json.dump(json.loads(line)["value"], out)' "$corpus" ;;
    esac
}

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi
cargo "${toolchain[@]}" fuzz build --fuzz-dir fuzz
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in "${targets[@]}"; do
    seed "$target"
    echo "== fuzz $target for ${seconds} s"
    status=0
    cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=1024 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log"
        echo "fuzz $target found a failure (exit $status): its input is in fuzz/artifacts/$target"
        exit 1
    fi
done
