#!/bin/sh
# The command line at scale (the README's "At scale" numbers): `fit` with the
# default DR-learner on 1000 GS and 100 000 PB rows of 256 features (CSV files
# from `scenarios export`), then `route` of the 100 000 PB queries. Prints the
# file sizes, each command's wall time and peak resident memory (GNU time),
# and `fit`'s own line with the fit time (wall time minus fit time is reading
# and validating the CSV files plus writing the router).
#
# Run from the repository root:  sh examples/scale_cli.sh
# Needs GNU time at /usr/bin/time and about 1.2 GB of disk in target/; a few
# minutes. Times depend on the machine and its load; say which when quoting.
set -eu
cargo build --release --quiet
MR=target/release/meta-router
OUT=target/example-scale-cli
mkdir -p "$OUT"

# 1. 1000 GS rows, 100 000 PB rows and 500 test rows, d = 256 (pool 101 500).
$MR scenarios export healthbench-like --n-gold 1000 --set d=256 --set pool=101500 \
    --set n_test=500 --seed 1 --out "$OUT/data" --force > /dev/null 2>&1
echo "files: gold.csv $(du -h "$OUT/data/gold.csv" | cut -f1), pref.csv $(du -h "$OUT/data/pref.csv" | cut -f1)"

# 2. fit: the default DR-learner (no config file).
/usr/bin/time -f "fit: %e s wall, peak RSS %M KB" \
    $MR fit --gold "$OUT/data/gold.csv" --pref "$OUT/data/pref.csv" --seed 7 \
    --out "$OUT/router.json" --force 2>&1 | grep -E "^fitted|^fit:"
echo "router file: $(du -h "$OUT/router.json" | cut -f1)"

# 3. route the 100 000 PB queries at w = 0.1.
/usr/bin/time -f "route: %e s wall, peak RSS %M KB" \
    $MR route --model "$OUT/router.json" --queries "$OUT/data/pref.csv" \
    --cost-weight 0.1 --out "$OUT/routed.csv" --force 2>&1 | grep -E "^route:"
