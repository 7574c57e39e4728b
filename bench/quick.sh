#!/usr/bin/env sh
# The quick variant CI runs as a smoke check of the benchmark harness (under 2 minutes, no timing
# assertions): tiny S1/S2/S5/S6 cells against the null reflector, Starling and BIRD (if installed), and a
# 5-node S3 over TCP plus small simulations. Results go to bench/results/*-quick-*.json.
set -eu
cd "$(dirname "$0")/.."
node bench/rr.ts --quick "$@"
node bench/mesh.ts --quick
