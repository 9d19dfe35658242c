#!/usr/bin/env bash
# A real Slurm on localhost: runs tests/slurm/study.toml as a 4-task job array
# plus its merge job (`meta-router slurm --submit`) and checks that the merged
# summary.json is byte-identical to the same study run unsharded in one
# process; then runs it again, requeues one array task while it is running
# (Slurm kills it and starts it again; it resumes), and checks again.
#
# Needs root and Debian's slurm-wlm and munge (installed here if missing).
# Every daemon it starts (munged, slurmctld, slurmd) runs with files in a
# temporary folder and is stopped on exit. Run from the repository root:
#   cargo build --release && tests/slurm/run.sh
# About 2 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
MR="$PWD/target/release/meta-router"
SPEC="$PWD/tests/slurm/study.toml"
[ -x "$MR" ] || { echo "build first: cargo build --release" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

T="$(mktemp -d /tmp/mr-slurm.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  pkill -f "slurmctld -f $T/" 2>/dev/null || true
  pkill -f "slurmd -f $T/" 2>/dev/null || true
  [ -f "$T/munged.pid" ] && kill "$(cat "$T/munged.pid")" 2>/dev/null || true
  sleep 1
  rm -rf "$T"
}
trap cleanup EXIT
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started )) s"; }

# munge with its own key and socket (no system service needed).
dd if=/dev/urandom of="$T/munge.key" bs=1 count=128 status=none
chmod 600 "$T/munge.key"
munged --force --socket="$T/munge.sock" --key-file="$T/munge.key" \
  --log-file="$T/munged.log" --pid-file="$T/munged.pid" --seed-file="$T/munged.seed"

HOST="$(hostname -s)"
mkdir -p "$T/state" "$T/spool"
cat > "$T/slurm.conf" <<CONF
ClusterName=mrtest
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge.sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$HOST CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -f "$T/slurm.conf"
slurmd -f "$T/slurm.conf"
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o %T | grep -q idle || { echo "slurm did not come up"; cat "$T"/slurm*.log; exit 1; }
echo "slurm up ($(elapsed))"

# The reference: the same study unsharded in one process.
"$MR" simulate "$SPEC" --out "$T/reference" --threads 2 --quiet >/dev/null
echo "reference run done ($(elapsed))"

# Waits until job $1 (and its array tasks) has left the queue, at most $2 s.
wait_job() {
  for _ in $(seq "$2"); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 1
  done
  echo "job $1 still queued after $2 s"; squeue; return 1
}

check_merged() {
  local work="$1"
  cmp "$work/merged/summary.json" "$T/reference/summary.json" \
    || { echo "FAIL: $work/merged/summary.json differs from the unsharded run"; exit 1; }
  echo "merged summary.json is byte-identical to the unsharded run ($(elapsed))"
}

# 1. Plain run through the generated submit.sh: 4 tasks, then the merge job.
"$MR" slurm "$SPEC" --shards 4 --cpus 1 --out "$T/work1" >/dev/null
ids="$(sh "$T/work1/submit.sh")"
echo "$ids"
merge_id="$(echo "$ids" | sed -n 's/.*merge job \([0-9]*\).*/\1/p')"
wait_job "$merge_id" 240
"$MR" status "$T/work1"
check_merged "$T/work1"

# 2. Submitted by `slurm --submit`; requeue a running task: Slurm kills it and runs it again; --resume continues.
ids="$("$MR" slurm "$SPEC" --shards 4 --cpus 1 --out "$T/work2" --submit)"
echo "$ids"
array_id="$(echo "$ids" | sed -n 's/array job \([0-9]*\).*/\1/p')"
merge_id="$(echo "$ids" | sed -n 's/.*merge job \([0-9]*\).*/\1/p')"
requeued=""
for _ in $(seq 120); do
  records="$T/work2/shard-2/replicates.jsonl"
  if squeue -h -j "${array_id}_2" -t RUNNING 2>/dev/null | grep -q . \
     && [ -s "$records" ]; then
    echo "task 2 running with $(wc -l < "$records") records written: requeue"
    scontrol requeue "${array_id}_2"
    requeued=yes
    # A requeued job waits for a begin time in the future; start it now.
    for _ in $(seq 60); do
      if squeue -h -j "${array_id}_2" -t PENDING -o %r 2>/dev/null | grep -q BeginTime; then
        scontrol update JobId="${array_id}_2" StartTime=now || true
        break
      fi
      sleep 0.5
    done
    break
  fi
  sleep 0.5
done
[ -n "$requeued" ] || { echo "FAIL: task 2 was never seen running"; exit 1; }
wait_job "$merge_id" 300
grep -E "units run, [1-9][0-9]* resumed" "$T/work2/logs/shard-2.out" \
  || { echo "FAIL: the requeued task did not resume"; cat "$T/work2/logs/shard-2.out"; exit 1; }
restarts="$(scontrol show job "${array_id}_2" 2>/dev/null | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p' || true)"
echo "task 2 restarts: ${restarts:-unknown}"
"$MR" status "$T/work2"
check_merged "$T/work2"
echo "slurm test passed ($(elapsed))"
