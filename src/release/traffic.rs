//! Writing weights: every write re-reads the listener or rule first and
//! refuses to go on when its weights are not what this run last saw or
//! wrote (someone or something else changed them), then records what it
//! wrote in the weights tag so that `plan` can report drift later.

use std::collections::BTreeMap;

use crate::cloud::{Action, ActionsOwner, Cloud, WeightedTargetGroup};
use crate::discovery::{format_recorded_weights, weights_tag, Observed, PointKind, TrafficPoint};
use crate::{Error, Result};

/// Which resource holds a point's actions.
pub fn owner(point: &TrafficPoint) -> ActionsOwner {
    match point.kind {
        PointKind::Listener => ActionsOwner::Listener,
        PointKind::Rule => ActionsOwner::Rule,
    }
}

/// The forward action's target groups, empty when the actions do not forward.
pub fn forward_of(actions: &[Action]) -> Vec<WeightedTargetGroup> {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Forward { target_groups, .. } => Some(target_groups.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn sorted(groups: &[WeightedTargetGroup]) -> Vec<(String, i32)> {
    let mut pairs: Vec<_> = groups.iter().map(|g| (g.arn.clone(), g.weight)).collect();
    pairs.sort();
    pairs
}

/// Writes weights, one listener or rule at a time, with the checks above.
pub struct TrafficWriter<'a, C: Cloud> {
    cloud: &'a C,
    app: String,
    /// Target-group names by ARN, for messages and the weights tag.
    names: BTreeMap<String, String>,
    /// What each point held when last read or written, by ARN.
    expected: BTreeMap<String, Vec<WeightedTargetGroup>>,
    /// Writes made, for the summary.
    pub writes: usize,
}

impl<'a, C: Cloud> TrafficWriter<'a, C> {
    pub fn new(cloud: &'a C, observed: &Observed) -> Self {
        Self {
            cloud,
            app: observed.app.clone(),
            names: observed.target_group_names.clone(),
            expected: observed
                .traffic
                .iter()
                .map(|p| (p.arn.clone(), forward_of(&p.actions)))
                .collect(),
            writes: 0,
        }
    }

    /// Makes `name` known for `arn` (green, once created).
    pub fn name_target_group(&mut self, arn: &str, name: &str) {
        self.names.insert(arn.to_string(), name.to_string());
    }

    fn describe(&self, groups: &[WeightedTargetGroup]) -> String {
        if groups.is_empty() {
            return "no forward".into();
        }
        let total: i32 = groups.iter().map(|g| g.weight.max(0)).sum();
        groups
            .iter()
            .map(|g| {
                let name = self.names.get(&g.arn).map(String::as_str).unwrap_or(&g.arn);
                let percent = if total == 0 {
                    0
                } else {
                    g.weight.max(0) * 100 / total
                };
                format!("{name} {percent}%")
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// What `point` holds as far as this run knows, for people.
    pub fn current(&self, point: &TrafficPoint) -> String {
        self.describe(&self.expected.get(&point.arn).cloned().unwrap_or_default())
    }

    /// Re-reads `point` and checks it still holds what this run expects.
    pub async fn verify(&self, point: &TrafficPoint) -> Result<()> {
        let now = forward_of(
            &self
                .cloud
                .describe_actions(owner(point), &point.arn)
                .await?,
        );
        let expected = self.expected.get(&point.arn).cloned().unwrap_or_default();
        if sorted(&now) == sorted(&expected) {
            return Ok(());
        }
        Err(Error::Conflict {
            point: point.label(),
            expected: self.describe(&expected),
            actual: self.describe(&now),
        })
    }

    /// Re-reads `point`, checks it still holds what we expect, and writes `groups`.
    pub async fn write(
        &mut self,
        point: &TrafficPoint,
        groups: Vec<WeightedTargetGroup>,
    ) -> Result<()> {
        self.verify(point).await?;
        self.write_unchecked(point, groups).await
    }

    /// Writes without re-reading: for the emergency revert, where speed
    /// matters more than noticing a concurrent change.
    pub async fn write_unchecked(
        &mut self,
        point: &TrafficPoint,
        groups: Vec<WeightedTargetGroup>,
    ) -> Result<()> {
        self.cloud
            .write_forward(owner(point), &point.arn, &groups)
            .await?;
        self.writes += 1;
        let recorded: BTreeMap<String, i32> = groups
            .iter()
            .map(|g| {
                (
                    self.names
                        .get(&g.arn)
                        .cloned()
                        .unwrap_or_else(|| g.arn.clone()),
                    g.weight,
                )
            })
            .collect();
        self.expected.insert(point.arn.clone(), groups);
        let tags = BTreeMap::from([(weights_tag(&self.app), format_recorded_weights(&recorded))]);
        self.cloud
            .add_tags(std::slice::from_ref(&point.arn), &tags)
            .await?;
        Ok(())
    }

    /// Notes that a point now holds `groups` (after a restore or takeover
    /// written by other means).
    pub fn expect(&mut self, point: &TrafficPoint, groups: Vec<WeightedTargetGroup>) {
        self.expected.insert(point.arn.clone(), groups);
    }
}
