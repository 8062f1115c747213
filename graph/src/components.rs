//! Connected components (weakly connected for directed graphs) and the largest one.
//!
//! Components are found with a union-find over every stored entry, so the direction of an entry
//! never matters. Component ids are numbered in order of each component's smallest node: node 0 is
//! always in component 0.
//!
//! ```
//! use gdistill_graph::{EdgeOptions, Graph};
//! // {0, 2} and {1, 3, 4}, with 4 reached only by a directed entry
//! let g = Graph::from_edges(5, &[(0, 2), (1, 3), (3, 1), (4, 3)], EdgeOptions::directed()).unwrap();
//! let (count, ids) = g.connected_components();
//! assert_eq!(count, 2);
//! assert_eq!(ids, vec![0, 1, 0, 1, 1]);
//! let (largest, original) = g.largest_component();
//! assert_eq!(original, vec![1, 3, 4]);
//! assert_eq!(largest.num_entries(), 3);
//! ```

use crate::Graph;

/// Union-find with path halving and union by size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        DisjointSets { parent: (0..n).collect(), size: vec![1; n] }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

impl Graph {
    /// The number of connected components and the component id (in `0..count`) of every node.
    ///
    /// Directed graphs give weakly connected components. Ids follow the smallest node of each
    /// component: scanning nodes `0, 1, ...`, each new component gets the next id.
    pub fn connected_components(&self) -> (usize, Vec<usize>) {
        let n = self.num_nodes();
        let mut sets = DisjointSets::new(n);
        for (i, j) in self.edges() {
            sets.union(i, j);
        }
        let mut id_of_root = vec![usize::MAX; n];
        let mut ids = Vec::with_capacity(n);
        let mut count = 0;
        for v in 0..n {
            let root = sets.find(v);
            if id_of_root[root] == usize::MAX {
                id_of_root[root] = count;
                count += 1;
            }
            ids.push(id_of_root[root]);
        }
        (count, ids)
    }

    /// The subgraph induced by the largest connected component, and the original ids of its nodes
    /// (ascending; the subgraph keeps their relative order).
    ///
    /// Ties go to the component with the smallest node. An empty graph gives an empty graph.
    pub fn largest_component(&self) -> (Graph, Vec<usize>) {
        let (count, ids) = self.connected_components();
        let mut sizes = vec![0usize; count];
        for &c in &ids {
            sizes[c] += 1;
        }
        // max_by_key returns the last maximum; iterate in reverse to get the first
        let best = (0..count).rev().max_by_key(|&c| sizes[c]).unwrap_or(0);
        let nodes: Vec<usize> = (0..self.num_nodes()).filter(|&v| ids[v] == best).collect();
        let mut new_id = vec![usize::MAX; self.num_nodes()];
        for (k, &v) in nodes.iter().enumerate() {
            new_id[v] = k;
        }
        (self.induced_by_map(&nodes, &new_id), nodes)
    }
}
