//! `status`: where an app's releases stand, from the observed state alone:
//! each release's target group, instances and health, the weights on each
//! listener and rule, and the phase of the newest release.

use serde::Serialize;

use crate::discovery::{Observed, ObservedRelease, TrafficPoint};
use crate::spec::naming::{TAG_BAKE_ENDS, TAG_CREATED_AT, TAG_ROLLED_BACK};

/// The whole picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub app: String,
    /// The newest release, whose progress `phase` describes.
    pub release: Option<String>,
    pub phase: Phase,
    pub releases: Vec<ReleaseStatus>,
    pub traffic: Vec<PointStatus>,
}

/// Where the newest release is in its cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    /// No release exists.
    None,
    /// Green's instances or target group are being made.
    Preparing,
    /// Green is attached without traffic, being health-checked.
    Testing,
    Shifting {
        percent: u32,
    },
    Baking {
        until: String,
    },
    /// All traffic on green; blue still to be torn down.
    BakeOver,
    Done,
    RolledBack,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::None => write!(f, "no release"),
            Phase::Preparing => write!(f, "preparing"),
            Phase::Testing => write!(f, "testing"),
            Phase::Shifting { percent } => write!(f, "shifting {percent}%"),
            Phase::Baking { until } => write!(f, "baking until {until}"),
            Phase::BakeOver => write!(f, "bake over, blue still to tear down"),
            Phase::Done => write!(f, "done"),
            Phase::RolledBack => write!(f, "rolled back"),
        }
    }
}

/// One release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseStatus {
    pub release: String,
    pub target_group: Option<String>,
    pub created_at: Option<String>,
    pub instances: Vec<InstanceStatus>,
    pub healthy: usize,
    pub registered: usize,
    /// Its largest share of any production listener or rule, in percent.
    pub percent: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStatus {
    pub id: String,
    pub state: String,
}

/// One listener default action or rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointStatus {
    pub label: String,
    pub arn: String,
    pub test_listener: bool,
    pub shares: Vec<ShareStatus>,
    /// What the point does when it does not forward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareStatus {
    pub target_group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    pub weight: i32,
    pub percent: u32,
}

/// Releases oldest first: by the creation tag, then by name.
pub fn ordered_releases(observed: &Observed) -> Vec<&ObservedRelease> {
    let mut releases: Vec<&ObservedRelease> = observed.releases.iter().collect();
    releases.sort_by(|a, b| {
        (a.target_group_tags.get(TAG_CREATED_AT), &a.release)
            .cmp(&(b.target_group_tags.get(TAG_CREATED_AT), &b.release))
    });
    releases
}

/// The points that carry production traffic.
pub fn production(observed: &Observed) -> impl Iterator<Item = &TrafficPoint> {
    observed
        .traffic
        .iter()
        .filter(|p| !p.is_test_listener && !p.health_check_rule)
}

/// A target group's share of a point, in percent.
pub fn percent_on(point: &TrafficPoint, target_group_arn: &str) -> u32 {
    let Some(groups) = point.forward() else {
        return 0;
    };
    let total: i64 = groups.iter().map(|g| i64::from(g.weight.max(0))).sum();
    if total == 0 {
        return 0;
    }
    let mine: i64 = groups
        .iter()
        .filter(|g| g.arn == target_group_arn)
        .map(|g| i64::from(g.weight.max(0)))
        .sum();
    ((mine * 100 + total / 2) / total) as u32
}

/// A release's largest share of any production point.
pub fn release_percent(observed: &Observed, release: &ObservedRelease) -> u32 {
    let Some(tg) = &release.target_group else {
        return 0;
    };
    production(observed)
        .map(|p| percent_on(p, &tg.arn))
        .max()
        .unwrap_or(0)
}

/// Builds the status from what discovery saw.
pub fn status(observed: &Observed) -> Status {
    let ordered = ordered_releases(observed);
    let releases: Vec<ReleaseStatus> = ordered
        .iter()
        .map(|r| {
            let (healthy, registered) = r.healthy_count();
            ReleaseStatus {
                release: r.release.clone(),
                target_group: r.target_group.as_ref().map(|tg| tg.name.clone()),
                created_at: r.target_group_tags.get(TAG_CREATED_AT).cloned(),
                instances: r
                    .instances
                    .iter()
                    .map(|i| InstanceStatus {
                        id: i.id.clone(),
                        state: i.state.clone(),
                    })
                    .collect(),
                healthy,
                registered,
                percent: release_percent(observed, r),
            }
        })
        .collect();
    let traffic = observed
        .traffic
        .iter()
        .filter(|p| !p.health_check_rule)
        .map(|p| {
            let shares = p
                .forward()
                .unwrap_or_default()
                .iter()
                .map(|g| ShareStatus {
                    target_group: observed.target_group_name(&g.arn).to_string(),
                    release: observed
                        .release_of_target_group(&g.arn)
                        .map(|r| r.release.clone()),
                    weight: g.weight,
                    percent: percent_on(p, &g.arn),
                })
                .collect();
            PointStatus {
                label: p.label(),
                arn: p.arn.clone(),
                test_listener: p.is_test_listener,
                shares,
                action: p
                    .forward()
                    .is_none()
                    .then(|| p.actions.last().map(|a| a.describe()).unwrap_or_default()),
            }
        })
        .collect();
    let newest = ordered.last();
    let phase = match newest {
        None => Phase::None,
        Some(newest) => phase_of(observed, newest, ordered.len() > 1),
    };
    Status {
        app: observed.app.clone(),
        release: newest.map(|r| r.release.clone()),
        phase,
        releases,
        traffic,
    }
}

fn phase_of(observed: &Observed, newest: &ObservedRelease, has_older: bool) -> Phase {
    let Some(tg) = &newest.target_group else {
        return Phase::Preparing;
    };
    let percent = release_percent(observed, newest);
    if percent == 0 && newest.target_group_tags.contains_key(TAG_ROLLED_BACK) {
        return Phase::RolledBack;
    }
    let attached = observed.traffic.iter().any(|p| {
        p.forward()
            .is_some_and(|g| g.iter().any(|g| g.arn == tg.arn))
    });
    let others_attached = production(observed).any(|p| {
        p.forward()
            .is_some_and(|g| g.iter().any(|g| g.arn != tg.arn))
    });
    match percent {
        0 if attached => Phase::Testing,
        0 => Phase::Preparing,
        100 if has_older || others_attached => match newest.target_group_tags.get(TAG_BAKE_ENDS) {
            Some(until) => {
                let over = humantime::parse_rfc3339(until)
                    .map(|t| t <= std::time::SystemTime::now())
                    .unwrap_or(false);
                if over {
                    Phase::BakeOver
                } else {
                    Phase::Baking {
                        until: until.clone(),
                    }
                }
            }
            None => Phase::Shifting { percent },
        },
        100 => Phase::Done,
        percent => Phase::Shifting { percent },
    }
}

/// `status` for people: releases, then each listener's split as a bar.
pub fn render(status: &Status) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "app `{}`: {}{}",
        status.app,
        status
            .release
            .as_deref()
            .map(|r| format!("release `{r}` "))
            .unwrap_or_default(),
        status.phase
    );
    if !status.releases.is_empty() {
        let _ = writeln!(
            out,
            "\n  {:<14} {:<28} {:>9} {:>8} {:>8}",
            "RELEASE", "TARGET GROUP", "INSTANCES", "HEALTHY", "TRAFFIC"
        );
        for r in &status.releases {
            let _ = writeln!(
                out,
                "  {:<14} {:<28} {:>9} {:>8} {:>7}%",
                r.release,
                r.target_group.as_deref().unwrap_or("-"),
                r.instances.len(),
                format!("{}/{}", r.healthy, r.registered),
                r.percent
            );
        }
    }
    for point in &status.traffic {
        let kind = if point.test_listener { " (test)" } else { "" };
        let _ = writeln!(out, "\n  {}{kind}", point.label);
        if let Some(action) = &point.action {
            let _ = writeln!(out, "    {action}");
        }
        for share in &point.shares {
            let filled = (share.percent as usize + 2) / 5;
            let _ = writeln!(
                out,
                "    {:<28} {}{} {:>3}%",
                share.target_group,
                "█".repeat(filled),
                "░".repeat(20 - filled.min(20)),
                share.percent
            );
        }
    }
    out
}
