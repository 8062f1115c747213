# gdistill: every target but `bootstrap` runs `bootstrap` first, so a fresh machine needs nothing else.
SHELL := /bin/bash
CARGO ?= cargo
# Data: ../shared/data when it exists (the project's shared datasets), else data/.
GDISTILL_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(abspath data))
export GDISTILL_DATA_DIR

.PHONY: bootstrap build test demo bench
bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(CARGO) build --release

test: bootstrap
	$(CARGO) test --workspace --release

demo: build
	./target/release/gdistill compare --dataset cora --seeds 10 --json target/compare-cora.json

# Side by side with PyTorch Geometric (bench/pyg_gcn.py, same recipe) in its own venv.
bench: build
	py=$$(bash bench/setup_pyg.sh) && $$py bench/pyg_gcn.py $(GDISTILL_DATA_DIR) cora > target/pyg-cora.json
	./target/release/gdistill bench --dataset cora --peer target/pyg-cora.json --json target/bench-cora.json
