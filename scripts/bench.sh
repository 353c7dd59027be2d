#!/usr/bin/env bash
# Runs every benchmark scenario the way BENCHMARKS.md records them, on a release build, and
# writes one JSON file per scenario into the folder given (default bench-results/).
# Takes several minutes; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results}
mkdir -p "$out"
cargo build --release -q -p flyt
flyt=./target/release/flyt
$flyt bench fsync --json "$out/fsync.json"
$flyt bench definitions --json "$out/definitions.json"
$flyt bench in-process --instances 50000 --clients 64 --json "$out/in-process.json"
$flyt bench in-process --instances 50000 --clients 256 --backend redb --json "$out/in-process-256.json"
$flyt bench rest --instances 50000 --clients 64 --json "$out/rest.json"
$flyt bench multi-app --instances 2000 --clients 32 --json "$out/multi-app.json"
$flyt bench messages --instances 50000 --clients 64 --json "$out/messages.json"
$flyt bench round-trip --instances 2000 --clients 32 --json "$out/round-trip.json"
$flyt bench footprint --parked 1000000 --json "$out/footprint.json"
