//! `bluegreen validate`, and bad input of every kind: one clear error, exit
//! 1, and no AWS call.

use std::path::Path;

use crate::support::{bluegreen, root, Emulator};

fn write_spec(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write spec");
    path.to_string_lossy().into_owned()
}

fn web_example_with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(root().join("examples/web.json")).expect("example");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("json");
    edit(&mut value);
    serde_json::to_string_pretty(&value).expect("json")
}

#[test]
fn every_example_validates_as_shipped() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("examples")).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let run = bluegreen(None, &["validate", path.to_str().expect("path")]);
        assert_eq!(run.code, 0, "{}: {}", path.display(), run.stderr);
        assert!(run.stdout.contains("is valid"), "{}", run.stdout);
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the shipped examples, found {checked}"
    );
}

#[test]
fn validate_reports_the_derived_release_as_json() {
    let run = bluegreen(
        None,
        &["validate", "examples/web-module.json", "--output", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("json on stdout");
    assert_eq!(value["valid"], true);
    assert_eq!(value["app"], "shop");
    let release = value["release"].as_str().expect("release");
    assert!(release.starts_with('r') && release.len() == 9, "{release}");
    assert_eq!(value["target_group"], format!("shop-{release}"));
}

#[test]
fn a_typo_is_an_error_naming_the_field_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(
        dir.path(),
        "typo.json",
        &web_example_with(|v| {
            let instances = v["instances"].as_object_mut().expect("instances");
            let kind = instances.remove("instance_type").expect("instance_type");
            instances.insert("instance_typ".into(), kind);
        }),
    );
    let run = bluegreen(None, &["validate", &spec]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("typo.json"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`instances.instance_typ`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("unknown field `instance_typ`"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_syntax_errors_give_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(
        dir.path(),
        "broken.json",
        "{\n  \"app\": \"shop\",\n  \"release\" \"v1\"\n}\n",
    );
    let run = bluegreen(None, &["validate", &spec]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("broken.json`:3:13: invalid JSON"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_bad_value_is_listed_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(
        dir.path(),
        "bad.json",
        &web_example_with(|v| {
            v["instances"]["count"] = 501.into();
            v["rollout"]["steps"] = serde_json::json!([10, 5, 100]);
            v["target_group"]["health_check"]["matcher"] = "2xx".into();
        }),
    );
    let run = bluegreen(None, &["validate", &spec]);
    assert_eq!(run.code, 1);
    for field in [
        "`instances.count`",
        "`rollout.steps[1]`",
        "`target_group.health_check.matcher`",
    ] {
        assert!(
            run.stderr.contains(field),
            "{field} missing from:\n{}",
            run.stderr
        );
    }
    assert_eq!(run.stderr.lines().count(), 3, "{}", run.stderr);
}

#[test]
fn missing_files_and_variables_are_named() {
    let run = bluegreen(None, &["validate", "no/such/spec.json"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot read `no/such/spec.json`"),
        "{}",
        run.stderr
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(
        dir.path(),
        "vars.json",
        &web_example_with(|v| {
            v["variables"]
                .as_object_mut()
                .expect("variables")
                .remove("image_id");
        }),
    );
    let run = bluegreen(None, &["validate", &spec]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("`instances.image_id`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("variable `image_id` has no value"),
        "{}",
        run.stderr
    );

    let run = bluegreen(
        None,
        &["validate", &spec, "--var", "image_id=ami-0123456789abcdef0"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);

    let run = bluegreen(
        None,
        &["validate", "examples/web.json", "--var", "no-equals-sign"],
    );
    assert_eq!(
        run.code, 1,
        "usage errors are bad input too: {}",
        run.stderr
    );
    assert!(run.stderr.contains("expected NAME=VALUE"), "{}", run.stderr);
}

#[test]
fn plan_with_a_bad_spec_calls_nothing() {
    let emulator = Emulator::start();
    emulator.start_recording();
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(
        dir.path(),
        "bad.json",
        &web_example_with(|v| v["instances"]["count"] = 0.into()),
    );
    let run = bluegreen(Some(&emulator), &["plan", &spec]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("`instances.count`"), "{}", run.stderr);
    assert_eq!(emulator.recorded_actions(), Vec::<String>::new());
}
