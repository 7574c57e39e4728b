#!/usr/bin/env sh
# The whole benchmark matrix of the issue, for a quiet machine (several hours): every router in every
# S1/S2 cell in 5 interleaved blocks with warm-up runs, S5 churn on 100 k × 10 realistic, S6 idle for 60 s,
# S3 over TCP to 100 speakers and in simulation to 1 000, then bench/REPORT.md regenerated.
set -eu
cd "$(dirname "$0")/.."
node bench/rr.ts --full --churn --idle 60 --out bench/results/rr-full.json
node bench/mesh.ts --full --out bench/results/mesh-full.json
node bench/report.ts
