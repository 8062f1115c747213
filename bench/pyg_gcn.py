"""The peer in `make bench`: PyTorch Geometric's GCN on the same data with the same recipe.

Planetoid Cora from the same ind.cora.* files (copied to a temporary folder in PyG's raw/
layout), row-normalised features (NormalizeFeatures), GCNConv x2 with 64 hidden units, dropout
0.5 on the input and the hidden layer, Adam lr 0.01 with weight decay 5e-4 on the first layer
only, 200 epochs, each followed by an evaluation (full forward, validation accuracy), as
PyG's examples/gcn.py does. Features are dense, PyG's default. Prints one JSON line.
"""
import json
import resource
import os
import shutil
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch_geometric.datasets import Planetoid
import torch_geometric.transforms as T
from torch_geometric.nn import GCNConv


def load(data_dir, name):
    root = tempfile.mkdtemp(prefix="gdistill-pyg-")
    raw = os.path.join(root, name.capitalize() if name != "citeseer" else "CiteSeer", "raw")
    os.makedirs(raw)
    for f in os.listdir(os.path.join(data_dir, name)):
        if f.startswith(f"ind.{name}."):
            shutil.copy(os.path.join(data_dir, name, f), raw)
    dataset = Planetoid(root, "CiteSeer" if name == "citeseer" else name.capitalize(), transform=T.NormalizeFeatures())
    return dataset, root


class GCN(torch.nn.Module):
    def __init__(self, features, hidden, classes):
        super().__init__()
        self.conv1 = GCNConv(features, hidden, cached=True)
        self.conv2 = GCNConv(hidden, classes, cached=True)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv1(x, edge_index).relu()
        x = F.dropout(x, p=0.5, training=self.training)
        return self.conv2(x, edge_index)


def main():
    data_dir, name = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "cora"
    epochs, warmup = 200, 10
    torch.manual_seed(0)
    dataset, root = load(data_dir, name)
    data = dataset[0]
    model = GCN(dataset.num_features, 64, dataset.num_classes)
    optimizer = torch.optim.Adam([
        dict(params=model.conv1.parameters(), weight_decay=5e-4),
        dict(params=model.conv2.parameters(), weight_decay=0.0),
    ], lr=0.01)
    steps, evals = [], []
    best_val, test_at_best = 0.0, 0.0
    start = time.perf_counter()
    for epoch in range(epochs + warmup):
        t0 = time.perf_counter()
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            pred = model(data.x, data.edge_index).argmax(dim=-1)
            val = (pred[data.val_mask] == data.y[data.val_mask]).float().mean().item()
            test = (pred[data.test_mask] == data.y[data.test_mask]).float().mean().item()
        t2 = time.perf_counter()
        if val > best_val:
            best_val, test_at_best = val, test
        if epoch >= warmup:
            steps.append((t1 - t0) * 1e3)
            evals.append((t2 - t1) * 1e3)
    total = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        for _ in range(3):
            model(data.x, data.edge_index)
        times = []
        for _ in range(21):
            t0 = time.perf_counter()
            model(data.x, data.edge_index)
            times.append((time.perf_counter() - t0) * 1e3)
    shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({
        "peer": "pytorch_geometric", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "dataset": name, "epochs": epochs, "step_ms": statistics.median(steps), "eval_ms": statistics.median(evals),
        "infer_ms": statistics.median(times), "train_s": total, "test_acc_at_best_val": test_at_best,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
