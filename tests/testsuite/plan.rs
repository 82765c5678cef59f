//! `bluegreen plan` against the emulator: what it shows for a first release,
//! a blue/green release, drift and no changes; its JSON and saved forms; and
//! that it only ever reads.

use bluegreen::spec::{self, naming, Variables};

use crate::support::sandbox::Sandbox;
use crate::support::{bluegreen, redact, root, var_args, Emulator};

struct Setup {
    emulator: Emulator,
    sandbox: Sandbox,
    vars: Vec<String>,
}

async fn setup() -> Setup {
    let emulator = Emulator::start();
    let sandbox = Sandbox::create(&emulator.endpoint, "shop-alb").await;
    let vars = var_args(&sandbox.example_vars());
    Setup {
        emulator,
        sandbox,
        vars,
    }
}

impl Setup {
    fn plan(&self, extra: &[&str]) -> crate::support::Run {
        let mut args = vec!["plan", "examples/web.json"];
        args.extend(self.vars.iter().map(String::as_str));
        args.extend(extra);
        bluegreen(Some(&self.emulator), &args)
    }

    /// The spec as the tool resolves it with this sandbox's variables.
    fn spec(&self, release: &str) -> spec::Spec {
        let mut vars = self.sandbox.example_vars();
        vars.push(("release".into(), release.into()));
        spec::load(
            &root().join("examples/web.json"),
            &Variables::with_env(vars, Vec::new()),
        )
        .expect("spec")
    }

    /// Seeds release `release` of `shop` exactly as the spec describes it.
    async fn seed_matching(
        &self,
        release: &str,
        count: i32,
    ) -> crate::support::sandbox::SeededRelease {
        let spec = self.spec(release);
        let seeded = self
            .sandbox
            .seed_release(
                "shop",
                release,
                count,
                &naming::instance_settings_hash(&spec.instances),
            )
            .await;
        let hc = &spec.target_group.health_check;
        self.sandbox
            .set_health_check(
                &seeded.target_group_arn,
                &hc.path,
                hc.interval_seconds as i32,
                hc.healthy_threshold as i32,
            )
            .await;
        seeded
    }
}

#[tokio::test]
async fn first_release_takes_over_from_the_existing_target_group() {
    let setup = setup().await;
    let run = setup.plan(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("first_release", redact(&run.stdout));
    assert!(run
        .stdout
        .contains("Plan: 4 to add, 0 to change, 0 to destroy, 1 listener to shift."));
}

#[tokio::test]
async fn plan_only_reads() {
    let setup = setup().await;
    let blue = setup.seed_matching("v0", 2).await;
    setup
        .sandbox
        .set_forward(
            &setup.sandbox.listener_arn,
            &[(&blue.target_group_arn, 100)],
        )
        .await;
    setup.emulator.start_recording();
    let run = setup.plan(&["--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let actions = setup.emulator.recorded_actions();
    assert!(
        actions.len() >= 5,
        "expected discovery calls, got {actions:?}"
    );
    let writes: Vec<_> = actions
        .iter()
        .filter(|a| !(a.starts_with("Describe") || a.starts_with("Get") || a.starts_with("List")))
        .collect();
    assert!(writes.is_empty(), "plan made mutating calls: {writes:?}");
}

#[tokio::test]
async fn blue_green_release_with_hand_set_weights_shows_drift() {
    let setup = setup().await;
    let blue = setup.seed_matching("v0", 2).await;
    let listener = &setup.sandbox.listener_arn;
    setup
        .sandbox
        .set_forward(listener, &[(&blue.target_group_arn, 100)])
        .await;
    setup
        .sandbox
        .record_weights(listener, "shop", &[("shop-v0", 100)])
        .await;
    // Someone moves half the traffic back to the old group by hand.
    setup
        .sandbox
        .set_forward(
            listener,
            &[
                (&blue.target_group_arn, 50),
                (&setup.sandbox.legacy_target_group_arn, 50),
            ],
        )
        .await;

    let run = setup.plan(&["--detailed-exitcode"]);
    assert_eq!(
        run.code, 2,
        "changes give 2 with --detailed-exitcode: {}",
        run.stderr
    );
    insta::assert_snapshot!("blue_green_with_drift", redact(&run.stdout));
    assert!(run
        .stdout
        .contains("Plan: 4 to add, 0 to change, 3 to destroy, 1 listener to shift."));
    for id in &blue.instance_ids {
        assert!(
            run.stdout.contains(id),
            "blue instance {id} should be listed for teardown"
        );
    }
    assert!(
        run.stdout.contains(
            "weights are shop-v0 50% | legacy-shop-alb 50%, but bluegreen last set shop-v0 100%"
        ),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn no_changes_when_the_release_serves_everything() {
    let setup = setup().await;
    let green = setup.seed_matching("v1", 3).await;
    let listener = &setup.sandbox.listener_arn;
    setup
        .sandbox
        .set_forward(listener, &[(&green.target_group_arn, 100)])
        .await;
    setup
        .sandbox
        .record_weights(listener, "shop", &[("shop-v1", 100)])
        .await;

    let run = setup.plan(&["--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("No changes."), "{}", run.stdout);

    let run = setup.plan(&["--output", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("json plan");
    assert_eq!(plan["actions"], serde_json::json!([]));
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 0, "change": 0, "destroy": 0, "shift": 0})
    );
}

#[tokio::test]
async fn resuming_a_half_done_shift_plans_only_what_is_left() {
    let setup = setup().await;
    let blue = setup.seed_matching("v0", 2).await;
    let green = setup.seed_matching("v1", 3).await;
    setup
        .sandbox
        .set_forward(
            &setup.sandbox.listener_arn,
            &[(&blue.target_group_arn, 50), (&green.target_group_arn, 50)],
        )
        .await;
    let run = setup.plan(&["--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("json plan");
    let kinds: Vec<&str> = plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["action"].as_str().expect("action kind"))
        .collect();
    // The hooks before traffic ran before green took its first share.
    assert_eq!(
        kinds,
        [
            "wait-healthy",
            "shift-traffic",
            "bake",
            "detach-target-groups",
            "destroy-stack"
        ]
    );
    assert_eq!(
        plan["traffic"][0]["steps"].as_array().map(Vec::len),
        Some(1),
        "only the 100% step is left"
    );
    assert_eq!(plan["summary"]["add"], 0);
    assert_eq!(plan["summary"]["destroy"], 3);
}

#[tokio::test]
async fn json_output_and_saved_plan_agree() {
    let setup = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("release.plan");
    let run = setup.plan(&["--output", "json", "--out", saved.to_str().expect("path")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    assert_eq!(plan["format_version"], 1);
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 4, "change": 0, "destroy": 0, "shift": 1})
    );
    insta::assert_snapshot!("first_release_json", redact(&run.stdout));

    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved plan"))
            .expect("saved plan is JSON");
    assert_eq!(file["format"], "bluegreen-plan/1");
    assert_eq!(file["plan"]["fingerprint"], plan["fingerprint"]);
    assert_eq!(file["spec"]["app"], "shop");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the saved plan holds user data: owner-only"
        );
    }
    assert!(run.stderr.contains("bluegreen apply"), "{}", run.stderr);
}

#[tokio::test]
async fn user_data_is_shown_by_size_and_hash_only() {
    let setup = setup().await;
    let secret = "exec /opt/shop/bin/server";
    for output in ["human", "json"] {
        let run = setup.plan(&["--output", output]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            !run.stdout.contains(secret),
            "{output} output shows user data"
        );
        assert!(
            !run.stderr.contains(secret),
            "{output} stderr shows user data"
        );
        assert!(run.stdout.contains("48"), "{output} output shows the size");
    }
}

#[tokio::test]
async fn rules_in_the_spec_are_planned_with_their_weights() {
    let setup = setup().await;
    let blue = setup.seed_matching("v0", 1).await;
    let rule = setup
        .sandbox
        .add_rule(10, "/api/*", &[(&blue.target_group_arn, 1)])
        .await;
    let mut args = vec!["--var=release=v1".to_string()];
    args.push("--output=json".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(root().join("examples/web.json")).expect("example");
    let mut spec: serde_json::Value = serde_json::from_str(&text).expect("json");
    spec["traffic"]["rules"] = serde_json::json!([rule]);
    let path = dir.path().join("with-rule.json");
    std::fs::write(&path, spec.to_string()).expect("write");
    let mut all: Vec<&str> = vec!["plan", path.to_str().expect("path")];
    all.extend(setup.vars.iter().map(String::as_str));
    all.extend(args.iter().map(String::as_str));
    let run = bluegreen(Some(&setup.emulator), &all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("json plan");
    let rule_change = plan["traffic"]
        .as_array()
        .expect("traffic")
        .iter()
        .find(|t| t["arn"] == rule.as_str())
        .expect("the rule is planned");
    assert_eq!(rule_change["label"], "shop-alb:80 rule 10");
    let last = rule_change["steps"]
        .as_array()
        .and_then(|s| s.last())
        .expect("steps");
    assert_eq!(
        last["weights"],
        serde_json::json!([
            {"target_group": "shop-v0", "release": "v0", "weight": 0},
            {"target_group": "shop-v1", "release": "v1", "weight": 100}
        ])
    );
}

#[tokio::test]
async fn a_missing_listener_is_one_clear_error() {
    let setup = setup().await;
    let run = setup.plan(&["--var=load_balancer=no-such-alb"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        "error: load balancer `no-such-alb` not found"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(root().join("examples/web.json")).expect("example");
    let mut spec: serde_json::Value = serde_json::from_str(&text).expect("json");
    let missing = setup
        .sandbox
        .listener_arn
        .rsplit_once('/')
        .map(|(head, _)| format!("{head}/0123456789abcdef"))
        .expect("arn");
    spec["traffic"]["listeners"] = serde_json::json!([missing]);
    let path = dir.path().join("missing.json");
    std::fs::write(&path, spec.to_string()).expect("write");
    let mut args = vec!["plan", path.to_str().expect("path")];
    args.extend(setup.vars.iter().map(String::as_str));
    let run = bluegreen(Some(&setup.emulator), &args);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains(&format!("listener `{missing}` not found")),
        "{}",
        run.stderr
    );
}

#[test]
fn no_region_is_an_immediate_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(root().join("examples/web.json")).expect("example");
    let mut spec: serde_json::Value = serde_json::from_str(&text).expect("json");
    spec.as_object_mut().expect("object").remove("region");
    let path = dir.path().join("no-region.json");
    std::fs::write(&path, spec.to_string()).expect("write");
    let started = std::time::Instant::now();
    let run = bluegreen(None, &["plan", path.to_str().expect("path")]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no AWS region"), "{}", run.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "must not wait on instance metadata"
    );
}

#[test]
fn an_endpoint_that_does_not_answer_is_one_clear_line() {
    // Port 9 (discard) on loopback: nothing listens there.
    let run = bluegreen(
        None,
        &[
            "plan",
            "examples/web.json",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--max-attempts",
            "1",
        ],
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("failed: Unreachable: could not reach the endpoint"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("check `--endpoint-url`"),
        "{}",
        run.stderr
    );
}
