#!/bin/sh
# The answer-path benchmark: the real `serve` binary against a trivial axum server, both loaded
# by wrk with pre-signed `view_submission` requests. See README, "Benchmarks".
#   bench/answers.sh                       # 150,000 sellers, 3-second runs
#   bench/answers.sh --sellers 300000 --seconds 5
set -eu
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    echo "bench/answers.sh needs wrk: apt-get install wrk (or brew install wrk)" >&2
    exit 1
fi
cargo build --release --locked --bin trustpulse --example answer_bench
exec target/release/examples/answer_bench "$@"
