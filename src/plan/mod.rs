//! The plan: a pure function from a spec and the observed state to the
//! ordered actions that take the app from where it is to the spec's release,
//! as data. [`render`] turns it into text for people; serde turns it into
//! JSON for machines and for `plan --out`.
//!
//! Nothing here calls AWS, so every rule below is unit-tested without a network.

pub mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cloud::{Action, ObservedHealthCheck};
use crate::discovery::{Observed, ObservedRelease, TrafficPoint};
use crate::spec::naming::{self, TAG_BAKE_ENDS, TAG_SETTINGS};
use crate::spec::{HealthCheck, Spec, UserDataDigest};

/// Version of the plan's JSON form.
pub const PLAN_FORMAT_VERSION: u32 = 1;
/// An ALB forward action holds at most this many target groups.
pub const MAX_TARGET_GROUPS_PER_FORWARD: usize = 5;

/// What `apply` would do, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub app: String,
    /// The release being deployed (green).
    pub release: String,
    /// Digest of the observed state this plan was made from.
    pub fingerprint: String,
    pub green: GreenStack,
    /// Every listener and rule that routes to the app, with its weights now and at each step.
    pub traffic: Vec<TrafficChange>,
    /// Stacks torn down (or detached, when not ours) after the bake.
    pub teardown: Vec<Teardown>,
    /// Where AWS differs from what the tool last set or from the spec.
    pub drift: Vec<Drift>,
    /// Reasons `apply` must refuse this plan; empty when it can run.
    pub blockers: Vec<String>,
    /// The ordered steps `apply` takes.
    pub actions: Vec<PlannedAction>,
    pub summary: Summary,
}

/// `Plan: N to add, N to change, N to destroy, N listeners to shift.`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub shift: usize,
}

impl Plan {
    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Create,
    Update,
    Keep,
}

/// The green stack: the spec's release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreenStack {
    pub target_group_name: String,
    pub target_group: Change,
    /// Settings that differ on an existing target group (`health_check.path: / → /healthz`).
    pub target_group_changes: Vec<String>,
    pub port: u16,
    pub protocol: String,
    pub vpc_id: String,
    pub health_check: HealthCheck,
    pub deregistration_delay_seconds: u32,
    pub instances: FleetSettings,
    /// Instances of this release already running with the spec's settings.
    pub existing_instance_ids: Vec<String>,
    /// Instances of this release with other settings, terminated and replaced.
    pub replaced_instance_ids: Vec<String>,
    pub instances_to_launch: u32,
    /// Instances running but not yet registered in the target group.
    pub targets_to_register: usize,
}

/// The instance settings shown in the plan (user data by size and hash only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSettings {
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<String>,
    pub subnet_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<UserDataDigest>,
    pub settings_hash: String,
}

/// One target group's share of a forward action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub target_group: String,
    /// The app's release behind the group; `None` for a group the tool does not own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    pub weight: i32,
}

/// The weights of one listener or rule at one rollout step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub percent: u32,
    pub weights: Vec<Share>,
}

/// One listener default action or rule and how its weights move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficChange {
    pub arn: String,
    pub label: String,
    pub test_listener: bool,
    /// Weights now, when the point forwards.
    pub current: Vec<Share>,
    /// What the point does now when it does not forward (`fixed-response 404`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Green joins at weight 0 so that AWS health-checks it, before any traffic moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<Vec<Share>>,
    /// Weights at each rollout step still to come.
    pub steps: Vec<Step>,
    /// Weights once blue is removed after the bake.
    pub after_teardown: Vec<Share>,
    /// Whether the weights change at all.
    pub shifts: bool,
}

/// A stack that goes away after the bake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Teardown {
    /// The release, for the app's own stacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<String>,
    pub instance_ids: Vec<String>,
    /// False for a target group the tool did not create: it is detached from
    /// the listeners but never deleted.
    pub owned: bool,
}

/// A difference between AWS and what the tool expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Drift {
    /// Someone changed weights since the tool last wrote them.
    Weights {
        point: String,
        recorded: Vec<Share>,
        actual: Vec<Share>,
    },
    /// The green release exists with other settings than the spec's.
    GreenSettings {
        release: String,
        differences: Vec<String>,
    },
    /// A listener or rule routes to the app but is not in the spec.
    UnlistedRoute {
        point: String,
        target_groups: Vec<String>,
        shifted: bool,
    },
}

/// One step of `apply`, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum PlannedAction {
    CreateTargetGroup {
        name: String,
    },
    UpdateTargetGroup {
        name: String,
        changes: Vec<String>,
    },
    TerminateInstances {
        release: String,
        instance_ids: Vec<String>,
        reason: String,
    },
    LaunchInstances {
        count: u32,
    },
    RegisterTargets {
        target_group: String,
        count: usize,
    },
    AttachForHealthChecks {
        points: Vec<String>,
    },
    WaitHealthy {
        min_healthy_percent: u32,
        timeout_seconds: u64,
    },
    RunHooks {
        phase: String,
        commands: usize,
    },
    ShiftTraffic {
        percent: u32,
        points: Vec<String>,
        wait_seconds: u64,
    },
    Bake {
        seconds: u64,
    },
    DetachTargetGroups {
        target_groups: Vec<String>,
    },
    /// Deletes the rules that only served to get green health-checked.
    RemoveHealthCheckRules,
    DestroyStack {
        release: String,
        target_group: Option<String>,
        instance_ids: Vec<String>,
    },
}

/// Makes the plan. Pure: same inputs, same plan.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let release = spec.release.clone();
    let green_name = naming::target_group_name(&spec.app, &release);
    let green = observed.release(&release);
    let mut blockers = Vec::new();
    let mut drift = Vec::new();
    let mut actions = Vec::new();
    let mut summary = Summary::default();

    // --- green ---------------------------------------------------------
    let instance_hash = naming::instance_settings_hash(&spec.instances);
    let (tg_change, tg_changes) = match green.and_then(|g| g.target_group.as_ref()) {
        None => (Change::Create, Vec::new()),
        Some(tg) => {
            let (immutable, mutable) = target_group_differences(
                spec,
                tg.port,
                tg.protocol.as_deref(),
                tg.vpc_id.as_deref(),
                &tg.health_check,
            );
            if !immutable.is_empty() {
                blockers.push(format!(
                    "release `{release}` already exists with a different target group ({}); give the spec a new `release`",
                    immutable.join(", ")
                ));
            }
            if mutable.is_empty() {
                (Change::Keep, immutable)
            } else {
                (Change::Update, mutable)
            }
        }
    };
    let live: Vec<_> = green
        .map(|g| g.instances.iter().collect())
        .unwrap_or_default();
    let (matching, mismatched): (Vec<_>, Vec<_>) = live.into_iter().partition(|i| {
        i.tags.get(TAG_SETTINGS).map(String::as_str) == Some(instance_hash.as_str())
    });
    let mut existing: Vec<String> = matching.iter().map(|i| i.id.clone()).collect();
    let mut replaced: Vec<String> = mismatched.iter().map(|i| i.id.clone()).collect();
    // More matching instances than asked for: the extras (last by id) go.
    let surplus = existing.len().saturating_sub(spec.instances.count as usize);
    if surplus > 0 {
        replaced.extend(existing.split_off(spec.instances.count as usize));
    }
    let to_launch = spec.instances.count - existing.len() as u32;
    let registered: Vec<&str> = green
        .map(|g| g.health.iter().map(|t| t.target_id.as_str()).collect())
        .unwrap_or_default();
    let to_register = existing
        .iter()
        .filter(|id| !registered.contains(&id.as_str()))
        .count()
        + to_launch as usize;

    let green_carries_traffic = observed
        .traffic
        .iter()
        .any(|p| share_of(p, observed, &green_name) > 0);
    if !mismatched.is_empty() || tg_change == Change::Update {
        let mut differences = tg_changes.clone();
        if !mismatched.is_empty() {
            differences.push(format!(
                "{} instance(s) launched from other instance settings",
                mismatched.len()
            ));
        }
        drift.push(Drift::GreenSettings {
            release: release.clone(),
            differences,
        });
        if !mismatched.is_empty() && green_carries_traffic {
            blockers.push(format!(
                "release `{release}` already serves traffic from instances with other settings; give the spec a new `release` (or leave it out to derive one)"
            ));
        }
    }

    match tg_change {
        Change::Create => {
            summary.add += 1;
            actions.push(PlannedAction::CreateTargetGroup {
                name: green_name.clone(),
            });
        }
        Change::Update => {
            summary.change += 1;
            actions.push(PlannedAction::UpdateTargetGroup {
                name: green_name.clone(),
                changes: tg_changes.clone(),
            });
        }
        Change::Keep => {}
    }
    if !replaced.is_empty() {
        summary.destroy += replaced.len();
        actions.push(PlannedAction::TerminateInstances {
            release: release.clone(),
            instance_ids: replaced.clone(),
            reason: match (mismatched.len(), surplus) {
                (_, 0) => "launched from other settings than the spec's".into(),
                (0, n) => format!("{n} more than `instances.count`"),
                (m, n) => {
                    format!("{m} launched from other settings, {n} more than `instances.count`")
                }
            },
        });
    }
    if to_launch > 0 {
        summary.add += to_launch as usize;
        actions.push(PlannedAction::LaunchInstances { count: to_launch });
    }
    if to_register > 0 {
        actions.push(PlannedAction::RegisterTargets {
            target_group: green_name.clone(),
            count: to_register,
        });
    }

    // --- traffic -------------------------------------------------------
    let owned_names: BTreeMap<&str, &str> = observed
        .releases
        .iter()
        .filter_map(|r| {
            r.target_group
                .as_ref()
                .map(|tg| (tg.name.as_str(), r.release.as_str()))
        })
        .chain(std::iter::once((green_name.as_str(), release.as_str())))
        .collect();
    let share = |name: &str, weight: i32| Share {
        target_group: name.to_string(),
        release: owned_names.get(name).map(|r| r.to_string()),
        weight,
    };
    let mut traffic = Vec::new();
    let mut detached: BTreeMap<String, ()> = BTreeMap::new();
    for point in &observed.traffic {
        if point.health_check_rule {
            continue;
        }
        let current: Vec<Share> = point
            .forward()
            .map(|groups| {
                groups
                    .iter()
                    .map(|g| share(observed.target_group_name(&g.arn), g.weight))
                    .collect()
            })
            .unwrap_or_default();
        let routes_to_owned = current
            .iter()
            .any(|s| s.release.is_some() && s.target_group != green_name);
        if !point.in_spec && !point.is_test_listener {
            drift.push(Drift::UnlistedRoute {
                point: point.label(),
                target_groups: current.iter().map(|s| s.target_group.clone()).collect(),
                shifted: routes_to_owned,
            });
            if !routes_to_owned {
                continue;
            }
        }
        if let Some(recorded) = &point.recorded_weights {
            let actual: BTreeMap<String, i32> = current
                .iter()
                .map(|s| (s.target_group.clone(), s.weight))
                .collect();
            if &actual != recorded {
                drift.push(Drift::Weights {
                    point: point.label(),
                    recorded: recorded.iter().map(|(n, w)| share(n, *w)).collect(),
                    actual: current.clone(),
                });
            }
        }
        let replaces = match point.forward() {
            Some(_) => None,
            None => Some(describe_terminal_action(&point.actions)),
        };

        let change = if point.is_test_listener {
            let target = vec![share(&green_name, 100)];
            let shifts = current != target;
            TrafficChange {
                arn: point.arn.clone(),
                label: point.label(),
                test_listener: true,
                current: current.clone(),
                replaces,
                attach: shifts.then(|| target.clone()),
                steps: Vec::new(),
                after_teardown: target,
                shifts,
            }
        } else {
            let green_now = percent_of(&current, &green_name);
            let mut steps: Vec<Step> = spec
                .rollout
                .steps
                .iter()
                .filter(|&&p| p > green_now)
                .map(|&percent| Step {
                    percent,
                    weights: weights_at(&current, &green_name, percent, &share),
                })
                .collect();
            let green_present = current.iter().any(|s| s.target_group == green_name);
            if current.len() >= MAX_TARGET_GROUPS_PER_FORWARD && !green_present {
                blockers.push(format!(
                    "{} already forwards to {} target groups, the most one action can hold; remove one before adding `{green_name}`",
                    point.label(),
                    current.len()
                ));
            }
            // A fixed response or redirect cannot share weight: green is
            // health-checked elsewhere and then takes the action over in one write.
            let attach = (!green_present && replaces.is_none()).then(|| {
                let mut with_green = current.clone();
                with_green.push(share(&green_name, 0));
                with_green
            });
            if replaces.is_some() {
                steps = vec![Step {
                    percent: 100,
                    weights: vec![share(&green_name, 100)],
                }];
            }
            let after_teardown = vec![share(&green_name, 100)];
            let shifts = !steps.is_empty() || attach.is_some();
            for s in &current {
                if s.target_group != green_name {
                    detached.insert(s.target_group.clone(), ());
                }
            }
            TrafficChange {
                arn: point.arn.clone(),
                label: point.label(),
                test_listener: false,
                current,
                replaces,
                attach,
                steps,
                after_teardown,
                shifts,
            }
        };
        traffic.push(change);
    }
    summary.shift = traffic.iter().filter(|t| t.shifts).count();

    // --- order of the release -----------------------------------------
    let attach_points: Vec<String> = traffic
        .iter()
        .filter(|t| t.attach.is_some() || (t.replaces.is_some() && t.shifts))
        .map(|t| t.label.clone())
        .collect();
    let shifting = traffic.iter().any(|t| !t.steps.is_empty());
    let needs_health = to_launch > 0 || to_register > 0 || !attach_points.is_empty() || shifting;
    if !attach_points.is_empty() {
        actions.push(PlannedAction::AttachForHealthChecks {
            points: attach_points,
        });
    }
    if needs_health {
        actions.push(PlannedAction::WaitHealthy {
            min_healthy_percent: spec.rollout.min_healthy_percent,
            timeout_seconds: spec.rollout.health_timeout_seconds,
        });
    }
    // Hooks before traffic run once, before green takes any: when a re-run
    // finds green already serving, they have run.
    let green_serves = observed
        .traffic
        .iter()
        .filter(|p| !p.is_test_listener && !p.health_check_rule)
        .any(|p| share_of(p, observed, &green_name) > 0);
    if shifting {
        if !spec.hooks.before_traffic.is_empty() && !green_serves {
            actions.push(PlannedAction::RunHooks {
                phase: "before_traffic".into(),
                commands: spec.hooks.before_traffic.len(),
            });
        }
        let mut percents: Vec<u32> = traffic
            .iter()
            .flat_map(|t| t.steps.iter().map(|s| s.percent))
            .collect();
        percents.sort_unstable();
        percents.dedup();
        for percent in percents {
            actions.push(PlannedAction::ShiftTraffic {
                percent,
                points: traffic
                    .iter()
                    .filter(|t| t.steps.iter().any(|s| s.percent == percent))
                    .map(|t| t.label.clone())
                    .collect(),
                wait_seconds: if percent == 100 {
                    0
                } else {
                    spec.rollout.step_interval_seconds
                },
            });
        }
        if !spec.hooks.after_traffic.is_empty() {
            actions.push(PlannedAction::RunHooks {
                phase: "after_traffic".into(),
                commands: spec.hooks.after_traffic.len(),
            });
        }
    }

    let takes_over = traffic.iter().any(|t| t.replaces.is_some() && t.shifts);
    if takes_over || observed.traffic.iter().any(|p| p.health_check_rule) {
        actions.push(PlannedAction::RemoveHealthCheckRules);
    }

    let blues: Vec<&ObservedRelease> = observed
        .releases
        .iter()
        .filter(|r| r.release != release)
        .collect();
    let mut teardown: Vec<Teardown> = blues
        .iter()
        .map(|r| Teardown {
            release: Some(r.release.clone()),
            target_group: r.target_group.as_ref().map(|tg| tg.name.clone()),
            instance_ids: r.instances.iter().map(|i| i.id.clone()).collect(),
            owned: true,
        })
        .collect();
    for name in detached.keys() {
        if !owned_names.contains_key(name.as_str()) {
            teardown.push(Teardown {
                release: None,
                target_group: Some(name.clone()),
                instance_ids: Vec::new(),
                owned: false,
            });
        }
    }
    // Target-group stickiness keeps clients that have the cookie on blue
    // after its weight reaches 0: blue must live at least that long.
    let longest_stickiness = observed
        .traffic
        .iter()
        .flat_map(|p| &p.actions)
        .filter_map(|a| match a {
            Action::Forward {
                stickiness_seconds: Some(seconds),
                ..
            } => u64::try_from(*seconds).ok(),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let bake_seconds = spec.rollout.bake_seconds.max(longest_stickiness);
    // The bake's end is recorded on green once all traffic is there; until
    // then (or while traffic still moves) the whole bake is ahead.
    let bake_left = match green
        .and_then(|g| g.target_group_tags.get(TAG_BAKE_ENDS))
        .and_then(|value| humantime::parse_rfc3339(value).ok())
    {
        Some(ends) if !shifting => {
            let ends = ends
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            ends.saturating_sub(observed.observed_at)
        }
        _ => bake_seconds,
    };
    if !teardown.is_empty() || !detached.is_empty() {
        if bake_left > 0 {
            actions.push(PlannedAction::Bake { seconds: bake_left });
        }
        let names: Vec<String> = detached.keys().cloned().collect();
        if !names.is_empty() {
            actions.push(PlannedAction::DetachTargetGroups {
                target_groups: names,
            });
        }
        for stack in teardown.iter().filter(|t| t.owned) {
            summary.destroy += stack.instance_ids.len() + usize::from(stack.target_group.is_some());
            actions.push(PlannedAction::DestroyStack {
                release: stack.release.clone().unwrap_or_default(),
                target_group: stack.target_group.clone(),
                instance_ids: stack.instance_ids.clone(),
            });
        }
    }

    Plan {
        format_version: PLAN_FORMAT_VERSION,
        app: spec.app.clone(),
        release,
        fingerprint: observed.fingerprint(),
        green: GreenStack {
            target_group_name: green_name,
            target_group: tg_change,
            target_group_changes: tg_changes,
            port: spec.target_group.port,
            protocol: spec.target_group.protocol.clone(),
            vpc_id: spec.target_group.vpc_id.clone(),
            health_check: spec.target_group.health_check.clone(),
            deregistration_delay_seconds: spec.target_group.deregistration_delay_seconds,
            instances: FleetSettings {
                count: spec.instances.count,
                instance_type: spec.instances.instance_type.clone(),
                image_id: spec.instances.image_id.clone(),
                launch_template: spec.instances.launch_template.as_ref().map(|t| {
                    format!(
                        "{}@{}",
                        t.id.as_deref().or(t.name.as_deref()).unwrap_or_default(),
                        t.version
                    )
                }),
                subnet_ids: spec.instances.subnet_ids.clone(),
                user_data: spec.instances.user_data_digest(),
                settings_hash: instance_hash,
            },
            existing_instance_ids: existing,
            replaced_instance_ids: replaced,
            instances_to_launch: to_launch,
            targets_to_register: to_register,
        },
        traffic,
        teardown,
        drift,
        blockers,
        actions,
        summary,
    }
}

/// Settings of an existing target group that differ from the spec: those AWS
/// cannot change in place, and those it can.
fn target_group_differences(
    spec: &Spec,
    port: Option<i32>,
    protocol: Option<&str>,
    vpc_id: Option<&str>,
    observed: &ObservedHealthCheck,
) -> (Vec<String>, Vec<String>) {
    fn differ<T: PartialEq + std::fmt::Display>(
        out: &mut Vec<String>,
        field: &str,
        actual: Option<T>,
        wanted: T,
    ) {
        match actual {
            Some(actual) if actual != wanted => out.push(format!("{field}: {actual} → {wanted}")),
            _ => {}
        }
    }
    let tg = &spec.target_group;
    let hc = &tg.health_check;
    let mut immutable = Vec::new();
    differ(&mut immutable, "port", port, i32::from(tg.port));
    differ(&mut immutable, "protocol", protocol, tg.protocol.as_str());
    differ(&mut immutable, "vpc_id", vpc_id, tg.vpc_id.as_str());
    let mut mutable = Vec::new();
    differ(
        &mut mutable,
        "health_check.path",
        observed.path.as_deref(),
        hc.path.as_str(),
    );
    differ(
        &mut mutable,
        "health_check.port",
        observed.port.as_deref(),
        hc.port.as_str(),
    );
    differ(
        &mut mutable,
        "health_check.protocol",
        observed.protocol.as_deref(),
        hc.protocol.as_str(),
    );
    differ(
        &mut mutable,
        "health_check.interval_seconds",
        observed.interval_seconds,
        hc.interval_seconds as i32,
    );
    differ(
        &mut mutable,
        "health_check.timeout_seconds",
        observed.timeout_seconds,
        hc.timeout_seconds as i32,
    );
    differ(
        &mut mutable,
        "health_check.healthy_threshold",
        observed.healthy_threshold,
        hc.healthy_threshold as i32,
    );
    differ(
        &mut mutable,
        "health_check.unhealthy_threshold",
        observed.unhealthy_threshold,
        hc.unhealthy_threshold as i32,
    );
    differ(
        &mut mutable,
        "health_check.matcher",
        observed.matcher.as_deref(),
        hc.matcher.as_str(),
    );
    (immutable, mutable)
}

/// Green's share of a point's traffic in percent (0 when it is not there).
fn share_of(point: &TrafficPoint, observed: &Observed, green_name: &str) -> u32 {
    let current: Vec<Share> = point
        .forward()
        .map(|groups| {
            groups
                .iter()
                .map(|g| Share {
                    target_group: observed.target_group_name(&g.arn).to_string(),
                    release: None,
                    weight: g.weight,
                })
                .collect()
        })
        .unwrap_or_default();
    percent_of(&current, green_name)
}

/// A target group's percentage of a forward action's traffic.
pub fn percent_of(shares: &[Share], target_group: &str) -> u32 {
    let total: i64 = shares.iter().map(|s| i64::from(s.weight.max(0))).sum();
    if total == 0 {
        return 0;
    }
    let mine: i64 = shares
        .iter()
        .filter(|s| s.target_group == target_group)
        .map(|s| i64::from(s.weight.max(0)))
        .sum();
    ((mine * 100 + total / 2) / total) as u32
}

/// Weights with green at `percent` and the rest shared among the other groups
/// in proportion to their current weights (largest remainder, so they sum to 100).
pub fn weights_at(
    current: &[Share],
    green: &str,
    percent: u32,
    share: &impl Fn(&str, i32) -> Share,
) -> Vec<Share> {
    let others: Vec<&Share> = current.iter().filter(|s| s.target_group != green).collect();
    let total: i64 = others.iter().map(|s| i64::from(s.weight.max(0))).sum();
    let percent = if total == 0 { 100 } else { percent };
    let remaining = i64::from(100 - percent);
    let mut weights: Vec<(String, i64, i64)> = others
        .iter()
        .map(|s| {
            let exact = remaining * i64::from(s.weight.max(0));
            let floor = if total == 0 { 0 } else { exact / total };
            let remainder = if total == 0 { 0 } else { exact % total };
            (s.target_group.clone(), floor, remainder)
        })
        .collect();
    let mut left = remaining - weights.iter().map(|w| w.1).sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| weights[b].2.cmp(&weights[a].2).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        weights[i].1 += 1;
        left -= 1;
    }
    let mut result: Vec<Share> = weights
        .into_iter()
        .map(|(name, w, _)| share(&name, w as i32))
        .collect();
    result.push(share(green, percent as i32));
    result
}

fn describe_terminal_action(actions: &[Action]) -> String {
    match actions.last() {
        Some(action) => action.describe(),
        None => "no action".into(),
    }
}

#[cfg(test)]
mod tests;
