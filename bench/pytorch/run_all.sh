#!/usr/bin/env bash
# Runs the PyTorch peer benchmarks one at a time and appends their JSON lines to $OUT (default /tmp/pytorch_bench.jsonl).
# Before each run it waits (up to 120 s) until the machine is near-idle, since other load on the 2 cores distorts
# OpenMP timings badly. Usage: bench/pytorch/run_all.sh [smollm2-135m|small|all]
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/pytorch_bench.jsonl}
PY=/usr/bin/python3
B=bench/pytorch/llama_bench.py
which=${1:-all}

idle_pct() {  # percent idle over 1 s, from /proc/stat
  read -r _ u n s i w _ < /proc/stat; t1=$((u+n+s+i+w)); i1=$i
  sleep 1
  read -r _ u n s i w _ < /proc/stat; t2=$((u+n+s+i+w)); i2=$i
  echo $(( 100 * (i2-i1) / (t2-t1) ))
}
wait_idle() {
  for _ in $(seq 60); do [ "$(idle_pct)" -ge 90 ] && return 0; sleep 1; done
  echo "warning: machine still busy, running anyway" >&2
}
run() {
  wait_idle
  echo "+ $PY $B $*" >&2
  $PY $B "$@" | tee -a "$OUT"
}
if [ "$which" = all ] || [ "$which" = smollm2-135m ]; then
  C="--config smollm2-135m --threads 2"
  run --mode train   $C --seq 512 --batch 1 --steps 5 --warmup 1
  run --mode lora    $C --seq 512 --batch 1 --steps 5 --warmup 1
  run --mode forward $C --seq 512 --batch 1 --steps 5 --warmup 1
  run --mode generate $C --batch 4 --prompt 32 --new-tokens 64 --steps 2 --warmup 1
fi
if [ "$which" = all ] || [ "$which" = small ]; then
  C="--config small --threads 2"
  run --mode train   $C --seq 512 --batch 1 --steps 10 --warmup 2
  run --mode lora    $C --seq 512 --batch 1 --steps 10 --warmup 2
  run --mode forward $C --seq 512 --batch 1 --steps 10 --warmup 2
  run --mode generate $C --batch 4 --prompt 32 --new-tokens 64 --steps 3 --warmup 1
fi
