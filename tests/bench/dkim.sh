#!/usr/bin/env bash
# tests/bench/dkim.sh - DKIM verification CPU cost per signature
# (build/bench/dkim: rsa-sha256 2048 and ed25519-sha256 over a 10 KB
# message, key records from memory, no DNS). Target (issue 8): under
# 0.1 ms CPU per signature beyond the public-key operation.
# Usage: tests/bench/dkim.sh [N] [KB]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
"${DKIM_BENCH_BIN:-$root/build/bench/dkim}" -n "${1:-2000}" -s "${2:-10}"
