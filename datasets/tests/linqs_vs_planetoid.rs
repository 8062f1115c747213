//! Cora (and Citeseer) read from LINQS text and from Planetoid pickles are the same data.
//!
//! Nodes are matched by their binary feature rows. Cora has 2692 distinct rows among 2708
//! nodes, so some rows are shared; those nodes are told apart by their neighbourhoods
//! (iteratively: a candidate matches when the images of its already-matched neighbours are
//! exactly the already-matched neighbours of the other side). Ten of Cora's eleven groups of
//! equal rows (25 nodes) are "twins": same features, same class, same neighbours, no edge
//! between them. Twins are interchangeable (swapping them maps the graph onto itself), so they
//! are matched in any order. Then every edge and every label (compared through the class names)
//! must agree: the test fails if the two loaders disagree on a single edge or class.

#[path = "../../tests/support/data.rs"]
mod common;

use std::collections::{BTreeSet, HashMap};

use gdistill_datasets::{load, load_with_report, DatasetError, NodeDataset};

/// Maps LINQS node -> Planetoid node; returns the map and the number of nodes left unmatched.
fn match_nodes(linqs: &NodeDataset, planetoid: &NodeDataset) -> (Vec<Option<usize>>, usize) {
    let row = |d: &NodeDataset, i: usize| d.features.outer_view(i).unwrap().indices().to_vec();
    let mut groups: HashMap<Vec<usize>, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for i in 0..linqs.num_nodes() {
        groups.entry(row(linqs, i)).or_default().0.push(i);
    }
    for i in 0..planetoid.num_nodes() {
        if let Some(g) = groups.get_mut(&row(planetoid, i)) {
            g.1.push(i);
        }
    }
    let mut map = vec![None; linqs.num_nodes()];
    let mut taken = vec![false; planetoid.num_nodes()];
    let mut ambiguous: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (_, (l, p)) in groups {
        if l.len() == 1 && p.len() == 1 {
            map[l[0]] = Some(p[0]);
            taken[p[0]] = true;
        } else {
            ambiguous.push((l, p));
        }
    }
    loop {
        let mut progress = false;
        for (ls, ps) in &mut ambiguous {
            for &u in ls.iter() {
                if map[u].is_some() {
                    continue;
                }
                let sig: BTreeSet<usize> = linqs.graph.neighbors(u).iter().filter_map(|&w| map[w]).collect();
                let fits: Vec<usize> = ps
                    .iter()
                    .copied()
                    .filter(|&v| !taken[v])
                    .filter(|&v| {
                        planetoid.graph.neighbors(v).iter().copied().filter(|&w| taken[w]).collect::<BTreeSet<_>>()
                            == sig
                    })
                    .collect();
                // One fit: matched. Several fits that are twins (every neighbour on both sides
                // already matched, identical neighbour sets): interchangeable, take the first.
                let twins = fits.len() > 1
                    && linqs.graph.neighbors(u).iter().all(|&w| map[w].is_some())
                    && fits.iter().all(|&v| planetoid.graph.neighbors(v).iter().all(|&w| taken[w]));
                if fits.len() == 1 || twins {
                    map[u] = Some(fits[0]);
                    taken[fits[0]] = true;
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
    let unmatched = map.iter().filter(|m| m.is_none()).count();
    (map, unmatched)
}

fn labels_agree(linqs: &NodeDataset, planetoid: &NodeDataset, map: &[Option<usize>]) {
    for (u, v) in map.iter().enumerate().filter_map(|(u, v)| v.map(|v| (u, v))) {
        assert_eq!(
            linqs.class_names[linqs.labels[u]], planetoid.class_names[planetoid.labels[v]],
            "LINQS node {u} and Planetoid node {v} disagree on the class"
        );
    }
}

#[test]
fn cora_linqs_and_planetoid_are_the_same_graph() {
    let Some(dir) = common::data_dir_with("cora", &["cora.content", "cora.cites"]) else { return };
    let linqs = load("linqs:cora/cora", dir.parent().unwrap()).unwrap();
    let planetoid = load("cora", dir.parent().unwrap()).unwrap();
    assert_eq!(linqs.num_nodes(), planetoid.num_nodes());
    let (map, unmatched) = match_nodes(&linqs, &planetoid);
    assert_eq!(unmatched, 0, "nodes left unmatched after neighbourhood refinement");
    labels_agree(&linqs, &planetoid, &map);
    let mapped: BTreeSet<(usize, usize)> = linqs
        .graph
        .undirected_edges()
        .into_iter()
        .map(|(a, b)| {
            let (x, y) = (map[a].unwrap(), map[b].unwrap());
            (x.min(y), x.max(y))
        })
        .collect();
    let expected: BTreeSet<(usize, usize)> = planetoid.graph.undirected_edges().into_iter().collect();
    assert_eq!(mapped.len(), 5278);
    assert_eq!(mapped, expected, "the LINQS and Planetoid edge sets differ");
}

#[test]
fn citeseer_linqs_reports_unknown_citations_and_agrees_on_labels() {
    let Some(dir) = common::data_dir_with("citeseer", &["citeseer.content", "citeseer.cites"]) else { return };
    let (linqs, report) = load_with_report("linqs:citeseer/citeseer", dir.parent().unwrap()).unwrap();
    let r = report.linqs.as_ref().unwrap();
    assert_eq!((r.citations, r.unknown_citations, r.self_citations), (4732, 17, 124));
    assert_eq!(r.examples.len(), 5);
    assert_eq!((r.examples[0].cited.as_str(), r.examples[0].citing.as_str()), ("197556", "282608"));
    assert_eq!(report.notes.len(), 1);
    assert_eq!(linqs.num_nodes(), 3312);
    assert_eq!(linqs.graph.num_undirected_edges(), 4536);
    let err = load("linqs-strict:citeseer/citeseer", dir.parent().unwrap()).unwrap_err();
    assert!(matches!(&err, DatasetError::Format { path, .. } if path.ends_with("citeseer.cites")), "{err}");

    let planetoid = load("citeseer", dir.parent().unwrap()).unwrap();
    let (map, unmatched) = match_nodes(&linqs, &planetoid);
    eprintln!("citeseer: {unmatched} of {} LINQS nodes not matched by features + neighbourhoods", linqs.num_nodes());
    assert!(unmatched <= 2, "{unmatched} unmatched");
    labels_agree(&linqs, &planetoid, &map);
    let expected: BTreeSet<(usize, usize)> = planetoid.graph.undirected_edges().into_iter().collect();
    let (mut inside, mut outside) = (0, 0);
    for (a, b) in linqs.graph.undirected_edges() {
        if let (Some(x), Some(y)) = (map[a], map[b]) {
            if expected.contains(&(x.min(y), x.max(y))) {
                inside += 1;
            } else {
                outside += 1;
            }
        }
    }
    eprintln!(
        "citeseer: {inside} LINQS edges are Planetoid edges, {outside} are not; Planetoid has {}",
        expected.len()
    );
    assert_eq!(outside, 0, "LINQS edges missing from the Planetoid graph");
}
