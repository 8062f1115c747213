# gdistill: every target but `bootstrap` runs `bootstrap` first, so a fresh machine needs nothing else.
SHELL := /bin/bash
CARGO ?= cargo
# Data: ../shared/data when it exists (the project's shared datasets), else data/.
GDISTILL_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(abspath data))
export GDISTILL_DATA_DIR

.PHONY: bootstrap build test demo bench bench-sampled mnist modelnet mnist-points
bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(CARGO) build --release --workspace --bins

test: bootstrap
	$(CARGO) test --workspace --release

demo: build
	./target/release/gdistill compare --dataset cora --seeds 10 --json target/compare-cora.json

# Side by side with PyTorch Geometric (bench/pyg_gcn.py, same recipe) in its own venv, on Cora
# and Citeseer; then the synthetic graphs of 10k, 100k and 1M nodes (bench-scale).
bench: build
	py=$$(bash bench/setup_pyg.sh) && for d in cora citeseer; do \
	  $$py bench/pyg_gcn.py $(GDISTILL_DATA_DIR) $$d > target/pyg-$$d.json && \
	  ./target/release/gdistill bench --dataset $$d --models teacher --peer target/pyg-$$d.json \
	    --json target/bench-$$d-vs-pyg.json && \
	  ./target/release/gdistill bench --dataset $$d --online --json target/bench-$$d.json || exit 1; done
	./target/release/gdistill bench-scale --json target/bench-scale.json

# Neighbour-sampled training side by side with PyTorch Geometric's NeighborLoader (torch-sparse,
# built from source once by setup_pyg.sh --sampled): Amazon Computers, random 0.6/0.2 split,
# SAGE and GCN, fan-out 15,10, batches of 1024, 20 epochs each; same recipe, same machine.
AMAZON_COMPUTERS := npz:$(GDISTILL_DATA_DIR)/amazon/amazon_electronics_computers.npz
bench-sampled: build
	py=$$(bash bench/setup_pyg.sh --sampled) && for m in sage gcn; do \
	  $$py bench/pyg_sampled.py --dataset $(AMAZON_COMPUTERS) --split random:0.6,0.2 --model $$m \
	    --fanout 15,10 --batch-size 1024 --epochs 21 > target/pyg-sampled-$$m.json && \
	  ./target/release/gdistill bench --dataset $(AMAZON_COMPUTERS) --split random:0.6,0.2 --teacher $$m \
	    --models teacher --sampler neighbor --fanout 15,10 --batch-size 1024 --epochs 20 --warmup 1 \
	    --peer target/pyg-sampled-$$m.json --json target/bench-sampled-$$m.json || exit 1; done

# Hinton et al.'s MNIST comparison on the 5 000 training images, tested on the official 10 000.
mnist: build
	./target/release/gdistill compare --dataset mnist:$(GDISTILL_DATA_DIR)/mnist --seeds 3 --json target/compare-mnist.json

# Point clouds (docs/point-clouds.md): a DGCNN teacher against a small DGCNN and a PointNet
# student, from labels, with KD, LSP and both; settings in examples/pointcloud/*.toml.
modelnet: build
	./target/release/gdistill compare --dataset modelnet:$(GDISTILL_DATA_DIR)/pointclouds/modelnet10_chair_monitor_hdf5_2048 --config examples/pointcloud/modelnet.toml --seeds 3 --json target/compare-modelnet.json

# MNIST as 2-D point clouds: the 5 000 training images and the official 10 000 test images,
# 128 ink pixels per digit written in the ModelNet layout, 64 of them sampled per cloud.
mnist-points: build
	./target/release/gdistill data pointcloud-from-images --dataset mnist:$(GDISTILL_DATA_DIR)/mnist --points 128 --out target/mnist-points
	time ./target/release/gdistill compare --dataset modelnet:target/mnist-points --config examples/pointcloud/mnist-points.toml --seeds 3 --json target/compare-mnist-points.json

# Longer fuzzing of every parser: each target runs FUZZ_SECS seconds (default 60, so about
# fourteen minutes for the fourteen targets) or FUZZ_ITERS inputs. The CI-sized runs (a few seconds each) are
# part of `make test`. A crash saves its input under target/tmp/fuzz-crashes/; for a hang, set
# GDISTILL_FUZZ_TRACE=DIR to have each input written to DIR before it runs.
FUZZ_SECS ?= 60
FUZZ_ITERS ?= 1000000000
FUZZ_ENV = GDISTILL_FUZZ_SECS=$(FUZZ_SECS) GDISTILL_FUZZ_ITERS=$(FUZZ_ITERS)

.PHONY: fuzz
fuzz: bootstrap
	$(FUZZ_ENV) $(CARGO) test --release -p gdistill-datasets --test fuzz_parsers -- --test-threads=1 --nocapture fuzz_
	$(FUZZ_ENV) $(CARGO) test --release -p gdistill-graph --test fuzz_graph -- --test-threads=1 --nocapture fuzz_
	$(FUZZ_ENV) $(CARGO) test --release -p gdistill-distill --test fuzz_checkpoint -- --test-threads=1 --nocapture fuzz_
