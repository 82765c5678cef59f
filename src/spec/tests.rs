//! Loading whole spec files: parsing, defaults, variables, modules and the
//! error messages a user sees (file path plus field path).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tempfile::TempDir;

use super::*;

const LISTENER_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2";
const RULE_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";

/// A valid spec to mutate per test.
fn base() -> Value {
    json!({
        "app": "shop",
        "traffic": {"listeners": [LISTENER_ARN]},
        "instances": {
            "count": 3,
            "image_id": "ami-0abcdef1234567890",
            "instance_type": "t3.small",
            "subnet_ids": ["subnet-0a1b2c3d"]
        },
        "target_group": {"vpc_id": "vpc-0a1b2c3d", "port": 8080}
    })
}

fn vars(cli: &[(&str, &str)], env: &[(&str, &str)]) -> Variables {
    Variables::with_env(
        cli.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

fn no_vars() -> Variables {
    vars(&[], &[])
}

fn write_text(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    write_text(dir, name, &serde_json::to_string_pretty(value).unwrap())
}

/// Writes `spec` to `spec.json` in a fresh temp dir and loads it.
fn load_with(spec: &Value, vars: &Variables) -> (TempDir, PathBuf, Result<Spec, SpecError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(dir.path(), "spec.json", spec);
    let result = load(&path, vars);
    (dir, path, result)
}

fn load_ok(spec: &Value) -> Spec {
    let (_dir, path, result) = load_with(spec, &no_vars());
    match result {
        Ok(spec) => spec,
        Err(err) => panic!("{} should load: {err}", path.display()),
    }
}

/// Loads `spec` expecting an error; returns its text after checking it names the file.
fn load_err_with(spec: &Value, vars: &Variables) -> String {
    let (_dir, path, result) = load_with(spec, vars);
    let err = match result {
        Ok(spec) => panic!("expected an error, got {spec:?}"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.contains(&path.display().to_string()),
        "error does not name the file {}: {err}",
        path.display()
    );
    err
}

fn load_err(spec: &Value) -> String {
    load_err_with(spec, &no_vars())
}

/// Asserts that `err` names `field` (in backticks) and mentions every one of `words`.
fn assert_names(err: &str, field: &str, words: &[&str]) {
    assert!(
        err.contains(&format!("`{field}`")),
        "error does not name `{field}`: {err}"
    );
    for word in words {
        assert!(err.contains(word), "error does not mention {word:?}: {err}");
    }
}

// ---------------------------------------------------------------- parsing

#[test]
fn full_example_spec_parses_and_round_trips() {
    let document = json!({
        "app": "shop",
        "release": "v42",
        "region": "us-east-1",
        "variables": {"release": "dev"},
        "traffic": {
            "listeners": [LISTENER_ARN],
            "rules": [],
            "test_listener": null
        },
        "instances": {
            "count": 3,
            "image_id": "ami-0abcdef1234567890",
            "instance_type": "t3.small",
            "subnet_ids": ["subnet-aaa", "subnet-bbb"],
            "security_group_ids": ["sg-123"],
            "key_name": null,
            "iam_instance_profile": null,
            "user_data": null,
            "launch_template": null,
            "tags": {"team": "shop"}
        },
        "target_group": {
            "vpc_id": "vpc-123",
            "port": 8080,
            "protocol": "HTTP",
            "health_check": {
                "path": "/healthz",
                "port": "traffic-port",
                "protocol": "HTTP",
                "interval_seconds": 10,
                "timeout_seconds": 5,
                "healthy_threshold": 3,
                "unhealthy_threshold": 2,
                "matcher": "200"
            },
            "deregistration_delay_seconds": 30
        },
        "rollout": {
            "steps": [10, 50, 100],
            "step_interval_seconds": 60,
            "bake_seconds": 600,
            "health_timeout_seconds": 600,
            "min_healthy_percent": 100,
            "auto_rollback": true
        },
        "hooks": {"before_traffic": [], "after_traffic": []}
    });
    let spec = load_ok(&document);

    assert_eq!(spec.schema, None);
    assert_eq!(spec.app, "shop");
    assert_eq!(spec.release, "v42");
    assert_eq!(spec.region.as_deref(), Some("us-east-1"));
    assert_eq!(spec.variables.len(), 1);
    assert_eq!(spec.variables["release"], json!("dev"));

    assert_eq!(
        spec.traffic.listeners,
        vec![ListenerRef::Arn(LISTENER_ARN.to_string())]
    );
    assert!(spec.traffic.rules.is_empty());
    assert_eq!(spec.traffic.test_listener, None);

    let instances = &spec.instances;
    assert_eq!(instances.count, 3);
    assert_eq!(instances.image_id.as_deref(), Some("ami-0abcdef1234567890"));
    assert_eq!(instances.instance_type.as_deref(), Some("t3.small"));
    assert_eq!(instances.subnet_ids, vec!["subnet-aaa", "subnet-bbb"]);
    assert_eq!(instances.security_group_ids, vec!["sg-123"]);
    assert_eq!(instances.key_name, None);
    assert_eq!(instances.iam_instance_profile, None);
    assert_eq!(instances.user_data, None);
    assert_eq!(instances.user_data_digest(), None);
    assert_eq!(instances.launch_template, None);
    assert_eq!(instances.tags.len(), 1);
    assert_eq!(instances.tags["team"], "shop");

    let target_group = &spec.target_group;
    assert_eq!(target_group.vpc_id, "vpc-123");
    assert_eq!(target_group.port, 8080);
    assert_eq!(target_group.protocol, "HTTP");
    assert_eq!(
        target_group.health_check,
        HealthCheck {
            path: "/healthz".into(),
            port: "traffic-port".into(),
            protocol: "HTTP".into(),
            interval_seconds: 10,
            timeout_seconds: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            matcher: "200".into(),
        }
    );
    assert_eq!(target_group.deregistration_delay_seconds, 30);

    assert_eq!(
        spec.rollout,
        Rollout {
            steps: vec![10, 50, 100],
            step_interval_seconds: 60,
            bake_seconds: 600,
            health_timeout_seconds: 600,
            min_healthy_percent: 100,
            auto_rollback: true,
        }
    );
    assert_eq!(spec.hooks, Hooks::default());

    // Serializing and loading again gives the same spec.
    let serialized = serde_json::to_value(&spec).unwrap();
    assert_eq!(load_ok(&serialized), spec);
    let reparsed: Spec = serde_json::from_value(serialized).unwrap();
    assert_eq!(reparsed, spec);
}

#[test]
fn absent_fields_take_their_defaults() {
    let spec = load_ok(&base());
    assert_eq!(spec.region, None);
    assert!(spec.variables.is_empty());
    assert!(spec.traffic.rules.is_empty());
    assert_eq!(spec.traffic.test_listener, None);
    assert!(spec.instances.security_group_ids.is_empty());
    assert!(spec.instances.tags.is_empty());
    assert_eq!(spec.instances.launch_template, None);

    let rollout = &spec.rollout;
    assert_eq!(rollout.steps, vec![100]);
    assert_eq!(rollout.step_interval_seconds, 60);
    assert_eq!(rollout.bake_seconds, 300);
    assert_eq!(rollout.health_timeout_seconds, 600);
    assert_eq!(rollout.min_healthy_percent, 100);
    assert!(rollout.auto_rollback);

    let target_group = &spec.target_group;
    assert_eq!(target_group.protocol, "HTTP");
    assert_eq!(target_group.deregistration_delay_seconds, 300);
    let check = &target_group.health_check;
    assert_eq!(check.interval_seconds, 30);
    assert_eq!(check.healthy_threshold, 5);
    assert_eq!(check.unhealthy_threshold, 2);
    assert_eq!(check.timeout_seconds, 5);
    assert_eq!(check.path, "/");
    assert_eq!(check.port, "traffic-port");
    assert_eq!(check.protocol, "HTTP");
    assert_eq!(check.matcher, "200");

    assert!(spec.hooks.before_traffic.is_empty());
    assert!(spec.hooks.after_traffic.is_empty());
}

#[test]
fn partly_given_objects_fill_the_rest_with_defaults() {
    let mut spec = base();
    spec["target_group"]["health_check"] = json!({"path": "/healthz"});
    spec["rollout"] = json!({"steps": [25, 100]});
    let spec = load_ok(&spec);
    assert_eq!(spec.target_group.health_check.path, "/healthz");
    assert_eq!(spec.target_group.health_check.interval_seconds, 30);
    assert_eq!(spec.rollout.steps, vec![25, 100]);
    assert_eq!(spec.rollout.bake_seconds, 300);
}

#[test]
fn json_syntax_error_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_text(
        dir.path(),
        "broken.json",
        "{\n  \"app\": \"shop\",\n  \"release\" \"v1\"\n}\n",
    );
    let err = load(&path, &no_vars()).unwrap_err();
    assert!(matches!(err, SpecError::Syntax { line: 3, .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("`{}`:3:13", path.display())),
        "{text}"
    );
    assert!(text.contains("broken.json"), "{text}");
    assert!(text.contains("invalid JSON"), "{text}");
    // The position is printed once, in the prefix.
    assert!(!text.contains(" at line "), "{text}");
}

#[test]
fn unreadable_spec_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.json");
    let err = load(&path, &no_vars()).unwrap_err();
    assert!(matches!(err, SpecError::Read { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_spec_must_be_an_object() {
    let err = load_err(&json!([1, 2]));
    assert!(err.contains("a spec is a JSON object"), "{err}");
}

#[test]
fn unknown_field_is_rejected_with_its_object() {
    let mut spec = base();
    spec["instances"]["instance_typ"] = json!("t3.small");
    let err = load_err(&spec);
    assert!(err.contains("`instances"), "{err}");
    assert!(err.contains("unknown field `instance_typ`"), "{err}");
}

#[test]
fn unknown_top_level_field_is_rejected() {
    let mut spec = base();
    spec["rolout"] = json!({});
    let err = load_err(&spec);
    assert!(err.contains("unknown field `rolout`"), "{err}");
}

#[test]
fn wrong_type_names_the_field() {
    let mut spec = base();
    spec["instances"]["count"] = json!("three");
    let err = load_err(&spec);
    assert_names(&err, "instances.count", &["invalid type", "three"]);
}

#[test]
fn count_must_be_between_1_and_500() {
    for count in [0, 501] {
        let mut spec = base();
        spec["instances"]["count"] = json!(count);
        let err = load_err(&spec);
        assert_names(
            &err,
            "instances.count",
            &["between 1 and 500", &format!("got {count}")],
        );
    }
    for count in [1, 500] {
        let mut spec = base();
        spec["instances"]["count"] = json!(count);
        assert_eq!(load_ok(&spec).instances.count, count);
    }
}

#[test]
fn rollout_steps_are_checked_one_by_one() {
    let cases: &[(Value, &str, &str)] = &[
        (
            json!([10, 10, 100]),
            "rollout.steps[1]",
            "increase strictly",
        ),
        (
            json!([50, 20, 100]),
            "rollout.steps[1]",
            "increase strictly",
        ),
        (json!([0, 100]), "rollout.steps[0]", "between 1 and 100"),
        (json!([10, 101]), "rollout.steps[1]", "between 1 and 100"),
        (json!([10, 50]), "rollout.steps[1]", "last step must be 100"),
        (
            json!([10, 50, 90]),
            "rollout.steps[2]",
            "last step must be 100",
        ),
        (json!([]), "rollout.steps", "at least one step"),
    ];
    for (steps, field, words) in cases {
        let mut spec = base();
        spec["rollout"] = json!({"steps": steps});
        let err = load_err(&spec);
        assert_names(&err, field, &[words]);
    }
}

#[test]
fn several_problems_are_reported_together() {
    let mut spec = base();
    spec["instances"]["count"] = json!(0);
    spec["rollout"] = json!({"steps": [10, 10, 100]});
    let err = load_err(&spec);
    assert_names(&err, "instances.count", &[]);
    assert_names(&err, "rollout.steps[1]", &[]);
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn malformed_arns_and_ids_are_named() {
    type Mutation = fn(&mut Value);
    let cases: &[(Mutation, &str, &str)] = &[
        (
            |s| {
                s["traffic"]["listeners"] = json!(["arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188"])
            },
            "traffic.listeners[0]",
            "is not an Application Load Balancer listener ARN",
        ),
        (
            |s| s["traffic"]["listeners"] = json!(["not-an-arn"]),
            "traffic.listeners[0]",
            "`not-an-arn`",
        ),
        (
            |s| s["traffic"]["rules"] = json!([LISTENER_ARN]),
            "traffic.rules[0]",
            "listener-rule ARN",
        ),
        (
            |s| {
                s["traffic"]["rules"] = json!([
                    "arn:aws:elasticloadbalancing:us-east-1:1234:listener-rule/app/shop/a/b/c"
                ])
            },
            "traffic.rules[0]",
            "listener-rule ARN",
        ),
        (
            |s| s["instances"]["subnet_ids"] = json!(["subnet-0a1b2c3d", "subnet-XYZ"]),
            "instances.subnet_ids[1]",
            "`subnet-XYZ` is not a valid id",
        ),
        (
            |s| s["instances"]["security_group_ids"] = json!(["group-1"]),
            "instances.security_group_ids[0]",
            "`group-1` is not a valid id",
        ),
        (
            |s| s["target_group"]["vpc_id"] = json!("vpc0a1b2c3d"),
            "target_group.vpc_id",
            "`vpc0a1b2c3d` is not a valid id",
        ),
        (
            |s| s["instances"]["image_id"] = json!("ami-ZZZ"),
            "instances.image_id",
            "`ami-ZZZ` is not a valid id",
        ),
    ];
    for (mutate, field, words) in cases {
        let mut spec = base();
        mutate(&mut spec);
        let err = load_err(&spec);
        assert_names(&err, field, &[words]);
    }
}

#[test]
fn well_formed_rule_arn_is_accepted() {
    let mut spec = base();
    spec["traffic"] = json!({"rules": [RULE_ARN]});
    assert_eq!(load_ok(&spec).traffic.rules, vec![RULE_ARN]);
}

#[test]
fn listener_in_another_region_than_the_spec_is_named() {
    let mut spec = base();
    spec["region"] = json!("eu-west-1");
    let err = load_err(&spec);
    assert_names(&err, "traffic.listeners[0]", &["us-east-1", "eu-west-1"]);
}

#[test]
fn missing_required_field_is_reported() {
    let mut spec = base();
    spec.as_object_mut().unwrap().remove("target_group");
    let err = load_err(&spec);
    assert!(err.contains("missing field `target_group`"), "{err}");
}

#[test]
fn image_and_type_are_required_without_a_launch_template() {
    let mut spec = base();
    let instances = spec["instances"].as_object_mut().unwrap();
    instances.remove("image_id");
    instances.remove("instance_type");
    let err = load_err(&spec);
    assert_names(&err, "instances.image_id", &["unless `launch_template`"]);
    assert_names(&err, "instances.instance_type", &[]);
}

#[test]
fn launch_template_takes_exactly_one_of_id_and_name() {
    let mut spec = base();
    let instances = spec["instances"].as_object_mut().unwrap();
    instances.remove("image_id");
    instances.remove("instance_type");
    instances.insert(
        "launch_template".into(),
        json!({"id": "lt-0abc123", "name": "shop"}),
    );
    let err = load_err(&spec);
    assert_names(
        &err,
        "instances.launch_template",
        &["exactly one of `id` and `name`"],
    );

    spec["instances"]["launch_template"] = json!({});
    let err = load_err(&spec);
    assert_names(
        &err,
        "instances.launch_template",
        &["exactly one of `id` and `name`"],
    );

    spec["instances"]["launch_template"] = json!({"name": "shop"});
    let template = load_ok(&spec).instances.launch_template.unwrap();
    assert_eq!(template.name.as_deref(), Some("shop"));
    assert_eq!(template.id, None);
    assert_eq!(template.version, "$Latest");
}

#[test]
fn listener_by_load_balancer_and_port_parses() {
    let mut spec = base();
    spec["traffic"]["listeners"] = json!([{"load_balancer": "shop-alb", "port": 443}]);
    let spec = load_ok(&spec);
    assert_eq!(
        spec.traffic.listeners,
        vec![ListenerRef::Port {
            load_balancer: "shop-alb".into(),
            port: 443
        }]
    );
    assert_eq!(spec.traffic.listeners[0].to_string(), "shop-alb:443");
}

#[test]
fn listener_without_port_or_of_the_wrong_type_is_named() {
    let mut spec = base();
    spec["traffic"]["listeners"] = json!([{"load_balancer": "x"}]);
    let err = load_err(&spec);
    assert_names(&err, "traffic.listeners[0]", &["missing field `port`"]);

    spec["traffic"]["listeners"] = json!([42]);
    let err = load_err(&spec);
    assert_names(
        &err,
        "traffic.listeners[0]",
        &["expected a listener ARN or"],
    );

    spec["traffic"]["listeners"] = json!([{"load_balancer": "x", "port": 443, "proto": "HTTPS"}]);
    let err = load_err(&spec);
    assert_names(&err, "traffic.listeners[0]", &["unknown field `proto`"]);

    spec["traffic"]["listeners"] = json!([LISTENER_ARN, {"load_balancer": "x", "port": 70000}]);
    let err = load_err(&spec);
    assert_names(&err, "traffic.listeners[1]", &["70000"]);
}

#[test]
fn traffic_needs_a_listener_or_a_rule() {
    let mut spec = base();
    spec["traffic"] = json!({});
    let err = load_err(&spec);
    assert_names(&err, "traffic", &["at least one listener"]);
}

// -------------------------------------------------------------- variables

fn spec_with_release_variable() -> Value {
    let mut spec = base();
    spec["release"] = json!("${var.release}");
    spec["variables"] = json!({"release": "dev"});
    spec
}

#[test]
fn cli_variable_beats_environment_beats_default() {
    let spec = spec_with_release_variable();
    let load_release = |vars: &Variables| {
        let (_dir, _path, result) = load_with(&spec, vars);
        result.unwrap().release
    };
    assert_eq!(load_release(&no_vars()), "dev");
    assert_eq!(
        load_release(&vars(&[], &[("BLUEGREEN_VAR_release", "env1")])),
        "env1"
    );
    assert_eq!(
        load_release(&vars(
            &[("release", "cli1")],
            &[("BLUEGREEN_VAR_release", "env1")]
        )),
        "cli1"
    );
    assert_eq!(load_release(&vars(&[("release", "cli1")], &[])), "cli1");
}

#[test]
fn whole_string_variable_takes_the_type_of_its_default() {
    let mut spec = base();
    spec["variables"] = json!({"count": 2});
    spec["instances"]["count"] = json!("${var.count}");
    let (_dir, _path, result) = load_with(&spec, &no_vars());
    assert_eq!(result.unwrap().instances.count, 2);
    let (_dir, _path, result) = load_with(&spec, &vars(&[("count", "7")], &[]));
    assert_eq!(result.unwrap().instances.count, 7);
    let err = load_err_with(&spec, &vars(&[("count", "many")], &[]));
    assert_names(&err, "instances.count", &["must be a number"]);
}

#[test]
fn missing_variable_names_variable_and_field() {
    let mut spec = base();
    spec["instances"]["tags"] = json!({"team": "${var.team}"});
    let err = load_err(&spec);
    assert_names(
        &err,
        "instances.tags.team",
        &["variable `team` has no value", "BLUEGREEN_VAR_team"],
    );
}

#[test]
fn environment_references_are_filled() {
    let mut spec = base();
    spec["instances"]["tags"] = json!({"owner": "${env.USER_NAME}", "path": "${env.HOME_DIR}/bin"});
    let (_dir, _path, result) = load_with(
        &spec,
        &vars(&[], &[("USER_NAME", "alice"), ("HOME_DIR", "/home/a")]),
    );
    let spec_loaded = result.unwrap();
    assert_eq!(spec_loaded.instances.tags["owner"], "alice");
    assert_eq!(spec_loaded.instances.tags["path"], "/home/a/bin");

    let err = load_err(&spec);
    assert_names(&err, "instances.tags.owner", &["`USER_NAME` is not set"]);
}

#[test]
fn unknown_cli_variable_is_reported() {
    let err = load_err_with(
        &spec_with_release_variable(),
        &vars(&[("relase", "x")], &[]),
    );
    assert!(err.contains("no variable `relase`"), "{err}");
}

#[test]
fn input_reference_outside_a_module_is_rejected() {
    let mut spec = base();
    spec["app"] = json!("${input.app}");
    let err = load_err(&spec);
    assert_names(&err, "app", &["only be used inside a module"]);
}

// ----------------------------------------------------------------- naming

#[test]
fn omitted_release_is_derived_from_the_settings() {
    let first = load_ok(&base()).release;
    assert_eq!(first.len(), 9, "{first}");
    assert!(first.starts_with('r'), "{first}");
    assert!(
        first[1..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{first}"
    );

    // Same spec, same release; also when the release is given as "".
    assert_eq!(load_ok(&base()).release, first);
    let mut empty = base();
    empty["release"] = json!("");
    assert_eq!(load_ok(&empty).release, first);

    // Settings that do not touch instances or target group keep it.
    let mut rollout = base();
    rollout["rollout"] = json!({"steps": [50, 100]});
    assert_eq!(load_ok(&rollout).release, first);

    let mut changed = base();
    changed["instances"]["instance_type"] = json!("t3.medium");
    let second = load_ok(&changed).release;
    assert_ne!(second, first);
    assert!(second.starts_with('r') && second.len() == 9, "{second}");
}

#[test]
fn app_name_is_checked() {
    for app in [
        "a-very-long-application-name",
        "Shop",
        "-shop",
        "shop-",
        "",
        "shop_1",
    ] {
        let mut spec = base();
        spec["app"] = json!(app);
        let err = load_err(&spec);
        assert_names(&err, "app", &["lower-case letters"]);
    }
    let mut spec = base();
    spec["app"] = json!("a".repeat(naming::APP_NAME_MAX));
    load_ok(&spec);
}

#[test]
fn release_name_is_checked() {
    let mut spec = base();
    spec["release"] = json!("v 1");
    let err = load_err(&spec);
    assert_names(&err, "release", &["`v 1`"]);
}

// ---------------------------------------------------------------- modules

fn web_module() -> Value {
    json!({
        "description": "An EC2 web service",
        "inputs": {
            "count": {"type": "number", "description": "How many instances"},
            "instance_type": {"type": "string", "default": "t3.small", "description": "Instance type"},
            "team": {"type": "string", "description": "Owning team"}
        },
        "body": {
            "instances": {
                "count": "${input.count}",
                "image_id": "ami-0abcdef1234567890",
                "instance_type": "${input.instance_type}",
                "subnet_ids": ["subnet-0a1b2c3d"],
                "tags": {"team": "${input.team}", "tier": "web-${input.team}"}
            },
            "target_group": {
                "vpc_id": "vpc-0a1b2c3d",
                "port": 8080,
                "health_check": {"path": "/healthz", "interval_seconds": 10}
            },
            "rollout": {"steps": [50, 100], "bake_seconds": 60}
        }
    })
}

/// A spec that leaves `instances` and `target_group` to the module.
fn module_caller(inputs: Value) -> Value {
    json!({
        "app": "shop",
        "traffic": {"listeners": [LISTENER_ARN]},
        "module": {"source": "modules/web.json", "inputs": inputs},
    })
}

/// Writes `module` under `modules/web.json` next to the spec and loads the spec.
fn load_with_module(
    spec: &Value,
    module: &Value,
    vars: &Variables,
) -> (TempDir, PathBuf, PathBuf, Result<Spec, SpecError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("modules")).unwrap();
    let module_path = write_json(&dir.path().join("modules"), "web.json", module);
    let spec_path = write_json(dir.path(), "spec.json", spec);
    let result = load(&spec_path, vars);
    (dir, spec_path, module_path, result)
}

fn module_err(spec: &Value, module: &Value) -> (String, PathBuf, PathBuf) {
    let (_dir, spec_path, module_path, result) = load_with_module(spec, module, &no_vars());
    let err = result.expect_err("expected an error").to_string();
    (err, spec_path, module_path)
}

#[test]
fn module_inputs_fill_the_body() {
    let spec = module_caller(json!({"count": 4, "team": "payments"}));
    let (_dir, _spec_path, _module_path, result) =
        load_with_module(&spec, &web_module(), &no_vars());
    let spec = result.unwrap();
    // A whole-string number input fills a number.
    assert_eq!(spec.instances.count, 4);
    // Defaults apply to inputs the caller leaves out.
    assert_eq!(spec.instances.instance_type.as_deref(), Some("t3.small"));
    assert_eq!(spec.instances.tags["team"], "payments");
    assert_eq!(spec.instances.tags["tier"], "web-payments");
    assert_eq!(spec.target_group.vpc_id, "vpc-0a1b2c3d");
    assert_eq!(spec.target_group.health_check.path, "/healthz");
    assert_eq!(spec.target_group.health_check.interval_seconds, 10);
    assert_eq!(spec.target_group.health_check.healthy_threshold, 5);
    assert_eq!(spec.rollout.steps, vec![50, 100]);
    assert_eq!(spec.rollout.bake_seconds, 60);
    assert_eq!(spec.rollout.step_interval_seconds, 60);
}

#[test]
fn number_input_given_as_text_is_accepted() {
    let spec = module_caller(json!({"count": "5", "team": "shop"}));
    let (_dir, _s, _m, result) = load_with_module(&spec, &web_module(), &no_vars());
    assert_eq!(result.unwrap().instances.count, 5);
}

#[test]
fn module_inputs_can_come_from_variables() {
    let mut spec = module_caller(json!({"count": "${var.count}", "team": "shop"}));
    spec["variables"] = json!({"count": 2});
    let (_dir, _s, _m, result) =
        load_with_module(&spec, &web_module(), &vars(&[("count", "6")], &[]));
    assert_eq!(result.unwrap().instances.count, 6);
}

#[test]
fn spec_keys_win_over_module_keys() {
    let mut spec = module_caller(json!({"count": 4, "team": "shop"}));
    spec["instances"] = json!({"count": 2, "instance_type": "m5.large", "tags": {"team": "mine"}});
    spec["target_group"] = json!({"health_check": {"interval_seconds": 20}});
    spec["rollout"] = json!({"steps": [100]});
    let (_dir, _s, _m, result) = load_with_module(&spec, &web_module(), &no_vars());
    let spec = result.unwrap();
    assert_eq!(spec.instances.count, 2);
    assert_eq!(spec.instances.instance_type.as_deref(), Some("m5.large"));
    assert_eq!(spec.instances.tags["team"], "mine");
    // Keys the spec does not set still come from the module, object by object.
    assert_eq!(spec.instances.tags["tier"], "web-shop");
    assert_eq!(
        spec.instances.image_id.as_deref(),
        Some("ami-0abcdef1234567890")
    );
    assert_eq!(spec.target_group.health_check.interval_seconds, 20);
    assert_eq!(spec.target_group.health_check.path, "/healthz");
    // Arrays are replaced whole.
    assert_eq!(spec.rollout.steps, vec![100]);
    assert_eq!(spec.rollout.bake_seconds, 60);
}

#[test]
fn missing_required_module_input_is_named() {
    let (err, spec_path, _) = module_err(&module_caller(json!({"count": 4})), &web_module());
    assert!(err.contains(&spec_path.display().to_string()), "{err}");
    assert_names(&err, "module.inputs.team", &["needs input `team`"]);
}

#[test]
fn unknown_module_input_is_named() {
    let (err, spec_path, _) = module_err(
        &module_caller(json!({"count": 4, "team": "shop", "colour": "blue"})),
        &web_module(),
    );
    assert!(err.contains(&spec_path.display().to_string()), "{err}");
    assert_names(
        &err,
        "module.inputs.colour",
        &["no input `colour`", "`count`"],
    );
}

#[test]
fn module_input_of_the_wrong_type_is_named() {
    let (err, spec_path, _) = module_err(
        &module_caller(json!({"count": "three", "team": "shop"})),
        &web_module(),
    );
    assert!(err.contains(&spec_path.display().to_string()), "{err}");
    assert_names(&err, "module.inputs.count", &["expected a number", "three"]);

    let (err, _, _) = module_err(
        &module_caller(json!({"count": 3, "team": 7})),
        &web_module(),
    );
    assert_names(&err, "module.inputs.team", &["expected a string"]);
}

#[test]
fn unreadable_module_source_is_named() {
    let mut spec = module_caller(json!({"count": 4, "team": "shop"}));
    spec["module"]["source"] = json!("modules/nope.json");
    let (err, spec_path, _) = module_err(&spec, &web_module());
    assert!(err.contains(&spec_path.display().to_string()), "{err}");
    assert_names(&err, "module.source", &["cannot read module", "nope.json"]);
}

#[test]
fn module_with_a_syntax_error_names_the_module_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("modules")).unwrap();
    let module_path = write_text(
        &dir.path().join("modules"),
        "web.json",
        "{\n  \"description\": \"x\",\n  \"body\": {,}\n}\n",
    );
    let spec_path = write_json(dir.path(), "spec.json", &module_caller(json!({})));
    let err = load(&spec_path, &no_vars()).unwrap_err();
    assert!(matches!(err, SpecError::Syntax { line: 3, .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("`{}`:3:", module_path.display())),
        "{text}"
    );
}

#[test]
fn problems_inside_a_module_file_name_the_module_file() {
    let mut module = web_module();
    module["inputs"]["count"]["kind"] = json!("x");
    let (err, _, module_path) =
        module_err(&module_caller(json!({"count": 4, "team": "shop"})), &module);
    assert!(err.contains(&module_path.display().to_string()), "{err}");
    assert!(err.contains("`inputs.count"), "{err}");
    assert!(err.contains("unknown field `kind`"), "{err}");

    let mut module = web_module();
    module["body"]["instances"]["key_name"] = json!("${input.key}");
    let (err, _, module_path) =
        module_err(&module_caller(json!({"count": 4, "team": "shop"})), &module);
    assert!(err.contains(&module_path.display().to_string()), "{err}");
    assert_names(&err, "body.instances.key_name", &["no input `key`"]);

    let mut module = web_module();
    module["body"]["module"] = json!({"source": "other.json"});
    let (err, _, module_path) =
        module_err(&module_caller(json!({"count": 4, "team": "shop"})), &module);
    assert!(err.contains(&module_path.display().to_string()), "{err}");
    assert_names(&err, "body.module", &["cannot call another module"]);
}

#[test]
fn cli_variable_used_only_in_the_module_body_is_not_a_typo() {
    let mut module = web_module();
    module["body"]["instances"]["key_name"] = json!("${var.key}");
    let spec = module_caller(json!({"count": 4, "team": "shop"}));
    let (_dir, _s, _m, result) = load_with_module(&spec, &module, &vars(&[("key", "deploy")], &[]));
    assert_eq!(
        result.unwrap().instances.key_name.as_deref(),
        Some("deploy")
    );

    // A `--var` that neither the spec nor the module uses is still a typo.
    let (_dir, spec_path, _m, result) = load_with_module(
        &spec,
        &module,
        &vars(&[("key", "deploy"), ("kye", "x")], &[]),
    );
    let err = result.unwrap_err().to_string();
    assert!(err.contains(&spec_path.display().to_string()), "{err}");
    assert!(err.contains("no variable `kye`"), "{err}");
    assert!(!err.contains("`key`"), "{err}");
}

#[test]
fn bad_module_call_is_named() {
    let mut spec = module_caller(json!({}));
    spec["module"] = json!({"src": "modules/web.json"});
    let (err, _, _) = module_err(&spec, &web_module());
    assert!(err.contains("`module"), "{err}");
    assert!(err.contains("unknown field `src`"), "{err}");
}

// ------------------------------------------------------------ health check

#[test]
fn health_check_timeout_must_be_below_interval() {
    for timeout in [10, 11] {
        let mut spec = base();
        spec["target_group"]["health_check"] =
            json!({"interval_seconds": 10, "timeout_seconds": timeout});
        let err = load_err(&spec);
        assert_names(
            &err,
            "target_group.health_check.timeout_seconds",
            &[
                "less than `interval_seconds` (10)",
                &format!("got {timeout}"),
            ],
        );
    }
}

#[test]
fn other_health_check_problems_are_named() {
    let cases: &[(Value, &str)] = &[
        (json!({"path": "healthz"}), "target_group.health_check.path"),
        (json!({"port": "web"}), "target_group.health_check.port"),
        (
            json!({"protocol": "TCP"}),
            "target_group.health_check.protocol",
        ),
        (
            json!({"matcher": "2xx"}),
            "target_group.health_check.matcher",
        ),
        (
            json!({"healthy_threshold": 1}),
            "target_group.health_check.healthy_threshold",
        ),
        (
            json!({"interval_seconds": 301}),
            "target_group.health_check.interval_seconds",
        ),
    ];
    for (check, field) in cases {
        let mut spec = base();
        spec["target_group"]["health_check"] = check.clone();
        let err = load_err(&spec);
        assert_names(&err, field, &[]);
    }
}
