#!/bin/sh
# Starts exactly the shard processes the Kubernetes Job and the GitHub Actions matrix start
# (deploy/shard.sh with JOB_COMPLETION_INDEX = 0..N-1), one after another on this machine, then
# merges them as their last step does. Usage: deploy/run-local.sh N  (environment as shard.sh).
# Exit code: the merge's (0, or 1 if a seed violated a check); a shard that fails otherwise stops it.
set -u
n="${1:?usage: run-local.sh N}"
here=$(dirname "$0")
out="${OUT_DIR:-results}"
i=0
while [ "$i" -lt "$n" ]; do
  JOB_COMPLETION_INDEX=$i FAULTLINE_SHARDS=$n sh "$here/shard.sh" >/dev/null
  code=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then exit "$code"; fi
  i=$((i + 1))
done
exec "${FAULTLINE:-faultline}" merge "$out"/shard-* --out "$out/merged"
