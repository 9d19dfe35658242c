#!/bin/sh
# Regenerates results/planning/ (the GS-label budget planner's validation,
# docs/planning.md). Run from the repository root:
#   sh simulations/planning/regenerate.sh
# 17 minutes on the project's 2-core machine (31 CPU-minutes), about two thirds
# of it the forest methods (forest_methods/). The pilot's files
# (results/planning/pilot/) and the plans' replicates.jsonl are not committed.
set -eu
MR=${MR:-"cargo run --release --quiet --"}
P=results/planning
RIDGE=examples/planning/router.toml
FOREST=examples/planning/forest.toml
PLAN="--budgets 100,250,500,1000 --pool 5000 --n-test 500 --replicates 100 --seed 20261207"

# The true scenario at the plan's budgets, and at the budgets the pilot reaches.
$MR simulate simulations/planning/truth.toml --out $P/truth --force --quiet
$MR simulate simulations/planning/truth_pilot.toml --out $P/truth_pilot --force --quiet
# The pilot: 250 GS and 4250 PB rows of the healthbench-like scenario.
$MR scenarios export healthbench-like --n-gold 250 --seed 11 --out $P/pilot --force

calibrate() { # CONFIG OUT [RULE FLAGS]
  config=$1; out=$2; shift 2
  $MR scenarios calibrate --gold $P/pilot/gold.csv --pref $P/pilot/pref.csv \
      --config "$config" --out "$out" --force "$@"
}

# Ridge methods (the quickstart's learners), calibrated with ridge under each
# recalibration rule (variance is the default) and with forests.
calibrate $RIDGE $P/pilot/plasmode_router.json
calibrate $RIDGE $P/pilot/plasmode_router_slope.json --recalibration slope
calibrate $RIDGE $P/pilot/plasmode_router_none.json --no-recalibration
calibrate $FOREST $P/pilot/plasmode_forest.json
for s in router router_slope router_none forest; do
  $MR plan --scenario $P/pilot/plasmode_$s.json --config $RIDGE \
      --methods dr-learner,r-learner,pooled,gs-only $PLAN \
      --out $P/plan_$s --compare-with $P/truth --force --quiet
done

# The pilot check at the budgets the pilot reaches, next to the default plan
# and next to the slope rule's.
for s in router router_slope; do
  $MR plan --scenario $P/pilot/plasmode_$s.json --config $RIDGE \
      --methods dr-learner,r-learner,pooled,gs-only \
      --budgets 50,100,150,200 --pool 5000 --n-test 500 --replicates 200 --seed 20261207 \
      --out $P/plan_${s}_pilot --force --quiet
  $MR scenarios check --gold $P/pilot/gold.csv --pref $P/pilot/pref.csv \
      --plan $P/plan_${s}_pilot --compare-with $P/truth_pilot --force > /dev/null
done

# Forest methods, calibrated with forests under each rule and with ridge.
calibrate $FOREST $P/pilot/plasmode_forest_slope.json --recalibration slope
calibrate $FOREST $P/pilot/plasmode_forest_none.json --no-recalibration
$MR simulate simulations/planning/truth_forest.toml --out $P/forest_methods/truth --force --quiet
for s in forest forest_slope forest_none router; do
  $MR plan --scenario $P/pilot/plasmode_$s.json --config $FOREST \
      --methods dr-learner,pooled,gs-only \
      --budgets 100,500 --pool 5000 --n-test 500 --replicates 50 --seed 20261207 \
      --out $P/forest_methods/plan_$s --compare-with $P/forest_methods/truth --force --quiet
done
echo "regenerated $P"
