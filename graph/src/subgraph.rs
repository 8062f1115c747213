//! Induced subgraphs: the nodes one asks for, renumbered, and every entry between them.
//!
//! ```
//! use gdistill_graph::{EdgeOptions, Graph};
//! // a path 0 - 1 - 2 - 3
//! let g = Graph::from_edges(4, &[(0, 1), (1, 2), (2, 3)], EdgeOptions::undirected()).unwrap();
//! let (sub, original) = g.induced_subgraph(&[2, 1, 3]).unwrap();
//! // new 0 is old 2, new 1 is old 1, new 2 is old 3
//! assert_eq!(original, vec![2, 1, 3]);
//! assert_eq!(sub.neighbors(0), &[1, 2]);
//! assert_eq!(sub.neighbors(1), &[0]);
//! assert!(g.induced_subgraph(&[1, 1]).is_err());
//! ```

use crate::{Graph, GraphError};

impl Graph {
    /// The subgraph induced by `nodes`: new node `k` is old node `nodes[k]`, and every entry
    /// `(nodes[a], nodes[b])` of `self` (self-loops and weights included) becomes `(a, b)`.
    ///
    /// Returns the subgraph and, for each new node, its id in `self` (new → old; this is `nodes`
    /// itself, returned for convenience). Fails on a node `>= num_nodes`
    /// ([`GraphError::NodeNotInGraph`]) or a node listed twice ([`GraphError::DuplicateNode`]).
    pub fn induced_subgraph(&self, nodes: &[usize]) -> Result<(Graph, Vec<usize>), GraphError> {
        let n = self.num_nodes();
        let mut new_id = vec![usize::MAX; n];
        for (k, &v) in nodes.iter().enumerate() {
            if v >= n {
                return Err(GraphError::NodeNotInGraph { node: v, num_nodes: n });
            }
            if new_id[v] != usize::MAX {
                return Err(GraphError::DuplicateNode { node: v });
            }
            new_id[v] = k;
        }
        Ok((self.induced_by_map(nodes, &new_id), nodes.to_vec()))
    }

    /// The induced subgraph given `nodes` (new → old) and its inverse `new_id` (old → new, or
    /// `usize::MAX` for nodes left out). The two must agree; callers check that.
    pub(crate) fn induced_by_map(&self, nodes: &[usize], new_id: &[usize]) -> Graph {
        let mut indptr = Vec::with_capacity(nodes.len() + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        let mut row: Vec<(usize, f32)> = Vec::new();
        for &v in nodes {
            row.clear();
            for (&j, &w) in self.neighbors(v).iter().zip(self.neighbor_weights(v)) {
                if new_id[j] != usize::MAX {
                    row.push((new_id[j], w));
                }
            }
            row.sort_unstable_by_key(|&(j, _)| j);
            indices.extend(row.iter().map(|&(j, _)| j));
            data.extend(row.iter().map(|&(_, w)| w));
            indptr.push(indices.len());
        }
        Graph::from_parts(nodes.len(), indptr, indices, data)
    }
}
