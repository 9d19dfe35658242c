#!/bin/sh
# How many GS labels do I need? Calibrate a plasmode scenario from a pilot and
# plan GS budgets (no download needed: the pilot is exported scenario data).
# Run from the repository root:  sh examples/plan.sh
# Writes into target/example-plan/ (about 10 s after the build).
set -eu
MR="cargo run --release --quiet --"
OUT=target/example-plan
mkdir -p "$OUT"

# 1. A pilot: 250 GS and 4250 PB rows of the healthbench-like scenario.
$MR scenarios export healthbench-like --n-gold 250 --seed 11 --out "$OUT/pilot" --force

# 2. Calibrate: a DR-learner fit on the pilot (the quickstart's ridge learners),
#    recalibrated on out-of-fold fits (the default `variance` rule: the planted
#    heterogeneity is what the pilot shows out of fold); prints the planted truth
#    and a [scenario] table for study files.
$MR scenarios calibrate --gold "$OUT/pilot/gold.csv" --pref "$OUT/pilot/pref.csv" \
    --config examples/planning/router.toml --out "$OUT/pilot.plasmode.json" --force

# 3. Plan: the DR-learner against pooled and gs-only at four GS budgets, the pool
#    of queries fixed at 5000 (500 of them test queries), 100 replicates each.
$MR plan --scenario "$OUT/pilot.plasmode.json" --config examples/planning/router.toml \
    --methods dr-learner,pooled,gs-only --budgets 100,250,500,1000 --pool 5000 \
    --n-test 500 --out "$OUT/plan" --force --quiet
echo "plan: $OUT/plan/plan.md, plan.csv, plan_eg_area.png, plan_neg_area.png"

# 4. Check the plan against the pilot's own GS rows at the budgets the pilot
#    reaches (here 100 of the plan's; every fit leaves a fifth of them out).
$MR scenarios check --gold "$OUT/pilot/gold.csv" --pref "$OUT/pilot/pref.csv" \
    --plan "$OUT/plan" --force > /dev/null
echo "pilot check: $OUT/plan/pilot_check.md"
