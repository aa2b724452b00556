#!/bin/sh
# Remakes the report gallery (docs/gallery/*.png): a run report in Korean, two run reports in
# English, the demo's comparison report in Korean, and an experiment's page in Korean.
# Usage, from the repository root: sh docs/gallery/make.sh   (needs a release build and chromium)
set -eu
bin="$(pwd)/target/release/faultline"
out="$(pwd)/docs/gallery"
work=$(mktemp -d)
cd "$work"
"$bin" run shop-outage-breaker --out breaker --report ko >/dev/null
"$bin" run stuck-replica-liveness --out liveness --report en >/dev/null
"$bin" run product-page-fallback --out fallback --report en >/dev/null
"$bin" compare shop-outage shop-outage-resilient shop-outage-breaker --seeds 1..10 --out demo --report ko >/dev/null
"$bin" experiment cache-aside --out cache --report ko >/dev/null
shot() {
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,"$3" \
    --screenshot="$out/$2" "file://$work/$1" >/dev/null 2>&1
}
shot breaker/report.ko.html breaker-ko.png 2600
shot liveness/report.en.html liveness-en.png 2600
shot fallback/report.en.html fallback-en.png 3300
shot demo/report.ko.html demo-compare-ko.png 2600
shot cache/report.ko.html experiment-cache-ko.png 2400
rm -rf "$work"
echo "wrote $out/breaker-ko.png, liveness-en.png, fallback-en.png, demo-compare-ko.png, experiment-cache-ko.png"
