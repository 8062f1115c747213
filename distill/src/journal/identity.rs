//! Which dataset a journal's figures belong to: its sizes, and a hash of everything training
//! reads (graph, features, labels, split), so that a file edited between the kill and the
//! resume, under the same name and sizes, is still told apart.

use gdistill_datasets::NodeDataset;

/// FNV-1a, 64 bits: stable across builds and platforms (std's hasher promises neither), and
/// fast enough for the tens of megabytes of a feature matrix.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn usizes(&mut self, values: &[usize]) {
        self.bytes(&(values.len() as u64).to_le_bytes());
        values.iter().for_each(|&v| self.bytes(&(v as u64).to_le_bytes()));
    }

    fn floats(&mut self, values: &[f32]) {
        self.bytes(&(values.len() as u64).to_le_bytes());
        values.iter().for_each(|v| self.bytes(&v.to_bits().to_le_bytes()));
    }
}

/// A hash of `bytes` (a checkpoint a run reads), as 16 hex digits.
pub fn bytes_identity(bytes: &[u8]) -> String {
    let mut h = Fnv::new();
    h.bytes(bytes);
    format!("{:016x}", h.0)
}

/// The dataset as a journal header records it.
pub fn dataset_identity(dataset: &NodeDataset) -> serde_json::Value {
    let mut h = Fnv::new();
    let adj = dataset.graph.csr();
    h.usizes(adj.indptr().raw_storage());
    h.usizes(adj.indices());
    h.floats(adj.data());
    let x = &dataset.features;
    h.usizes(&[x.rows(), x.cols()]);
    h.usizes(x.indptr().raw_storage());
    h.usizes(x.indices());
    h.floats(x.data());
    h.usizes(&dataset.labels);
    for nodes in [&dataset.train, &dataset.val, &dataset.test] {
        h.usizes(nodes);
    }
    serde_json::json!({
        "name": dataset.name,
        "nodes": dataset.num_nodes(),
        "edges": dataset.graph.num_undirected_edges(),
        "features": dataset.num_features(),
        "classes": dataset.num_classes,
        "fnv64": format!("{:016x}", h.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_vectors() {
        // From the FNV reference (draft-eastlake-fnv): "" and "a".
        let mut h = Fnv::new();
        assert_eq!(h.0, 0xcbf29ce484222325);
        h.bytes(b"a");
        assert_eq!(h.0, 0xaf63dc4c8601ec8c);
    }
}
