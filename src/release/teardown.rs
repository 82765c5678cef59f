//! Tearing a stack down: deregister its targets and let them drain,
//! terminate its instances and wait until they are gone, delete its target
//! group. Only what carries the app's tags is ever terminated or deleted: a
//! target somebody else registered is deregistered with the group, never
//! terminated.

use std::time::Duration;

use crate::cloud::{Cloud, TargetState};
use crate::output::Printer;
use crate::spec::naming::{TAG_APP, TAG_RELEASE};
use crate::Result;

use super::wait;

/// How long past the deregistration delay draining may take before we go on.
const DRAIN_MARGIN: Duration = Duration::from_secs(60);
/// How long terminating instances may take.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(600);

/// One stack to remove.
#[derive(Debug, Clone)]
pub struct Stack {
    pub app: String,
    pub release: String,
    pub target_group_arn: Option<String>,
    pub deregistration_delay: Duration,
}

/// Counts of what a teardown removed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Removed {
    pub instances: usize,
    pub target_groups: usize,
}

/// Removes `stack`; its target group must no longer be in any forward action.
pub async fn destroy(cloud: &impl Cloud, stack: &Stack, printer: &Printer) -> Result<Removed> {
    let mut removed = Removed::default();
    if let Some(arn) = &stack.target_group_arn {
        let targets: Vec<String> = cloud
            .describe_target_health(arn)
            .await?
            .into_iter()
            .map(|t| t.target_id)
            .collect();
        if !targets.is_empty() {
            cloud.deregister_targets(arn, &targets).await?;
            printer.step(&format!(
                "release `{}`: deregistered {} target(s), draining (up to {}s)",
                stack.release,
                targets.len(),
                stack.deregistration_delay.as_secs()
            ));
            let drained = wait::until(stack.deregistration_delay + DRAIN_MARGIN, || async {
                let health = cloud.describe_target_health(arn).await?;
                let draining = health.iter().any(|t| t.state == TargetState::Draining);
                Ok::<_, crate::Error>((!draining).then_some(()))
            })
            .await?;
            if drained.is_none() {
                printer.warn(&format!(
                    "release `{}`: targets still draining after {}s; terminating anyway",
                    stack.release,
                    (stack.deregistration_delay + DRAIN_MARGIN).as_secs()
                ));
            }
        }
    }

    // Ownership is read again now, from the instances' own tags.
    let owned: Vec<String> = cloud
        .describe_app_instances(&stack.app)
        .await?
        .into_iter()
        .filter(|i| {
            i.tags.get(TAG_APP) == Some(&stack.app)
                && i.tags.get(TAG_RELEASE) == Some(&stack.release)
        })
        .map(|i| i.id)
        .collect();
    if !owned.is_empty() {
        cloud.terminate_instances(&owned).await?;
        let gone = wait::until(TERMINATE_TIMEOUT, || async {
            let instances = cloud.describe_instances(&owned).await?;
            let done = instances.iter().all(|i| i.state == "terminated");
            Ok::<_, crate::Error>(done.then_some(()))
        })
        .await?;
        if gone.is_none() {
            printer.warn(&format!(
                "release `{}`: instances still shutting down after {}s",
                stack.release,
                TERMINATE_TIMEOUT.as_secs()
            ));
        }
        removed.instances = owned.len();
        printer.step(&format!(
            "release `{}`: terminated {} instance(s)",
            stack.release,
            owned.len()
        ));
    }

    if let Some(arn) = &stack.target_group_arn {
        let tags = cloud.describe_tags(std::slice::from_ref(arn)).await?;
        let ours = tags.get(arn).is_some_and(|t| {
            t.get(TAG_APP) == Some(&stack.app) && t.get(TAG_RELEASE) == Some(&stack.release)
        });
        if ours {
            match cloud.delete_target_group(arn).await {
                Ok(()) => removed.target_groups = 1,
                Err(err) if err.is_not_found() => {}
                Err(err) => return Err(err.into()),
            }
            printer.step(&format!(
                "release `{}`: deleted its target group",
                stack.release
            ));
        }
    }
    Ok(removed)
}

/// Deletes rules the tool made; one already gone counts as deleted.
pub async fn delete_rules(cloud: &impl Cloud, rule_arns: &[String]) -> Result<()> {
    for rule in rule_arns {
        match cloud.delete_rule(rule).await {
            Ok(()) => {}
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
