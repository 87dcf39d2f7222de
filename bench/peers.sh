#!/bin/sh
# The answer benchmark with minimal Bolt apps measured in the same run as trustpulse and the
# floor (README, "Benchmarks"): Bolt for JavaScript (better-sqlite3) and Bolt for Python (async,
# under uvicorn), each doing an answer's work (bench/peers/*/app.*).
#   bench/peers.sh                     # 150,000 sellers, 3-second runs
#   bench/peers.sh --seconds 5         # any answer_bench option
# Needs wrk, python3 and node with npm; the peers' packages are installed once, from PyPI and
# the npm registry, under target/peers/.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
peers="$root/target/peers"
for tool in wrk python3 node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench/peers.sh needs $tool" >&2
        exit 1
    fi
done
mkdir -p "$peers"
if [ ! -x "$peers/venv/bin/uvicorn" ]; then
    if ! python3 -m venv "$peers/venv"; then
        echo "bench/peers.sh needs python3's venv module (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
    "$peers/venv/bin/pip" install -q -r bench/peers/bolt-python/requirements.txt
fi
if [ ! -d "$peers/js/node_modules/better-sqlite3/build" ]; then
    mkdir -p "$peers/js"
    cp bench/peers/bolt-js/package.json "$peers/js/"
    # better-sqlite3 builds from source where its prebuilt binary cannot be downloaded; the
    # headers of a node installed from a distribution's packages are under /usr/include/node.
    if [ -d /usr/include/node ]; then
        export npm_config_nodedir=/usr
    fi
    (cd "$peers/js" && npm install --no-audit --no-fund --loglevel=error)
fi
cargo build --release --locked --bin trustpulse --example answer_bench
exec target/release/examples/answer_bench \
    --peer "bolt-js=NODE_PATH='$peers/js/node_modules' exec node '$root/bench/peers/bolt-js/app.js'" \
    --peer "bolt-python=cd '$root/bench/peers/bolt-python' && exec '$peers/venv/bin/uvicorn' app:api --workers 1 --host 127.0.0.1 --port \"\$PORT\" --log-level warning --no-access-log" \
    "$@"
