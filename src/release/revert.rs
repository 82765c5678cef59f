//! The emergency revert: every listener and rule of the app back to the
//! previous release in one write each, then one read-back to confirm. It
//! needs no spec, never waits and never polls.

use std::collections::BTreeMap;

use futures::future::try_join_all;
use serde::Serialize;

use crate::cloud::{Action, Cloud, WeightedTargetGroup};
use crate::discovery::{format_recorded_weights, weights_tag, Observed, TrafficPoint};
use crate::spec::naming::TAG_ROLLED_BACK;
use crate::status::{ordered_releases, percent_on, production, release_percent};
use crate::{Error, Result};

use super::traffic::{forward_of, owner};

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollback {
    /// The release that lost its traffic.
    pub from: String,
    /// What took it: a release, a target group the tool does not own, or a restored action.
    pub to: String,
    /// The listeners and rules rewritten.
    pub points: Vec<String>,
}

enum Target {
    /// Forward everything to this group, keeping the others at weight 0.
    Group { arn: String, label: String },
    /// Forward to the groups bluegreen does not own that each point already holds.
    Foreign,
    /// Put back the action a first release took over.
    PreviousAction,
}

/// Decides where traffic goes back to, and what that means per point.
fn choose(observed: &Observed) -> Result<(String, Target)> {
    let ordered = ordered_releases(observed);
    let current = ordered
        .iter()
        .rev()
        .find(|r| release_percent(observed, r) > 0)
        .ok_or_else(|| Error::NothingToRollBackTo(observed.app.clone()))?;
    let position = ordered
        .iter()
        .position(|r| r.release == current.release)
        .unwrap_or(0);
    let previous = ordered[..position]
        .iter()
        .rev()
        .find(|r| r.target_group.is_some() && r.healthy_count().0 > 0);
    if let Some(previous) = previous {
        let tg = previous
            .target_group
            .as_ref()
            .map(|tg| tg.arn.clone())
            .unwrap_or_default();
        return Ok((
            current.release.clone(),
            Target::Group {
                arn: tg,
                label: format!("release `{}`", previous.release),
            },
        ));
    }
    let foreign = production(observed).any(|p| {
        p.forward().is_some_and(|groups| {
            groups
                .iter()
                .any(|g| observed.release_of_target_group(&g.arn).is_none())
        })
    });
    if foreign {
        return Ok((current.release.clone(), Target::Foreign));
    }
    if production(observed).any(|p| p.previous_action.is_some()) {
        return Ok((current.release.clone(), Target::PreviousAction));
    }
    Err(Error::NothingToRollBackTo(observed.app.clone()))
}

/// The new forward of `point`, or the action to restore.
fn rewrite(
    observed: &Observed,
    point: &TrafficPoint,
    target: &Target,
) -> Option<Result<Vec<WeightedTargetGroup>, Action>> {
    let groups = forward_of(&point.actions);
    match target {
        Target::Group { arn, .. } => {
            let mut out: Vec<WeightedTargetGroup> = groups
                .iter()
                .filter(|g| &g.arn != arn)
                .map(|g| WeightedTargetGroup {
                    arn: g.arn.clone(),
                    weight: 0,
                })
                .collect();
            out.push(WeightedTargetGroup {
                arn: arn.clone(),
                weight: 1,
            });
            Some(Ok(out))
        }
        Target::Foreign => {
            if !groups
                .iter()
                .any(|g| observed.release_of_target_group(&g.arn).is_none())
            {
                return None;
            }
            Some(Ok(groups
                .iter()
                .map(|g| WeightedTargetGroup {
                    arn: g.arn.clone(),
                    weight: i32::from(observed.release_of_target_group(&g.arn).is_none()),
                })
                .collect()))
        }
        Target::PreviousAction => point.previous_action.clone().map(Err),
    }
}

/// Reverts `observed`'s app; `observed` must come from a fresh discovery.
pub async fn rollback(cloud: &impl Cloud, observed: &Observed) -> Result<Rollback> {
    let (from, target) = choose(observed)?;
    let points: Vec<(&TrafficPoint, Result<Vec<WeightedTargetGroup>, Action>)> =
        production(observed)
            .filter_map(|p| rewrite(observed, p, &target).map(|change| (p, change)))
            .collect();
    let tag_key = weights_tag(&observed.app);

    // One write per point, all at once.
    try_join_all(points.iter().map(|(point, change)| {
        let tag_key = tag_key.clone();
        async move {
            match change {
                Ok(groups) => {
                    cloud
                        .write_forward(owner(point), &point.arn, groups)
                        .await?;
                    let recorded: BTreeMap<String, i32> = groups
                        .iter()
                        .map(|g| (observed.target_group_name(&g.arn).to_string(), g.weight))
                        .collect();
                    cloud
                        .add_tags(
                            std::slice::from_ref(&point.arn),
                            &BTreeMap::from([(tag_key, format_recorded_weights(&recorded))]),
                        )
                        .await?;
                }
                Err(action) => {
                    cloud
                        .restore_action(owner(point), &point.arn, action)
                        .await?
                }
            }
            Ok::<_, Error>(())
        }
    }))
    .await?;

    // One read-back per point: the revert is only done when AWS says so.
    let confirmed = try_join_all(points.iter().map(|(point, change)| async move {
        let now = cloud.describe_actions(owner(point), &point.arn).await?;
        let ok = match change {
            Ok(groups) => {
                let wanted: Vec<_> = groups
                    .iter()
                    .filter(|g| g.weight > 0)
                    .map(|g| &g.arn)
                    .collect();
                let mut after = (*point).clone();
                after.actions = now;
                wanted
                    .iter()
                    .map(|arn| percent_on(&after, arn))
                    .sum::<u32>()
                    >= 99
            }
            Err(action) => now.last().map(|a| a.describe()) == Some(action.describe()),
        };
        Ok::<_, Error>((point.label(), ok))
    }))
    .await?;
    if let Some((label, _)) = confirmed.iter().find(|(_, ok)| !ok) {
        return Err(Error::Usage(format!(
            "`{label}` does not show the reverted weights after the write: check it with `bluegreen status --app {}`",
            observed.app
        )));
    }

    if let Some(tg) = observed
        .release(&from)
        .and_then(|r| r.target_group.as_ref())
    {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        cloud
            .add_tags(
                std::slice::from_ref(&tg.arn),
                &BTreeMap::from([(TAG_ROLLED_BACK.to_string(), now)]),
            )
            .await?;
    }
    let to = match &target {
        Target::Group { label, .. } => label.clone(),
        Target::Foreign => "the target groups from before bluegreen".into(),
        Target::PreviousAction => "the actions from before bluegreen".into(),
    };
    Ok(Rollback {
        from,
        to,
        points: confirmed.into_iter().map(|(label, _)| label).collect(),
    })
}
