#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test
# against the real local services (each test makes its own database).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
