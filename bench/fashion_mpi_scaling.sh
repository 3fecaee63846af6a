#!/usr/bin/env bash
# One Fashion-MNIST epoch (batch 128, float, MLP 784-256-128-10) in each of
# five set-ups, alternated for `rounds` rounds so that a busy machine slows
# them alike: 1 process x 1 thread, 1 x 2 threads, 2 processes x 1 thread
# (gradients overlapped with the sweep; busy-polling, then yielding waits),
# and 2 x 1 reducing after the sweep (yielding).
# docs/distributed.md holds the table.
#   bench/fashion_mpi_scaling.sh [rounds]    (after building fashion_mnist_mpi)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bin=build/release/examples/fashion_mnist_mpi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe --bind-to none -np 2)
# A waiting rank yields its core (Open MPI busy-polls by default, which on a
# machine busier than its cores starves the rank being waited for).
yield=(--mca mpi_yield_when_idle 1)
lscpu | grep "Model name"
for r in $(seq "$rounds"); do
  echo "== round $r (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "-- 1 x 1";           "$bin" --epochs 1 --threads 1 --plain | grep epoch
  echo "-- 1 x 2";           "$bin" --epochs 1 --threads 2 --plain | grep epoch
  echo "-- 2 x 1 overlap";         "${mpi[@]}" "$bin" --epochs 1 --threads 1 | grep -E "epoch|bare"
  echo "-- 2 x 1 overlap, yield";  "${mpi[@]}" "${yield[@]}" "$bin" --epochs 1 --threads 1 | grep -E "epoch|bare"
  echo "-- 2 x 1 after, yield";    "${mpi[@]}" "${yield[@]}" "$bin" --epochs 1 --threads 1 --no-overlap | grep -E "epoch|bare"
done
