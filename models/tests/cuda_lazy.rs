//! libtorch's CUDA backend is not linked: a process starts without it and loads it on demand
//! (`load_cuda`), after which libtorch's CUDA hooks are the real ones. One test, so that nothing
//! else in this process asks libtorch about CUDA first.
//!
//! With `GDISTILL_EXPECT_CUDA=1` (scripts/gpu-check.sh on a GPU machine) the lazily loaded backend
//! must also find a GPU and run on it.

use gdistill_models::{cuda_available, libtorch_lib_dir, load_cuda, parse_device};

fn mapped(name: &str) -> bool {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().any(|line| line.ends_with(name))
}

#[test]
fn the_cuda_backend_loads_on_demand_and_registers() {
    assert!(!mapped("/libtorch_cuda.so"), "libtorch_cuda is linked again (build/link_libtorch.rs)");
    assert!(!mapped("/libcublas.so.13") && !mapped("/libcudnn.so.9"), "CUDA libraries at start");
    let expect_gpu = std::env::var_os("GDISTILL_EXPECT_CUDA").is_some_and(|v| v == "1");
    let dir = libtorch_lib_dir().expect("libtorch_cpu.so is loaded");
    if !dir.join("libtorch_cuda.so").exists() {
        assert!(!expect_gpu, "a CPU-only libtorch in {}", dir.display());
        let why = load_cuda().unwrap_err();
        assert!(why.contains("CPU-only"), "{why}");
        return;
    }
    load_cuda().expect("libtorch_cuda.so loads");
    assert!(mapped("/libtorch_cuda.so"));
    // The real hooks: a CUDA build's runtime version, with or without a GPU.
    assert!(tch::utils::has_cudart(), "CUDA hooks not registered by the lazy load");
    assert!(tch::utils::version_cudart() > 0);
    assert_eq!(load_cuda(), Ok(()), "once, then the same answer");
    assert_eq!(cuda_available(), tch::Cuda::is_available());
    if expect_gpu {
        assert!(cuda_available() && tch::Cuda::device_count() >= 1, "GDISTILL_EXPECT_CUDA=1 but no CUDA device");
        assert_eq!(parse_device("cuda").unwrap(), tch::Device::Cuda(0));
        assert_eq!(parse_device("auto").unwrap(), tch::Device::Cuda(0));
        let x = tch::Tensor::ones([256, 256], (tch::Kind::Float, tch::Device::Cuda(0)));
        let sum = x.matmul(&x).sum(tch::Kind::Float).double_value(&[]);
        assert_eq!(sum, 256.0 * 256.0 * 256.0);
        println!(
            "CUDA through the lazy load: {} device(s), runtime {}",
            tch::Cuda::device_count(),
            tch::utils::version_cudart()
        );
    } else if !cuda_available() {
        let err = parse_device("cuda").unwrap_err().to_string();
        assert!(err.ends_with("no CUDA device is available"), "a plain 'no GPU', no load failure: {err}");
        assert_eq!(parse_device("auto").unwrap(), tch::Device::Cpu);
    }
}
