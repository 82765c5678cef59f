//! The release cycle against the emulator: `apply` end to end, automatic
//! rollback, `rollback --app`, `status`, and what a release must leave alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::proxy::Proxy;
use crate::support::sandbox::Sandbox;
use crate::support::{bluegreen_at, command, var_args, Emulator, Run};

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
    /// `apply examples/web.json` for `release`, with quick steps, through `endpoint`.
    fn apply_at(&self, endpoint: &str, release: &str, extra: &[&str]) -> Run {
        let mut args: Vec<String> = vec![
            "apply".into(),
            "examples/web.json".into(),
            "--auto-approve".into(),
        ];
        args.extend(self.vars.iter().cloned());
        args.push(format!("--var=release={release}"));
        for default in [
            "step_interval_seconds=0",
            "bake_seconds=0",
            "health_timeout_seconds=5",
        ] {
            let name = default.split('=').next().unwrap_or_default();
            if !extra.iter().any(|e| e.contains(&format!("{name}="))) {
                args.push(format!("--var={default}"));
            }
        }
        args.extend(extra.iter().map(|e| e.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bluegreen_at(endpoint, &args)
    }

    fn apply(&self, release: &str, extra: &[&str]) -> Run {
        self.apply_at(&self.emulator.endpoint, release, extra)
    }

    fn app_command(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--app", "shop", "--region", "us-east-1"]);
        bluegreen_at(&self.emulator.endpoint, &all)
    }

    /// Records every distinct weight split of the listener while a release runs.
    fn watch_listener(&self) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Vec<Split>>> = Arc::default();
        let listener = self.sandbox.listener_arn.clone();
        let (stop_flag, record) = (Arc::clone(&stop), Arc::clone(&seen));
        let endpoint = self.emulator.endpoint.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let reader = Sandbox::reader(&endpoint).await;
                while !stop_flag.load(Ordering::SeqCst) {
                    let weights = reader.listener_weights(&listener).await;
                    {
                        let mut seen = record.lock().expect("seen");
                        if seen.last() != Some(&weights) {
                            seen.push(weights);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        });
        Watcher {
            stop,
            seen,
            thread: Some(thread),
        }
    }
}

struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Split>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    /// Stops watching; returns the splits seen, in order.
    fn finish(mut self) -> Vec<Vec<(String, i32)>> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("watcher");
        }
        self.seen.lock().expect("seen").clone()
    }
}

/// A listener's weights by target-group name.
type Split = Vec<(String, i32)>;

fn split(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
    pairs.iter().map(|(n, w)| (n.to_string(), *w)).collect()
}

/// Green's share in percent of each split it appears in.
fn green_weights(seen: &[Vec<(String, i32)>], green: &str) -> Vec<i32> {
    seen.iter()
        .filter_map(|s| {
            let total: i32 = s.iter().map(|(_, w)| w).sum();
            let mine = s.iter().find(|(n, _)| n == green).map(|(_, w)| *w)?;
            Some(if total == 0 { 0 } else { mine * 100 / total })
        })
        .collect()
}

#[tokio::test]
async fn a_release_in_steps_shifts_bakes_and_tears_blue_down() {
    let setup = setup().await;
    let first = setup.apply("v1", &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stdout.contains("Released `v1` of `shop`"),
        "{}",
        first.stdout
    );
    // The group the listener used before bluegreen is detached, never deleted.
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        split(&[("shop-v1", 1)])
    );
    assert!(setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"legacy-shop-alb".to_string()));

    let blue_arn = setup.sandbox.target_group_arn("shop-v1").await;
    let foreign = setup.sandbox.launch_untagged(1).await;
    setup.sandbox.register(&blue_arn, &foreign).await;
    let unrelated = setup
        .sandbox
        .add_rule(
            20,
            "/other/*",
            &[(&setup.sandbox.legacy_target_group_arn, 1)],
        )
        .await;
    let unrelated_before = setup.sandbox.rule_actions(&unrelated).await;
    let status = setup.app_command(&["status", "--output", "json"]);
    let blue_ids: Vec<String> = serde_json::from_str::<serde_json::Value>(&status.stdout)
        .expect("status json")["releases"][0]["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(blue_ids.len(), 3);

    let watcher = setup.watch_listener();
    let second = setup.apply(
        "v2",
        &["--var=step_interval_seconds=1", "--var=bake_seconds=1"],
    );
    let seen = watcher.finish();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.contains("Released `v2` of `shop`"),
        "{}",
        second.stdout
    );

    // Traffic moved forward through every step, never back.
    let green = green_weights(&seen, "shop-v2");
    let mut sorted = green.clone();
    sorted.sort();
    assert_eq!(green, sorted, "green's weight went backwards: {seen:?}");
    // (Green's weight-0 attach lasts only as long as the health check; a
    // poller may miss it. The steps are held for their interval.)
    for split_seen in [
        split(&[("shop-v1", 90), ("shop-v2", 10)]),
        split(&[("shop-v1", 50), ("shop-v2", 50)]),
        split(&[("shop-v1", 0), ("shop-v2", 100)]),
        split(&[("shop-v2", 1)]),
    ] {
        assert!(
            seen.contains(&split_seen),
            "never saw {split_seen:?} in {seen:?}"
        );
    }

    // Blue is gone; what it did not own is not.
    assert!(!setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"shop-v1".to_string()));
    assert_eq!(
        setup.sandbox.instance_states(&blue_ids).await,
        vec!["terminated"; 3]
    );
    assert_eq!(
        setup.sandbox.instance_states(&foreign).await,
        vec!["running"]
    );
    assert_eq!(
        setup.sandbox.rule_actions(&unrelated).await,
        unrelated_before
    );

    let status = setup.app_command(&["status", "--output", "json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).expect("status json");
    assert_eq!(status["release"], "v2");
    assert_eq!(status["phase"]["phase"], "done");
    assert_eq!(status["releases"].as_array().map(Vec::len), Some(1));
    assert_eq!(status["releases"][0]["healthy"], 3);
    assert_eq!(
        status["traffic"][0]["shares"],
        serde_json::json!([
            {"target_group": "shop-v2", "release": "v2", "weight": 1, "percent": 100}
        ])
    );

    // Applying the same spec again changes nothing.
    let again = setup.apply("v2", &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.starts_with("No changes."), "{}", again.stdout);
}

#[tokio::test]
async fn a_first_release_takes_over_a_fixed_response_and_rollback_restores_it() {
    let setup = setup().await;
    let listener = &setup.sandbox.listener_arn;
    setup.sandbox.set_fixed_response(listener).await;

    let run = setup.apply("v1", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("now        fixed-response 404"),
        "{}",
        run.stdout
    );
    assert_eq!(
        setup.sandbox.listener_weights(listener).await,
        split(&[("shop-v1", 100)])
    );
    // The rule that got green health-checked is gone again.
    let rules = setup
        .sandbox
        .elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .expect("rules");
    assert_eq!(
        rules
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .count(),
        0
    );

    let rollback = setup.app_command(&["rollback", "--auto-approve"]);
    assert_eq!(rollback.code, 0, "{}", rollback.stderr);
    let actions = setup.sandbox.listener_actions(listener).await;
    assert_eq!(actions.len(), 1);
    assert_eq!(
        actions[0]
            .fixed_response_config()
            .and_then(|c| c.status_code()),
        Some("404"),
        "the fixed response is back: {actions:?}"
    );
}

#[tokio::test]
async fn a_green_that_never_becomes_healthy_gets_no_traffic_and_is_removed() {
    let setup = setup().await;
    let proxy = Proxy::start(&setup.emulator.endpoint);
    assert_eq!(setup.apply_at(&proxy.endpoint, "v1", &[]).code, 0);
    proxy.unhealthy_after("shop-v2", 0);

    let watcher = setup.watch_listener();
    let run = setup.apply_at(&proxy.endpoint, "v2", &["--var=health_timeout_seconds=1"]);
    let seen = watcher.finish();
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("green did not become healthy within 1s (3 unhealthy)"),
        "{}",
        run.stderr
    );
    // Three instances over two subnets: one launch call per subnet.
    assert_eq!(
        proxy.counts().get("RunInstances"),
        Some(&4),
        "two per release"
    );
    assert!(
        run.stdout.contains("Rolled back `v2` of `shop`"),
        "{}",
        run.stdout
    );
    assert!(
        green_weights(&seen, "shop-v2").iter().all(|w| *w == 0),
        "green got traffic: {seen:?}"
    );
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        split(&[("shop-v1", 1)])
    );
    assert!(!setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"shop-v2".to_string()));
    let status = setup.app_command(&["status", "--output", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).expect("status json");
    assert_eq!(
        status["releases"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
}

#[tokio::test]
async fn green_degrading_during_the_bake_puts_traffic_back_on_blue() {
    let setup = setup().await;
    let proxy = Proxy::start(&setup.emulator.endpoint);
    assert_eq!(setup.apply_at(&proxy.endpoint, "v1", &[]).code, 0);
    // Healthy for the two reads before traffic (registration, the health
    // wait); unhealthy from the bake's first look.
    proxy.unhealthy_after("shop-v2", 2);

    let before = proxy.counts();
    let run = setup.apply_at(
        &proxy.endpoint,
        "v2",
        &["--var=bake_seconds=30", "--output", "json"],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("during the bake"), "{}", run.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("one JSON summary on stdout");
    assert_eq!(summary["outcome"], "rolled-back");
    assert!(summary["reason"]
        .as_str()
        .is_some_and(|r| r.contains("during the bake")));
    // The tool's own count of its calls agrees with what went over the wire.
    let after = proxy.counts();
    for (operation, count) in summary["api_calls"].as_object().expect("api_calls") {
        let seen = after.get(operation).copied().unwrap_or(0)
            - before.get(operation).copied().unwrap_or(0);
        assert_eq!(count.as_u64(), Some(seen as u64), "{operation}");
    }
    assert_eq!(
        summary["api_calls"]["RunInstances"], 2,
        "one launch per subnet"
    );
    assert_eq!(
        summary["api_calls"]["TerminateInstances"], 1,
        "green goes in one call"
    );
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        split(&[("shop-v1", 1)])
    );
    assert!(!setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"shop-v2".to_string()));
}

#[tokio::test]
async fn rollback_without_a_spec_during_the_bake() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    // The apply is still running (baking) while the on-call engineer reverts.
    let mut baking = setup.start_baking("v2");

    let rollback = setup.app_command(&["rollback", "--auto-approve"]);
    assert_eq!(rollback.code, 0, "{}", rollback.stderr);
    // The baking apply notices at its next look (every 5 s at most) and stops.
    let mut stopped = None;
    for _ in 0..300 {
        if let Some(status) = baking.try_wait().expect("apply status") {
            stopped = status.code();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if stopped.is_none() {
        let _ = baking.kill();
        let _ = baking.wait();
    }
    assert_eq!(
        stopped,
        Some(1),
        "the running apply must stop when traffic is taken from it"
    );
    assert!(
        rollback
            .stdout
            .contains("traffic moved from release `v2` to release `v1` on shop-alb:80"),
        "{}",
        rollback.stdout
    );
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        split(&[("shop-v2", 0), ("shop-v1", 1)])
    );
    let status = setup.app_command(&["status"]);
    assert!(
        status
            .stdout
            .starts_with("app `shop`: release `v2` rolled back"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn a_listener_changed_by_someone_else_stops_the_release() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    let (endpoint, listener) = (
        setup.emulator.endpoint.clone(),
        setup.sandbox.listener_arn.clone(),
    );
    // Someone sets 70/30 by hand as soon as green reaches 10 %.
    let meddler = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let sandbox = Sandbox::reader(&endpoint).await;
            for _ in 0..500 {
                let weights = sandbox.listener_weights(&listener).await;
                if weights.iter().any(|(n, w)| n == "shop-v2" && *w == 10) {
                    let v1 = sandbox.target_group_arn("shop-v1").await;
                    let v2 = sandbox.target_group_arn("shop-v2").await;
                    sandbox
                        .set_forward(&listener, &[(&v1, 70), (&v2, 30)])
                        .await;
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        })
    });
    let run = setup.apply("v2", &["--var=step_interval_seconds=2"]);
    assert!(
        meddler.join().expect("meddler"),
        "the release never reached 10 %"
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("`shop-alb:80` was changed by someone else"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("it now has shop-v1 70% | shop-v2 30%"),
        "{}",
        run.stderr
    );
    // Nothing was written over the hand-set weights.
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        split(&[("shop-v1", 70), ("shop-v2", 30)])
    );
}

#[tokio::test]
async fn apply_asks_first_and_refuses_an_outdated_saved_plan() {
    let setup = setup().await;
    let mut args: Vec<&str> = vec!["apply", "examples/web.json"];
    args.extend(setup.vars.iter().map(String::as_str));
    let run = bluegreen_at(&setup.emulator.endpoint, &args);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("stdin is not a terminal"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(setup
        .sandbox
        .target_group_names()
        .await
        .iter()
        .all(|n| !n.starts_with("shop-")));

    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("v1.plan");
    let mut plan_args: Vec<&str> = vec![
        "plan",
        "examples/web.json",
        "--out",
        saved.to_str().expect("path"),
    ];
    plan_args.extend(setup.vars.iter().map(String::as_str));
    assert_eq!(bluegreen_at(&setup.emulator.endpoint, &plan_args).code, 0);
    // The world moves on: someone adds a weight by hand.
    let extra = setup.sandbox.seed_release("shop", "v0", 0, "x").await;
    setup
        .sandbox
        .set_forward(
            &setup.sandbox.listener_arn,
            &[
                (&setup.sandbox.legacy_target_group_arn, 1),
                (&extra.target_group_arn, 0),
            ],
        )
        .await;
    let run = bluegreen_at(
        &setup.emulator.endpoint,
        &["apply", saved.to_str().expect("path")],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no longer matches AWS"),
        "{}",
        run.stderr
    );
    assert!(!setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"shop-v1".to_string()));
}

impl Setup {
    /// Starts `apply` for `release` with a long bake and returns once it bakes.
    fn start_baking(&self, release: &str) -> std::process::Child {
        let mut args: Vec<String> = vec![
            "apply".into(),
            "examples/web.json".into(),
            "--auto-approve".into(),
        ];
        args.extend(self.vars.iter().cloned());
        args.extend([
            format!("--var=release={release}"),
            "--var=step_interval_seconds=0".into(),
            "--var=bake_seconds=120".into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let baking = command(Some(&self.emulator.endpoint), &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start apply");
        let mut phase = String::new();
        for _ in 0..200 {
            let status = self.app_command(&["status", "--output", "json"]);
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&status.stdout) {
                phase = value["phase"]["phase"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if phase == "baking" {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(phase, "baking");
        baking
    }

    /// Two releases, all traffic on the newer one, its apply stopped mid-bake.
    fn leave_baking(&self, release: &str) {
        let mut baking = self.start_baking(release);
        let _ = baking.kill();
        let _ = baking.wait();
    }
}

#[tokio::test]
async fn operators_shift_finalize_and_destroy_by_hand() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    setup.leave_baking("v2");
    let listener = &setup.sandbox.listener_arn;

    let run = setup.app_command(&["shift", "--percent", "30", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        setup.sandbox.listener_weights(listener).await,
        split(&[("shop-v1", 70), ("shop-v2", 30)])
    );
    let status = setup.app_command(&["status"]);
    assert!(
        status
            .stdout
            .starts_with("app `shop`: release `v2` shifting 30%"),
        "{}",
        status.stdout
    );

    let run = setup.app_command(&["finalize", "--auto-approve"]);
    assert_eq!(run.code, 1, "finalize needs all traffic on green");
    assert!(
        run.stderr.contains("does not have all traffic yet"),
        "{}",
        run.stderr
    );

    assert_eq!(
        setup
            .app_command(&["shift", "--percent", "100", "--auto-approve"])
            .code,
        0
    );
    let run = setup.app_command(&["finalize", "--auto-approve", "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let done: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(done["releases_removed"], serde_json::json!(["v1"]));
    assert_eq!(done["instances_terminated"], 3);
    assert_eq!(
        setup.sandbox.listener_weights(listener).await,
        split(&[("shop-v2", 1)])
    );
    let status = setup.app_command(&["status"]);
    assert!(
        status.stdout.starts_with("app `shop`: release `v2` done"),
        "{}",
        status.stdout
    );

    // The listener forwards only to the app: destroying needs --force.
    let run = setup.app_command(&["destroy", "--auto-approve"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("pass `--force`"), "{}", run.stderr);
    assert!(setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"shop-v2".to_string()));

    let run = setup.app_command(&["destroy", "--auto-approve", "--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let actions = setup.sandbox.listener_actions(listener).await;
    assert_eq!(
        actions[0]
            .fixed_response_config()
            .and_then(|c| c.status_code()),
        Some("503")
    );
    assert!(!setup
        .sandbox
        .target_group_names()
        .await
        .iter()
        .any(|n| n.starts_with("shop-v")));
    let run = setup.app_command(&["status"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("app `shop` has no releases"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_authentication_action_before_the_forward_is_kept() {
    let setup = setup().await;
    let listener = &setup.sandbox.listener_arn;
    setup
        .sandbox
        .authenticate_then_forward(listener, &setup.sandbox.legacy_target_group_arn)
        .await;

    let run = setup.apply("v1", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let actions = setup.sandbox.listener_actions(listener).await;
    assert_eq!(actions.len(), 2, "{actions:?}");
    let oidc = actions
        .iter()
        .find(|a| a.order() == Some(1))
        .and_then(|a| a.authenticate_oidc_config())
        .expect("the authentication action");
    assert_eq!(oidc.issuer(), Some("https://idp.example"));
    assert_eq!(oidc.client_id(), Some("shop"));
    assert_eq!(oidc.scope(), Some("openid"));
    let forward = actions
        .iter()
        .find(|a| a.order() == Some(2))
        .expect("the forward");
    assert!(forward.forward_config().is_some());
    assert_eq!(
        setup.sandbox.listener_weights(listener).await,
        split(&[("shop-v1", 1)])
    );
}

#[tokio::test]
async fn a_failing_hook_stops_the_release_before_traffic_moves() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let text =
        std::fs::read_to_string(crate::support::root().join("examples/web.json")).expect("example");
    let mut spec: serde_json::Value = serde_json::from_str(&text).expect("json");
    spec["hooks"]["before_traffic"] = serde_json::json!(["echo smoke test failed >&2; exit 7"]);
    let path = dir.path().join("failing-hook.json");
    std::fs::write(&path, spec.to_string()).expect("write");
    let mut args = vec![
        "apply",
        path.to_str().expect("path"),
        "--auto-approve",
        "--var=release=v2",
    ];
    args.extend(["--var=step_interval_seconds=0", "--var=bake_seconds=0"]);
    args.extend(setup.vars.iter().map(String::as_str));
    let run = bluegreen_at(&setup.emulator.endpoint, &args);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("smoke test failed"),
        "the hook's output is shown: {}",
        run.stderr
    );
    assert!(run.stderr.contains("exited with 7"), "{}", run.stderr);
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        split(&[("shop-v1", 1)])
    );
    assert!(!setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"shop-v2".to_string()));
}

#[tokio::test]
async fn rollback_refuses_when_nothing_is_left_to_take_traffic() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    assert_eq!(setup.apply("v2", &[]).code, 0);
    let run = setup.app_command(&["rollback", "--auto-approve"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("has no previous release with healthy targets"),
        "{}",
        run.stderr
    );
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        split(&[("shop-v2", 1)])
    );

    let run = setup.app_command(&["rollback"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("stdin is not a terminal"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_aws_error_mid_shift_puts_production_back_on_blue() {
    let setup = setup().await;
    let proxy = Proxy::start(&setup.emulator.endpoint);
    assert_eq!(setup.apply_at(&proxy.endpoint, "v1", &[]).code, 0);
    // Attach at 0 % is the first write, 10 % the second, 50 % the third.
    proxy.fail_once("ModifyListener", 3);
    let run = setup.apply_at(&proxy.endpoint, "v2", &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("ModifyListener failed: ValidationError: injected failure of ModifyListener"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("putting production back on blue"),
        "{}",
        run.stderr
    );
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        split(&[("shop-v1", 1)])
    );
    assert!(!setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"shop-v2".to_string()));
}
