#!/usr/bin/env bash
# The HTML reports in a real browser (Debian's chromium, headless): a small
# study's `report --html` and an `evaluate --html` page must load without a
# console message, lay out every figure they declare, and are screenshotted
# into target/browser/ (kept by CI as the pages' pictures).
#
#   tests/browser/run.sh            (after `cargo build --release`; about 30 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=target/release/meta-router
CHROMIUM=${CHROMIUM:-chromium}
OUT=target/browser
rm -rf "$OUT" && mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$BIN" simulate simulations/quickstart.toml --replicates 3 --out "$work/study" --quiet
"$BIN" report "$work/study" --html > /dev/null 2> "$OUT/report.log"
"$BIN" scenarios export healthbench-like --n-gold 100 --seed 1 --out "$work/data" 2> /dev/null
"$BIN" fit --gold "$work/data/gold.csv" --pref "$work/data/pref.csv" --out "$work/dr.json" \
  --seed 1 > /dev/null 2>&1
"$BIN" evaluate --model "$work/dr.json" --test "$work/data/test.csv" --truth true_psi \
  --bootstrap 100 --out "$work/evaluation" --html > /dev/null

# The flags of a headless run on a machine without network access: no
# sandbox (root), no GPU, none of the background connections that would be
# refused, a fresh profile.
browse() {
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-extensions --user-data-dir="$work/profile-$1" \
    --enable-logging=stderr --v=0 --virtual-time-budget=5000 "${@:2}"
}

status=0
for page in "study/report.html" "evaluation/evaluation.html"; do
  name=$(basename "$page" .html)
  url="file://$work/$page"
  browse "$name-dom" --dump-dom "$url" > "$OUT/$name.dom.html" 2> "$OUT/$name.console.log"
  browse "$name-shot" --window-size=1280,2400 --screenshot="$OUT/$name.png" "$url" \
    > /dev/null 2>> "$OUT/$name.console.log"
  declared=$(grep -o 'data-figures="[0-9]*"' "$OUT/$name.dom.html" | grep -o '[0-9]*')
  rendered=$(grep -o 'data-figures-rendered="[0-9]*"' "$OUT/$name.dom.html" | grep -o '[0-9]*')
  files=$(ls "$(dirname "$work/$page")"/*.svg | wc -l)
  # Messages the page itself sent to the console (chromium logs them as
  # CONSOLE lines); the browser's own start-up chatter is not the page's.
  console=$(grep -c 'CONSOLE' "$OUT/$name.console.log" || true)
  echo "$page: $declared figures declared, $rendered laid out, $files SVG files; \
$console console message(s); screenshot $OUT/$name.png ($(stat -c %s "$OUT/$name.png") bytes)"
  if [ "$declared" != "$files" ] || [ "$rendered" != "$files" ] || [ "$files" -eq 0 ]; then
    echo "FAIL: $page does not show every figure" >&2
    status=1
  fi
  if [ "$console" -ne 0 ]; then
    echo "FAIL: $page wrote to the console:" >&2
    grep 'CONSOLE' "$OUT/$name.console.log" >&2
    status=1
  fi
  if [ ! -s "$OUT/$name.png" ]; then
    echo "FAIL: no screenshot of $page" >&2
    status=1
  fi
done
exit $status
