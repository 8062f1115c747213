"""A PyTorch Geometric peer for `gdistill bench --peer`: GCN, GraphSAGE or GAT, full batch.

    python bench/pyg_gnn.py --model gcn|sage|gat --dataset cora|citeseer|npz:PATH \
        [--split public|per-class:20,30|random:0.6,0.2] [--seed N] [--data-dir DIR]

Each model follows gdistill's recipe (RECIPES below), written the way a PyG user writes it.
Data: Planetoid Cora/Citeseer from the same ind.* files gdistill reads (copied to a temporary
folder in PyG's raw/ layout), or a gnn-benchmark .npz (adj_*, attr_*, labels; made undirected,
self-loops dropped, as gdistill's npz loader does). Features are row-normalised
(NormalizeFeatures; --raw-features skips it, as a diagnostic) and dense, PyG's default. Splits:
  public               Planetoid's public split (for npz files: per-class:20,30 with --seed);
  per-class:TRAIN,VAL  TRAIN training and VAL validation nodes per class, the rest test, drawn per
                       class with numpy's default_rng(seed) (gdistill's rule for small classes;
                       the same counts as gdistill's split, not the same nodes: gdistill draws
                       with ChaCha8);
  random:TRAIN,VAL     the fractions TRAIN and VAL of all nodes to training and validation, the
                       rest test, drawn with default_rng(seed).
Training runs WARMUP + EPOCHS epochs, each a training step then an evaluation (full forward,
validation and test accuracy); step_ms and eval_ms are medians over the last EPOCHS, train_s the
whole loop, infer_ms the median of 21 eval-mode forwards after 3 warm-up ones. The reported
accuracy is the test accuracy at the best validation accuracy. Threads: torch's default.
Prints one JSON line.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import torch_geometric.transforms as T
from torch_geometric.data import Data
from torch_geometric.nn import GATConv, GCNConv, SAGEConv


# gdistill's recipes (the same ones its `train`/`bench` use; GAT is PyG's examples/gat.py).
#   hidden: hidden width (for GAT: channels per head, times `heads`);
#   dropout: on the input and on the hidden layer; attention_dropout: GAT's on the coefficients;
#   weight_decay: Adam's (coupled) L2; decay_first_only: only the first layer is decayed
#   (Kipf & Welling's GCN), else every parameter is.
@dataclass(frozen=True)
class Recipe:
    hidden: int
    dropout: float
    lr: float
    weight_decay: float
    decay_first_only: bool
    epochs: int
    heads: int = 1
    attention_dropout: float = 0.0


RECIPES = {
    "gcn": Recipe(hidden=64, dropout=0.5, lr=0.01, weight_decay=5e-4, decay_first_only=True, epochs=200),
    "sage": Recipe(hidden=64, dropout=0.5, lr=0.01, weight_decay=5e-4, decay_first_only=False, epochs=200),
    "gat": Recipe(hidden=8, heads=8, dropout=0.6, attention_dropout=0.6, lr=0.005, weight_decay=5e-4,
                  decay_first_only=False, epochs=200),
}
WARMUP = 10  # epochs before the timed ones
INFER_WARMUP, INFER_REPEATS = 3, 21


# --- data ------------------------------------------------------------------------------------

def default_data_dir():
    if os.environ.get("GDISTILL_DATA_DIR"):
        return os.environ["GDISTILL_DATA_DIR"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shared = os.path.join(os.path.dirname(repo), "shared", "data")
    return shared if os.path.isdir(shared) else os.path.join(repo, "data")


def load_planetoid(data_dir, name, normalize=True):
    """PyG's Planetoid from DATA_DIR/NAME/ind.NAME.*, with its public split masks."""
    from torch_geometric.datasets import Planetoid
    pyg_name = "CiteSeer" if name == "citeseer" else name.capitalize()
    root = tempfile.mkdtemp(prefix="gdistill-pyg-")
    try:
        raw = os.path.join(root, pyg_name, "raw")
        os.makedirs(raw)
        for f in os.listdir(os.path.join(data_dir, name)):
            if f.startswith(f"ind.{name}."):
                shutil.copy(os.path.join(data_dir, name, f), raw)
        dataset = Planetoid(root, pyg_name, transform=T.NormalizeFeatures() if normalize else None)
        return dataset[0], dataset.num_classes
    finally:
        shutil.rmtree(root, ignore_errors=True)


def load_npz(path, normalize=True):
    """A gnn-benchmark .npz as a PyG Data (no split): undirected, no self-loops, dense features."""
    import scipy.sparse as sp
    with np.load(path, allow_pickle=False) as z:
        def get(prefix, key):
            return z[f"{prefix}_{key}"] if f"{prefix}_{key}" in z else z[f"{prefix}_matrix.{key}"]

        adj = sp.csr_matrix((get("adj", "data"), get("adj", "indices"), get("adj", "indptr")),
                            shape=tuple(get("adj", "shape")))
        if "attr_data" in z or "attr_matrix.data" in z:
            x = sp.csr_matrix((get("attr", "data"), get("attr", "indices"), get("attr", "indptr")),
                              shape=tuple(get("attr", "shape"))).toarray()
        else:
            x = z["attr_matrix"]
        labels = z["labels"].astype(np.int64)
    adj = adj.tocoo()
    row, col = adj.row.astype(np.int64), adj.col.astype(np.int64)
    keep = row != col
    row, col = row[keep], col[keep]
    # symmetrise and deduplicate: every stored entry is an edge, weights ignored
    n = adj.shape[0]
    key = np.unique(np.concatenate([row * n + col, col * n + row]))
    edge_index = torch.from_numpy(np.stack([key // n, key % n]))
    data = Data(x=torch.from_numpy(np.asarray(x, dtype=np.float32)), edge_index=edge_index,
                y=torch.from_numpy(labels), num_nodes=n)
    return (T.NormalizeFeatures()(data) if normalize else data), int(labels.max()) + 1


def masks(n, train, val, test):
    out = []
    for idx in (train, val, test):
        m = torch.zeros(n, dtype=torch.bool)
        m[torch.as_tensor(np.asarray(idx, dtype=np.int64))] = True
        out.append(m)
    return out


def per_class_split(labels, num_classes, train_per_class, val_per_class, seed):
    """gdistill's per-class rule, drawn with numpy's default_rng(seed), classes in order."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = len(idx)
        if n >= train_per_class + val_per_class + 1:
            t, v = train_per_class, val_per_class
        else:
            t = min(train_per_class, max(1, n // 2))
            v = (n - t) // 2
        train += idx[:t].tolist()
        val += idx[t:t + v].tolist()
        test += idx[t + v:].tolist()
    return sorted(train), sorted(val), sorted(test)


def random_split(n, train_frac, val_frac, seed):
    perm = np.random.default_rng(seed).permutation(n)
    t, v = int(round(train_frac * n)), int(round(val_frac * n))
    return sorted(perm[:t].tolist()), sorted(perm[t:t + v].tolist()), sorted(perm[t + v:].tolist())


def load(dataset, split="public", seed=0, data_dir=None, normalize=True):
    """(data with train/val/test masks, number of classes, dataset label, the split used).
    normalize=False keeps the raw features (a diagnostic; every recipe row-normalises)."""
    data_dir = data_dir or default_data_dir()
    if dataset.startswith("npz:"):
        data, classes = load_npz(dataset[4:], normalize)
        label = os.path.splitext(os.path.basename(dataset[4:]))[0]
        if split == "public":
            split = "per-class:20,30"
    elif dataset in ("cora", "citeseer", "pubmed"):
        data, classes = load_planetoid(data_dir, dataset, normalize)
        label = dataset
    else:
        raise SystemExit(f"unknown dataset {dataset!r} (cora, citeseer, pubmed or npz:PATH)")
    if split == "public":
        return data, classes, label, split
    kind, _, args = split.partition(":")
    parts = args.split(",")
    labels = data.y.numpy()
    if kind == "per-class" and len(parts) == 2:
        idx = per_class_split(labels, classes, int(parts[0]), int(parts[1]), seed)
    elif kind == "random" and len(parts) == 2:
        idx = random_split(data.num_nodes, float(parts[0]), float(parts[1]), seed)
    else:
        raise SystemExit(f"unknown split {split!r} (public, per-class:TRAIN,VAL or random:TRAIN,VAL)")
    data.train_mask, data.val_mask, data.test_mask = masks(data.num_nodes, *idx)
    return data, classes, label, split


# --- models ----------------------------------------------------------------------------------

class GCN(torch.nn.Module):
    def __init__(self, features, classes, r):
        super().__init__()
        self.p = r.dropout
        self.conv1 = GCNConv(features, r.hidden, cached=True)
        self.conv2 = GCNConv(r.hidden, classes, cached=True)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=self.p, training=self.training)
        x = self.conv1(x, edge_index).relu()
        x = F.dropout(x, p=self.p, training=self.training)
        return self.conv2(x, edge_index)


class SAGE(torch.nn.Module):
    def __init__(self, features, classes, r):
        super().__init__()
        self.p = r.dropout
        self.conv1 = SAGEConv(features, r.hidden)  # aggr="mean", root_weight=True
        self.conv2 = SAGEConv(r.hidden, classes)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=self.p, training=self.training)
        x = self.conv1(x, edge_index).relu()
        x = F.dropout(x, p=self.p, training=self.training)
        return self.conv2(x, edge_index)


class GAT(torch.nn.Module):
    def __init__(self, features, classes, r):
        super().__init__()
        self.p = r.dropout
        self.conv1 = GATConv(features, r.hidden, heads=r.heads, dropout=r.attention_dropout)
        self.conv2 = GATConv(r.hidden * r.heads, classes, heads=1, concat=False, dropout=r.attention_dropout)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=self.p, training=self.training)
        x = F.elu(self.conv1(x, edge_index))
        x = F.dropout(x, p=self.p, training=self.training)
        return self.conv2(x, edge_index)


MODELS = {"gcn": GCN, "sage": SAGE, "gat": GAT}


def optimizer_for(model, r):
    if r.decay_first_only:
        first = list(model.conv1.parameters())
        ids = {id(p) for p in first}
        rest = [p for p in model.parameters() if id(p) not in ids]
        return torch.optim.Adam([dict(params=first, weight_decay=r.weight_decay),
                                 dict(params=rest, weight_decay=0.0)], lr=r.lr)
    return torch.optim.Adam(model.parameters(), lr=r.lr, weight_decay=r.weight_decay)


# --- run -------------------------------------------------------------------------------------

def run(model_name, dataset, split="public", seed=0, data_dir=None, normalize=True):
    """Trains and times one model; returns the JSON record (a dict)."""
    recipe = RECIPES[model_name]
    torch.manual_seed(seed)
    data, classes, label, split = load(dataset, split, seed, data_dir, normalize)
    model = MODELS[model_name](data.num_features, classes, recipe)
    optimizer = optimizer_for(model, recipe)
    x, edge_index, y = data.x, data.edge_index, data.y
    train_mask, val_mask, test_mask = data.train_mask, data.val_mask, data.test_mask
    steps, evals = [], []
    best_val, test_at_best = 0.0, 0.0
    start = time.perf_counter()
    for epoch in range(recipe.epochs + WARMUP):
        t0 = time.perf_counter()
        model.train()
        optimizer.zero_grad()
        out = model(x, edge_index)
        F.cross_entropy(out[train_mask], y[train_mask]).backward()
        optimizer.step()
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            pred = model(x, edge_index).argmax(dim=-1)
            val = (pred[val_mask] == y[val_mask]).float().mean().item()
            test = (pred[test_mask] == y[test_mask]).float().mean().item()
        t2 = time.perf_counter()
        if val > best_val:
            best_val, test_at_best = val, test
        if epoch >= WARMUP:
            steps.append((t1 - t0) * 1e3)
            evals.append((t2 - t1) * 1e3)
    total = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        for _ in range(INFER_WARMUP):
            model(x, edge_index)
        times = []
        for _ in range(INFER_REPEATS):
            t0 = time.perf_counter()
            model(x, edge_index)
            times.append((time.perf_counter() - t0) * 1e3)
    return {
        "peer": "pytorch_geometric", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "dataset": label, "epochs": recipe.epochs, "step_ms": statistics.median(steps),
        "eval_ms": statistics.median(evals), "infer_ms": statistics.median(times), "train_s": total,
        "test_acc_at_best_val": test_at_best,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "model": model_name, "split": split, "seed": seed,
        "features": "row-normalised" if normalize else "raw",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=sorted(RECIPES), default="gcn")
    ap.add_argument("--dataset", default="cora", help="cora, citeseer, pubmed or npz:PATH")
    ap.add_argument("--split", default="public", help="public, per-class:TRAIN,VAL or random:TRAIN,VAL")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None, help="default: $GDISTILL_DATA_DIR, else ../shared/data, else data/")
    ap.add_argument("--raw-features", action="store_true",
                    help="skip the recipes' row normalisation (a diagnostic: on the Amazon graphs, ~35%% of "
                         "the 767 binary features are set per node, and row-normalised inputs train slowly)")
    a = ap.parse_args()
    print(json.dumps(run(a.model, a.dataset, a.split, a.seed, a.data_dir, not a.raw_features)))


if __name__ == "__main__":
    main()
