#!/usr/bin/env bash
# Installs what gdistill needs to build and test, once, outside the repository:
#   - Debian's libhdf5-dev (for hdf5-metno), Open MPI with libclang (for the mpi crate),
#     libmetis-dev (for the metis crate) and fonts-dejavu-core (for plots), when missing;
#   - libtorch 2.11 (tch 0.24's version) from PyPI's torch==2.11.0 wheel into a cache,
#     because libtorch's own download host is not reachable from here;
#   - .cargo/config.toml (ignored by git), which points tch at that libtorch and bakes its
#     library directory into every binary's rpath, so plain `cargo build` / `cargo test` work
#     afterwards with no environment variables.
# Idempotent and quick when everything is already there.
#
# Environment:
#   GDISTILL_CACHE     cache directory (default ~/.cache/gdistill)
#   GDISTILL_LIBTORCH  use this libtorch (a directory with include/ and lib/) instead of the cache
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${GDISTILL_CACHE:-$HOME/.cache/gdistill}
torch_version=2.11.0
say() { echo "bootstrap: $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- libhdf5 ---------------------------------------------------------------------------------
if ! dpkg-query -W -f='${Status}' libhdf5-dev 2>/dev/null | grep -q "install ok installed"; then
  say "installing libhdf5-dev"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libhdf5-dev pkg-config >/dev/null
fi

# --- Open MPI, for runs across ranks (src/cmd/mpi/) and the multi-rank tests (tests/mpi.rs) -----
# openmpi-bin: mpirun; libopenmpi-dev: what the mpi crate links; libclang-dev and clang: mpi-sys
# generates its bindings with bindgen, which loads libclang.
mpi_missing=()
for package in openmpi-bin libopenmpi-dev libclang-dev clang; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || mpi_missing+=("$package")
done
if [ ${#mpi_missing[@]} -gt 0 ]; then
  say "installing ${mpi_missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${mpi_missing[@]}" >/dev/null
fi

# --- libmetis-dev, for `gdistill partition --method metis` (graph/src/partition.rs) ------------------
# The metis crate is built with its use-system feature: it links Debian's libmetis and generates
# its bindings from /usr/include/metis.h (with the libclang installed above), instead of compiling
# a vendored METIS on every clean build.
if ! dpkg-query -W -f='${Status}' libmetis-dev 2>/dev/null | grep -q "install ok installed"; then
  say "installing libmetis-dev"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libmetis-dev >/dev/null
fi

# --- a TrueType font, for the curves `gdistill prune --plot` draws ------------------------------
if [ -z "${GDISTILL_FONT:-}" ] && ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then
  say "installing fonts-dejavu-core"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq fonts-dejavu-core >/dev/null
fi

# --- libtorch ----------------------------------------------------------------------------------
if [ -n "${GDISTILL_LIBTORCH:-}" ]; then
  libtorch=$GDISTILL_LIBTORCH
else
  site=$cache/pytorch-$torch_version
  libtorch=$site/torch
  if [ ! -f "$libtorch/lib/libtorch_cpu.so" ] || [ ! -d "$libtorch/include" ]; then
    say "installing torch==$torch_version from PyPI into $site (about 4.6 GB, once)"
    mkdir -p "$cache"
    rm -rf "$site.partial"
    python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check \
      --target "$site.partial" "torch==$torch_version"
    rm -rf "$site"
    mv "$site.partial" "$site"
  fi
fi
if [ ! -f "$libtorch/lib/libtorch_cpu.so" ]; then
  say "no libtorch at $libtorch (expected lib/libtorch_cpu.so)"; exit 1
fi

# --- cargo configuration -------------------------------------------------------------------------
# Only the libtorch location goes here. Link flags (the rpath) are emitted by
# build/link_libtorch.rs for the crates that use tch: as global rustflags they would also be linked
# into proc-macros (and when libtorch_cuda was linked there, rustc crashed loading such a proc-macro).
config=$(cat <<TOML
# Written by scripts/bootstrap.sh; not tracked. Re-run \`make bootstrap\` to regenerate.
[env]
LIBTORCH = "$libtorch"
TOML
)
mkdir -p "$repo/.cargo"
# Rewrite only on change, so cargo does not rebuild torch-sys for nothing.
if [ "$(cat "$repo/.cargo/config.toml" 2>/dev/null)" != "$config" ]; then
  printf '%s\n' "$config" > "$repo/.cargo/config.toml.tmp"
  mv "$repo/.cargo/config.toml.tmp" "$repo/.cargo/config.toml"
  say "wrote .cargo/config.toml (libtorch at $libtorch)"
fi
