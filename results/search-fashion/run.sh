#!/usr/bin/env bash
# The shipped supernet and the measured part of the search issue (13), once run (c) of
# results/eps-fashion/run.sh (fashion, ee-d, ENS-KD with the progressively extracted teacher) is done.
# Run it under the machine's heavy-job lock: `flock /tmp/ofav2-heavy.lock results/search-fashion/run.sh`.
# Every step is skipped when its output exists, and the data set resumes: rerunning continues.
#   1. supernets/fashion-ee-d/        `ofa train pack` of run (c) (the last phase's best checkpoint)
#   2. accuracy.jsonl                 1,000 seeded random subnets on the validation split, BN recalibrated
#   3. supernets/fashion-ee-d/predictor.json + fit.json    the accuracy predictor and its held-out figures
#   4. search.json                    every device's front and picks (cpu-1t, cpu-2t, wasm-node)
#   5. picks-validation.json          the picks' true validation top-1 (`ofa eval --split validation`)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=results/search-fashion
RUN=runs/eps-fashion/c-ee-d-pet
SUPERNET=supernets/fashion-ee-d
SUBNETS="${SUBNETS:-1000}"
step() { echo "== $(date -Is) $*" >&2; }
done=$(node -e "const s=require('./$RUN/eps-state.json'); console.log(s.phases.every(p=>p.status==='done') ? 'yes' : 'no')")
[ "$done" = yes ] || { echo "run (c) in $RUN is not finished" >&2; exit 1; }
if [ ! -d "$SUPERNET" ]; then
  step pack
  node bin/ofa.js train pack --checkpoint "$RUN" --out "$SUPERNET"
fi
step "dataset ($SUBNETS subnets)"
/usr/bin/time -v node bin/ofa.js search dataset --checkpoint "$SUPERNET" --subnets "$SUBNETS" --out "$OUT/accuracy.jsonl" 2> >(tee -a "$OUT/dataset.time" >&2)
if [ ! -f "$SUPERNET/predictor.json" ]; then
  step fit
  node bin/ofa.js search fit --data "$OUT/accuracy.jsonl" --out "$SUPERNET/predictor.json" --json > "$OUT/fit.json"
fi
if [ ! -f "$OUT/search.json" ]; then
  step search
  node bin/ofa.js search --predictor "$SUPERNET/predictor.json" --checkpoint "$SUPERNET" --devices cpu-1t,cpu-2t,wasm-node --json --out "$OUT/search.json" > /dev/null
fi
if [ ! -f "$OUT/picks-validation.json" ]; then
  step "picks: true validation top-1"
  node -e "
    const r = require('./$OUT/search.json');
    const seen = new Map();
    for (const d of r.devices) for (const p of d.picks) seen.set(p.id, p.config);
    process.stdout.write(JSON.stringify([...seen.values()]));
  " > "$OUT/picks-configs.json"
  node bin/ofa.js eval --checkpoint "$SUPERNET" --subnet-list "$OUT/picks-configs.json" --split validation --json --out "$OUT/picks-validation.json" > /dev/null
fi
step done
