#!/bin/sh
# One shard of a sweep, as every engine starts it: a Kubernetes Indexed Job's pod, a GitHub
# Actions matrix job, or run-local.sh. The shard comes from the environment:
#   JOB_COMPLETION_INDEX  this shard, counted from 0 (Kubernetes sets it; the others set it too)
#   FAULTLINE_SHARDS      how many shards
#   SCENARIO              a catalog name or a scenario file            (default: shop-outage-breaker)
#   SEEDS                 the whole sweep's seeds, A..B                (default: 1..100)
#   OUT_DIR               where shard directories go                   (default: results)
#   FAULTLINE             the faultline binary                         (default: faultline)
#   SWEEP_SETS            overrides, KEY=VALUE separated by spaces     (default: none)
# Exit codes are faultline's: 0 every check held, 1 a check was violated (do not retry),
# 2 bad usage (do not retry), 3 an internal error (retry).
set -eu
: "${JOB_COMPLETION_INDEX:?set JOB_COMPLETION_INDEX (this shard, from 0)}"
: "${FAULTLINE_SHARDS:?set FAULTLINE_SHARDS (how many shards)}"
for kv in ${SWEEP_SETS:-}; do set -- "$@" --set "$kv"; done
exec "${FAULTLINE:-faultline}" sweep "${SCENARIO:-shop-outage-breaker}" \
  --seeds "${SEEDS:-1..100}" --shard-from-env \
  --out "${OUT_DIR:-results}/shard-${JOB_COMPLETION_INDEX}" "$@"
