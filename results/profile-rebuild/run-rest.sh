#!/bin/sh
# Issue 17, the rest of the rebuild: the ofa rows of sections 1-3, then section 6 (ofa profile device, timed).
# Run from the checkout under the heavy lock: flock /tmp/ofav2-heavy.lock results/profile-rebuild/run-rest.sh
set -e
cd "$(dirname "$0")/../.."
R=results/profile-rebuild
for d in cpu-1t cpu-2t wasm-node; do
  log=$R/rebuild-$d-ofa.log
  if grep -q '^DONE' "$log" 2>/dev/null; then continue; fi
  {
    echo "# $(date -u +%FT%TZ) $d ofa"
    node bin/ofa.js profile lut --device $d --preset fashion --variant ofa --save --fresh
    node bin/ofa.js profile calibrate --device $d --preset fashion --variant ofa --subnets 60 --sessions 2 --save
    node bin/ofa.js profile validate --device $d --preset fashion --variant ofa --subnets 100 --sessions 2 --save
    echo "DONE $(date -u +%FT%TZ)"
  } > "$log" 2>&1
done
rm -rf "${TMPDIR:-/tmp}/ofav2-subnet-models"
for d in cpu-1t cpu-2t wasm-node; do
  log=$R/device-$d-ee-d.log
  if grep -q '^DONE' "$log" 2>/dev/null; then continue; fi
  { /usr/bin/time -v node bin/ofa.js profile device --device $d --preset fashion --variant ee-d --out $R/device/$d; echo "DONE $(date -u +%FT%TZ)"; } > "$log" 2>&1
done
