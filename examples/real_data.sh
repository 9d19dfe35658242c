#!/bin/sh
# Fit -> route -> evaluate on exported scenario data (no download needed).
# Run from the repository root:  sh examples/real_data.sh
# Writes into target/example-real-data/ (about 5 s after the build).
set -eu
MR="cargo run --release --quiet --"
OUT=target/example-real-data
mkdir -p "$OUT"

# 1. 100 GS rows, 4400 PB rows and 500 test queries of the healthbench-like scenario;
#    test.csv also carries the true gain psi and bias delta of every query.
$MR scenarios export healthbench-like --n-gold 100 --seed 1 --out "$OUT/data" --force

# 2. A DR-learner router: ridge nuisances, bias stage and final learner (exact
#    LOO penalties); the GS/PB split is random here, so the propensity is the
#    constant GS share (fit screens the features for imbalance and would say so).
cat > "$OUT/router.toml" <<'TOML'
method = "dr-learner"
folds = 5
learner = { type = "ridge" }
TOML
$MR fit --gold "$OUT/data/gold.csv" --pref "$OUT/data/pref.csv" \
    --config "$OUT/router.toml" --seed 7 --out "$OUT/router.json" --force

# 3. Route the test queries at cost weight 0.1 (primary costs 1, alternative 0).
$MR route --model "$OUT/router.json" --queries "$OUT/data/test.csv" \
    --cost-weight 0.1 --out "$OUT/routed.csv" --force
head -5 "$OUT/routed.csv"

# 4. Evaluate against the noisy GS labels (what real data offer) ...
$MR evaluate --model "$OUT/router.json" --test "$OUT/data/test.csv" \
    --out "$OUT/eval-labels" --force > /dev/null
# ... and against the true gains (only a simulation has them).
$MR evaluate --model "$OUT/router.json" --test "$OUT/data/test.csv" \
    --truth true_psi --out "$OUT/eval-truth" --force

# 5. Is the Meta-Router worth it on these data? Fit the DR- and R-learner and
#    the baselines pooled (raw PB labels) and gs-only (GS labels alone) with
#    the same learner and seed (one router file per method in fits/; the
#    DR-learner's equals router.json), and compare all four on the same test
#    queries: paired bootstrap intervals for every difference.
$MR fit --gold "$OUT/data/gold.csv" --pref "$OUT/data/pref.csv" \
    --config "$OUT/router.toml" --seed 7 --methods dr-learner,r-learner,pooled,gs-only \
    --out "$OUT/fits" --force > /dev/null
$MR evaluate --model "$OUT/fits/dr-learner.json" --model "$OUT/fits/r-learner.json" \
    --model "$OUT/fits/pooled.json" --model "$OUT/fits/gs-only.json" \
    --test "$OUT/data/test.csv" --truth true_psi --out "$OUT/compare" --force
