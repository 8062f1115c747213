use serde_json::json;

use super::*;

fn header(config: serde_json::Value) -> Header {
    Header {
        format: FORMAT.into(),
        command: "compare".into(),
        version: "0.1.0 (abc)".into(),
        dataset: json!({"name": "cora", "nodes": 3}),
        config,
    }
}

fn message(result: Result<(Journal, Opened), TrainError>) -> String {
    match result {
        Ok(_) => panic!("expected the journal to be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn records_survive_a_restart_and_a_torn_last_line_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json.journal");
    let h = header(json!({"seeds": 3, "lr": 0.01}));
    let (mut j, opened) = Journal::start(&path, &h, false).unwrap();
    assert_eq!(opened, Opened::Fresh);
    j.record("seed 0", json!({"acc": 0.8130000000000001})).unwrap();
    j.record("seed 1", json!([1, 2])).unwrap();
    drop(j);
    // A kill inside the write of the third record.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"key":"seed 2","figu"#);
    std::fs::write(&path, &text).unwrap();

    let (mut j, opened) = Journal::start(&path, &h, true).unwrap();
    assert_eq!(opened, Opened::Resumed { units: 2, torn: true });
    let seed0 = j.recorded("seed 0").unwrap();
    assert_eq!(seed0.at, format!("{}: line 2", path.display()));
    assert_eq!(seed0.decode::<serde_json::Value>().unwrap(), json!({"acc": 0.8130000000000001}));
    assert!(j.recorded("seed 2").is_none());
    j.record("seed 2", json!(null)).unwrap();
    drop(j);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4, "the torn record is gone and the new one on a line of its own: {text}");
    let (j, _) = Journal::start(&path, &h, true).unwrap();
    assert_eq!(j.recorded("seed 2").unwrap().at, format!("{}: line 4", path.display()));
    j.finish().unwrap();
    assert!(!path.exists());
}

#[test]
fn another_run_or_a_corrupt_line_is_refused_naming_the_file_and_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.journal");
    let h = header(json!({"seeds": 3, "teacher": {"hidden": 64}}));
    let (mut j, _) = Journal::start(&path, &h, false).unwrap();
    j.record("seed 0", json!(1)).unwrap();
    drop(j);
    let shown = path.display().to_string();

    let m = message(Journal::start(&path, &h, false));
    assert!(m.starts_with(&shown) && m.contains("--resume continues it"), "{m}");
    let m = message(Journal::start(&path, &header(json!({"seeds": 3, "teacher": {"hidden": 128}})), true));
    assert!(m.contains("another command line (64 at teacher.hidden in the journal, 128 now)"), "{m}");
    let m = message(Journal::start(&path, &Header { version: "0.2.0".into(), ..h.clone() }, true));
    assert!(m.contains("written by gdistill 0.1.0 (abc), and this is gdistill 0.2.0"), "{m}");
    let m = message(Journal::start(&path, &Header { command: "prune".into(), ..h.clone() }, true));
    assert!(m.contains("a journal of gdistill compare, not of gdistill prune"), "{m}");
    let m =
        message(Journal::start(&path, &Header { dataset: json!({"name": "citeseer", "nodes": 3}), ..h.clone() }, true));
    assert!(m.contains("another dataset (\"cora\" at name in the journal, \"citeseer\" now)"), "{m}");

    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{good}garbage\n{{\"key\":\"seed 1\",\"figures\":2}}\n")).unwrap();
    let m = message(Journal::start(&path, &h, true));
    assert!(m.starts_with(&format!("{shown}: line 3: not a journal record")), "{m}");
    std::fs::write(&path, "{\"format\":\"something else\"}\n").unwrap();
    assert!(message(Journal::start(&path, &h, true)).ends_with("line 1: not a gdistill run journal header"));
    std::fs::write(&path, format!("{good}{{\"key\":\"seed 0\",\"figures\":2}}\n")).unwrap();
    assert!(message(Journal::start(&path, &h, true)).contains("line 3: seed 0 is recorded twice"));
}

#[test]
fn a_journal_without_records_is_replaced_and_a_dropped_empty_one_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.journal");
    let h = header(json!({}));
    let (j, _) = Journal::start(&path, &h, false).unwrap();
    std::mem::forget(j); // as a SIGKILL leaves it: the header alone
    assert!(path.exists());
    let (j, opened) = Journal::start(&path, &h, false).unwrap();
    assert_eq!(opened, Opened::Fresh);
    drop(j);
    assert!(!path.exists(), "a failed run that finished nothing leaves no journal");
}

#[test]
fn resume_without_a_journal_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.journal");
    let (j, opened) = Journal::start(&path, &header(json!({})), true).unwrap();
    assert_eq!(opened, Opened::Fresh);
    assert!(j.recorded("seed 0").is_none());
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
}

#[test]
fn differences_are_found_in_nested_values() {
    let a = json!({"x": [1, {"y": 2}], "z": true});
    assert_eq!(first_difference(&a, &a, ""), None);
    let b = json!({"x": [1, {"y": 3}], "z": true});
    assert_eq!(first_difference(&a, &b, ""), Some(("x[1].y".into(), "2".into(), "3".into())));
    let c = json!({"x": [1, {"y": 2}]});
    assert_eq!(first_difference(&a, &c, ""), Some(("z".into(), "true".into(), "nothing".into())));
}

#[test]
fn finished_records_are_read_while_a_record_is_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.json.journal");
    assert!(finished_records(&path).unwrap().is_empty(), "no journal yet: nothing finished");
    let (mut j, _) = Journal::start(&path, &header(json!({})), false).unwrap();
    assert!(finished_records(&path).unwrap().is_empty(), "the header is no record");
    j.record("trial teacher 0", json!(0.5)).unwrap();
    j.record("seed 3", json!({"acc": 0.25})).unwrap();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"key":"seed 4","fig"#);
    std::fs::write(&path, &text).unwrap();
    let records = finished_records(&path).unwrap();
    assert_eq!(
        records,
        vec![("trial teacher 0".to_string(), json!(0.5)), ("seed 3".to_string(), json!({"acc": 0.25}))]
    );
    std::fs::write(&path, format!("{text}\n")).unwrap();
    let message = finished_records(&path).unwrap_err().to_string();
    assert!(message.contains("line 4: not a journal record"), "{message}");
}
