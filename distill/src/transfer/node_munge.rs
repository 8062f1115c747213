//! MUNGE pseudo nodes for a graph's MLP student (`compare --transfer-set munge:N,P` on graphs).
//!
//! On a graph the transfer set is already every node, so the question is whether pseudo
//! *features* add anything (Bucilua et al. 2006's MUNGE, [`crate::transfer::transfer_set`]). Pseudo node
//! `k` copies node `e = k mod n` and perturbs its features towards `e`'s nearest neighbour in
//! feature space. The teacher labels it where it stands: `e`'s place in the graph with the
//! perturbed features. In the teacher's operator the pseudo node's row is `e`'s row with `e`'s
//! self-loop moved onto the pseudo node, and no row reads the pseudo node, so every real node's
//! output is unchanged and the pseudo node's output is what the teacher says of a node wired
//! like `e` with those features. Every family derives its aggregation from that pattern (GCN and
//! APPNP read the values, GraphSAGE the off-diagonal entries, GAT the whole row), so one
//! construction serves all four. No pseudo node carries a ground-truth label: its label is the
//! teacher's argmax, and it is in no split.
//!
//! ```
//! use gdistill_distill::node_munge::pseudo_operator;
//! // A path 0 - 1 - 2 with self-loops; pseudo node 3 copies node 1.
//! let a = sprs::CsMat::new((3, 3), vec![0, 2, 5, 7], vec![0, 1, 0, 1, 2, 1, 2], vec![1.0f32; 7]);
//! let aug = pseudo_operator(&a, &[1]);
//! assert_eq!(aug.shape(), (4, 4));
//! assert_eq!(aug.outer_view(3).unwrap().indices(), &[0, 2, 3]); // 1's neighbours, then itself
//! assert_eq!(aug.outer_view(1).unwrap().indices(), &[0, 1, 2]); // real rows unchanged
//! ```

use gdistill_datasets::NodeDataset;
use gdistill_models::{ModelError, NodeFeatures, SparseMatrix};
use sprs::CsMat;
use tch::{Device, Kind, Tensor};

use crate::transfer::transfer_set::{munge_with_neighbours, MUNGE_LOCAL_SCALE};
use crate::{GraphData, TrainError};

/// Pseudo nodes: their features (`size x F`, CSR) and the real node each one copies.
pub struct PseudoNodes {
    pub features: CsMat<f32>,
    pub sources: Vec<usize>,
}

/// `size` MUNGE pseudo nodes from `dataset`'s features (every node training sees), swap
/// probability `p`, drawn with `seed`.
pub fn munge_nodes(dataset: &NodeDataset, size: usize, p: f64, seed: u64) -> PseudoNodes {
    let (n, d) = (dataset.num_nodes(), dataset.num_features());
    let x = dataset.dense_features();
    let neighbours = nearest_neighbours(&x, n, d);
    let pseudo = munge_with_neighbours(&x, d, &neighbours, size, p, MUNGE_LOCAL_SCALE, seed);
    PseudoNodes { features: csr_rows(&pseudo, d), sources: (0..size).map(|k| k % n).collect() }
}

/// Each row's nearest other row (squared Euclidean), from `|x|^2 - 2 x y + |y|^2` in blocks of
/// rows: the quadratic scan of [`crate::transfer::transfer_set::nearest_neighbours`] as matrix products,
/// which Amazon's 13 752 x 767 features need.
fn nearest_neighbours(x: &[f32], n: usize, d: usize) -> Vec<usize> {
    let all = Tensor::from_slice(x).view([n as i64, d as i64]);
    let norms = all.square().sum_dim_intlist(1, false, Kind::Float);
    let block = 1024.min(n as i64);
    let mut out = Vec::with_capacity(n);
    for start in (0..n as i64).step_by(block as usize) {
        let rows = block.min(n as i64 - start);
        let part = all.narrow(0, start, rows);
        let dist = part.matmul(&all.tr()) * -2.0 + norms.unsqueeze(0) + norms.narrow(0, start, rows).unsqueeze(1);
        // A row is not its own neighbour.
        let own = Tensor::arange_start(start, start + rows, (Kind::Int64, Device::Cpu)).unsqueeze(1);
        let dist = dist.scatter_value(1, &own, f64::INFINITY);
        out.extend(Vec::<i64>::try_from(dist.argmin(1, false)).expect("int64 indices").into_iter().map(|i| i as usize));
    }
    out
}

/// Row-major `rows x d` values as CSR, zeros dropped (bag-of-words rows stay sparse: MUNGE
/// changes an entry only where `e` and its neighbour differ).
fn csr_rows(values: &[f32], d: usize) -> CsMat<f32> {
    let mut indptr = vec![0];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for row in values.chunks(d) {
        for (j, &v) in row.iter().enumerate().filter(|(_, &v)| v != 0.0) {
            indices.push(j);
            data.push(v);
        }
        indptr.push(indices.len());
    }
    CsMat::new((values.len() / d, d), indptr, indices, data)
}

/// The teacher's operator with pseudo nodes appended: `n + m` square, real rows as in `a_hat`,
/// row `n + k` = row `sources[k]` with its diagonal entry moved to column `n + k`.
pub fn pseudo_operator(a_hat: &CsMat<f32>, sources: &[usize]) -> CsMat<f32> {
    let a_hat = if a_hat.is_csr() { a_hat.clone() } else { a_hat.to_csr() };
    let n = a_hat.rows();
    let total = n + sources.len();
    let (mut indptr, mut indices, mut data) = (vec![0], Vec::new(), Vec::new());
    let mut push_row = |row: sprs::CsVecView<f32>, own: usize, moved_to: usize| {
        let mut self_loop = None;
        for (j, &v) in row.iter() {
            if j == own && moved_to != own {
                self_loop = Some(v);
            } else {
                indices.push(j);
                data.push(v);
            }
        }
        // Columns stay sorted: the pseudo node's index is above every real one.
        if let Some(v) = self_loop {
            indices.push(moved_to);
            data.push(v);
        }
        indptr.push(indices.len());
    };
    for i in 0..n {
        push_row(a_hat.outer_view(i).expect("row in range"), i, i);
    }
    for (k, &e) in sources.iter().enumerate() {
        push_row(a_hat.outer_view(e).expect("source in range"), e, n + k);
    }
    CsMat::new((total, total), indptr, indices, data)
}

/// The real nodes' features with the pseudo nodes' appended, in `data`'s layout.
pub fn stacked_features(
    data: &GraphData,
    dataset: &NodeDataset,
    pseudo: &PseudoNodes,
) -> Result<NodeFeatures, ModelError> {
    Ok(match &data.features {
        NodeFeatures::Sparse(_) => NodeFeatures::Sparse(SparseMatrix::from_sprs(
            &sprs::vstack(&[dataset.features.view(), pseudo.features.view()]),
            data.device,
        )?),
        NodeFeatures::Dense(x) => {
            let (m, d) = (pseudo.features.rows() as i64, pseudo.features.cols() as i64);
            let dense =
                Tensor::from_slice(pseudo.features.to_dense().as_slice().expect("standard layout")).view([m, d]);
            NodeFeatures::Dense(Tensor::cat(&[x.shallow_clone(), dense.to(data.device)], 0))
        }
    })
}

/// What the teacher is shown to label the pseudo nodes: stacked features and [`pseudo_operator`].
pub fn teacher_view(
    data: &GraphData,
    dataset: &NodeDataset,
    pseudo: &PseudoNodes,
) -> Result<(NodeFeatures, SparseMatrix), ModelError> {
    let a_hat = gdistill_graph::gcn_normalized_adjacency(&dataset.graph);
    let operator = SparseMatrix::from_sprs(&pseudo_operator(&a_hat, &pseudo.sources), data.device)?;
    Ok((stacked_features(data, dataset, pseudo)?, operator))
}

/// The MLP student's data: real and pseudo nodes' features, the splits unchanged (pseudo nodes
/// are in none), pseudo labels the teacher's argmax (`pseudo_logits`), no graph (an MLP reads none).
pub fn student_data(
    data: &GraphData,
    dataset: &NodeDataset,
    pseudo: &PseudoNodes,
    pseudo_logits: &Tensor,
) -> Result<GraphData, ModelError> {
    let features = stacked_features(data, dataset, pseudo)?;
    let total = features.num_nodes();
    let labels =
        Tensor::cat(&[data.labels.shallow_clone(), pseudo_logits.argmax(1, false).to_kind(data.labels.kind())], 0);
    Ok(GraphData {
        features,
        a_hat: SparseMatrix::empty(total as usize, data.device)?,
        labels,
        train: data.train.shallow_clone(),
        val: data.val.shallow_clone(),
        test: data.test.shallow_clone(),
        all: Tensor::arange(total, (Kind::Int64, data.device)),
        num_classes: data.num_classes,
        device: data.device,
    })
}

/// `mlp+kd`'s data and targets with `size` MUNGE pseudo nodes appended (`munge:size,p`): the
/// real nodes' targets are the teacher's (`teacher_logits`), the pseudo nodes' what `label` (the
/// teacher, or an ensemble's combined targets) gives on [`teacher_view`].
pub fn transfer_set(
    observed: &NodeDataset,
    data: &GraphData,
    teacher_logits: &Tensor,
    size: usize,
    p: f64,
    seed: u64,
    label: impl Fn(&NodeFeatures, &SparseMatrix) -> Tensor,
) -> Result<(GraphData, Tensor), TrainError> {
    // A stream of its own: a seed's pseudo nodes do not depend on what trained before them.
    let pseudo = munge_nodes(observed, size, p, seed.wrapping_add(0x6d75_6e67_65));
    let (x, a) = teacher_view(data, observed, &pseudo)?;
    let pseudo_targets = label(&x, &a).narrow(0, data.num_nodes(), size as i64);
    let augmented = student_data(data, observed, &pseudo, &pseudo_targets)?;
    Ok((augmented, Tensor::cat(&[teacher_logits.shallow_clone(), pseudo_targets], 0)))
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    #[test]
    fn blocked_nearest_neighbours_equal_the_quadratic_scan() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        // 2 500 rows: more than two blocks of 1 024, the last one short.
        let (n, d) = (2500, 6);
        let x: Vec<f32> = (0..n * d).map(|_| rng.random::<f32>()).collect();
        assert_eq!(super::nearest_neighbours(&x, n, d), crate::transfer::transfer_set::nearest_neighbours(&x, d));
    }
}
