#!/usr/bin/env bash
# Copies the resumable minimum of the experiment's run folders (runs/ is not committed, and a session's
# checkout may start without it) into results/eps-fashion/resume/<run>/: eps-state.json and, per phase,
# log.jsonl, latest.json, best.json and the two checkpoints they name (complete, with momentum, so a
# resume is exact). run.sh restores from here when runs/eps-fashion/<run> is missing. Commit after it.
set -euo pipefail
cd "$(dirname "$0")/../.."
for src in runs/eps-fashion/*/; do
  run=$(basename "$src")
  [ -f "$src/eps-state.json" ] || continue
  dest="results/eps-fashion/resume/$run"
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  cp "$src/eps-state.json" "$dest.tmp/"
  for phase in "$src"/[0-9][0-9]-*/; do
    name=$(basename "$phase")
    mkdir -p "$dest.tmp/$name"
    for f in log.jsonl latest.json best.json; do [ -f "$phase/$f" ] && cp "$phase/$f" "$dest.tmp/$name/"; done
    for pointer in latest.json best.json; do
      [ -f "$phase/$pointer" ] || continue
      ckpt=$(node -e "console.log(require('./$phase/$pointer').checkpoint)")
      [ -d "$phase/$ckpt" ] && [ ! -d "$dest.tmp/$name/$ckpt" ] && cp -r "$phase/$ckpt" "$dest.tmp/$name/"
    done
  done
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  echo "snapshot $dest: $(du -sh "$dest" | cut -f1)"
done
