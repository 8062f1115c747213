//! Neighbour sampling and the loader against brute-force checks on seeded random graphs.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use common::*;
use gdistill_graph::{EdgeOptions, Graph, GraphError, NeighborLoader, NeighborSampler, SampledBatch};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A random graph with self-loops kept (the sampler must skip them), directed or not.
fn random_graph(r: &mut ChaCha8Rng, n: usize, directed: bool) -> Graph {
    let m = random_edge_count(r, n);
    let edges = random_edges(r, n, m);
    let opts = if directed { EdgeOptions::directed() } else { EdgeOptions::undirected().keep_self_loops() };
    Graph::from_edges(n, &edges, opts).unwrap()
}

/// An undirected random graph with about `2 * m` entries (sparse, unlike [`random_graph`]'s).
fn sparse_graph(r: &mut ChaCha8Rng, n: usize, m: usize) -> Graph {
    Graph::from_edges(n, &random_edges(r, n, m), EdgeOptions::undirected().keep_self_loops()).unwrap()
}

/// `k` distinct random nodes of `0..n`, in random order.
fn random_seeds(r: &mut ChaCha8Rng, n: usize, k: usize) -> Vec<usize> {
    let mut nodes: Vec<usize> = (0..n).collect();
    nodes.shuffle(r);
    nodes.truncate(k);
    nodes
}

fn degree_without_self_loop(g: &Graph, v: usize) -> usize {
    g.neighbors(v).iter().filter(|&&u| u != v).count()
}

/// Every structural promise of a sampled batch, checked against the full graph.
fn check_batch(g: &Graph, sampler: &NeighborSampler, seeds: &[usize], batch: &SampledBatch) {
    let layers = sampler.num_layers();
    assert_eq!(batch.seeds, seeds);
    assert_eq!(&batch.n_id[..seeds.len()], seeds);
    assert_eq!(batch.n_id.iter().collect::<HashSet<_>>().len(), batch.n_id.len(), "n_id has duplicates");
    assert!(batch.n_id.iter().all(|&v| v < g.num_nodes()));
    assert_eq!(batch.blocks.len(), layers);
    assert_eq!(batch.num_layers(), layers);
    assert_eq!(batch.layer_nodes.len(), layers + 1);
    assert_eq!(batch.blocks[0].num_src, batch.n_id.len());
    assert_eq!(batch.layer_nodes[0], batch.n_id.len());
    assert_eq!(batch.blocks[layers - 1].num_dst, seeds.len());
    for (l, block) in batch.blocks.iter().enumerate() {
        assert_eq!(batch.layer_nodes[l], block.num_src);
        assert_eq!(batch.layer_nodes[l + 1], block.num_dst);
        if l + 1 < layers {
            assert_eq!(block.num_dst, batch.blocks[l + 1].num_src, "block {l}");
        }
        assert!(block.num_dst <= block.num_src);
        assert_eq!(batch.src_nodes(l), &batch.n_id[..block.num_src]);
        assert_eq!(batch.dst_nodes(l), &batch.n_id[..block.num_dst]);
        assert_eq!(block.indptr.len(), block.num_dst + 1);
        assert_eq!(block.indptr[0], 0);
        assert!(block.indptr.windows(2).all(|w| w[0] <= w[1]), "indptr not monotone");
        assert_eq!(block.indptr[block.num_dst], block.indices.len());
        assert_eq!(block.num_edges(), block.indices.len());
        assert!(block.indices.iter().all(|&s| s < block.num_src));
        let fanout = sampler.fanouts()[layers - 1 - l];
        for k in 0..block.num_dst {
            let v = batch.n_id[k];
            let sampled: Vec<usize> = block.neighbors(k).iter().map(|&s| batch.n_id[s]).collect();
            for &u in &sampled {
                assert_ne!(u, v, "self-loop sampled for {v}");
                assert!(g.neighbors(v).contains(&u), "{u} is not a neighbour of {v}");
            }
            assert_eq!(sampled.iter().collect::<HashSet<_>>().len(), sampled.len(), "duplicates for {v}");
            assert_eq!(sampled.len(), fanout.min(degree_without_self_loop(g, v)), "count for {v}");
        }
        // New sources appear in first-seen order, and every one was sampled.
        let mut next = block.num_dst;
        for &s in &block.indices {
            assert!(s <= next, "source {s} appears before {next}");
            if s == next {
                next += 1;
            }
        }
        assert_eq!(next, block.num_src, "block {l} has sources nobody sampled");
        let edges: Vec<(usize, usize)> = block.edges().collect();
        assert_eq!(edges.len(), block.num_edges());
        assert!(edges.iter().all(|&(s, d)| block.neighbors(d).contains(&s)));
    }
}

#[test]
fn sampled_blocks_are_real_neighbours_with_the_right_counts() {
    let mut r = rng(101);
    for n in [1, 2, 3, 8, 25, 70, 300] {
        for trial in 0..8 {
            let g = random_graph(&mut r, n, trial % 2 == 1);
            let layers = r.random_range(1..=3);
            let fanouts: Vec<usize> = (0..layers)
                .map(|_| if r.random_bool(0.2) { NeighborSampler::ALL } else { r.random_range(1..=6) })
                .collect();
            let sampler = NeighborSampler::new(fanouts).unwrap();
            let k = r.random_range(1..=n);
            let seeds = random_seeds(&mut r, n, k);
            let batch = sampler.sample(&g, &seeds, trial).unwrap();
            check_batch(&g, &sampler, &seeds, &batch);
        }
    }
}

#[test]
fn seeded_runs_repeat_and_different_seeds_differ() {
    let mut r = rng(102);
    let g = random_graph(&mut r, 200, false);
    let sampler = NeighborSampler::new(vec![3, 2]).unwrap();
    let seeds = random_seeds(&mut r, 200, 20);
    let a = sampler.sample(&g, &seeds, 5).unwrap();
    assert_eq!(a, sampler.sample(&g, &seeds, 5).unwrap());
    assert_ne!(a, sampler.sample(&g, &seeds, 6).unwrap());
    // a clone of the sampler samples the same
    assert_eq!(a, sampler.clone().sample(&g, &seeds, 5).unwrap());
}

#[test]
fn thread_count_does_not_change_the_sample() {
    let mut r = rng(103);
    let g = sparse_graph(&mut r, 3000, 15_000);
    let sampler = NeighborSampler::new(vec![4, 3]).unwrap();
    // enough seeds that every hop goes through the rayon pool
    let seeds = random_seeds(&mut r, 3000, 600);
    let in_pool = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| sampler.sample(&g, &seeds, 11).unwrap())
    };
    let one = in_pool(1);
    check_batch(&g, &sampler, &seeds, &one);
    assert_eq!(one, in_pool(2));
    assert_eq!(one, in_pool(3));
    assert_eq!(one, sampler.sample(&g, &seeds, 11).unwrap());
}

/// Nodes within `hops` steps of `seeds` along `neighbors` (breadth-first search).
fn ball(g: &Graph, seeds: &[usize], hops: usize) -> HashSet<usize> {
    let mut seen: HashSet<usize> = seeds.iter().copied().collect();
    let mut frontier: Vec<usize> = seeds.to_vec();
    for _ in 0..hops {
        let mut next = Vec::new();
        for &v in &frontier {
            for &u in g.neighbors(v) {
                if seen.insert(u) {
                    next.push(u);
                }
            }
        }
        frontier = next;
    }
    seen
}

#[test]
fn full_fanouts_give_the_exact_k_hop_neighbourhoods() {
    let mut r = rng(104);
    for n in [1, 5, 25, 70, 200] {
        for trial in 0..6 {
            let g = random_graph(&mut r, n, trial % 2 == 1);
            let max_degree = (0..n).map(|v| g.degree(v)).max().unwrap_or(0);
            let layers = r.random_range(1..=3);
            // at least the degree, or "all"
            let fanouts: Vec<usize> =
                (0..layers).map(|h| if h % 2 == 0 { max_degree.max(1) } else { NeighborSampler::ALL }).collect();
            let sampler = NeighborSampler::new(fanouts).unwrap();
            let k = r.random_range(1..=n.min(4));
            let seeds = random_seeds(&mut r, n, k);
            let batch = sampler.sample(&g, &seeds, trial).unwrap();
            check_batch(&g, &sampler, &seeds, &batch);
            for hops in 0..=layers {
                let size = batch.layer_nodes[layers - hops];
                let got: HashSet<usize> = batch.n_id[..size].iter().copied().collect();
                assert_eq!(got, ball(&g, &seeds, hops), "n={n} trial={trial} hops={hops}");
            }
            // and every destination aggregates from all its neighbours
            for (l, block) in batch.blocks.iter().enumerate() {
                for k in 0..block.num_dst {
                    let v = batch.n_id[k];
                    let mut got: Vec<usize> = block.neighbors(k).iter().map(|&s| batch.n_id[s]).collect();
                    got.sort_unstable();
                    let want: Vec<usize> = g.neighbors(v).iter().copied().filter(|&u| u != v).collect();
                    assert_eq!(got, want, "block {l}, node {v}");
                }
            }
        }
    }
}

#[test]
fn sampling_is_uniform_over_neighbours_and_subsets() {
    // a star: node 0 joined to 1..=10, plus a self-loop on 0 that must never be drawn
    let edges: Vec<(usize, usize)> = (1..=10).map(|j| (0, j)).chain([(0, 0)]).collect();
    let g = Graph::from_edges(11, &edges, EdgeOptions::undirected().keep_self_loops()).unwrap();
    let sampler = NeighborSampler::new(vec![3]).unwrap();
    let runs = 12_000u64;
    let mut per_node = [0u64; 11];
    let mut per_subset: HashMap<Vec<usize>, u64> = HashMap::new();
    for seed in 0..runs {
        let batch = sampler.sample(&g, &[0], seed).unwrap();
        let mut picked: Vec<usize> = batch.blocks[0].neighbors(0).iter().map(|&s| batch.n_id[s]).collect();
        assert_eq!(picked.len(), 3);
        picked.sort_unstable();
        for &u in &picked {
            per_node[u] += 1;
        }
        *per_subset.entry(picked).or_default() += 1;
    }
    assert_eq!(per_node[0], 0, "the self-loop was sampled");
    // Each neighbour is picked with probability 3/10. Chi-square with 9 degrees of freedom: the
    // 1e-6 quantile is about 47.
    let expected = runs as f64 * 0.3;
    let chi2: f64 = per_node[1..].iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    assert!(chi2 < 47.0, "neighbour frequencies {per_node:?} (chi-square {chi2})");
    // Each of the C(10, 3) = 120 subsets is equally likely: 119 degrees of freedom, 1e-6 quantile
    // about 208.
    assert_eq!(per_subset.len(), 120, "some subsets never drawn");
    let expected = runs as f64 / 120.0;
    let chi2: f64 = per_subset.values().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    assert!(chi2 < 208.0, "subset chi-square {chi2}");
}

#[test]
fn loader_covers_every_node_once_and_equals_direct_sampling() {
    let mut r = rng(105);
    let g = Arc::new(random_graph(&mut r, 150, false));
    let sampler = NeighborSampler::new(vec![4, 2]).unwrap();
    let nodes = random_seeds(&mut r, 150, 97);
    for (batch_size, shuffle, seed) in [(10, true, 1), (97, false, 2), (1, true, 3), (33, false, 4), (96, true, 5)] {
        let loader = NeighborLoader::new(g.clone(), sampler.clone(), nodes.clone(), batch_size, shuffle, seed).unwrap();
        let expected_batches = nodes.len().div_ceil(batch_size);
        assert_eq!(loader.num_batches(), expected_batches);
        assert_eq!(loader.len(), expected_batches);
        let batches: Vec<SampledBatch> = loader.collect();
        assert_eq!(batches.len(), expected_batches);
        let mut seen: Vec<usize> = Vec::new();
        for (b, batch) in batches.iter().enumerate() {
            let size = if b + 1 == expected_batches { nodes.len() - b * batch_size } else { batch_size };
            assert_eq!(batch.seeds.len(), size);
            let direct = sampler.sample(&g, &batch.seeds, NeighborLoader::batch_seed(seed, b)).unwrap();
            assert_eq!(batch, &direct, "batch {b}");
            check_batch(&g, &sampler, &batch.seeds, batch);
            seen.extend(&batch.seeds);
        }
        if !shuffle {
            assert_eq!(seen, nodes, "unshuffled order");
        }
        seen.sort_unstable();
        let mut all = nodes.clone();
        all.sort_unstable();
        assert_eq!(seen, all, "batch size {batch_size}: not every node exactly once");
    }
    // the same seed gives the same epoch, another seed another order
    let epoch = |seed| -> Vec<SampledBatch> {
        NeighborLoader::new(g.clone(), sampler.clone(), nodes.clone(), 10, true, seed).unwrap().collect()
    };
    assert_eq!(epoch(7), epoch(7));
    assert_ne!(epoch(7)[0].seeds, epoch(8)[0].seeds);
}

#[test]
fn loader_stops_when_dropped_early() {
    let mut r = rng(106);
    let g = Arc::new(sparse_graph(&mut r, 400, 2000));
    let sampler = NeighborSampler::new(vec![5, 5]).unwrap();
    let nodes: Vec<usize> = (0..400).collect();
    // never read
    drop(NeighborLoader::new(g.clone(), sampler.clone(), nodes.clone(), 4, true, 0).unwrap());
    // read part way
    let mut loader = NeighborLoader::new(g.clone(), sampler.clone(), nodes.clone(), 4, true, 0).unwrap();
    let first = loader.next().unwrap();
    assert_eq!(first.seeds.len(), 4);
    assert_eq!(loader.len(), 99);
    drop(loader);
    // read to the end, then past it
    let mut loader = NeighborLoader::new(g, sampler, nodes, 400, false, 0).unwrap();
    assert!(loader.next().is_some());
    assert!(loader.next().is_none());
    assert!(loader.next().is_none());
}

#[test]
fn bad_inputs_are_errors() {
    let g = Graph::from_edges(5, &[(0, 1), (1, 2)], EdgeOptions::undirected()).unwrap();
    let message = |e: GraphError| e.to_string();
    assert!(message(NeighborSampler::new(vec![]).unwrap_err()).contains("at least one fan-out"));
    let e = message(NeighborSampler::new(vec![3, 0]).unwrap_err());
    assert!(e.contains("fan-out must be at least 1, got 0"), "{e}");

    let sampler = NeighborSampler::new(vec![2]).unwrap();
    assert!(message(sampler.sample(&g, &[], 0).unwrap_err()).contains("at least one seed"));
    assert_eq!(sampler.sample(&g, &[1, 5], 0).unwrap_err(), GraphError::NodeNotInGraph { node: 5, num_nodes: 5 });
    assert_eq!(sampler.sample(&g, &[2, 0, 2], 0).unwrap_err(), GraphError::DuplicateNode { node: 2 });
    let empty = Graph::from_edges(0, &[], EdgeOptions::undirected()).unwrap();
    assert!(matches!(sampler.sample(&empty, &[0], 0), Err(GraphError::NodeNotInGraph { .. })));

    let g = Arc::new(g);
    let loader =
        |nodes: Vec<usize>, batch_size| NeighborLoader::new(g.clone(), sampler.clone(), nodes, batch_size, true, 0);
    for batch_size in [0, 6, usize::MAX] {
        let e = message(loader(vec![0, 1, 2, 3, 4], batch_size).unwrap_err());
        assert!(e.contains("batch size must be in 1..=5"), "{e}");
    }
    assert!(loader(vec![], 1).is_err());
    assert_eq!(loader(vec![0, 7], 1).unwrap_err(), GraphError::NodeNotInGraph { node: 7, num_nodes: 5 });
    assert_eq!(loader(vec![3, 3], 1).unwrap_err(), GraphError::DuplicateNode { node: 3 });
}

#[test]
fn isolated_seeds_give_empty_blocks() {
    let g = Graph::from_edges(4, &[(0, 1), (3, 3)], EdgeOptions::undirected().keep_self_loops()).unwrap();
    let sampler = NeighborSampler::new(vec![NeighborSampler::ALL, 2]).unwrap();
    let batch = sampler.sample(&g, &[2, 3], 0).unwrap();
    check_batch(&g, &sampler, &[2, 3], &batch);
    assert_eq!(batch.n_id, vec![2, 3]);
    assert_eq!(batch.layer_nodes, vec![2, 2, 2]);
    assert!(batch.blocks.iter().all(|b| b.num_edges() == 0));
}

/// `sample_node` from a row alone draws what the sampler drew from the whole graph, node by node
/// and hop by hop: what lets the owner of a node sample it for another process's batch.
#[test]
fn sample_node_from_a_row_draws_the_batch_picks() {
    let mut r = rng(41);
    let g = sparse_graph(&mut r, 300, 1500);
    let sampler = NeighborSampler::new(vec![4, 3]).unwrap();
    let seeds = random_seeds(&mut r, 300, 20);
    let batch = sampler.sample(&g, &seeds, 9).unwrap();
    for (hop, &fanout) in sampler.fanouts().iter().enumerate() {
        let block = &batch.blocks[batch.blocks.len() - 1 - hop];
        for k in 0..block.num_dst {
            let v = batch.n_id[k];
            let drawn: Vec<usize> = block.neighbors(k).iter().map(|&j| batch.n_id[j]).collect();
            assert_eq!(gdistill_graph::sample_node(g.neighbors(v), v, fanout, 9, hop), drawn, "node {v} hop {hop}");
        }
    }
}
