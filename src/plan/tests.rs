//! Unit tests of the plan: spec + observed state in, actions and text out.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::render;
use super::{plan, weights_at, Change, Drift, Plan, PlannedAction, Share, Step, Summary, Teardown};
use crate::cloud::{
    Action, Instance, ObservedHealthCheck, Tags, TargetGroup, TargetHealth, TargetState,
    WeightedTargetGroup,
};
use crate::discovery::{Observed, ObservedRelease, PointKind, TrafficPoint};
use crate::spec::naming::{self, TAG_APP, TAG_RELEASE, TAG_SETTINGS};
use crate::spec::{HealthCheck, Spec, Variables};

const LISTENER_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
const LISTENER: &str = "shop-alb:80";

// --- specs ---------------------------------------------------------------

/// The spec document most tests start from: release `v2` of `shop`, 3
/// instances, steps 10/50/100, a 600 s bake, no hooks.
fn spec_doc() -> Value {
    json!({
        "app": "shop",
        "release": "v2",
        "traffic": {
            "listeners": [{ "load_balancer": "shop-alb", "port": 80 }]
        },
        "instances": {
            "count": 3,
            "image_id": "ami-0abcdef1234567890",
            "instance_type": "t3.small",
            "subnet_ids": ["subnet-0a1b2c3d", "subnet-0b1c2d3e"]
        },
        "target_group": {
            "vpc_id": "vpc-0a1b2c3d",
            "port": 8080,
            "health_check": { "path": "/healthz" }
        },
        "rollout": {
            "steps": [10, 50, 100],
            "step_interval_seconds": 60,
            "bake_seconds": 600
        }
    })
}

fn spec_from(doc: Value) -> Spec {
    crate::spec::from_value(
        Path::new("test.json"),
        doc,
        &Variables::with_env(Vec::new(), Vec::new()),
    )
    .expect("test spec is valid")
}

fn base_spec() -> Spec {
    spec_from(spec_doc())
}

// --- observed state --------------------------------------------------------

fn tg_arn(name: &str) -> String {
    format!(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/0123456789abcdef"
    )
}

fn tg_name_of(arn: &str) -> String {
    arn.rsplit_once(":targetgroup/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(arn)
        .to_string()
}

fn observed_health_check(hc: &HealthCheck) -> ObservedHealthCheck {
    ObservedHealthCheck {
        path: Some(hc.path.clone()),
        port: Some(hc.port.clone()),
        protocol: Some(hc.protocol.clone()),
        interval_seconds: Some(hc.interval_seconds as i32),
        timeout_seconds: Some(hc.timeout_seconds as i32),
        healthy_threshold: Some(hc.healthy_threshold as i32),
        unhealthy_threshold: Some(hc.unhealthy_threshold as i32),
        matcher: Some(hc.matcher.clone()),
    }
}

/// A release the tool created from `spec`'s settings: its target group (as
/// the spec wants it), tagged instances and healthy registered targets.
fn owned_release(spec: &Spec, release: &str, instance_ids: &[&str]) -> ObservedRelease {
    let name = naming::target_group_name(&spec.app, release);
    let ownership = |settings: String| -> Tags {
        [
            (TAG_APP.to_string(), spec.app.clone()),
            (TAG_RELEASE.to_string(), release.to_string()),
            (TAG_SETTINGS.to_string(), settings),
        ]
        .into()
    };
    let instance_hash = naming::instance_settings_hash(&spec.instances);
    ObservedRelease {
        release: release.to_string(),
        target_group: Some(TargetGroup {
            arn: tg_arn(&name),
            name,
            port: Some(i32::from(spec.target_group.port)),
            protocol: Some(spec.target_group.protocol.clone()),
            vpc_id: Some(spec.target_group.vpc_id.clone()),
            health_check: observed_health_check(&spec.target_group.health_check),
            load_balancer_arns: Vec::new(),
        }),
        target_group_tags: ownership(naming::target_group_settings_hash(&spec.target_group)),
        instances: instance_ids
            .iter()
            .map(|id| Instance {
                id: id.to_string(),
                state: "running".into(),
                instance_type: spec.instances.instance_type.clone(),
                image_id: spec.instances.image_id.clone(),
                subnet_id: spec.instances.subnet_ids.first().cloned(),
                tags: ownership(instance_hash.clone()),
            })
            .collect(),
        health: instance_ids
            .iter()
            .map(|id| TargetHealth {
                target_id: id.to_string(),
                state: TargetState::Healthy,
                reason: None,
            })
            .collect(),
    }
}

/// A listener default action (in the spec) forwarding to `(target group name, weight)` pairs.
fn listener(forwards: &[(&str, i32)]) -> TrafficPoint {
    point(
        LISTENER_ARN,
        None,
        vec![Action::Forward {
            target_groups: forwards
                .iter()
                .map(|(name, weight)| WeightedTargetGroup {
                    arn: tg_arn(name),
                    weight: *weight,
                })
                .collect(),
            stickiness_seconds: None,
        }],
    )
}

fn point(arn: &str, priority: Option<&str>, actions: Vec<Action>) -> TrafficPoint {
    TrafficPoint {
        arn: arn.to_string(),
        kind: if priority.is_some() {
            PointKind::Rule
        } else {
            PointKind::Listener
        },
        load_balancer: "shop-alb".into(),
        listener_port: Some(80),
        priority: priority.map(str::to_string),
        actions,
        in_spec: true,
        is_test_listener: false,
        recorded_weights: None,
        previous_action: None,
        health_check_rule: false,
    }
}

/// The observed state, with `target_group_names` filled from the releases and
/// from every forward action (as discovery does).
fn observed(releases: Vec<ObservedRelease>, traffic: Vec<TrafficPoint>) -> Observed {
    let mut names = BTreeMap::new();
    for p in &traffic {
        for g in p.forward().unwrap_or_default() {
            names.insert(g.arn.clone(), tg_name_of(&g.arn));
        }
    }
    for r in &releases {
        if let Some(tg) = &r.target_group {
            names.insert(tg.arn.clone(), tg.name.clone());
        }
    }
    Observed {
        app: "shop".into(),
        releases,
        traffic,
        target_group_names: names,
        // 2026-06-01T00:00:00Z: the plan's "now".
        observed_at: 1_780_272_000,
    }
}

// --- expectations ----------------------------------------------------------

fn owned(target_group: &str, release: &str, weight: i32) -> Share {
    Share {
        target_group: target_group.into(),
        release: Some(release.into()),
        weight,
    }
}

fn foreign(target_group: &str, weight: i32) -> Share {
    Share {
        target_group: target_group.into(),
        release: None,
        weight,
    }
}

fn labels(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|l| l.to_string()).collect()
}

fn shift(percent: u32, wait_seconds: u64) -> PlannedAction {
    PlannedAction::ShiftTraffic {
        percent,
        points: labels(&[LISTENER]),
        wait_seconds,
    }
}

fn wait_healthy() -> PlannedAction {
    PlannedAction::WaitHealthy {
        min_healthy_percent: 100,
        timeout_seconds: 600,
    }
}

fn percents(steps: &[Step]) -> Vec<u32> {
    steps.iter().map(|s| s.percent).collect()
}

fn has_action(plan: &Plan, wanted: impl Fn(&PlannedAction) -> bool) -> bool {
    plan.actions.iter().any(wanted)
}

/// The blue → green situation: `v1` (2 instances) owns the listener at 100%.
fn blue_at_full(spec: &Spec) -> Observed {
    observed(
        vec![owned_release(spec, "v1", &["i-0b1", "i-0b2"])],
        vec![listener(&[("shop-v1", 100)])],
    )
}

// --- 1. first release over a foreign target group --------------------------

#[test]
fn first_release_takes_over_from_a_foreign_target_group() {
    let spec = base_spec();
    let plan = plan(
        &spec,
        &observed(Vec::new(), vec![listener(&[("legacy-web", 1)])]),
    );

    assert_eq!(plan.green.target_group_name, "shop-v2");
    assert_eq!(plan.green.target_group, Change::Create);
    assert_eq!(plan.green.instances_to_launch, 3);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert!(plan.drift.is_empty(), "{:?}", plan.drift);

    assert_eq!(
        plan.actions,
        vec![
            PlannedAction::CreateTargetGroup {
                name: "shop-v2".into()
            },
            PlannedAction::LaunchInstances { count: 3 },
            PlannedAction::RegisterTargets {
                target_group: "shop-v2".into(),
                count: 3
            },
            PlannedAction::AttachForHealthChecks {
                points: labels(&[LISTENER])
            },
            wait_healthy(),
            shift(10, 60),
            shift(50, 60),
            shift(100, 0),
            PlannedAction::Bake { seconds: 600 },
            PlannedAction::DetachTargetGroups {
                target_groups: labels(&["legacy-web"])
            },
        ]
    );

    let traffic = &plan.traffic[..];
    assert_eq!(traffic.len(), 1);
    let t = &traffic[0];
    assert_eq!(t.label, LISTENER);
    assert!(t.shifts);
    assert_eq!(t.replaces, None);
    assert_eq!(t.current, vec![foreign("legacy-web", 1)]);
    assert_eq!(
        t.attach,
        Some(vec![foreign("legacy-web", 1), owned("shop-v2", "v2", 0)])
    );
    assert_eq!(
        t.steps,
        vec![
            Step {
                percent: 10,
                weights: vec![foreign("legacy-web", 90), owned("shop-v2", "v2", 10)]
            },
            Step {
                percent: 50,
                weights: vec![foreign("legacy-web", 50), owned("shop-v2", "v2", 50)]
            },
            Step {
                percent: 100,
                weights: vec![foreign("legacy-web", 0), owned("shop-v2", "v2", 100)]
            },
        ]
    );
    assert_eq!(t.after_teardown, vec![owned("shop-v2", "v2", 100)]);

    // The foreign group is detached, never destroyed.
    assert_eq!(
        plan.teardown,
        vec![Teardown {
            release: None,
            target_group: Some("legacy-web".into()),
            instance_ids: Vec::new(),
            owned: false,
        }]
    );
    assert!(!has_action(&plan, |a| matches!(
        a,
        PlannedAction::DestroyStack { .. }
    )));
    assert_eq!(
        plan.summary,
        Summary {
            add: 4,
            change: 0,
            destroy: 0,
            shift: 1
        }
    );

    let text = render::render(&plan, false);
    assert!(text.contains("+ target group shop-v2"), "{text}");
    assert!(
        text.contains("+ 3 instance(s) t3.small from ami-0abcdef1234567890"),
        "{text}"
    );
    assert!(
        text.contains("attach     legacy-web 100% | shop-v2 0%"),
        "{text}"
    );
    assert!(
        text.contains("step 10%   legacy-web 90% | shop-v2 10%"),
        "{text}"
    );
    assert!(
        text.contains("detach target group legacy-web after a 600s bake (not created by bluegreen: kept, not deleted)"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("Plan: 4 to add, 0 to change, 0 to destroy, 1 listener to shift."),
        "{text}"
    );
}

// --- 2. first release over a fixed response --------------------------------

#[test]
fn first_release_over_a_fixed_response_takes_it_over_in_one_step() {
    let spec = base_spec();
    let fixed = point(
        LISTENER_ARN,
        None,
        vec![Action::FixedResponse {
            status_code: "404".into(),
            content_type: None,
            message_body: None,
        }],
    );
    let plan = plan(&spec, &observed(Vec::new(), vec![fixed]));

    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let t = &plan.traffic[0];
    assert_eq!(t.replaces.as_deref(), Some("fixed-response 404"));
    assert!(t.current.is_empty());
    // A fixed response cannot share weight: no attach at weight 0, one 100% step.
    assert_eq!(t.attach, None);
    assert_eq!(
        t.steps,
        vec![Step {
            percent: 100,
            weights: vec![owned("shop-v2", "v2", 100)]
        }]
    );
    assert!(t.shifts);

    let shifts: Vec<&PlannedAction> = plan
        .actions
        .iter()
        .filter(|a| matches!(a, PlannedAction::ShiftTraffic { .. }))
        .collect();
    assert_eq!(shifts, vec![&shift(100, 0)]);
    let position = |wanted: &PlannedAction| plan.actions.iter().position(|a| a == wanted);
    assert!(position(&wait_healthy()) < position(&shift(100, 0)));
    // Nothing to tear down or detach, so no bake either.
    assert!(plan.teardown.is_empty());
    assert!(!has_action(&plan, |a| matches!(
        a,
        PlannedAction::Bake { .. } | PlannedAction::DetachTargetGroups { .. }
    )));
    assert_eq!(
        plan.summary,
        Summary {
            add: 4,
            change: 0,
            destroy: 0,
            shift: 1
        }
    );

    let text = render::render(&plan, false);
    assert!(text.contains("now        fixed-response 404"), "{text}");
    assert!(text.contains("step 100%  shop-v2 100%"), "{text}");
    assert!(!text.contains("attach     "), "{text}");
}

// --- 3. blue → green ---------------------------------------------------------

#[test]
fn blue_to_green_creates_shifts_bakes_and_destroys_blue() {
    let spec = base_spec();
    let plan = plan(&spec, &blue_at_full(&spec));

    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert!(plan.drift.is_empty(), "{:?}", plan.drift);
    assert_eq!(
        render::summary_line(&plan.summary),
        "Plan: 4 to add, 0 to change, 3 to destroy, 1 listener to shift."
    );
    assert_eq!(
        plan.actions,
        vec![
            PlannedAction::CreateTargetGroup {
                name: "shop-v2".into()
            },
            PlannedAction::LaunchInstances { count: 3 },
            PlannedAction::RegisterTargets {
                target_group: "shop-v2".into(),
                count: 3
            },
            PlannedAction::AttachForHealthChecks {
                points: labels(&[LISTENER])
            },
            wait_healthy(),
            shift(10, 60),
            shift(50, 60),
            shift(100, 0),
            PlannedAction::Bake { seconds: 600 },
            PlannedAction::DetachTargetGroups {
                target_groups: labels(&["shop-v1"])
            },
            PlannedAction::DestroyStack {
                release: "v1".into(),
                target_group: Some("shop-v1".into()),
                instance_ids: labels(&["i-0b1", "i-0b2"]),
            },
        ]
    );

    let t = &plan.traffic[0];
    assert_eq!(t.current, vec![owned("shop-v1", "v1", 100)]);
    assert_eq!(
        t.steps[0].weights,
        vec![owned("shop-v1", "v1", 90), owned("shop-v2", "v2", 10)]
    );
    assert_eq!(
        plan.teardown,
        vec![Teardown {
            release: Some("v1".into()),
            target_group: Some("shop-v1".into()),
            instance_ids: labels(&["i-0b1", "i-0b2"]),
            owned: true,
        }]
    );

    let text = render::render(&plan, false);
    assert!(
        text.contains(
            "- release `v1` after a 600s bake: target group shop-v1, 2 instance(s): i-0b1, i-0b2"
        ),
        "{text}"
    );
    assert!(
        text.contains("Plan: 4 to add, 0 to change, 3 to destroy, 1 listener to shift."),
        "{text}"
    );
}

#[test]
fn hooks_run_around_the_shift() {
    let mut doc = spec_doc();
    doc["hooks"] =
        json!({ "before_traffic": ["./smoke", "./warm"], "after_traffic": ["./notify"] });
    let spec = spec_from(doc);
    let plan = plan(&spec, &blue_at_full(&spec));
    let before = PlannedAction::RunHooks {
        phase: "before_traffic".into(),
        commands: 2,
    };
    let after = PlannedAction::RunHooks {
        phase: "after_traffic".into(),
        commands: 1,
    };
    let position = |wanted: &PlannedAction| plan.actions.iter().position(|a| a == wanted).unwrap();
    assert!(position(&wait_healthy()) < position(&before));
    assert!(position(&before) < position(&shift(10, 60)));
    assert!(position(&shift(100, 0)) < position(&after));
    assert!(position(&after) < position(&PlannedAction::Bake { seconds: 600 }));
}

// --- 4. resume -----------------------------------------------------------------

/// Blue `v1` and green `v2` both exist, green fully registered, with the
/// listener at the given weights.
fn mid_shift(spec: &Spec, blue: i32, green: i32) -> Observed {
    observed(
        vec![
            owned_release(spec, "v1", &["i-0b1", "i-0b2"]),
            owned_release(spec, "v2", &["i-0g1", "i-0g2", "i-0g3"]),
        ],
        vec![listener(&[("shop-v1", blue), ("shop-v2", green)])],
    )
}

#[test]
fn resume_mid_shift_keeps_green_and_only_takes_the_remaining_steps() {
    let spec = base_spec();
    let plan = plan(&spec, &mid_shift(&spec, 50, 50));

    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(plan.green.target_group, Change::Keep);
    assert_eq!(
        plan.green.existing_instance_ids,
        labels(&["i-0g1", "i-0g2", "i-0g3"])
    );
    assert_eq!(plan.green.instances_to_launch, 0);
    assert_eq!(plan.green.targets_to_register, 0);
    assert!(!has_action(&plan, |a| matches!(
        a,
        PlannedAction::CreateTargetGroup { .. }
            | PlannedAction::LaunchInstances { .. }
            | PlannedAction::RegisterTargets { .. }
            | PlannedAction::AttachForHealthChecks { .. }
    )));

    let t = &plan.traffic[0];
    assert_eq!(t.attach, None, "green is already on the listener");
    assert_eq!(
        t.steps,
        vec![Step {
            percent: 100,
            weights: vec![owned("shop-v1", "v1", 0), owned("shop-v2", "v2", 100)]
        }]
    );
    assert_eq!(
        plan.actions,
        vec![
            wait_healthy(),
            shift(100, 0),
            PlannedAction::Bake { seconds: 600 },
            PlannedAction::DetachTargetGroups {
                target_groups: labels(&["shop-v1"])
            },
            PlannedAction::DestroyStack {
                release: "v1".into(),
                target_group: Some("shop-v1".into()),
                instance_ids: labels(&["i-0b1", "i-0b2"]),
            },
        ]
    );
    assert_eq!(
        plan.summary,
        Summary {
            add: 0,
            change: 0,
            destroy: 3,
            shift: 1
        }
    );

    // Green at 10% (90/10 as the tool writes it): 50 and 100 remain.
    let plan = super::plan(&spec, &mid_shift(&spec, 90, 10));
    assert_eq!(percents(&plan.traffic[0].steps), vec![50, 100]);
    assert_eq!(
        plan.traffic[0].steps[0].weights,
        vec![owned("shop-v1", "v1", 50), owned("shop-v2", "v2", 50)]
    );
}

#[test]
fn green_attached_at_zero_still_takes_every_step() {
    let spec = base_spec();
    let plan = plan(&spec, &mid_shift(&spec, 1, 0));
    assert_eq!(plan.traffic[0].attach, None);
    assert_eq!(percents(&plan.traffic[0].steps), vec![10, 50, 100]);
    assert!(!has_action(&plan, |a| matches!(
        a,
        PlannedAction::AttachForHealthChecks { .. }
    )));
}

// --- 5. no changes ---------------------------------------------------------------

#[test]
fn green_alone_at_full_traffic_is_no_change() {
    let spec = base_spec();
    let mut point = listener(&[("shop-v2", 100)]);
    point.recorded_weights = Some([("shop-v2".to_string(), 100)].into());
    let plan = plan(
        &spec,
        &observed(
            vec![owned_release(&spec, "v2", &["i-0g1", "i-0g2", "i-0g3"])],
            vec![point],
        ),
    );

    assert!(plan.is_empty(), "{:?}", plan.actions);
    assert!(plan.drift.is_empty(), "{:?}", plan.drift);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert!(plan.teardown.is_empty());
    assert_eq!(plan.summary, Summary::default());
    assert!(!plan.traffic[0].shifts);

    let text = render::render(&plan, false);
    assert!(text.starts_with("No changes"), "{text}");
    assert!(!text.contains("Drift"), "{text}");
}

// --- 6. weights drift --------------------------------------------------------------

#[test]
fn weights_set_by_hand_are_reported_as_drift() {
    let spec = base_spec();
    let mut observed = mid_shift(&spec, 50, 50);
    observed.traffic[0].recorded_weights =
        Some([("shop-v1".to_string(), 90), ("shop-v2".to_string(), 10)].into());
    let plan = plan(&spec, &observed);

    assert_eq!(
        plan.drift,
        vec![Drift::Weights {
            point: LISTENER.into(),
            recorded: vec![owned("shop-v1", "v1", 90), owned("shop-v2", "v2", 10)],
            actual: vec![owned("shop-v1", "v1", 50), owned("shop-v2", "v2", 50)],
        }]
    );
    // The plan goes on from the weights as they are.
    assert_eq!(percents(&plan.traffic[0].steps), vec![100]);

    let text = render::render(&plan, false);
    assert!(text.contains("\nDrift:\n"), "{text}");
    assert!(
        text.contains("shop-alb:80: weights are shop-v1 50% | shop-v2 50%, but bluegreen last set shop-v1 90% | shop-v2 10%"),
        "{text}"
    );
}

// --- 7. green settings drift ---------------------------------------------------------

#[test]
fn green_target_group_with_other_health_check_is_updated_in_place() {
    let spec = base_spec();
    let mut green = owned_release(&spec, "v2", &["i-0g1", "i-0g2", "i-0g3"]);
    green.target_group.as_mut().unwrap().health_check.path = Some("/".into());
    let mut observed = blue_at_full(&spec);
    observed.releases.push(green);
    let plan = plan(&spec, &observed);

    let change = "health_check.path: / → /healthz".to_string();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(plan.green.target_group, Change::Update);
    assert_eq!(plan.green.target_group_changes, vec![change.clone()]);
    assert_eq!(
        plan.actions[0],
        PlannedAction::UpdateTargetGroup {
            name: "shop-v2".into(),
            changes: vec![change.clone()],
        }
    );
    assert_eq!(plan.summary.change, 1);
    assert_eq!(plan.summary.add, 0);
    assert_eq!(
        plan.drift,
        vec![Drift::GreenSettings {
            release: "v2".into(),
            differences: vec![change],
        }]
    );

    let text = render::render(&plan, false);
    assert!(text.contains("~ target group shop-v2"), "{text}");
    assert!(
        text.contains("      health_check.path: / → /healthz"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 0 to add, 1 to change, 3 to destroy"),
        "{text}"
    );
}

/// Green `v2` exists, but its instances were launched from other settings.
fn green_with_stale_instances(spec: &Spec, green_weight: Option<i32>) -> Observed {
    let mut green = owned_release(spec, "v2", &["i-0g1", "i-0g2", "i-0g3"]);
    for instance in &mut green.instances {
        instance
            .tags
            .insert(TAG_SETTINGS.into(), "0000000000".into());
    }
    let forwards = match green_weight {
        None => vec![("shop-v1", 100)],
        Some(w) => vec![("shop-v1", 100 - w), ("shop-v2", w)],
    };
    observed(
        vec![owned_release(spec, "v1", &["i-0b1", "i-0b2"]), green],
        vec![listener(&forwards)],
    )
}

#[test]
fn green_instances_with_other_settings_and_no_traffic_are_replaced() {
    let spec = base_spec();
    let plan = plan(&spec, &green_with_stale_instances(&spec, None));

    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(plan.green.target_group, Change::Keep);
    assert_eq!(
        plan.green.replaced_instance_ids,
        labels(&["i-0g1", "i-0g2", "i-0g3"])
    );
    assert!(plan.green.existing_instance_ids.is_empty());
    assert_eq!(
        plan.actions[..3],
        [
            PlannedAction::TerminateInstances {
                release: "v2".into(),
                instance_ids: labels(&["i-0g1", "i-0g2", "i-0g3"]),
                reason: "launched from other settings than the spec's".into(),
            },
            PlannedAction::LaunchInstances { count: 3 },
            PlannedAction::RegisterTargets {
                target_group: "shop-v2".into(),
                count: 3
            },
        ]
    );
    assert_eq!(
        plan.drift,
        vec![Drift::GreenSettings {
            release: "v2".into(),
            differences: vec!["3 instance(s) launched from other instance settings".into()],
        }]
    );
    // 3 new instances; 3 replaced, plus blue's 2 instances and target group.
    assert_eq!(
        plan.summary,
        Summary {
            add: 3,
            change: 0,
            destroy: 6,
            shift: 1
        }
    );

    let text = render::render(&plan, false);
    assert!(
        text.contains("- 3 instance(s) of `v2` (launched from other settings than the spec's): i-0g1, i-0g2, i-0g3"),
        "{text}"
    );
}

#[test]
fn green_instances_with_other_settings_serving_traffic_block_the_plan() {
    let spec = base_spec();
    let plan = plan(&spec, &green_with_stale_instances(&spec, Some(10)));

    assert_eq!(plan.blockers.len(), 1, "{:?}", plan.blockers);
    assert!(
        plan.blockers[0]
            .contains("release `v2` already serves traffic from instances with other settings"),
        "{}",
        plan.blockers[0]
    );
    let text = render::render(&plan, false);
    assert!(
        text.contains("cannot apply: release `v2` already serves traffic"),
        "{text}"
    );
}

#[test]
fn green_target_group_with_other_port_blocks_the_plan() {
    let spec = base_spec();
    let mut green = owned_release(&spec, "v2", &["i-0g1", "i-0g2", "i-0g3"]);
    green.target_group.as_mut().unwrap().port = Some(9000);
    let mut observed = blue_at_full(&spec);
    observed.releases.push(green);
    let plan = plan(&spec, &observed);

    assert_eq!(plan.blockers.len(), 1, "{:?}", plan.blockers);
    assert!(
        plan.blockers[0].contains("port: 9000 → 8080"),
        "{}",
        plan.blockers[0]
    );
    assert!(!has_action(&plan, |a| matches!(
        a,
        PlannedAction::UpdateTargetGroup { .. }
    )));
}

// --- 8. the five-target-group limit --------------------------------------------------

#[test]
fn a_listener_with_five_groups_and_no_green_blocks_the_plan() {
    let spec = base_spec();
    let full = [
        ("shop-v1", 96),
        ("other-a", 1),
        ("other-b", 1),
        ("other-c", 1),
        ("other-d", 1),
    ];
    let observed = observed(
        vec![owned_release(&spec, "v1", &["i-0b1", "i-0b2"])],
        vec![listener(&full)],
    );
    let plan = plan(&spec, &observed);

    assert_eq!(plan.blockers.len(), 1, "{:?}", plan.blockers);
    assert!(
        plan.blockers[0].contains("shop-alb:80 already forwards to 5 target groups"),
        "{}",
        plan.blockers[0]
    );
    assert!(
        plan.blockers[0].contains("`shop-v2`"),
        "{}",
        plan.blockers[0]
    );
    let text = render::render(&plan, false);
    assert!(
        text.contains("cannot apply: shop-alb:80 already forwards to 5"),
        "{text}"
    );

    // With green already one of the five, nothing is added and nothing blocks.
    let with_green = [
        ("shop-v1", 96),
        ("shop-v2", 0),
        ("other-a", 1),
        ("other-b", 1),
        ("other-c", 1),
    ];
    let mut observed = observed;
    observed
        .releases
        .push(owned_release(&spec, "v2", &["i-0g1", "i-0g2", "i-0g3"]));
    observed.traffic = vec![listener(&with_green)];
    observed
        .target_group_names
        .insert(tg_arn("shop-v2"), "shop-v2".into());
    let plan = super::plan(&spec, &observed);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
}

// --- 9. weights_at -----------------------------------------------------------------

fn plain(name: &str, weight: i32) -> Share {
    foreign(name, weight)
}

fn weights(shares: &[Share]) -> Vec<(&str, i32)> {
    shares
        .iter()
        .map(|s| (s.target_group.as_str(), s.weight))
        .collect()
}

#[test]
fn weights_at_shares_the_rest_in_proportion() {
    let share = |name: &str, weight: i32| plain(name, weight);
    let current = [plain("a", 2), plain("b", 1)];
    assert_eq!(
        weights(&weights_at(&current, "g", 10, &share)),
        vec![("a", 60), ("b", 30), ("g", 10)]
    );
    // Green's own current weight does not count among the others.
    let current = [plain("a", 50), plain("g", 50)];
    assert_eq!(
        weights(&weights_at(&current, "g", 100, &share)),
        vec![("a", 0), ("g", 100)]
    );
    // Nothing else carries weight: green takes everything at once.
    let current = [plain("a", 0)];
    assert_eq!(
        weights(&weights_at(&current, "g", 10, &share)),
        vec![("a", 0), ("g", 100)]
    );
    assert_eq!(weights(&weights_at(&[], "g", 10, &share)), vec![("g", 100)]);
}

#[test]
fn weights_at_always_sums_to_100_and_stays_proportional() {
    let share = |name: &str, weight: i32| plain(name, weight);
    let cases: Vec<Vec<Share>> = vec![
        vec![plain("a", 1)],
        vec![plain("a", 2), plain("b", 1)],
        vec![plain("a", 1), plain("b", 1), plain("c", 1)],
        vec![plain("a", 999), plain("b", 1)],
        vec![plain("a", 3), plain("b", 0), plain("c", 7)],
        vec![plain("a", 5), plain("b", 3), plain("g", 17)],
        vec![plain("a", 1), plain("b", 1), plain("c", 1), plain("d", 1)],
    ];
    for current in &cases {
        let others: Vec<&Share> = current.iter().filter(|s| s.target_group != "g").collect();
        let total: i64 = others.iter().map(|s| i64::from(s.weight)).sum();
        for percent in 1..=100u32 {
            let result = weights_at(current, "g", percent, &share);
            let context = format!("{current:?} at {percent}%: {result:?}");
            assert_eq!(
                result.iter().map(|s| s.weight).sum::<i32>(),
                100,
                "{context}"
            );
            assert!(result.iter().all(|s| s.weight >= 0), "{context}");
            assert_eq!(
                result.last().map(|s| (s.target_group.as_str(), s.weight)),
                Some(("g", percent as i32)),
                "{context}"
            );
            assert_eq!(result.len(), others.len() + 1, "{context}");
            let remaining = i64::from(100 - percent);
            for (got, was) in result.iter().zip(&others) {
                assert_eq!(got.target_group, was.target_group, "{context}");
                // Floor or ceiling of the exact proportional share.
                let exact = remaining * i64::from(was.weight);
                let got = i64::from(got.weight) * total;
                assert!((got - exact).abs() < total, "{context}");
            }
        }
    }
}

// --- 10. user data -------------------------------------------------------------------

#[test]
fn user_data_is_shown_by_size_and_hash_only() {
    let mut doc = spec_doc();
    doc["instances"]["user_data"] = json!("secret-token-123");
    let spec = spec_from(doc);
    let plan = plan(&spec, &blue_at_full(&spec));

    let digest = plan
        .green
        .instances
        .user_data
        .clone()
        .expect("user data digest");
    assert_eq!(digest.bytes, 16);
    assert_eq!(digest.sha256, naming::sha256_hex(b"secret-token-123"));

    let text = render::render(&plan, false);
    let colored = render::render(&plan, true);
    let json = serde_json::to_string(&plan).unwrap();
    for out in [&text, &colored, &json] {
        assert!(!out.contains("secret-token-123"), "{out}");
    }
    assert!(
        text.contains(&format!(
            "; user data 16 bytes, sha256 {}",
            &digest.sha256[..12]
        )),
        "{text}"
    );
}

// --- 11. routes not in the spec ------------------------------------------------------

const RULE_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";

fn unlisted_rule(forwards: &[(&str, i32)]) -> TrafficPoint {
    let Action::Forward { target_groups, .. } = listener(forwards).actions.remove(0) else {
        unreachable!()
    };
    let mut rule = point(
        RULE_ARN,
        Some("10"),
        vec![Action::Forward {
            target_groups,
            stickiness_seconds: None,
        }],
    );
    rule.in_spec = false;
    rule
}

#[test]
fn a_rule_not_in_the_spec_to_an_owned_blue_is_shifted_along() {
    let spec = base_spec();
    let mut observed = blue_at_full(&spec);
    observed.traffic.push(unlisted_rule(&[("shop-v1", 1)]));
    let plan = plan(&spec, &observed);

    let rule = "shop-alb:80 rule 10";
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(
        plan.drift,
        vec![Drift::UnlistedRoute {
            point: rule.into(),
            target_groups: labels(&["shop-v1"]),
            shifted: true,
        }]
    );
    assert_eq!(plan.traffic.len(), 2);
    let t = &plan.traffic[1];
    assert_eq!(t.label, rule);
    assert!(t.shifts);
    assert_eq!(percents(&t.steps), vec![10, 50, 100]);
    assert_eq!(
        t.steps[0].weights,
        vec![owned("shop-v1", "v1", 90), owned("shop-v2", "v2", 10)]
    );
    assert!(plan
        .actions
        .contains(&PlannedAction::AttachForHealthChecks {
            points: labels(&[LISTENER, rule])
        }));
    assert!(plan.actions.contains(&PlannedAction::ShiftTraffic {
        percent: 10,
        points: labels(&[LISTENER, rule]),
        wait_seconds: 60,
    }));
    assert_eq!(plan.summary.shift, 2);

    let text = render::render(&plan, false);
    assert!(
        text.contains("shop-alb:80 rule 10 forwards to shop-v1 but is not in the spec's `traffic`; it is shifted with the rest"),
        "{text}"
    );
    assert!(text.contains("2 listeners to shift."), "{text}");
}

#[test]
fn a_rule_not_in_the_spec_to_a_foreign_group_is_left_alone() {
    let spec = base_spec();
    let observed = observed(
        Vec::new(),
        vec![
            listener(&[("legacy-web", 1)]),
            unlisted_rule(&[("legacy-web", 1)]),
        ],
    );
    let plan = plan(&spec, &observed);

    assert_eq!(
        plan.drift,
        vec![Drift::UnlistedRoute {
            point: "shop-alb:80 rule 10".into(),
            target_groups: labels(&["legacy-web"]),
            shifted: false,
        }]
    );
    assert_eq!(plan.traffic.len(), 1);
    assert_eq!(plan.summary.shift, 1);
    let text = render::render(&plan, false);
    assert!(text.contains("; it is left alone"), "{text}");
}

// --- misc ------------------------------------------------------------------------

#[test]
fn the_plan_round_trips_through_json() {
    let spec = base_spec();
    let plan = plan(&spec, &blue_at_full(&spec));
    let json = serde_json::to_string(&plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        value["actions"][0],
        json!({ "action": "create-target-group", "name": "shop-v2" })
    );
}

#[test]
fn a_blocker_is_shown_even_when_there_is_nothing_to_do() {
    // Green already serves everything, but its target group has another port
    // than the spec's (which AWS cannot change): the plan has no actions, yet
    // it must not claim that nothing differs without saying why it is refused.
    let spec = base_spec();
    let mut green = owned_release(&spec, "v2", &["i-0g1", "i-0g2", "i-0g3"]);
    green.target_group.as_mut().unwrap().port = Some(9000);
    let plan = plan(
        &spec,
        &observed(vec![green], vec![listener(&[("shop-v2", 100)])]),
    );

    assert!(plan.is_empty(), "{:?}", plan.actions);
    assert_eq!(plan.blockers.len(), 1, "{:?}", plan.blockers);
    let text = render::render(&plan, false);
    assert!(text.contains("cannot apply: release `v2` already exists with a different target group (port: 9000 → 8080)"), "{text}");
}

// --- test listener -------------------------------------------------------------------

#[test]
fn the_test_listener_moves_to_green_at_once() {
    let mut doc = spec_doc();
    doc["traffic"]["test_listener"] = json!({ "load_balancer": "shop-alb", "port": 8443 });
    let spec = spec_from(doc);
    let mut observed = blue_at_full(&spec);
    let mut test = listener(&[("shop-v1", 1)]);
    test.arn = LISTENER_ARN.replace("f2f7dc8efc522ab2", "0123456789abcdef");
    test.listener_port = Some(8443);
    test.in_spec = false;
    test.is_test_listener = true;
    observed.traffic.push(test);
    let plan = plan(&spec, &observed);

    assert!(plan.drift.is_empty(), "{:?}", plan.drift);
    let t = &plan.traffic[1];
    assert!(t.test_listener);
    assert_eq!(t.attach, Some(vec![owned("shop-v2", "v2", 100)]));
    assert!(t.steps.is_empty());
    assert_eq!(
        plan.actions[3],
        PlannedAction::AttachForHealthChecks {
            points: labels(&[LISTENER, "shop-alb:8443"])
        }
    );
    // Only production listeners take the steps.
    assert!(plan.actions.contains(&shift(10, 60)));
    assert_eq!(plan.summary.shift, 2);
    let text = render::render(&plan, false);
    assert!(text.contains("~ shop-alb:8443 (test listener)"), "{text}");
    assert!(text.contains("test       shop-v2 100%"), "{text}");
}

// --- after the shift -------------------------------------------------------------------

#[test]
fn once_the_bake_is_over_blue_is_destroyed_without_another_bake() {
    let spec = base_spec();
    let mut observed = mid_shift(&spec, 0, 100);
    let plan_before = plan(&spec, &observed);
    assert!(plan_before
        .actions
        .contains(&PlannedAction::Bake { seconds: 600 }));
    assert!(!plan_before.traffic[0].shifts);

    observed.releases[1]
        .target_group_tags
        .insert(naming::TAG_BAKE_ENDS.into(), "2026-01-01T00:00:00Z".into());
    let plan = super::plan(&spec, &observed);
    assert_eq!(
        plan.actions,
        vec![
            PlannedAction::DetachTargetGroups {
                target_groups: labels(&["shop-v1"])
            },
            PlannedAction::DestroyStack {
                release: "v1".into(),
                target_group: Some("shop-v1".into()),
                instance_ids: labels(&["i-0b1", "i-0b2"]),
            },
        ]
    );
    assert_eq!(
        plan.summary,
        Summary {
            add: 0,
            change: 0,
            destroy: 3,
            shift: 0
        }
    );
    let text = render::render(&plan, false);
    assert!(
        text.contains("- release `v1` now (the bake is over)"),
        "{text}"
    );
}

#[test]
fn a_bake_still_running_is_planned_for_the_time_left() {
    let spec = base_spec();
    let mut observed = mid_shift(&spec, 0, 100);
    // Ends ten minutes after the observation.
    observed.releases[1]
        .target_group_tags
        .insert(naming::TAG_BAKE_ENDS.into(), "2026-06-01T00:10:00Z".into());
    let plan = super::plan(&spec, &observed);
    assert_eq!(plan.actions[0], PlannedAction::Bake { seconds: 600 });
    observed.releases[1]
        .target_group_tags
        .insert(naming::TAG_BAKE_ENDS.into(), "2026-06-01T00:01:40Z".into());
    let plan = super::plan(&spec, &observed);
    assert_eq!(plan.actions[0], PlannedAction::Bake { seconds: 100 });
}

#[test]
fn surplus_green_instances_are_terminated() {
    let mut doc = spec_doc();
    doc["instances"]["count"] = json!(2);
    let spec = spec_from(doc);
    let plan = plan(&spec, &mid_shift(&spec, 50, 50));

    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(
        plan.green.existing_instance_ids,
        labels(&["i-0g1", "i-0g2"])
    );
    assert_eq!(plan.green.replaced_instance_ids, labels(&["i-0g3"]));
    assert_eq!(plan.green.instances_to_launch, 0);
    assert!(matches!(
        &plan.actions[0],
        PlannedAction::TerminateInstances { instance_ids, .. } if instance_ids == &labels(&["i-0g3"])
    ));
    assert!(!has_action(&plan, |a| matches!(
        a,
        PlannedAction::LaunchInstances { .. }
    )));
    assert_eq!(plan.summary.destroy, 1 + 3);
}

#[test]
fn stickiness_longer_than_the_bake_keeps_blue_that_long() {
    let spec = base_spec();
    let mut observed = blue_at_full(&spec);
    for action in &mut observed.traffic[0].actions {
        if let Action::Forward {
            stickiness_seconds, ..
        } = action
        {
            *stickiness_seconds = Some(3600);
        }
    }
    let plan = plan(&spec, &observed);
    assert!(
        plan.actions
            .contains(&PlannedAction::Bake { seconds: 3600 }),
        "{:?}",
        plan.actions
    );
}
