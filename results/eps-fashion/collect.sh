#!/usr/bin/env bash
# After (or during) results/eps-fashion/run.sh: copies each run's state file and phase logs here, then
# evaluates every finished run (the paper's grid and 100 random subnets, seed 1, test split, BN
# recalibrated), and the best grid subnet and the largest again with 4 other recalibration seeds (the
# spread), under the heavy-job lock. Rerunning redoes only missing evaluations.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=results/eps-fashion
for run in c-ee-d-pet a-ofa-baseline b-ee-d-baseline; do
  src="runs/eps-fashion/$run"
  if [ -f "$src/eps-state.json" ]; then
    mkdir -p "$OUT/$run"
    cp "$src/eps-state.json" "$OUT/$run/"
    for phase in "$src"/[0-9][0-9]-*/; do
      name=$(basename "$phase")
      [ -f "$phase/log.jsonl" ] && cp "$phase/log.jsonl" "$OUT/$run/$name.log.jsonl"
    done
  elif [ "$run" = c-ee-d-pet ] && [ -f "$OUT/$run/eps-state.json" ] && [ -d supernets/fashion-ee-d ]; then
    src=supernets/fashion-ee-d   # a checkout without runs/: run (c)'s final best, as packed and shipped
  elif [ "$run" = a-ofa-baseline ] && [ -f "$OUT/$run/eps-state.json" ] && [ -d supernets/fashion-ofa ]; then
    src=supernets/fashion-ofa    # the same for run (a)
  else
    continue
  fi
  done=$(node -e "const s=require('./$OUT/$run/eps-state.json'); console.log(s.phases.every(p=>p.status==='done') ? 'yes' : 'no')")
  [ "$done" = yes ] || continue
  variant=$(node -e "console.log(require('./$OUT/$run/eps-state.json').variant)")
  if [ ! -f "$OUT/$run/grid.json" ]; then
    flock /tmp/ofav2-heavy.lock node bin/ofa.js eval --checkpoint "$src" --grid --json --out "$OUT/$run/grid.json" > /dev/null
  fi
  if [ ! -f "$OUT/$run/random-100.json" ]; then
    node bin/ofa.js space sample --preset fashion --variant "$variant" --subnets 100 --seed 1 --json > "$OUT/$run/random-100-configs.json"
    flock /tmp/ofav2-heavy.lock node bin/ofa.js eval --checkpoint "$src" --subnet-list "$OUT/$run/random-100-configs.json" --json --out "$OUT/$run/random-100.json" > /dev/null
  fi
  # The spread between repeated evaluations: the run's best grid subnet and its largest one evaluated
  # again with 4 other recalibration samples (--seed 1..4; the grid used seed 0).
  if [ ! -f "$OUT/$run/spread-seed-4.json" ]; then
    node -e "
      const g = require('./$OUT/$run/grid.json');
      const best = g.subnets.find((r) => r.subnet === g.best.subnet).config;
      const largest = g.subnets.reduce((a, b) => (b.macs > a.macs || (b.macs === a.macs && b.top1 > a.top1) ? b : a)).config;
      process.stdout.write(JSON.stringify(best === largest ? [best] : [best, largest]));
    " > "$OUT/$run/spread-configs.json"
    for seed in 1 2 3 4; do
      [ -f "$OUT/$run/spread-seed-$seed.json" ] && continue
      flock /tmp/ofav2-heavy.lock node bin/ofa.js eval --checkpoint "$src" --subnet-list "$OUT/$run/spread-configs.json" --seed "$seed" --json --out "$OUT/$run/spread-seed-$seed.json" > /dev/null
    done
  fi
done
