//! Refusing sizes that cannot fit in memory, before allocating them.
//!
//! A file header can claim anything: an `.npy` shape of `(10**6, 10**6)`, an HDF5 dataset of
//! `10**12` elements stored as fill values in a 2 KiB file, a zip member declaring a terabyte, a
//! CSBM spec with `nodes=1e12`. Allocating first and failing later aborts the process (Rust's
//! allocation-failure handler) or gets it killed by the OS. Loaders therefore estimate what a
//! declared size needs and call [`check_memory`] first, which refuses anything above
//! [`memory_budget`]: the memory the system reports as available (`MemAvailable` + `SwapFree` in
//! `/proc/meminfo`), or the `GDISTILL_MAX_MEMORY` environment variable when set (bytes, with an
//! optional `K`, `M`, `G` or `T` suffix, powers of 1024; e.g. `GDISTILL_MAX_MEMORY=2G`).
//!
//! ```
//! use gdistill_datasets::limits::{check_memory, human_bytes};
//! assert_eq!(human_bytes(3 << 30), "3.0 GiB");
//! let err = check_memory("a [1000000, 1000000] float64 array", 8 * 1_000_000u128 * 1_000_000).unwrap_err();
//! assert!(err.contains("7.3 TiB"), "{err}");
//! ```

/// Bytes allowed for one allocation estimate: `GDISTILL_MAX_MEMORY` when set, else the available
/// memory of the system (unbounded where it cannot be read).
pub fn memory_budget() -> u128 {
    if let Some(limit) = std::env::var("GDISTILL_MAX_MEMORY").ok().and_then(|v| parse_size(&v)) {
        return limit;
    }
    available_memory().unwrap_or(u128::MAX)
}

/// `MemAvailable + SwapFree` from `/proc/meminfo`, in bytes (Linux; `None` elsewhere).
pub fn available_memory() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |key: &str| -> Option<u128> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let kib: u128 = line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    };
    Some(field("MemAvailable:")? + field("SwapFree:").unwrap_or(0))
}

/// Parses `123`, `64K`, `512M`, `2G`, `1.5T` (powers of 1024) into bytes.
pub fn parse_size(text: &str) -> Option<u128> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], t[i..].trim_end_matches(['B', 'b', 'i']).to_ascii_uppercase()),
        None => (t, String::new()),
    };
    let scale: u128 = match unit.as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some((value * scale as f64) as u128)
}

/// `bytes` in the largest binary unit that keeps the number at least 1 (`1.5 GiB`).
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `prod(dims) * item_size` without overflow (saturating at `u128::MAX`).
pub fn array_bytes(dims: &[usize], item_size: usize) -> u128 {
    dims.iter().fold(item_size as u128, |acc, &d| acc.saturating_mul(d as u128))
}

/// Refuses `bytes` (what `what` would need) when it exceeds [`memory_budget`]; the message says
/// how much it would need and how much there is.
pub fn check_memory(what: &str, bytes: u128) -> Result<(), String> {
    let budget = memory_budget();
    if bytes <= budget {
        return Ok(());
    }
    let source = if std::env::var_os("GDISTILL_MAX_MEMORY").is_some() {
        "the GDISTILL_MAX_MEMORY limit"
    } else {
        "the memory available"
    };
    Err(format!("{what} would need about {}, more than {source} ({})", human_bytes(bytes), human_bytes(budget)))
}
