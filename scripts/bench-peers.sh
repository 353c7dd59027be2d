#!/usr/bin/env bash
# Side by side: flyt and the two peers of the benchmark kit (../shared/bench-peers: SpiffWorkflow
# from PyPI, bpmn-engine from npm) on the same BPMN files, in one run on this machine, as
# BENCHMARKS.md "Side by side" records it.
#
#   bash scripts/bench-peers.sh [N] [REPS]        (defaults 2000 3; about 15 minutes)
#   results: target/bench-peers-results/<date-time>/ (kept across runs)
#
# Copies the kit to target/bench-peers, installs the peers there (its setup.sh), then runs the
# kit's run_bench.sh: the peers once each, then flyt four ways (`flyt bench peer`): library mode
# with 1 and with 64 drivers, REST with 1 and with 64 clients. Prints the kit's summary, a table
# of every flyt variant against the peers, and the kit's flyt_ratios.py for each variant.
# Env: BENCH_PEERS_KIT (default ../shared/bench-peers), ONLY (a regex over config names).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
REPS=${2:-3}
KIT=${BENCH_PEERS_KIT:-../shared/bench-peers}
# The kit's extra single-client configs (*-c1) repeat what the c1 variants below measure.
ONLY=${ONLY:-'^(approval-inmem|approval-resume|service-stub-inmem|service-http-inmem|service-http-resume|approval-hold)$'}
export ONLY

cargo build --release -q -p flyt
FLYT="$PWD/target/release/flyt"
rm -rf target/bench-peers
cp -r "$KIT" target/bench-peers
chmod -R u+w target/bench-peers
cd target/bench-peers
./setup.sh

STAMP=$(date +%Y%m%d-%H%M%S)
# Outside the kit's copy, which the next run replaces.
OUT="../bench-peers-results/$STAMP"
mkdir -p "$OUT"
newest() { ls -td results/*/ | head -1; }

# run_bench.sh names its results folder by the second; wait for the next one between runs.
run() { # label, then run_bench.sh's environment
  local label=$1; shift
  echo "== $label"
  env "$@" ./run_bench.sh "$N" "$REPS" > "$OUT/$label.log"
  local dir; dir=$(newest)
  cp "$dir/results.jsonl" "$OUT/$label.jsonl"
  cp "$dir/env.txt" "$OUT/$label.env.txt"
  sleep 1
}

# The disk's fsync rate before and after: the durable rows depend on it, and on this shared VM
# it moves with what else runs.
"$FLYT" bench fsync --json "$OUT/fsync-before.json" | sed -n 2p
run peers PEERS="spiff bpmn-engine"
run flyt-library-c1 PEERS=extra EXTRA_CMD="$FLYT bench peer --via=library --concurrency=1"
run flyt-library-c64 PEERS=extra EXTRA_CMD="$FLYT bench peer --via=library --concurrency=64"
run flyt-rest-c1 PEERS=extra EXTRA_CMD="$FLYT bench peer --via=rest --concurrency=1"
run flyt-rest-c64 PEERS=extra EXTRA_CMD="$FLYT bench peer --via=rest --concurrency=64"
"$FLYT" bench fsync --json "$OUT/fsync-after.json" | sed -n 2p

echo
echo "## The kit's summary (every run, medians of $REPS reps)"
cat "$OUT"/*.jsonl > "$OUT/all.jsonl"
./venv/bin/python drivers/summarize.py "$OUT/all.jsonl" | tee "$OUT/summary.md"

echo
echo "## flyt against the peers (median instances/s; ratio = flyt / peer)"
python3 - "$OUT" <<'PY' | tee "$OUT/side-by-side.md"
import json, statistics, sys, os
out = sys.argv[1]
def load(name):
    rows = {}
    for line in open(os.path.join(out, name + '.jsonl')):
        d = json.loads(line)
        rows.setdefault((d['peer_key'], d['config']), []).append(d)
    return rows
peers = load('peers')
variants = ['flyt-library-c1', 'flyt-library-c64', 'flyt-rest-c1', 'flyt-rest-c64']
flyt = {v: load(v) for v in variants}
def med(rows, key, f=lambda d: d['result']['instances_per_s']):
    ds = rows.get(key)
    return statistics.median(f(d) for d in ds) if ds else None
def fmt(x, nd=0):
    return '-' if x is None else f'{x:,.{nd}f}'
def ratio(a, b):
    return '-' if a is None or b is None else f'{a / b:.1f}x'
configs = []
for rows in [peers] + list(flyt.values()):
    for (_, c) in rows:
        if c not in configs:
            configs.append(c)
print('| config | Spiff | bpmn-engine | ' + ' | '.join(v.removeprefix('flyt-') for v in variants) + ' |')
print('|---|---|---|' + '---|' * len(variants))
for c in configs:
    s, b = med(peers, ('spiff', c)), med(peers, ('bpmn-engine', c))
    cells = []
    for v in variants:
        f = med(flyt[v], ('extra', c))
        cells.append(f'{fmt(f)} ({ratio(f, s)} Spiff, {ratio(f, b)} bpmn-engine)')
    print(f'| {c} | {fmt(s)} | {fmt(b)} | ' + ' | '.join(cells) + ' |')
print()
kb = lambda d: (d['result'].get('hold') or {}).get('kb_per_parked_instance')
print('KB per parked instance (approval-hold, median): Spiff', fmt(med(peers, ('spiff', 'approval-hold'), kb), 2),
      '| bpmn-engine', fmt(med(peers, ('bpmn-engine', 'approval-hold'), kb), 2),
      '| ' + ' | '.join(f"{v.removeprefix('flyt-')} {fmt(med(flyt[v], ('extra', 'approval-hold'), kb), 2)}" for v in variants))
print()
print('Every flyt row ok:', all(d['result']['ok'] for v in variants for ds in flyt[v].values() for d in ds),
      '| every peer row ok:', all(d['result']['ok'] for ds in peers.values() for d in ds))
PY

for v in flyt-library-c1 flyt-library-c64 flyt-rest-c1 flyt-rest-c64; do
  echo
  echo "## drivers/flyt_ratios.py: $v"
  cat "$OUT/peers.jsonl" "$OUT/$v.jsonl" > "$OUT/$v.with-peers.jsonl"
  python3 drivers/flyt_ratios.py "$OUT/$v.with-peers.jsonl" | tee "$OUT/$v.ratios.md"
done
echo
echo "results in target/bench-peers-results/$STAMP"
