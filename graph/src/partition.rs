//! Cutting a graph into parts for runs across processes: which part owns each node
//! ([`assign_parts`], by METIS or by contiguous id ranges), what one part holds ([`PartGraph`]:
//! its nodes' adjacency rows with global ids, and its halo, the other parts' nodes adjacent to
//! its own), and the GCN propagation rows a part computes from that alone
//! ([`PartGraph::gcn_rows`]).
//!
//! METIS (`METIS_PartGraphKway`, through the `metis` crate over the system's libmetis) minimises
//! the edges cut while keeping the parts' node counts balanced; it needs a symmetric graph
//! without self-loops, so it is given the symmetrised graph with self-loops left out (that only
//! steers the assignment: the parts keep every stored entry). A part METIS leaves empty (tiny
//! graphs) takes one node from the largest part, so every part owns at least one node. A seed
//! fixes METIS's result (calls are serialised: libmetis keeps one process-wide random state).
//!
//! ```
//! use gdistill_graph::partition::{assign_parts, PartGraph, PartitionMethod};
//! use gdistill_graph::{EdgeOptions, Graph};
//!
//! // The path 0 - 1 - 2 - 3 cut into two contiguous halves: {0, 1} and {2, 3}.
//! let g = Graph::from_edges(4, &[(0, 1), (1, 2), (2, 3)], EdgeOptions::undirected())?;
//! let owner = assign_parts(&g, 2, PartitionMethod::Contiguous, 0)?;
//! assert_eq!(owner, vec![0, 0, 1, 1]);
//! let first = PartGraph::extract(&g, &owner, 0);
//! assert_eq!(first.nodes, vec![0, 1]);
//! assert_eq!(first.halo, vec![2]); // node 1's neighbour 2 lives in part 1
//! assert_eq!(first.halo_owner, vec![1]);
//! assert_eq!(first.cut_edges(), 1);
//! # Ok::<(), gdistill_graph::GraphError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::{Graph, GraphError};

/// How nodes are assigned to parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionMethod {
    /// METIS k-way: few cut edges, balanced node counts.
    Metis,
    /// Part `r` of `P` owns the ids `r N / P .. (r + 1) N / P`.
    Contiguous,
}

impl fmt::Display for PartitionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PartitionMethod::Metis => "metis",
            PartitionMethod::Contiguous => "contiguous",
        })
    }
}

impl FromStr for PartitionMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "metis" => Ok(PartitionMethod::Metis),
            "contiguous" => Ok(PartitionMethod::Contiguous),
            other => Err(format!("unknown partition method '{other}': expected metis or contiguous")),
        }
    }
}

/// `[start, end)` of part `part` of `n` items cut into `parts` contiguous ranges.
pub fn contiguous_range(n: usize, part: usize, parts: usize) -> std::ops::Range<usize> {
    (n * part / parts)..(n * (part + 1) / parts)
}

/// The part of every node: `owner[i]` in `0..parts`, every part owning at least one node.
///
/// Refuses (with a message saying why) a graph without nodes, `parts == 0`, more parts than
/// nodes, and graphs too large for METIS's 32-bit indices.
pub fn assign_parts(graph: &Graph, parts: usize, method: PartitionMethod, seed: u64) -> Result<Vec<usize>, GraphError> {
    let n = graph.num_nodes();
    let invalid = |m: String| Err(GraphError::Invalid(m));
    if n == 0 {
        return invalid("the graph has no nodes: there is nothing to partition".into());
    }
    if parts == 0 {
        return invalid("--parts must be at least 1".into());
    }
    if parts > n {
        return invalid(format!("{parts} parts for {n} nodes: every part must own at least one node"));
    }
    let mut owner = match method {
        PartitionMethod::Contiguous => {
            let mut owner = vec![0; n];
            for part in 0..parts {
                owner[contiguous_range(n, part, parts)].fill(part);
            }
            owner
        }
        PartitionMethod::Metis => metis_kway(graph, parts, seed)?,
    };
    fill_empty_parts(&mut owner, parts);
    Ok(owner)
}

/// METIS k-way on the symmetrised graph without self-loops.
fn metis_kway(graph: &Graph, parts: usize, seed: u64) -> Result<Vec<usize>, GraphError> {
    let n = graph.num_nodes();
    if parts == 1 {
        return Ok(vec![0; n]);
    }
    let too_large = || GraphError::Invalid(format!("{n} nodes or their edges exceed METIS's 32-bit indices"));
    let mut rows: Vec<Vec<usize>> =
        (0..n).map(|i| graph.neighbors(i).iter().copied().filter(|&j| j != i).collect()).collect();
    if !graph.is_symmetric() {
        for (i, j) in graph.edges().filter(|&(i, j)| i != j) {
            rows[j].push(i);
        }
        for row in &mut rows {
            row.sort_unstable();
            row.dedup();
        }
    }
    let mut xadj = Vec::with_capacity(n + 1);
    xadj.push(0 as metis::Idx);
    let mut adjncy = Vec::with_capacity(rows.iter().map(Vec::len).sum());
    for row in rows {
        for j in row {
            adjncy.push(metis::Idx::try_from(j).map_err(|_| too_large())?);
        }
        xadj.push(metis::Idx::try_from(adjncy.len()).map_err(|_| too_large())?);
    }
    let nparts = metis::Idx::try_from(parts).map_err(|_| too_large())?;
    let mut part = vec![0 as metis::Idx; n];
    let seed = metis::Idx::try_from(seed % (metis::Idx::MAX as u64)).expect("reduced below Idx::MAX");
    // libmetis draws from one process-wide random state: two threads partitioning at once would
    // interleave their draws, and a seed would no longer fix the result.
    static METIS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = METIS.lock().unwrap_or_else(|e| e.into_inner());
    metis::Graph::new(1, nparts, &xadj, &adjncy)
        .map_err(|e| GraphError::Invalid(format!("METIS refused the graph: {e}")))?
        .set_option(metis::option::Seed(seed))
        .part_kway(&mut part)
        .map_err(|e| GraphError::Invalid(format!("METIS failed: {e}")))?;
    Ok(part.into_iter().map(|p| p as usize).collect())
}

/// Gives every empty part one node of the (first) largest part, so every part owns a node.
fn fill_empty_parts(owner: &mut [usize], parts: usize) {
    let mut counts = vec![0usize; parts];
    owner.iter().for_each(|&p| counts[p] += 1);
    for empty in 0..parts {
        if counts[empty] > 0 {
            continue;
        }
        let largest = (0..parts).max_by_key(|&p| (counts[p], std::cmp::Reverse(p))).expect("parts > 0");
        let node = owner.iter().rposition(|&p| p == largest).expect("the largest part has a node");
        owner[node] = empty;
        counts[largest] -= 1;
        counts[empty] = 1;
    }
}

/// What one part holds of the graph: its nodes, their rows (global ids), and its halo.
#[derive(Clone, Debug, PartialEq)]
pub struct PartGraph {
    /// Global ids of the nodes this part owns, ascending.
    pub nodes: Vec<usize>,
    /// Row pointer of the owned nodes' adjacency rows (`nodes.len() + 1` entries).
    pub indptr: Vec<usize>,
    /// Global column ids of those rows, sorted within each row.
    pub indices: Vec<usize>,
    /// Stored weights, aligned with `indices`.
    pub weights: Vec<f32>,
    /// Global ids of the non-owned nodes adjacent to an owned one, ascending.
    pub halo: Vec<usize>,
    /// The part owning each halo node.
    pub halo_owner: Vec<usize>,
    /// The sum of each halo node's row weights, its self-loop left out (what the GCN
    /// normalisation needs of a column this part does not hold).
    pub halo_degree: Vec<f64>,
}

impl PartGraph {
    /// Part `part`'s share of `graph` under the assignment `owner`.
    pub fn extract(graph: &Graph, owner: &[usize], part: usize) -> PartGraph {
        let nodes: Vec<usize> = (0..graph.num_nodes()).filter(|&i| owner[i] == part).collect();
        let mut indptr = Vec::with_capacity(nodes.len() + 1);
        indptr.push(0);
        let (mut indices, mut weights) = (Vec::new(), Vec::new());
        for &i in &nodes {
            indices.extend_from_slice(graph.neighbors(i));
            weights.extend_from_slice(graph.neighbor_weights(i));
            indptr.push(indices.len());
        }
        let mut halo: Vec<usize> = indices.iter().copied().filter(|&j| owner[j] != part).collect();
        halo.sort_unstable();
        halo.dedup();
        let halo_owner = halo.iter().map(|&j| owner[j]).collect();
        let halo_degree =
            halo.iter().map(|&j| weight_sum_without_self(j, graph.neighbors(j), graph.neighbor_weights(j))).collect();
        PartGraph { nodes, indptr, indices, weights, halo, halo_owner, halo_degree }
    }

    /// The local row of global node `node`, if this part owns it.
    pub fn local_row(&self, node: usize) -> Option<usize> {
        self.nodes.binary_search(&node).ok()
    }

    /// Stored entries of the owned rows.
    pub fn num_entries(&self) -> usize {
        self.indices.len()
    }

    /// Entries of the owned rows whose column another part owns.
    pub fn cut_edges(&self) -> usize {
        self.indices.iter().filter(|&&j| self.local_row(j).is_none()).count()
    }

    /// The owned rows of the GCN propagation matrix `D^-1/2 (A + I) D^-1/2`, columns as global
    /// ids: the same values as [`crate::gcn_normalized_adjacency`]'s rows of these nodes (same
    /// `f64` arithmetic, rounded once to `f32`). Returns `(indptr, global columns, values)`.
    pub fn gcn_rows(&self) -> (Vec<usize>, Vec<usize>, Vec<f32>) {
        let rows = self.nodes.len();
        let mut indptr = Vec::with_capacity(rows + 1);
        indptr.push(0);
        let (mut indices, mut values) = (Vec::with_capacity(self.indices.len() + rows), Vec::new());
        for (r, &i) in self.nodes.iter().enumerate() {
            let span = self.indptr[r]..self.indptr[r + 1];
            let (nb, w) = (&self.indices[span.clone()], &self.weights[span]);
            let at = nb.binary_search(&i);
            let p = at.unwrap_or_else(|p| p);
            indices.extend_from_slice(&nb[..p]);
            values.extend_from_slice(&w[..p]);
            indices.push(i);
            values.push(1.0);
            let after = if at.is_ok() { p + 1 } else { p };
            indices.extend_from_slice(&nb[after..]);
            values.extend_from_slice(&w[after..]);
            indptr.push(indices.len());
        }
        let scale = |degree: f64| if degree <= 0.0 { 0.0 } else { 1.0 / degree.sqrt() };
        let own_scale: Vec<f64> =
            (0..rows).map(|r| scale(values[indptr[r]..indptr[r + 1]].iter().map(|&x| f64::from(x)).sum())).collect();
        for r in 0..rows {
            for k in indptr[r]..indptr[r + 1] {
                let j = indices[k];
                let column = match self.local_row(j) {
                    Some(c) => own_scale[c],
                    None => {
                        let h = self.halo.binary_search(&j).expect("a non-owned column is in the halo");
                        scale(self.halo_degree[h] + 1.0)
                    }
                };
                values[k] = (f64::from(values[k]) * (own_scale[r] * column)) as f32;
            }
        }
        (indptr, indices, values)
    }
}

/// Sum of a row's weights in `f64`, the entry on the diagonal (`node` itself) left out.
fn weight_sum_without_self(node: usize, neighbors: &[usize], weights: &[f32]) -> f64 {
    neighbors.iter().zip(weights).filter(|(&j, _)| j != node).map(|(_, &w)| f64::from(w)).sum()
}
