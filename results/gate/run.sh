#!/bin/sh
# Issue 15 item 4: bench/gate with its defaults (100 A/A trials of each kind, 100 per slowdown, 40 per
# baseline-file pair), alone on the machine. From the checkout:
#   flock /tmp/ofav2-heavy.lock results/gate/run.sh
set -e
cd "$(dirname "$0")/../.."
OFA_BENCH_GATE_OUT=results/gate/bench-gate.json npm run bench -- gate > results/gate/bench-gate.txt 2> results/gate/bench-gate.err
