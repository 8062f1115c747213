#!/usr/bin/env bash
# A virtual environment with PyTorch Geometric, for the side-by-side benchmark (make bench).
# It reuses the torch 2.11 that `make bootstrap` installed (a .pth file points at it) instead of
# downloading torch a second time. Prints the environment's python.
set -euo pipefail
cache=${GDISTILL_CACHE:-$HOME/.cache/gdistill}
venv=$cache/pyg-venv
site=$cache/pytorch-2.11.0
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch_geometric, torch, scipy' 2>/dev/null; then
  echo "setup_pyg: creating $venv" >&2
  python3 -m venv "$venv"
  purelib=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$site" > "$purelib/gdistill-torch.pth"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check torch_geometric scipy >&2
fi
echo "$venv/bin/python"
