//! MUNGE and mixup pseudo data against hand computations on tiny sets.

use gdistill_distill::transfer_set::{mixup, munge, nearest_neighbours, TransferSet};

/// Three points: 0 and 1 are each other's nearest neighbour, 2's is 1.
const X: [f32; 6] = [0.0, 0.0, 1.0, 0.0, 4.0, 4.0];

#[test]
fn nearest_neighbours_by_hand() {
    assert_eq!(nearest_neighbours(&X, 2), vec![1, 0, 1]);
}

#[test]
fn munge_at_p_zero_copies_and_at_p_one_without_jitter_takes_the_neighbours_values() {
    assert_eq!(munge(&X, 2, 3, 0.0, 1.0, 7), X.to_vec());
    // Row k starts from example k mod 3; every attribute is swapped for the neighbour's.
    let swapped = munge(&X, 2, 6, 1.0, f64::INFINITY, 7);
    assert_eq!(swapped, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn munge_jitters_by_the_local_scale_around_the_neighbour() {
    // Example 0, attribute 0: own 0, neighbour 1 -> N(1, |0 - 1| / s); s = 4: sd 0.25, clipping
    // at the range [0, 4] is four sd away. Attribute 1: own = neighbour = 0 -> exactly 0.
    let n = 3000;
    let out = munge(&X, 2, 3 * n, 1.0, 4.0, 11);
    let first: Vec<f64> = out.chunks(2).step_by(3).map(|r| r[0] as f64).collect();
    assert!(out.chunks(2).step_by(3).all(|r| r[1] == 0.0));
    let mean = first.iter().sum::<f64>() / n as f64;
    let sd = (first.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
    assert!((sd - 0.25).abs() < 0.02, "sd {sd}");
    // At p = 0.3 without jitter, about 30% of attributes that differ from the neighbour's flip.
    let out = munge(&X, 2, 3 * n, 0.3, f64::INFINITY, 5);
    let flipped = out.chunks(2).step_by(3).filter(|r| r[0] == 1.0).count() as f64 / n as f64;
    assert!((flipped - 0.3).abs() < 0.03, "{flipped}");
}

#[test]
fn munge_and_mixup_stay_inside_the_data_range_and_return_inputs_only() {
    let d = 5;
    let x: Vec<f32> = (0..40 * d).map(|i| ((i * 37 % 101) as f32 / 10.0 - 3.0) * (1 + i % d) as f32).collect();
    let (lo, hi): (Vec<f32>, Vec<f32>) = (0..d)
        .map(|a| {
            let col = x.iter().skip(a).step_by(d);
            (col.clone().copied().fold(f32::INFINITY, f32::min), col.copied().fold(f32::NEG_INFINITY, f32::max))
        })
        .unzip();
    for (name, out) in [("munge", munge(&x, d, 500, 0.7, 1.0, 3)), ("mixup", mixup(&x, d, 500, 3))] {
        // Inputs only: size x d values, no label column.
        assert_eq!(out.len(), 500 * d, "{name}");
        for row in out.chunks(d) {
            for a in 0..d {
                assert!(row[a] >= lo[a] && row[a] <= hi[a], "{name}: {} outside [{}, {}]", row[a], lo[a], hi[a]);
            }
        }
    }
}

#[test]
fn transfer_set_specs_parse_and_print() {
    for text in ["train", "augmented:20000", "munge:50000,0.5", "mixup:100"] {
        assert_eq!(text.parse::<TransferSet>().unwrap().to_string(), text);
    }
    for bad in ["munge:10", "munge:0,0.5", "mixup", "augmented:-3", "pseudo:10"] {
        assert!(bad.parse::<TransferSet>().is_err(), "{bad}");
    }
    assert_eq!("munge:7,0.25".parse::<TransferSet>().unwrap().size(), 7);
}
