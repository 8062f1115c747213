"""The peer in `make bench`: PyTorch Geometric's GCN on the same data with the same recipe.

    python bench/pyg_gcn.py DATA_DIR [cora|citeseer]

Planetoid Cora from the same ind.cora.* files (copied to a temporary folder in PyG's raw/
layout), row-normalised features (NormalizeFeatures), GCNConv x2 with 64 hidden units, dropout
0.5 on the input and the hidden layer, Adam lr 0.01 with weight decay 5e-4 on the first layer
only, 200 epochs, each followed by an evaluation (full forward, validation accuracy), as
PyG's examples/gcn.py does. Features are dense, PyG's default. Prints one JSON line.

The code is bench/pyg_gnn.py's (`--model gcn --split public --seed 0`); this keeps the
command line and the output keys `gdistill bench --peer` was first given.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyg_gnn  # noqa: E402

KEYS = ("peer", "torch", "threads", "dataset", "epochs", "step_ms", "eval_ms", "infer_ms", "train_s",
        "test_acc_at_best_val", "peak_rss_mib")


def main():
    data_dir, name = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "cora"
    record = pyg_gnn.run("gcn", name, split="public", seed=0, data_dir=data_dir)
    print(json.dumps({k: record[k] for k in KEYS}))


if __name__ == "__main__":
    main()
