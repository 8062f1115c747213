//! Fuzzing the graph builders with random, often invalid, input (CI-sized; `GDISTILL_FUZZ_ITERS`
//! / `GDISTILL_FUZZ_SECS` scale it): edge lists naming nodes out of range, node lists with
//! duplicates, point clouds with NaN and infinite coordinates, cloud sizes that do not (or only
//! after overflowing) add up. Every call returns an error or a well-formed graph, never a panic.

#[path = "../../tests/support/mutate.rs"]
mod mutate;

use gdistill_graph::{gcn_normalized_adjacency, knn_graph_batched, EdgeOptions, Graph, KnnOptions};
use mutate::{fuzz, Rng};

/// CSR invariants and, for undirected graphs, symmetry.
fn well_formed(g: &Graph, undirected: bool) -> Result<(), String> {
    let n = g.num_nodes();
    let indptr = g.indptr();
    if indptr.len() != n + 1 || indptr[n] != g.indices().len() {
        return Err("bad row pointer".into());
    }
    for i in 0..n {
        let row = g.neighbors(i);
        if !row.windows(2).all(|w| w[0] < w[1]) || row.iter().any(|&j| j >= n) {
            return Err(format!("row {i} is not sorted, unique and in range: {row:?}"));
        }
    }
    if undirected && !g.is_symmetric() {
        return Err("an undirected graph is not symmetric".into());
    }
    let a = gcn_normalized_adjacency(g);
    if a.data().iter().any(|v| !v.is_finite()) {
        return Err("the normalised adjacency holds non-finite values".into());
    }
    Ok(())
}

/// Turns 8 bytes of the fuzz input into a generator seed: the inputs are seeds, not files.
fn seed_of(input: &[u8]) -> u64 {
    input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn fuzz_edge_lists_and_subgraphs() {
    fuzz(
        "graph-edges",
        50_000,
        2.0,
        21,
        |m, k| [m.rng.next_u64().to_le_bytes(), (k as u64).to_le_bytes()].concat(),
        |input| {
            let mut r = Rng::new(seed_of(input));
            let n = r.below(40);
            let bound = if r.chance(0.2) { n + 3 } else { n.max(1) };
            let edges: Vec<(usize, usize)> = (0..r.below(100)).map(|_| (r.below(bound), r.below(bound))).collect();
            let undirected = r.chance(0.5);
            let opts = if undirected { EdgeOptions::undirected() } else { EdgeOptions::directed() };
            let out_of_range = edges.iter().any(|&(i, j)| i >= n || j >= n);
            let g = match Graph::from_edges(n, &edges, opts) {
                Err(_) if out_of_range => return Ok(false),
                Err(e) => return Err(format!("refused a valid edge list: {e}")),
                Ok(_) if out_of_range => return Err("accepted an edge naming a node out of range".into()),
                Ok(g) => g,
            };
            well_formed(&g, undirected)?;
            let nodes: Vec<usize> = (0..r.below(n + 3)).map(|_| r.below(n + 2)).collect();
            match g.induced_subgraph(&nodes) {
                Ok((sub, map)) => {
                    if map != nodes || sub.num_nodes() != nodes.len() {
                        return Err("the subgraph's node map is wrong".into());
                    }
                    well_formed(&sub, undirected)?;
                }
                Err(_) => {
                    let mut sorted = nodes.clone();
                    sorted.sort_unstable();
                    sorted.dedup();
                    if sorted.len() == nodes.len() && nodes.iter().all(|&v| v < n) {
                        return Err("refused a valid node list".into());
                    }
                }
            }
            let (count, component) = g.connected_components();
            if component.len() != n || component.iter().any(|&c| c >= count.max(1)) {
                return Err("component labels out of range".into());
            }
            Ok(true)
        },
    );
}

#[test]
fn fuzz_knn_graphs() {
    const VALUES: [f32; 8] = [0.0, 1.0, -1.0, 0.5, 1e30, f32::NAN, f32::INFINITY, -0.0];
    fuzz(
        "graph-knn",
        30_000,
        2.0,
        22,
        |m, k| [m.rng.next_u64().to_le_bytes(), (k as u64).to_le_bytes()].concat(),
        |input| {
            let mut r = Rng::new(seed_of(input));
            let dim = r.below(4);
            let len = r.below(60);
            let points: Vec<f32> = (0..len)
                .map(|_| if r.chance(0.05) { *r.pick(&VALUES) } else { (r.below(1000) as f32) / 100.0 })
                .collect();
            let mut sizes: Vec<usize> = Vec::new();
            let mut left = len.checked_div(dim).unwrap_or(len);
            while left > 0 {
                let s = 1 + r.below(left);
                sizes.push(s);
                left -= s;
                if r.chance(0.2) {
                    sizes.push(0);
                }
            }
            if r.chance(0.1) {
                sizes.push(1); // one point too many
            }
            if r.chance(0.05) {
                sizes.push(usize::MAX); // a sum that wraps around
                sizes.push(1);
            }
            let k = r.below(6);
            let opts = if r.chance(0.5) { KnnOptions::include_self() } else { KnnOptions::default() };
            match knn_graph_batched(&points, dim, &sizes, k, opts) {
                Ok(g) => {
                    if points.iter().any(|p| !p.is_finite()) {
                        return Err("accepted non-finite coordinates".into());
                    }
                    well_formed(&g, false)?;
                    if (0..g.num_nodes()).any(|i| g.neighbors(i).len() > k) {
                        return Err("a point has more than k neighbours".into());
                    }
                    Ok(true)
                }
                Err(_) => Ok(false),
            }
        },
    );
}

/// Cloud sizes whose sum overflows used to wrap around (silently in release builds) to the
/// number of points, and the search then indexed past the clouds.
#[test]
fn regression_cloud_sizes_that_overflow() {
    let points = [0.0f32, 1.0, 2.0];
    let err = knn_graph_batched(&points, 1, &[usize::MAX, 4], 1, KnnOptions::default()).unwrap_err();
    assert!(err.to_string().contains("cloud sizes add up to"), "{err}");
}
