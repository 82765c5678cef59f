//! Safety under failure: faults injected between the tool and the emulator,
//! and bad input that must never reach a mutating call.

use crate::support::proxy::{Fault, Proxy};
use crate::support::sandbox::Sandbox;
use crate::support::{bluegreen_at, var_args, Emulator, Run};

struct Setup {
    _emulator: Emulator,
    emulator_endpoint: String,
    sandbox: Sandbox,
    proxy: Proxy,
    vars: Vec<String>,
}

async fn setup() -> Setup {
    let emulator = Emulator::start();
    let sandbox = Sandbox::create(&emulator.endpoint, "shop-alb").await;
    let proxy = Proxy::start(&emulator.endpoint);
    let vars = var_args(&sandbox.example_vars());
    Setup {
        emulator_endpoint: emulator.endpoint.clone(),
        _emulator: emulator,
        sandbox,
        proxy,
        vars,
    }
}

impl Setup {
    fn apply(&self, release: &str, extra: &[&str]) -> Run {
        let mut args: Vec<String> = vec![
            "apply".into(),
            "examples/web.json".into(),
            "--auto-approve".into(),
        ];
        args.extend(self.vars.iter().cloned());
        args.push(format!("--var=release={release}"));
        args.extend(
            [
                "--var=step_interval_seconds=0",
                "--var=bake_seconds=0",
                "--var=health_timeout_seconds=10",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|e| e.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bluegreen_at(&self.proxy.endpoint, &args)
    }

    async fn only_release(&self, release: &str) {
        let name = format!("shop-{release}");
        assert_eq!(
            self.sandbox
                .listener_weights(&self.sandbox.listener_arn)
                .await,
            vec![(name.clone(), 1)]
        );
        let groups: Vec<String> = self
            .sandbox
            .target_group_names()
            .await
            .into_iter()
            .filter(|n| n.starts_with("shop-"))
            .collect();
        assert_eq!(groups, vec![name]);
    }
}

#[tokio::test]
async fn a_fifth_of_calls_throttled_or_unavailable_still_releases() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    // Answers take a little while, as AWS's do.
    setup.proxy.latency(std::time::Duration::from_millis(3));
    for (release, fault) in [("v2", Fault::Throttling), ("v3", Fault::Unavailable)] {
        setup.proxy.fail_every(5, fault);
        let run = setup.apply(release, &[]);
        setup.proxy.heal();
        assert_eq!(run.code, 0, "{fault:?}: {}\n{}", run.stdout, run.stderr);
        setup.only_release(release).await;
    }
}

#[tokio::test]
async fn without_retries_faults_fail_cleanly_and_a_rerun_completes() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    setup.proxy.fail_every(4, Fault::Unavailable);
    let run = setup.apply("v2", &["--max-attempts", "1"]);
    setup.proxy.heal();
    if run.code != 0 {
        // Failed: production must be on blue, and green gone or harmless.
        let weights = setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await;
        let v2: i32 = weights
            .iter()
            .filter(|(n, _)| n == "shop-v2")
            .map(|(_, w)| *w)
            .sum();
        assert_eq!(
            v2, 0,
            "green kept traffic after a failed release: {weights:?}\n{}",
            run.stderr
        );
        assert!(
            run.stderr.lines().all(|l| !l.contains("panicked")),
            "{}",
            run.stderr
        );
    }
    let rerun = setup.apply("v2", &[]);
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    setup.only_release("v2").await;
}

/// Where `apply` is killed.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// Green's target group exists: launching, registering or testing.
    Prepared,
    /// Green has 10 % of the traffic.
    MidShift,
    /// All traffic on green, blue still up.
    Baking,
    /// Blue is out of the listener: tearing down.
    TearingDown,
}

async fn reached(reader: &Sandbox, listener: &str, point: KillPoint) -> bool {
    let weights = reader.listener_weights(listener).await;
    let green = |w: i32| weights.iter().any(|(n, x)| n == "shop-v2" && *x == w);
    match point {
        KillPoint::Prepared => reader
            .target_group_names()
            .await
            .contains(&"shop-v2".to_string()),
        KillPoint::MidShift => green(10),
        KillPoint::Baking => green(100),
        KillPoint::TearingDown => weights == vec![("shop-v2".to_string(), 1)],
    }
}

#[tokio::test]
async fn apply_killed_anywhere_resumes_to_one_release_and_no_orphans() {
    for point in [
        KillPoint::Prepared,
        KillPoint::MidShift,
        KillPoint::Baking,
        KillPoint::TearingDown,
    ] {
        let setup = setup().await;
        assert_eq!(setup.apply("v1", &[]).code, 0);
        let listener = setup.sandbox.listener_arn.clone();

        // A sentinel samples the listener through the whole test: no weight
        // may ever point at a group without a healthy target.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sentinel = {
            let (stop, endpoint, listener) =
                (stop.clone(), setup.proxy.endpoint.clone(), listener.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let reader = Sandbox::reader(&endpoint).await;
                    let mut samples = 0;
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        reader.weighted_groups_are_healthy(&listener).await?;
                        samples += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                    Ok::<usize, String>(samples)
                })
            })
        };

        let mut args: Vec<String> = vec![
            "apply".into(),
            "examples/web.json".into(),
            "--auto-approve".into(),
        ];
        args.extend(setup.vars.iter().cloned());
        args.extend(
            [
                "--var=release=v2",
                "--var=step_interval_seconds=1",
                "--var=bake_seconds=2",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = crate::support::command(Some(&setup.proxy.endpoint), &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start apply");
        // Terminating takes a while on AWS; here it is made to, so that the
        // kill lands mid-teardown.
        setup
            .proxy
            .slow_down("TerminateInstances", std::time::Duration::from_secs(2));
        let reader = Sandbox::reader(&setup.emulator_endpoint).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let mut hit = false;
        while std::time::Instant::now() < deadline {
            if reached(&reader, &listener, point).await {
                hit = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        assert!(hit, "{point:?} was never reached");

        let rerun = setup.apply("v2", &["--var=bake_seconds=2"]);
        assert_eq!(
            rerun.code, 0,
            "{point:?}: {}\n{}",
            rerun.stdout, rerun.stderr
        );
        setup.only_release("v2").await;
        let live = setup.sandbox.app_instances("shop").await;
        assert_eq!(live.len(), 3, "{point:?}: exactly one fleet: {live:?}");
        assert!(
            live.iter().all(|(_, release)| release == "v2"),
            "{point:?}: {live:?}"
        );

        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let samples = sentinel.join().expect("sentinel");
        let samples = samples.unwrap_or_else(|e| panic!("{point:?}: {e}"));
        assert!(
            samples > 10,
            "{point:?}: the sentinel barely looked ({samples})"
        );
    }
}

#[tokio::test]
async fn two_applies_at_once_one_proceeds_and_the_other_exits_4() {
    let setup = setup().await;
    let mut args: Vec<String> = vec![
        "apply".into(),
        "examples/web.json".into(),
        "--auto-approve".into(),
    ];
    args.extend(setup.vars.iter().cloned());
    args.extend(
        [
            "--var=release=v1",
            "--var=step_interval_seconds=0",
            "--var=bake_seconds=1",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let spawn = || {
        crate::support::command(Some(&setup.proxy.endpoint), &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start apply")
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [
        first.wait_with_output().expect("first"),
        second.wait_with_output().expect("second"),
    ];
    let mut codes: Vec<i32> = outputs
        .iter()
        .map(|o| o.status.code().unwrap_or(-1))
        .collect();
    codes.sort();
    assert_eq!(codes, [0, 4], "{outputs:?}");
    let locked = outputs
        .iter()
        .find(|o| o.status.code() == Some(4))
        .expect("the locked-out run");
    let stderr = String::from_utf8_lossy(&locked.stderr);
    assert!(stderr.contains("`shop` is locked by"), "{stderr}");
    assert!(stderr.contains("bluegreen unlock --app shop"), "{stderr}");
    setup.only_release("v1").await;
    assert_eq!(setup.sandbox.app_instances("shop").await.len(), 3);
    // The lock is given back at the end.
    assert_eq!(setup.apply("v1", &[]).code, 0);
}

#[tokio::test]
async fn a_lock_held_elsewhere_is_broken_by_hand_with_unlock() {
    let setup = setup().await;
    // A lock as another machine's run would leave it, expiring far ahead.
    let ec2 = &setup.sandbox.ec2;
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    let created = ec2
        .create_key_pair()
        .key_name("bluegreen-lock-shop")
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::KeyPair)
                .tags(tag("bluegreen:lock-holder", "ci@build-7 pid 42"))
                .tags(tag("bluegreen:lock-since", "2026-01-01T00:00:00Z"))
                .tags(tag("bluegreen:lock-expires", "2999-01-01T00:00:00Z"))
                .build(),
        )
        .send()
        .await
        .expect("lock");
    let id = created.key_pair_id().expect("id").to_string();

    let run = setup.apply("v1", &[]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("locked by ci@build-7 pid 42 since 2026-01-01T00:00:00Z"),
        "{}",
        run.stderr
    );
    assert!(
        !setup
            .sandbox
            .target_group_names()
            .await
            .contains(&"shop-v1".to_string()),
        "nothing was changed"
    );

    let unlock = |lock_id: &str| {
        bluegreen_at(
            &setup.proxy.endpoint,
            &["unlock", "--app", "shop", lock_id, "--region", "us-east-1"],
        )
    };
    let wrong = unlock("key-0000");
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("not `key-0000`"), "{}", wrong.stderr);
    let right = unlock(&id);
    assert_eq!(right.code, 0, "{}", right.stderr);
    assert!(
        right.stdout.contains("held by ci@build-7 pid 42"),
        "{}",
        right.stdout
    );
    assert_eq!(setup.apply("v1", &[]).code, 0);
}

#[tokio::test]
async fn a_failure_while_tearing_blue_down_keeps_green_and_a_rerun_finishes() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    setup.proxy.fail_once("TerminateInstances", 1);
    let run = setup.apply("v2", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("run `bluegreen apply` again to finish"),
        "{}",
        run.stderr
    );
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        vec![("shop-v2".to_string(), 1)],
        "green keeps the traffic"
    );
    assert_eq!(setup.apply("v2", &[]).code, 0);
    setup.only_release("v2").await;
    assert_eq!(setup.sandbox.app_instances("shop").await.len(), 3);
}

#[tokio::test]
async fn sigint_mid_shift_stops_cleanly_and_a_rerun_continues() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    let mut args: Vec<String> = vec![
        "apply".into(),
        "examples/web.json".into(),
        "--auto-approve".into(),
    ];
    args.extend(setup.vars.iter().cloned());
    args.extend(
        [
            "--var=release=v2",
            "--var=step_interval_seconds=30",
            "--var=bake_seconds=0",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = crate::support::command(Some(&setup.proxy.endpoint), &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start apply");
    let reader = Sandbox::reader(&setup.emulator_endpoint).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !reached(&reader, &setup.sandbox.listener_arn, KillPoint::MidShift).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the shift never reached 10 %"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let started = std::time::Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let output = child.wait_with_output().expect("apply ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "it stopped at once, not after the step"
    );
    assert!(
        stderr.contains("stopped by a signal: shop-alb:80 has shop-v1 90% | shop-v2 10%"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`bluegreen rollback --app shop` reverts it"),
        "{stderr}"
    );
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        vec![("shop-v1".to_string(), 90), ("shop-v2".to_string(), 10)]
    );
    // The lock was given back, and the release goes on from 10 %.
    let rerun = setup.apply("v2", &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    setup.only_release("v2").await;
}

#[tokio::test]
async fn bad_input_of_every_kind_is_one_clear_error_and_calls_nothing() {
    let setup = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let example =
        std::fs::read_to_string(crate::support::root().join("examples/web.json")).expect("example");
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value: serde_json::Value = serde_json::from_str(&example).expect("json");
        edit(&mut value);
        value.to_string().into_bytes()
    };
    let corpus: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "syntax",
            b"{ \"app\": \"shop\", ".to_vec(),
            ":1:17: invalid JSON: EOF while parsing",
        ),
        ("empty", Vec::new(), "invalid JSON"),
        ("binary", vec![0xff, 0xfe, 0x00, 0x01], "cannot read"),
        (
            "typo",
            edited(&|v| v["rollout"]["bake_second"] = 5.into()),
            "unknown field `bake_second`",
        ),
        (
            "wrong-type",
            edited(&|v| v["instances"]["count"] = "three".into()),
            "`instances.count`",
        ),
        (
            "out-of-range",
            edited(&|v| v["target_group"]["deregistration_delay_seconds"] = 5000.into()),
            "between 0 and 3600",
        ),
        (
            "steps",
            edited(&|v| v["rollout"]["steps"] = serde_json::json!([50])),
            "`rollout.steps[0]`",
        ),
        (
            "negative",
            edited(&|v| v["instances"]["count"] = (-1).into()),
            "`instances.count`",
        ),
        (
            "huge-user-data",
            edited(&|v| v["instances"]["user_data"] = "x".repeat(1 << 20).into()),
            "AWS takes at most 16384",
        ),
        (
            "deep",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "recursion limit exceeded",
        ),
        (
            "missing-variable",
            edited(&|v| v["app"] = "${var.nope}".into()),
            "variable `nope` has no value",
        ),
        (
            "missing-module",
            edited(&|v| v["module"] = serde_json::json!({"source": "nowhere.json"})),
            "`module.source`",
        ),
        (
            "bad-arn",
            edited(&|v| v["traffic"]["rules"] = serde_json::json!(["arn:aws:nope"])),
            "`traffic.rules[0]`",
        ),
        (
            "plan-file",
            br#"{"format": "bluegreen-plan/1", "plan": 5}"#.to_vec(),
            "is not a bluegreen plan file",
        ),
    ];
    for (name, content, expected) in corpus {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, content).expect("write");
        // A saved plan is only ever read by `apply`.
        let commands: &[&str] = if name == "plan-file" {
            &["apply"]
        } else {
            &["plan", "apply"]
        };
        for &command in commands {
            let mut args = vec![command, path.to_str().expect("path"), "--auto-approve"];
            if command == "plan" {
                args.pop();
            }
            args.extend(setup.vars.iter().map(String::as_str));
            let run = bluegreen_at(&setup.proxy.endpoint, &args);
            assert_eq!(run.code, 1, "{name} {command}: {}", run.stderr);
            assert!(
                run.stderr.starts_with("error: "),
                "{name} {command}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains(expected),
                "{name} {command}: expected `{expected}` in {}",
                run.stderr
            );
            assert!(
                !run.stderr.contains("panicked") && run.stderr.len() < 4096,
                "{name} {command}: {}",
                run.stderr
            );
        }
    }
    // Flags too, and a missing file.
    for args in [
        vec!["plan", "examples/web.json", "--var", "novalue"],
        vec!["plan", "examples/web.json", "--output", "yaml"],
        vec!["shift", "--app", "shop", "--percent", "101"],
        vec!["apply", "no/such/spec.json", "--auto-approve"],
    ] {
        let run = bluegreen_at(&setup.proxy.endpoint, &args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
    assert_eq!(
        setup.proxy.counts(),
        std::collections::BTreeMap::new(),
        "bad input reached AWS"
    );
}

#[tokio::test]
async fn keep_failed_keeps_green_out_of_traffic_and_the_next_release_removes_it() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    setup.proxy.unhealthy_after("shop-v2", 0);
    let run = setup.apply("v2", &["--var=health_timeout_seconds=1", "--keep-failed"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("kept release `v2`"), "{}", run.stderr);
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        vec![("shop-v1".to_string(), 1)]
    );
    assert!(setup
        .sandbox
        .target_group_names()
        .await
        .contains(&"shop-v2".to_string()));
    let kept: Vec<_> = setup
        .sandbox
        .app_instances("shop")
        .await
        .into_iter()
        .filter(|(_, r)| r == "v2")
        .collect();
    assert_eq!(kept.len(), 3);
    let status = bluegreen_at(
        &setup.proxy.endpoint,
        &["status", "--app", "shop", "--region", "us-east-1"],
    );
    assert!(
        status
            .stdout
            .starts_with("app `shop`: release `v2` rolled back"),
        "{}",
        status.stdout
    );

    assert_eq!(setup.apply("v3", &[]).code, 0);
    setup.only_release("v3").await;
    assert!(setup
        .sandbox
        .app_instances("shop")
        .await
        .iter()
        .all(|(_, r)| r == "v3"));
}

#[tokio::test]
async fn green_degrading_mid_shift_puts_traffic_back_on_blue() {
    let setup = setup().await;
    assert_eq!(setup.apply("v1", &[]).code, 0);
    // Healthy when registered and when tested; unhealthy at the first look
    // after traffic starts moving.
    setup.proxy.unhealthy_after("shop-v2", 2);
    let run = setup.apply("v2", &["--var=step_interval_seconds=1"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("green's health dropped below 100% at 10%"),
        "{}",
        run.stderr
    );
    assert_eq!(
        setup
            .sandbox
            .listener_weights(&setup.sandbox.listener_arn)
            .await,
        vec![("shop-v1".to_string(), 1)]
    );
    assert!(setup
        .sandbox
        .app_instances("shop")
        .await
        .iter()
        .all(|(_, r)| r == "v1"));
}

#[tokio::test]
async fn health_reported_as_aws_does_unused_then_initial_still_releases() {
    let setup = setup().await;
    setup
        .proxy
        .aws_health(std::time::Duration::from_millis(1500));
    // The first release takes over a fixed response: green is health-checked
    // through a rule that matches nothing.
    setup
        .sandbox
        .set_fixed_response(&setup.sandbox.listener_arn)
        .await;
    let first = setup.apply("v1", &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let watcher_endpoint = setup.emulator_endpoint.clone();
    let listener = setup.sandbox.listener_arn.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let sentinel = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let reader = Sandbox::reader(&watcher_endpoint).await;
            let mut seen = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                let weights = reader.listener_weights(&listener).await;
                if seen.last() != Some(&weights) {
                    seen.push(weights);
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            seen
        })
    });
    let started = std::time::Instant::now();
    let second = setup.apply("v2", &[]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = sentinel.join().expect("sentinel");
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1500),
        "it waited out `initial`"
    );
    // Green sat at weight 0 (attached, so AWS checks it) until healthy.
    assert!(
        seen.contains(&vec![
            ("shop-v1".to_string(), 100),
            ("shop-v2".to_string(), 0)
        ]),
        "{seen:?}"
    );
    setup.only_release("v2").await;
}
