//! Image grids as graphs: one node per pixel, edges to the 4 or 8 adjacent pixels.
//!
//! Node `row * width + col` is the pixel at (`row`, `col`). The graph is undirected (stored both
//! ways) and has no self-loops.
//!
//! ```
//! use gdistill_graph::{grid_graph, Neighborhood};
//! let g = grid_graph(2, 3, Neighborhood::Four);
//! // 0 1 2
//! // 3 4 5
//! assert_eq!(g.neighbors(1), &[0, 2, 4]);
//! assert_eq!(g.num_undirected_edges(), 7);
//! let g = grid_graph(2, 3, Neighborhood::Eight);
//! assert_eq!(g.neighbors(1), &[0, 2, 3, 4, 5]);
//! ```

use crate::Graph;

/// Which pixels count as adjacent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Neighborhood {
    /// Up, down, left, right.
    Four,
    /// The four above plus the four diagonals.
    Eight,
}

impl Neighborhood {
    /// Row and column offsets of the neighbours, in row-major order (so node ids come out sorted).
    fn offsets(self) -> &'static [(isize, isize)] {
        match self {
            Neighborhood::Four => &[(-1, 0), (0, -1), (0, 1), (1, 0)],
            Neighborhood::Eight => &[(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)],
        }
    }
}

/// The grid graph of a `height` x `width` image (see the module docs). A zero side gives an empty
/// graph.
///
/// # Panics
///
/// If `height * width` overflows `usize`.
pub fn grid_graph(height: usize, width: usize, neighborhood: Neighborhood) -> Graph {
    let n = height.checked_mul(width).expect("grid_graph: height * width overflows usize");
    let offsets = neighborhood.offsets();
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::with_capacity(n * offsets.len());
    indptr.push(0);
    for row in 0..height {
        for col in 0..width {
            for &(dr, dc) in offsets {
                let (r, c) = (row.checked_add_signed(dr), col.checked_add_signed(dc));
                if let (Some(r), Some(c)) = (r, c) {
                    if r < height && c < width {
                        indices.push(r * width + c);
                    }
                }
            }
            indptr.push(indices.len());
        }
    }
    let data = vec![1.0f32; indices.len()];
    Graph::from_parts(n, indptr, indices, data)
}
