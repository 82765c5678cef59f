//! Discovery from `--app` alone: no spec, found by tags and by scanning the
//! region's load balancers.

use bluegreen::cloud::{AwsCloud, ConnectOptions};
use bluegreen::discovery::{self, PointKind};

use crate::support::sandbox::Sandbox;
use crate::support::Emulator;

#[tokio::test]
async fn an_app_is_found_by_its_tags_without_a_spec() {
    let emulator = Emulator::start();
    let sandbox = Sandbox::create(&emulator.endpoint, "shop-alb").await;
    let other = Sandbox::create(&emulator.endpoint, "other-alb").await;
    let blue = sandbox.seed_release("shop", "v1", 2, "h1").await;
    let green = sandbox.seed_release("shop", "v2", 3, "h2").await;
    // Another app's release must not be mistaken for ours.
    other.seed_release("shop-api", "v1", 1, "h3").await;
    sandbox
        .set_forward(
            &sandbox.listener_arn,
            &[(&blue.target_group_arn, 90), (&green.target_group_arn, 10)],
        )
        .await;
    let rule = sandbox
        .add_rule(5, "/static/*", &[(&blue.target_group_arn, 1)])
        .await;

    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let cloud = AwsCloud::connect(&ConnectOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(emulator.endpoint.clone()),
        ..ConnectOptions::default()
    })
    .await
    .expect("connect");
    let observed = discovery::observe(&cloud, "shop", None)
        .await
        .expect("observe");

    let releases: Vec<(&str, usize, usize)> = observed
        .releases
        .iter()
        .map(|r| (r.release.as_str(), r.instances.len(), r.health.len()))
        .collect();
    assert_eq!(releases, [("v1", 2, 2), ("v2", 3, 3)]);
    let points: Vec<(PointKind, String)> = observed
        .traffic
        .iter()
        .map(|p| (p.kind, p.label()))
        .collect();
    assert_eq!(
        points,
        [
            (PointKind::Listener, "shop-alb:80".to_string()),
            (PointKind::Rule, "shop-alb:80 rule 5".to_string())
        ]
    );
    assert_eq!(observed.traffic[1].arn, rule);
    let weights: Vec<(String, i32)> = observed.traffic[0]
        .forward()
        .expect("forward")
        .iter()
        .map(|t| (observed.target_group_name(&t.arn).to_string(), t.weight))
        .collect();
    assert_eq!(
        weights,
        [("shop-v1".to_string(), 90), ("shop-v2".to_string(), 10)]
    );
    assert!(!observed
        .traffic
        .iter()
        .any(|p| p.load_balancer == "other-alb"));
}
