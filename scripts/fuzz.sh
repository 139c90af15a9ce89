#!/usr/bin/env bash
# Fuzzes intake up to the read models with libFuzzer (cargo-fuzz), seeded
# with the bundled samples. Usage: bash scripts/fuzz.sh [SECONDS] (default 60).
# Needs a nightly toolchain for the sanitizer flags; without one it asks the
# stable compiler to accept them (RUSTC_BOOTSTRAP).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
corpus=fuzz/corpus/intake
mkdir -p "$corpus"
split -l 1 -d samples/jetstream-calendar.jsonl "$corpus/sample-"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi
cargo "${toolchain[@]}" fuzz run intake "$corpus" -- -max_total_time="$seconds" -max_len=4096
