#!/usr/bin/env bash
# Every check that needs a GPU, in one pass, for a session that is lent a GPU machine (the
# `device` tool: about 15 minutes of device time, nothing built there, nothing reachable from it).
#
# Here, first (nothing of this runs on the device):
#   bash scripts/gpu-check.sh --prepare
# which builds the binaries and the models crate's tests, and copies them and the small datasets
# into target/gpu-check/ (ignored by git, about 60 MiB). Then, through the device tool:
#   run(command="bash scripts/gpu-check.sh", carry=["target/gpu-check"], timeout_s=590)
# The results (logs, JSON reports) come back from $OUT. Put the figures in docs/performance-and-scale.md's
# Performance section with the date and this command, then give the machine back.
#
# Each step has its own time limit, so that one slow step cannot take the others' results with
# it; a step's exit status ends its log.
set -u
ROOT=target/gpu-check

if [ "${1:-}" = "--prepare" ]; then
    set -e
    cargo build --release --workspace --bins
    # The test executable cargo built for one target of the models crate (--lib, or --test NAME).
    test_binary() {
        cargo test --release -p gdistill-models "$@" --no-run --message-format=json 2>/dev/null |
            python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])' | tail -1
    }
    tests=$(test_binary --lib)
    cuda_lazy=$(test_binary --test cuda_lazy)
    data=${GDISTILL_DATA_DIR:-../shared/data}
    rm -rf "$ROOT" && mkdir -p "$ROOT/bin" "$ROOT/data/pointclouds"
    cp target/release/gdistill target/release/gdistill-torch target/release/gdistill-h5probe "$ROOT/bin/"
    cp "$tests" "$ROOT/bin/models-tests"
    cp "$cuda_lazy" "$ROOT/bin/cuda-lazy-test"
    cp -r "$data/cora" "$data/citeseer" "$data/digits" "$ROOT/data/"
    cp -r "$data/pointclouds/modelnet10_chair_monitor_hdf5_2048" "$ROOT/data/pointclouds/"
    du -sh "$ROOT"
    exit 0
fi

OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT"
TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(torch.__path__[0], "lib"))')
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GDISTILL_DATA_DIR=$ROOT/data
G=$ROOT/bin/gdistill

step() {
    local name=$1 limit=$2
    shift 2
    echo "== $name ($limit s): $*"
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "exit status $?" >>"$OUT/$name.log"
    tail -n 4 "$OUT/$name.log"
}

step nvidia-smi 15 nvidia-smi
# libtorch_cuda is not linked: it is loaded on demand (gdistill_models::load_cuda). This must
# find the GPU through that load and run on it (GDISTILL_EXPECT_CUDA=1 makes a missing GPU a
# failure, not a skip); it prints the device count and the CUDA runtime version.
step cuda-lazy-load 30 env GDISTILL_EXPECT_CUDA=1 "$ROOT/bin/cuda-lazy-test" --nocapture
step models-tests 45 "$ROOT/bin/models-tests" --test-threads 1
step cora-bench 75 "$G" bench --dataset cora --device cuda --online --json "$OUT/cora-bench.json"
# The CLI's own lazy load: --device cuda ran on the GPU (the report says Cuda and the GPU memory).
step cora-bench-on-cuda 10 python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
assert "Cuda" in str(r["device"]) and r["cuda_memory_mib"], (r["device"], r["cuda_memory_mib"])
print("device", r["device"], "GPU memory MiB", r["cuda_memory_mib"])' "$OUT/cora-bench.json"
step citeseer-bench 75 "$G" bench --dataset citeseer --device cuda --json "$OUT/citeseer-bench.json"
# every graph model and row on the GPU, two seeds
step cora-compare 60 "$G" compare --dataset cora --seeds 2 --device cuda --json "$OUT/cora-compare.json"
step digits-compare 45 "$G" compare --dataset "digits:$ROOT/data/digits/digits.csv.gz" --seeds 1 --device cuda \
    --json "$OUT/digits-compare.json"
step modelnet-compare 75 "$G" compare --dataset "modelnet:$ROOT/data/pointclouds/modelnet10_chair_monitor_hdf5_2048" \
    --config examples/pointcloud/modelnet.toml --seeds 1 --device cuda --json "$OUT/modelnet-compare.json"
step gat-bench 40 "$G" bench --dataset cora --device cuda --teacher gat --models teacher --epochs 100 \
    --json "$OUT/gat-bench.json"
step sampled-sage 40 "$G" bench --dataset cora --device cuda --teacher sage --models teacher --split random:0.6,0.2 \
    --sampler neighbor --fanout 15,10 --batch-size 512 --epochs 20 --warmup 1 --json "$OUT/sampled-sage.json"
step scale 120 "$G" bench-scale --device cuda --json "$OUT/scale.json"
