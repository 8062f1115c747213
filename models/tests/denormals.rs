//! `flush_denormals` reaches every thread libtorch computes on when it is set before they start,
//! as `gdistill`'s `main` does. One test in its own binary: no tensor exists before the switch,
//! so libtorch's worker threads are all started after it.

use std::hint::black_box;

use gdistill_models::{flush_denormals, flushing_denormals};
use tch::{Device, Kind, Tensor};

#[test]
fn flushed_subnormals_are_zero_on_every_thread_libtorch_starts() {
    // Without the switch, 1e-30 * 1e-10 is the subnormal 1e-40, not zero.
    assert!(black_box(1e-30_f32) * black_box(1e-10_f32) > 0.0);
    if !flush_denormals(true) {
        eprintln!("this CPU has no flush-to-zero switch: nothing to check");
        return;
    }
    assert!(flushing_denormals());
    assert_eq!(black_box(1e-30_f32) * black_box(1e-10_f32), 0.0);

    // A thread started afterwards inherits the setting.
    assert!(std::thread::spawn(flushing_denormals).join().unwrap());

    // Elementwise, large enough for libtorch to split it over its intra-op threads: every
    // product would be 1e-40.
    let n = 1 << 22;
    let product = Tensor::full([n], 1e-30, (Kind::Float, Device::Cpu)) * 1e-10;
    assert_eq!(i64::try_from(product.count_nonzero(None::<i64>)).unwrap(), 0);

    // A matrix product through the BLAS: each entry would be 512 * 1e-44, about 5e-42.
    let a = Tensor::full([512, 512], 1e-22, (Kind::Float, Device::Cpu));
    let entries = a.matmul(&a);
    assert_eq!(i64::try_from(entries.count_nonzero(None::<i64>)).unwrap(), 0);

    // Subnormal inputs are read as zero too.
    let subnormal = Tensor::from_slice(&[f32::from_bits(1), f32::MIN_POSITIVE / 4.0]);
    assert_eq!(i64::try_from((subnormal * 1e30).count_nonzero(None::<i64>)).unwrap(), 0);
}
