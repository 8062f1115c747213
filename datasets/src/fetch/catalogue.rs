//! The public datasets `gdistill data fetch` knows: where each file comes from, where it goes
//! under the data directory, and the sha256 it must have.
//!
//! The URLs are the ones PyTorch Geometric (`Planetoid`, `Amazon`, `Coauthor`) and OGB
//! (`ogb/nodeproppred/master.csv`) download from, so a fetched file is the file every paper's
//! code reads. A hash is pinned only where the file was hashed here from a copy whose provenance
//! says it is that canonical file (the Planetoid files of Cora, Citeseer and Pubmed, byte-identical
//! to `kimiyoung/planetoid`'s); for the others the entry says `None` rather than a guessed value,
//! and fetching them needs `--allow-unpinned` (which prints the hash it computed, so it can be
//! pinned here once checked).

/// One remote file of a catalogue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    /// The file's name at the source, and its name on disk.
    pub name: &'static str,
    /// Its sha256 in lower-case hex, or `None` where no trusted copy was at hand to hash.
    pub sha256: Option<&'static str>,
    /// Its size in bytes, where known (from the same trusted copy).
    pub bytes: Option<u64>,
}

/// How an entry's files sit under the data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The files are kept as downloaded, in `DATA_DIR/<dir>/`.
    Files {
        /// The folder under the data directory.
        dir: &'static str,
    },
    /// One zip archive whose top folder `root` becomes `DATA_DIR/<dir>` (OGB's own layout: it
    /// unpacks `arxiv.zip` and renames its `arxiv/` to `ogbn_arxiv/`). The archive is removed
    /// once unpacked; `marker`, a path inside `dir`, tells that the unpacking is done.
    Zip {
        /// The folder under the data directory.
        dir: &'static str,
        /// The archive's top folder.
        root: &'static str,
        /// A file that exists under `dir` once the archive is unpacked.
        marker: &'static str,
    },
}

impl Layout {
    /// The folder under the data directory that receives the entry.
    pub fn dir(&self) -> &'static str {
        match self {
            Layout::Files { dir } | Layout::Zip { dir, .. } => dir,
        }
    }
}

/// A dataset `gdistill data fetch NAME` can download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The name on the command line.
    pub name: &'static str,
    /// What it is, in a few words, for `--list`.
    pub about: &'static str,
    /// The URL of the folder holding `files` (no trailing slash).
    pub base_url: &'static str,
    /// The files to download.
    pub files: &'static [RemoteFile],
    /// Where they go.
    pub layout: Layout,
    /// The `--dataset` spec that reads the result, with `DIR` for the data directory.
    pub spec: &'static str,
}

impl Entry {
    /// Whether every file has a pinned sha256.
    pub fn pinned(&self) -> bool {
        self.files.iter().all(|f| f.sha256.is_some())
    }

    /// The total size in bytes, when every file's size is known.
    pub fn bytes(&self) -> Option<u64> {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

const fn pinned(name: &'static str, sha256: &'static str, bytes: u64) -> RemoteFile {
    RemoteFile { name, sha256: Some(sha256), bytes: Some(bytes) }
}

const fn unpinned(name: &'static str) -> RemoteFile {
    RemoteFile { name, sha256: None, bytes: None }
}

/// PyTorch Geometric's `Planetoid.url`.
const PLANETOID_URL: &str = "https://github.com/kimiyoung/planetoid/raw/master/data";
/// PyTorch Geometric's `Amazon.url` and `Coauthor.url`.
const GNN_BENCHMARK_URL: &str = "https://github.com/shchur/gnn-benchmark/raw/master/data/npz";
/// The folder of OGB's node-property archives (`master.csv`, row `url`).
const OGB_NODE_URL: &str = "https://snap.stanford.edu/ogb/data/nodeproppred";

// Hashed from ../shared/data/{cora,citeseer,pubmed}, whose PROVENANCE.md traces them to
// kimiyoung/planetoid commit af6abf46 (byte-identical in tkipf/gcn and shchur/gnn-benchmark).
const CORA: &[RemoteFile] = &[
    pinned("ind.cora.x", "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab", 22119),
    pinned("ind.cora.y", "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1", 4054),
    pinned("ind.cora.tx", "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a", 148025),
    pinned("ind.cora.ty", "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad", 28135),
    pinned("ind.cora.allx", "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543", 257305),
    pinned("ind.cora.ally", "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71", 47959),
    pinned("ind.cora.graph", "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d", 59847),
    pinned("ind.cora.test.index", "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875", 5000),
];

const CITESEER: &[RemoteFile] = &[
    pinned("ind.citeseer.x", "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6", 31087),
    pinned("ind.citeseer.y", "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924", 3014),
    pinned("ind.citeseer.tx", "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21", 260321),
    pinned("ind.citeseer.ty", "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce", 24135),
    pinned("ind.citeseer.allx", "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668", 595021),
    pinned("ind.citeseer.ally", "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95", 55623),
    pinned("ind.citeseer.graph", "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7", 61987),
    pinned("ind.citeseer.test.index", "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4", 5000),
];

// `ind.pubmed.allx` (over 4 MiB) was not in the shared copy, so it alone is unpinned.
const PUBMED: &[RemoteFile] = &[
    pinned("ind.pubmed.x", "fbe9cb5c47200d1b7769a26e579be3b7130b556831f9d850e77c4c74f2599b33", 23172),
    pinned("ind.pubmed.y", "e6c807633307a07ed659249006536a147c7999c797f11a2560752990181b41b3", 854),
    pinned("ind.pubmed.tx", "4eb5f5d0f30f26497eb0ac6ac9719d09c67e284f1ed0385c93f3ef27a671da3d", 405505),
    pinned("ind.pubmed.ty", "ee2e0d4819d9fbcc403689c3bf2e49face401b605932f093bc58ab6461130fdd", 12135),
    unpinned("ind.pubmed.allx"),
    pinned("ind.pubmed.ally", "0c37bbe3b5014ec365e9d393cf4791925e5ed94fb194305d74f064a8d7b50f0e", 224739),
    pinned("ind.pubmed.graph", "5b89f0036ca22909471f1e6558eb42fa06e0c730a577bde5b058b40638f81dc9", 471808),
    pinned("ind.pubmed.test.index", "b101d421688bbaecbd82e8a18f1e282378d6830f3a37666f28ebc47f844341b5", 6000),
];

const fn planetoid(name: &'static str, about: &'static str, files: &'static [RemoteFile]) -> Entry {
    Entry { name, about, base_url: PLANETOID_URL, files, layout: Layout::Files { dir: name }, spec: name }
}

// The shared copies of the Amazon graphs are converted files, not the canonical npz: no pins.
const fn npz(
    name: &'static str,
    about: &'static str,
    dir: &'static str,
    file: &'static [RemoteFile],
    spec: &'static str,
) -> Entry {
    Entry { name, about, base_url: GNN_BENCHMARK_URL, files: file, layout: Layout::Files { dir }, spec }
}

const fn ogb(
    name: &'static str,
    about: &'static str,
    zip: &'static [RemoteFile],
    dir: &'static str,
    root: &'static str,
    spec: &'static str,
) -> Entry {
    Entry {
        name,
        about,
        base_url: OGB_NODE_URL,
        files: zip,
        layout: Layout::Zip { dir, root, marker: "raw/edge.csv.gz" },
        spec,
    }
}

/// Every dataset `gdistill data fetch` can download, in the order `--list` prints them.
pub const CATALOGUE: &[Entry] = &[
    planetoid("cora", "Planetoid Cora: citations, 2708 nodes, public split", CORA),
    planetoid("citeseer", "Planetoid Citeseer: citations, 3327 nodes, public split", CITESEER),
    planetoid("pubmed", "Planetoid Pubmed: citations, 19717 nodes, public split", PUBMED),
    npz(
        "amazon-photo",
        "Amazon Photo (gnn-benchmark npz): co-purchases, 7650 nodes",
        "amazon",
        &[unpinned("amazon_electronics_photo.npz")],
        "npz:DIR/amazon/amazon_electronics_photo.npz",
    ),
    npz(
        "amazon-computers",
        "Amazon Computers (gnn-benchmark npz): co-purchases, 13752 nodes",
        "amazon",
        &[unpinned("amazon_electronics_computers.npz")],
        "npz:DIR/amazon/amazon_electronics_computers.npz",
    ),
    npz(
        "coauthor-cs",
        "Coauthor CS (gnn-benchmark npz): co-authorship, 18333 nodes",
        "coauthor",
        &[unpinned("ms_academic_cs.npz")],
        "npz:DIR/coauthor/ms_academic_cs.npz",
    ),
    npz(
        "coauthor-physics",
        "Coauthor Physics (gnn-benchmark npz): co-authorship, 34493 nodes",
        "coauthor",
        &[unpinned("ms_academic_phy.npz")],
        "npz:DIR/coauthor/ms_academic_phy.npz",
    ),
    ogb(
        "ogbn-arxiv",
        "OGB arxiv (zip): citations, 169343 nodes, time split",
        &[unpinned("arxiv.zip")],
        "ogbn_arxiv",
        "arxiv",
        "ogb:DIR/ogbn_arxiv",
    ),
    ogb(
        "ogbn-products",
        "OGB products (zip): co-purchases, 2449029 nodes, sales-rank split",
        &[unpinned("products.zip")],
        "ogbn_products",
        "products",
        "ogb:DIR/ogbn_products",
    ),
];

/// The entry called `name` (case-insensitive), or an error naming every known one.
pub fn find(name: &str) -> Result<&'static Entry, String> {
    CATALOGUE.iter().find(|e| e.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
        let known: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        format!("unknown dataset '{name}' (gdistill data fetch knows: {})", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_lower_case_sha256_and_names_unique() {
        let mut names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        for file in CATALOGUE.iter().flat_map(|e| e.files) {
            if let Some(hash) = file.sha256 {
                assert_eq!(hash.len(), 64, "{}", file.name);
                assert!(hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{}", file.name);
            }
            assert!(!file.name.contains('/'), "{}", file.name);
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        assert_eq!(find("CORA").unwrap().name, "cora");
        let err = find("corra").unwrap_err();
        assert!(err.contains("'corra'") && err.contains("cora, citeseer, pubmed") && err.contains("ogbn-arxiv"));
    }
}
