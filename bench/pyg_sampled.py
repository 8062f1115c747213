"""A PyTorch Geometric peer for neighbour-sampled mini-batch training, written as a PyG user does.

    python bench/pyg_sampled.py --dataset npz:PATH|cora|citeseer [--split per-class:20,30|random:0.6,0.2]
        [--model sage|gcn] [--fanout 15,10] [--batch-size 1024] [--epochs 50] [--seed 0]
        [--input-nodes train|all] [--raw-features] [--data-dir DIR]

torch_geometric.loader.NeighborLoader(data, num_neighbors=FANOUT, batch_size=B,
input_nodes=train_mask (or every node), shuffle=True) feeds a 2-layer model (SAGEConv mean,
64 hidden, or GCNConv, 64 hidden; dropout, learning rate and weight decay from pyg_gnn.RECIPES);
the loss is cross-entropy on each batch's seed nodes (the first batch_size rows). After each epoch
the model is evaluated with one full-batch forward on the whole graph (validation and test
accuracy); the reported accuracy is the test accuracy at the best validation accuracy.
Data loading, features and splits are pyg_gnn.py's. NeighborLoader needs pyg-lib or
torch-sparse (bench/setup_pyg.sh builds torch-sparse when no wheel exists). Threads: torch's
default; the loader runs in the main process (num_workers=0).

Reported: epoch_ms (median per-epoch time of sampling plus training, the first epoch left out
as warm-up when there are more than one), sample_ms (the part of it spent waiting for the
loader), eval_ms (median full-batch evaluation), train_s (the whole loop, evaluations included),
batches_per_epoch, peak RSS. Prints one JSON line.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torch_geometric
from torch_geometric.loader import NeighborLoader
from torch_geometric.nn import GCNConv, SAGEConv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyg_gnn  # noqa: E402

HIDDEN = 64  # both models, as gdistill's sampled teachers


class Sampled(torch.nn.Module):
    def __init__(self, conv, features, classes, p):
        super().__init__()
        self.p = p
        self.conv1 = conv(features, HIDDEN)
        self.conv2 = conv(HIDDEN, classes)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=self.p, training=self.training)
        x = self.conv1(x, edge_index).relu()
        x = F.dropout(x, p=self.p, training=self.training)
        return self.conv2(x, edge_index)


def sampler_backend():
    if torch_geometric.typing.WITH_PYG_LIB:
        return "pyg-lib"
    if torch_geometric.typing.WITH_TORCH_SPARSE:
        return "torch-sparse"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True, help="cora, citeseer, pubmed or npz:PATH")
    ap.add_argument("--split", default="public", help="public, per-class:TRAIN,VAL or random:TRAIN,VAL")
    ap.add_argument("--model", choices=("sage", "gcn"), default="sage")
    ap.add_argument("--fanout", default="15,10")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--input-nodes", choices=("train", "all"), default="train",
                    help="seed nodes: the training nodes, or every node (the loss then reads every label)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--raw-features", action="store_true", help="skip the row normalisation (see pyg_gnn.py)")
    a = ap.parse_args()
    backend = sampler_backend()
    if backend is None:
        raise SystemExit("NeighborLoader needs pyg-lib or torch-sparse; neither imports (see bench/setup_pyg.sh)")

    recipe = pyg_gnn.RECIPES[a.model]
    fanout = [int(f) for f in a.fanout.split(",")]
    torch.manual_seed(a.seed)
    data, classes, label, split = pyg_gnn.load(a.dataset, a.split, a.seed, a.data_dir,
                                                   not a.raw_features)
    input_nodes = data.train_mask if a.input_nodes == "train" else None
    loader = NeighborLoader(data, num_neighbors=fanout, batch_size=a.batch_size, input_nodes=input_nodes,
                            shuffle=True)
    conv = SAGEConv if a.model == "sage" else GCNConv  # SAGEConv: aggr mean, root weight
    model = Sampled(conv, data.num_features, classes, recipe.dropout)
    optimizer = pyg_gnn.optimizer_for(model, recipe)

    epoch_ms, sample_ms, eval_ms, sampled_nodes = [], [], [], []
    best_val, test_at_best = 0.0, 0.0
    start = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        waiting, nodes = 0.0, 0
        it = iter(loader)
        while True:
            w0 = time.perf_counter()
            batch = next(it, None)
            waiting += time.perf_counter() - w0
            if batch is None:
                break
            nodes += batch.num_nodes
            optimizer.zero_grad()
            out = model(batch.x, batch.edge_index)[:batch.batch_size]
            F.cross_entropy(out, batch.y[:batch.batch_size]).backward()
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
        if epoch > 0 or a.epochs == 1:
            epoch_ms.append((t1 - t0) * 1e3)
            sample_ms.append(waiting * 1e3)
            eval_ms.append((t2 - t1) * 1e3)
            sampled_nodes.append(nodes)
    total = time.perf_counter() - start
    print(json.dumps({
        "peer": "pytorch_geometric", "sampler": backend, "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__, "threads": torch.get_num_threads(),
        "dataset": label, "model": a.model, "split": split, "seed": a.seed, "fanout": fanout,
        "batch_size": a.batch_size, "input_nodes": a.input_nodes,
        "features": "raw" if a.raw_features else "row-normalised",
        "seed_nodes": int(data.train_mask.sum()) if input_nodes is not None else data.num_nodes,
        "batches_per_epoch": len(loader), "epochs": a.epochs, "epoch_ms": statistics.median(epoch_ms),
        "sample_ms": statistics.median(sample_ms), "eval_ms": statistics.median(eval_ms),
        "sampled_nodes_per_epoch": statistics.median(sampled_nodes), "train_s": total,
        "test_acc_at_best_val": test_at_best,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
