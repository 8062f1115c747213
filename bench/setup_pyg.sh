#!/usr/bin/env bash
# A virtual environment with PyTorch Geometric, for the side-by-side benchmark (make bench).
# It reuses the torch 2.11 that `make bootstrap` installed (a .pth file points at it) instead of
# downloading torch a second time. Prints the environment's python.
#
#   bash bench/setup_pyg.sh            torch_geometric + scipy (bench/pyg_gcn.py, bench/pyg_gnn.py)
#   bash bench/setup_pyg.sh --sampled  also a neighbour sampler for NeighborLoader (bench/pyg_sampled.py)
#
# The sampler: NeighborLoader needs pyg-lib or torch-sparse. PyPI has no pyg-lib at all, and
# torch-scatter / torch-sparse only as source distributions (their wheels are published on PyG's
# own wheel index, which is not reachable from here). So --sampled builds torch-scatter 2.1.2 and
# torch-sparse 0.6.18 from source once, CPU only, against the cached torch, into
# $cache/pyg-wheels/torch-2.11.0-cp3XX (about 20 minutes on 2 cores; MAX_JOBS compiles at once,
# default 2) and installs them from there; later calls reuse those wheels.
# GDISTILL_PYG_SAMPLED=1 is the same as --sampled. Idempotent.
set -euo pipefail
cache=${GDISTILL_CACHE:-$HOME/.cache/gdistill}
venv=$cache/pyg-venv
site=$cache/pytorch-2.11.0
sampled=${GDISTILL_PYG_SAMPLED:-0}
[ "${1:-}" = "--sampled" ] && sampled=1
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch_geometric, torch, scipy' 2>/dev/null; then
  echo "setup_pyg: creating $venv" >&2
  python3 -m venv "$venv"
  purelib=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$site" > "$purelib/gdistill-torch.pth"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check torch_geometric scipy >&2
fi
if [ "$sampled" = 1 ] && ! "$venv/bin/python" -c 'import torch_sparse' 2>/dev/null; then
  py=$("$venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  wheels=$cache/pyg-wheels/torch-2.11.0-$py
  if ! ls "$wheels"/torch_scatter-2.1.2-*.whl "$wheels"/torch_sparse-0.6.18-*.whl >/dev/null 2>&1; then
    echo "setup_pyg: building torch-scatter and torch-sparse from source into $wheels (once, ~20 min)" >&2
    mkdir -p "$wheels"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check setuptools wheel ninja >&2
    # ninja from the venv (else torch falls back to one compile at a time); no CUDA; no debug info
    PATH="$venv/bin:$PATH" MAX_JOBS=${MAX_JOBS:-2} FORCE_CUDA=0 CFLAGS=-g0 CXXFLAGS=-g0 \
      "$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-build-isolation --no-deps \
      -w "$wheels" torch-scatter==2.1.2 torch-sparse==0.6.18 >&2
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    "$wheels"/torch_scatter-2.1.2-*.whl "$wheels"/torch_sparse-0.6.18-*.whl >&2
  "$venv/bin/python" -c 'import torch_geometric.typing as t; assert t.WITH_TORCH_SPARSE, "torch_sparse does not load"' >&2
fi
echo "$venv/bin/python"
