//! Operations on a running app, from the observed state alone (a spec only
//! adds its health threshold): `shift` moves weights by hand, `finalize` ends
//! a bake early, `destroy` removes every stack.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::cloud::{Action, Cloud, WeightedTargetGroup};
use crate::discovery::{Observed, ObservedRelease};
use crate::output::Printer;
use crate::spec::naming::TAG_BAKE_ENDS;
use crate::status::{ordered_releases, production, release_percent};
use crate::{Error, Result};

use super::teardown::{self, Removed};
use super::traffic::{forward_of, owner, TrafficWriter};

/// Deregistration delay assumed without a spec: AWS's default, an upper bound
/// for the drain wait (which ends as soon as draining does).
const DEFAULT_DEREGISTRATION_DELAY: Duration = Duration::from_secs(300);

/// What an operation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Done {
    pub points: Vec<String>,
    pub releases_removed: Vec<String>,
    pub instances_terminated: usize,
    pub target_groups_deleted: usize,
}

fn newest(observed: &Observed) -> Result<&ObservedRelease> {
    ordered_releases(observed)
        .last()
        .copied()
        .ok_or_else(|| Error::UnknownApp(observed.app.clone()))
}

fn healthy_enough(release: &ObservedRelease, min_percent: u32) -> bool {
    let (healthy, total) = release.healthy_count();
    total > 0 && healthy * 100 >= min_percent as usize * total
}

/// Puts `percent` on the newest release and the rest on the previous one.
pub async fn shift(
    cloud: &impl Cloud,
    observed: &Observed,
    percent: u32,
    min_healthy_percent: u32,
    printer: &Printer,
) -> Result<Done> {
    let ordered = ordered_releases(observed);
    let green = newest(observed)?;
    let green_arn = green
        .target_group
        .as_ref()
        .map(|tg| tg.arn.clone())
        .ok_or_else(|| {
            Error::Usage(format!(
                "release `{}` has no target group yet",
                green.release
            ))
        })?;
    if percent > 0 && !healthy_enough(green, min_healthy_percent) {
        let (healthy, total) = green.healthy_count();
        return Err(Error::Usage(format!(
            "release `{}` is not healthy enough to take traffic ({healthy}/{total} healthy, {min_healthy_percent}% needed)",
            green.release
        )));
    }
    let blue_arn = ordered
        .iter()
        .rev()
        .skip(1)
        .find(|r| r.target_group.is_some() && (percent == 100 || healthy_enough(r, 1)))
        .and_then(|r| r.target_group.as_ref().map(|tg| tg.arn.clone()));
    let mut writer = TrafficWriter::new(cloud, observed);
    let mut done = Done::default();
    for point in production(observed) {
        let groups = forward_of(&point.actions);
        if groups.is_empty() || !groups.iter().any(|g| g.arn == green_arn) {
            continue;
        }
        // Blue: the previous release, else what the point forwards to that is not ours.
        let blues: Vec<&WeightedTargetGroup> = groups
            .iter()
            .filter(|g| g.arn != green_arn)
            .filter(|g| match &blue_arn {
                Some(blue) => &g.arn == blue,
                None => observed.release_of_target_group(&g.arn).is_none(),
            })
            .collect();
        if blues.is_empty() && percent < 100 {
            return Err(Error::NothingToRollBackTo(observed.app.clone()));
        }
        let rest = 100 - percent as i32;
        let share = if blues.is_empty() {
            0
        } else {
            rest / blues.len() as i32
        };
        let mut extra = rest - share * blues.len() as i32;
        let new: Vec<WeightedTargetGroup> = groups
            .iter()
            .map(|g| {
                let weight = if g.arn == green_arn {
                    percent as i32
                } else if blues.iter().any(|b| b.arn == g.arn) {
                    let w = share + i32::from(extra > 0);
                    extra -= 1;
                    w.max(0)
                } else {
                    0
                };
                WeightedTargetGroup {
                    arn: g.arn.clone(),
                    weight,
                }
            })
            .collect();
        writer.write(point, new).await?;
        printer.step(&format!(
            "{}: {percent}% on release `{}`",
            point.label(),
            green.release
        ));
        done.points.push(point.label());
    }
    Ok(done)
}

/// Ends the bake now and tears down every release but the newest, which
/// must have all traffic and be healthy.
pub async fn finalize(
    cloud: &impl Cloud,
    observed: &Observed,
    deregistration_delay: Option<Duration>,
    printer: &Printer,
) -> Result<Done> {
    let green = newest(observed)?;
    let serving_all = production(observed).all(|p| {
        green
            .target_group
            .as_ref()
            .is_some_and(|tg| crate::status::percent_on(p, &tg.arn) == 100)
    });
    if !serving_all || release_percent(observed, green) < 100 {
        return Err(Error::Usage(format!(
            "release `{}` does not have all traffic yet: finish the shift (`bluegreen apply` or `bluegreen shift --percent 100`) first",
            green.release
        )));
    }
    if !healthy_enough(green, 100) {
        let (healthy, total) = green.healthy_count();
        return Err(Error::Usage(format!(
            "release `{}` is not healthy ({healthy}/{total}); finalizing would leave nothing to fall back to",
            green.release
        )));
    }
    let green_arn = green
        .target_group
        .as_ref()
        .map(|tg| tg.arn.clone())
        .unwrap_or_default();
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    cloud
        .add_tags(
            std::slice::from_ref(&green_arn),
            &BTreeMap::from([(TAG_BAKE_ENDS.to_string(), now)]),
        )
        .await?;
    let mut writer = TrafficWriter::new(cloud, observed);
    let mut done = Done::default();
    for point in production(observed) {
        let groups = forward_of(&point.actions);
        if groups.len() > 1 {
            writer
                .write(
                    point,
                    vec![WeightedTargetGroup {
                        arn: green_arn.clone(),
                        weight: 1,
                    }],
                )
                .await?;
            printer.step(&format!("{}: blue removed", point.label()));
            done.points.push(point.label());
        }
    }
    remove_health_rules(cloud, observed).await?;
    for release in observed
        .releases
        .iter()
        .filter(|r| r.release != green.release)
    {
        destroy_release(
            cloud,
            observed,
            release,
            deregistration_delay,
            printer,
            &mut done,
        )
        .await?;
    }
    Ok(done)
}

/// Removes every release of the app after taking it out of the listeners.
/// Refuses, before changing anything, when a listener would be left with
/// nothing to do, unless `force` (it then answers 503).
pub async fn destroy(
    cloud: &impl Cloud,
    observed: &Observed,
    force: bool,
    deregistration_delay: Option<Duration>,
    printer: &Printer,
) -> Result<Done> {
    let owned = |arn: &str| observed.release_of_target_group(arn).is_some();
    let mut rewrites = Vec::new();
    for point in production(observed) {
        let groups = forward_of(&point.actions);
        if !groups.iter().any(|g| owned(&g.arn)) {
            continue;
        }
        let others: Vec<WeightedTargetGroup> =
            groups.iter().filter(|g| !owned(&g.arn)).cloned().collect();
        let total: i32 = others.iter().map(|g| g.weight.max(0)).sum();
        let change = if !others.is_empty() {
            Ok(others
                .into_iter()
                .map(|g| WeightedTargetGroup {
                    weight: if total == 0 { 1 } else { g.weight },
                    ..g
                })
                .collect())
        } else if let Some(previous) = &point.previous_action {
            Err(previous.clone())
        } else if force {
            Err(Action::FixedResponse {
                status_code: "503".into(),
                content_type: Some("text/plain".into()),
                message_body: Some("Service Unavailable".into()),
            })
        } else {
            return Err(Error::Usage(format!(
                "{} forwards only to `{}`'s releases: destroying them would leave it nothing to do; pass `--force` to make it answer 503",
                point.label(),
                observed.app
            )));
        };
        rewrites.push((point, change));
    }
    let mut writer = TrafficWriter::new(cloud, observed);
    let mut done = Done::default();
    for (point, change) in rewrites {
        match change {
            Ok(groups) => writer.write(point, groups).await?,
            Err(action) => {
                cloud
                    .restore_action(owner(point), &point.arn, &action)
                    .await?
            }
        }
        printer.step(&format!("{}: the app's releases removed", point.label()));
        done.points.push(point.label());
    }
    remove_health_rules(cloud, observed).await?;
    for release in &observed.releases {
        destroy_release(
            cloud,
            observed,
            release,
            deregistration_delay,
            printer,
            &mut done,
        )
        .await?;
    }
    Ok(done)
}

async fn remove_health_rules(cloud: &impl Cloud, observed: &Observed) -> Result<()> {
    let rules: Vec<String> = observed
        .traffic
        .iter()
        .filter(|p| p.health_check_rule)
        .map(|p| p.arn.clone())
        .collect();
    teardown::delete_rules(cloud, &rules).await
}

async fn destroy_release(
    cloud: &impl Cloud,
    observed: &Observed,
    release: &ObservedRelease,
    deregistration_delay: Option<Duration>,
    printer: &Printer,
    done: &mut Done,
) -> Result<()> {
    let stack = teardown::Stack {
        app: observed.app.clone(),
        release: release.release.clone(),
        target_group_arn: release.target_group.as_ref().map(|tg| tg.arn.clone()),
        deregistration_delay: deregistration_delay.unwrap_or(DEFAULT_DEREGISTRATION_DELAY),
    };
    let removed: Removed = teardown::destroy(cloud, &stack, printer).await?;
    done.releases_removed.push(release.release.clone());
    done.instances_terminated += removed.instances;
    done.target_groups_deleted += removed.target_groups;
    Ok(())
}
