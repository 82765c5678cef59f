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
