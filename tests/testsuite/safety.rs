//! Safety under failure: faults injected between the tool and the emulator,
//! and bad input that must never reach a mutating call.

use crate::support::proxy::{Fault, Proxy};
use crate::support::sandbox::Sandbox;
use crate::support::{bluegreen_at, var_args, Emulator, Run};

struct Setup {
    _emulator: Emulator,
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
        let reader = Sandbox::reader(&setup.proxy.endpoint).await;
        let mut hit = false;
        for _ in 0..1000 {
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
