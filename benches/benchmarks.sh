#!/usr/bin/env bash
# Regenerates results/benchmarks.md: every benchmark of the project in one run.
#
#   benches/benchmarks.sh [OUT]            (about 25 minutes on 2 cores)
#
# OUT (default /tmp/meta-router-benchmarks) receives the raw outputs; the
# report is written to results/benchmarks.md. Parts:
#   1. criterion: `cargo bench --bench learners` (ridge kernels with GFLOP/s,
#      base learners), `--bench meta_router` (R/DR fits), `--bench trees`;
#      one thread (RAYON_NUM_THREADS=1).
#   2. examples/scale: DR fit with RFF ridge (d = 256, 256 features) at
#      N = 10^4, 10^5, 10^6: time and peak RSS (SCALE_ROWS to change).
#   3. The paper's Fig-1 study with 20 replicates per grid point on 2 threads,
#      as committed (5-fold outcome nuisances) and with `outcome_oob = true`.
#   4. Python comparisons, when PYTHON points to an interpreter with numpy,
#      scikit-learn, econml and lightgbm (see benches/compare/pipeline.py):
#      the all-forest pipeline against scikit-learn and EconML (both nuisance
#      variants), one forest against scikit-learn and LightGBM, and
#      `cargo bench --bench trees_compare` on the same rows; the Python
#      package meta_router (installed into that interpreter's environment
#      from python/ by pip) in the first pipeline run, against the same
#      scikit-learn and EconML fits.
# Run it on a quiet machine: the report records the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/meta-router-benchmarks}
SCALE_ROWS=${SCALE_ROWS:-10000,100000,1000000}
mkdir -p "$OUT"
export RAYON_NUM_THREADS=1

cargo build --release --bins --example scale
{
  echo "date:       $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu:        $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores)"
  echo "memory:     $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "rustc:      $(rustc --version)"
  echo "commit:     $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (modified)')"
  echo "load start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"

cargo bench --bench learners
cargo bench --bench meta_router
cargo bench --bench trees

# The 10^6-row fit needs about 10 GiB; a failure (e.g. out of memory) is
# recorded in the report instead of stopping the run.
target/release/examples/scale --rows "$SCALE_ROWS" > "$OUT/scale.txt" 2>&1 \
  || echo "(the scale run stopped with status $?)" >> "$OUT/scale.txt"
cat "$OUT/scale.txt"

fig1() {
  local label=$1 spec=$2 start end
  start=$(date +%s.%N)
  RAYON_NUM_THREADS=2 target/release/meta-router simulate "$spec" --replicates 20 \
    --threads 2 --out "$OUT/fig1_$label" --force --quiet > /dev/null
  end=$(date +%s.%N)
  python3 -c "print($end - $start)" > "$OUT/fig1_$label.time"
}
fig1 "5-fold nuisances (as committed)" simulations/paper/fig1.toml
sed 's/^bias_learner = \(.*\)$/bias_learner = \1\noutcome_oob = true/' \
  simulations/paper/fig1.toml > "$OUT/fig1_oob.toml"
fig1 "out-of-bag outcome nuisances" "$OUT/fig1_oob.toml"

if [ -n "${PYTHON:-}" ]; then
  "$PYTHON" -m pip install --quiet ./python
  "$PYTHON" benches/compare/pipeline.py --bin target/release/meta-router \
    --out "$OUT/pipeline" --repeats 3 --python-package
  "$PYTHON" benches/compare/pipeline.py --bin target/release/meta-router \
    --out "$OUT/pipeline_oob" --repeats 3 --outcome-oob --skip-econml --skip-forest \
    --methods r-learner,dr-learner
  TREES_COMPARE_DIR="$OUT/pipeline/trees_compare" TREES_COMPARE_REPEATS=3 \
    cargo bench --bench trees_compare | tee "$OUT/trees_compare.txt"
fi

echo "load end:   $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
python3 benches/make_report.py "$OUT" > results/benchmarks.md
echo "wrote results/benchmarks.md"
