#!/usr/bin/env bash
# The OFAv2-vs-OFA experiment of issue 12 on `fashion`: three EPS schedules at the same --scale, one after
# another under the machine's heavy-job lock (nothing else heavy may run beside them). Rerunning this
# script resumes wherever the runs stopped (each `ofa train eps` resumes its own folder).
#   (c) ee-d + PET (OFAv2 with ENS-KD)   (a) ofa + baseline teacher (OFA)   (b) ee-d + baseline teacher
# Logs: results/eps-fashion/<run>.log (appended). Run folders: runs/eps-fashion/<run>/ (not committed;
# their logs and state files are copied here by results/eps-fashion/collect.sh, which also evaluates each
# finished run; (a) is packed as supernets/fashion-ofa).
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE="${SCALE:-0.02}"
run() {
  local name="$1" variant="$2" teacher="$3"
  # A run whose collected state (collect.sh) says every phase is done is finished: nothing to resume.
  if [ -f "results/eps-fashion/$name/eps-state.json" ] && node -e "process.exit(require('./results/eps-fashion/$name/eps-state.json').phases.every(p => p.status === 'done') ? 0 : 1)"; then
    echo "$name: finished (results/eps-fashion/$name/eps-state.json)" >&2
    return 0
  fi
  # A new checkout has no runs/: start from the committed snapshot (snapshot.sh) when there is one.
  if [ ! -d "runs/eps-fashion/$name" ] && [ -d "results/eps-fashion/resume/$name" ]; then
    mkdir -p runs/eps-fashion && cp -r "results/eps-fashion/resume/$name" "runs/eps-fashion/$name"
  fi
  echo "== $(date -Is) $name: variant $variant, teacher $teacher, scale $SCALE" >> "results/eps-fashion/$name.log"
  flock /tmp/ofav2-heavy.lock node bin/ofa.js train eps --preset fashion --variant "$variant" --teacher "$teacher" \
    --scale "$SCALE" --out "runs/eps-fashion/$name" >> "results/eps-fashion/$name.log" 2>&1
}
# After each run: its evaluations (collect.sh: the grid and 100 random subnets, under the same lock), so
# that a finished run's figures do not wait for the runs after it.
run c-ee-d-pet ee-d pet
results/eps-fashion/collect.sh
run a-ofa-baseline ofa baseline
# OFA's supernet, shipped beside OFAv2's for comparison (weights only, the last phase's best).
[ -d supernets/fashion-ofa ] || node bin/ofa.js train pack --checkpoint runs/eps-fashion/a-ofa-baseline --out supernets/fashion-ofa
results/eps-fashion/collect.sh
run b-ee-d-baseline ee-d baseline
results/eps-fashion/collect.sh
