//! Comparing `--json` reports across runs: what must be equal once the timings are set aside.

#![allow(dead_code)]

/// The report without its timings (`train_s`, `infer_ms` and any other `*_s` / `*_ms` field, and
/// `seconds`): two runs of the same seeds give the same report once these are gone.
pub fn without_timings(mut report: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.retain(|k, _| !(k.ends_with("_s") || k.ends_with("_ms") || k == "seconds"));
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut report);
    report
}

/// The `--json` report at `path`.
pub fn read_report(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
