//! The release cycle: carries out a plan's actions in order — prepare green,
//! get it health-checked, run the hooks, shift traffic in steps while
//! watching green's health, bake, tear blue down — and reverts to blue when
//! green fails.
//!
//! The plan is made from the observed state, so a second `apply` after a
//! stop continues where the first one left off; within a run every write
//! is checked against what AWS holds at that moment ([`traffic`]).

pub mod hooks;
pub mod lock;
pub mod operate;
pub mod revert;
pub mod signal;
pub mod teardown;
pub mod traffic;
pub mod wait;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::cloud::{Action, Cloud, NewInstances, NewTargetGroup, TargetState, WeightedTargetGroup};
use crate::discovery::{
    encode_action, previous_action_tag, Observed, ObservedRelease, PointKind, TrafficPoint,
};
use crate::output::Printer;
use crate::plan::{Plan, PlannedAction, TrafficChange};
use crate::spec::naming::{
    self, TAG_APP, TAG_BAKE_ENDS, TAG_CREATED_AT, TAG_HEALTH_CHECK_RULE, TAG_RELEASE, TAG_SETTINGS,
};
use crate::spec::Spec;
use crate::{Error, Result};

use traffic::{forward_of, TrafficWriter};

/// How long launched instances may take to reach `running`.
const RUNNING_TIMEOUT: Duration = Duration::from_secs(600);

/// How a release ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do.
    NoChanges,
    /// The spec's release serves all traffic.
    Released,
    /// Green failed and traffic is back on blue; green was removed.
    RolledBack { reason: String },
}

/// How to run a release.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// When green fails, keep its instances and target group (out of the
    /// listeners) for debugging instead of removing them.
    pub keep_failed: bool,
}

/// What happened, for the closing summary.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub phases: Vec<(String, Duration)>,
    pub instances_created: usize,
    pub instances_terminated: usize,
    pub target_groups_deleted: usize,
    pub listener_writes: usize,
}

/// Why green was given up on: these trigger the automatic rollback.
#[derive(Debug)]
enum StepError {
    Green(String),
    /// A signal asked to stop; the run is at a safe point.
    Stopped,
    Other(Error),
}

impl wait::Transient for StepError {
    fn is_transient(&self) -> bool {
        matches!(self, StepError::Other(err) if wait::Transient::is_transient(err))
    }
}

impl<E: Into<Error>> From<E> for StepError {
    fn from(err: E) -> Self {
        StepError::Other(err.into())
    }
}

/// Carries out `plan`, made from `observed` for `spec`.
pub async fn apply(
    cloud: &impl Cloud,
    spec: &Spec,
    plan: &Plan,
    observed: &Observed,
    options: &Options,
    printer: &Printer,
) -> Result<(Outcome, Report)> {
    let mut run = Run::new(cloud, spec, plan, observed, printer);
    run.keep_failed = options.keep_failed;
    if plan.is_empty() {
        return Ok((Outcome::NoChanges, run.report));
    }
    for action in &plan.actions {
        let started = Instant::now();
        let result = match signal::requested() {
            true => Err(StepError::Stopped),
            false => run.execute(action).await,
        };
        // A wait cut short by a signal is not a verdict on green.
        let result = match result {
            Err(StepError::Green(_)) | Ok(()) if signal::requested() => Err(StepError::Stopped),
            other => other,
        };
        run.report
            .phases
            .push((phase_name(action), started.elapsed()));
        match result {
            Ok(()) => {}
            Err(StepError::Green(reason)) if spec.rollout.auto_rollback => {
                printer.warn(&format!("{reason}: rolling back to blue"));
                run.roll_back().await?;
                run.report.listener_writes = run.writer.writes;
                return Ok((Outcome::RolledBack { reason }, run.report));
            }
            Err(StepError::Green(reason)) => {
                return Err(Error::GreenFailed {
                    reason,
                    app: spec.app.clone(),
                })
            }
            // Someone else changed the weights: they are in charge now.
            Err(StepError::Other(err @ Error::Conflict { .. })) => return Err(err),
            // Green serves everything and blue is out of the listeners:
            // going back would be the wrong way. A re-run finishes the job.
            Err(StepError::Other(err)) if is_cleanup(action) => {
                printer.warn(&format!(
                    "`{}` serves all traffic; cleaning up after it failed: run `bluegreen apply` again to finish",
                    spec.release
                ));
                return Err(err);
            }
            Err(StepError::Stopped) => {
                return Err(Error::Interrupted {
                    state: run.where_production_stands(),
                })
            }
            Err(StepError::Other(err)) => {
                // Not green's fault, but the release cannot go on: production
                // goes back to blue and what this release made is removed.
                printer.warn(&format!(
                    "{err}; putting production back on blue and removing `{}`",
                    spec.release
                ));
                if let Err(cleanup) = run.roll_back().await {
                    printer.warn(&format!(
                        "putting production back failed too ({cleanup}): run `bluegreen rollback --app {}`",
                        spec.app
                    ));
                }
                return Err(err);
            }
        }
    }
    run.report.listener_writes = run.writer.writes;
    Ok((Outcome::Released, run.report))
}

/// Steps after which the release stands even if they fail.
fn is_cleanup(action: &PlannedAction) -> bool {
    matches!(
        action,
        PlannedAction::DetachTargetGroups { .. }
            | PlannedAction::DestroyStack { .. }
            | PlannedAction::RemoveHealthCheckRules
    )
}

fn phase_name(action: &PlannedAction) -> String {
    match action {
        PlannedAction::CreateTargetGroup { .. } => "create target group".into(),
        PlannedAction::UpdateTargetGroup { .. } => "update target group".into(),
        PlannedAction::TerminateInstances { .. } => "replace instances".into(),
        PlannedAction::LaunchInstances { .. } => "launch".into(),
        PlannedAction::RegisterTargets { .. } => "register".into(),
        PlannedAction::AttachForHealthChecks { .. } => "attach".into(),
        PlannedAction::WaitHealthy { .. } => "health".into(),
        PlannedAction::RunHooks { phase, .. } => format!("hooks {phase}"),
        PlannedAction::ShiftTraffic { percent, .. } => format!("shift {percent}%"),
        PlannedAction::Bake { .. } => "bake".into(),
        PlannedAction::DetachTargetGroups { .. } => "detach blue".into(),
        PlannedAction::RemoveHealthCheckRules => "remove health-check rules".into(),
        PlannedAction::DestroyStack { release, .. } => format!("tear down {release}"),
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

struct Run<'a, C: Cloud> {
    cloud: &'a C,
    spec: &'a Spec,
    plan: &'a Plan,
    observed: &'a Observed,
    printer: &'a Printer,
    green_name: String,
    green_arn: Option<String>,
    green_instances: Vec<String>,
    writer: TrafficWriter<'a, C>,
    /// Health-check rules made by this run or found from an earlier one.
    health_rules: Vec<String>,
    /// Percent of traffic on green, while it moves.
    steps_bar: Option<indicatif::ProgressBar>,
    keep_failed: bool,
    report: Report,
}

impl<'a, C: Cloud> Run<'a, C> {
    fn new(
        cloud: &'a C,
        spec: &'a Spec,
        plan: &'a Plan,
        observed: &'a Observed,
        printer: &'a Printer,
    ) -> Self {
        let green = observed.release(&spec.release);
        Self {
            cloud,
            spec,
            plan,
            observed,
            printer,
            green_name: plan.green.target_group_name.clone(),
            green_arn: green
                .and_then(|g| g.target_group.as_ref())
                .map(|tg| tg.arn.clone()),
            green_instances: plan.green.existing_instance_ids.clone(),
            writer: TrafficWriter::new(cloud, observed),
            health_rules: observed
                .traffic
                .iter()
                .filter(|p| p.health_check_rule)
                .map(|p| p.arn.clone())
                .collect(),
            steps_bar: None,
            keep_failed: false,
            report: Report::default(),
        }
    }

    fn green(&self) -> Option<&'a ObservedRelease> {
        self.observed.release(&self.spec.release)
    }

    fn green_arn(&self) -> Result<&str> {
        self.green_arn.as_deref().ok_or_else(|| {
            Error::Usage(format!("target group `{}` does not exist", self.green_name))
        })
    }

    fn point(&self, change: &TrafficChange) -> Option<&'a TrafficPoint> {
        self.observed.traffic.iter().find(|p| p.arn == change.arn)
    }

    /// One line for a stopped run: the weights as last written, and what to do.
    fn where_production_stands(&self) -> String {
        let points: Vec<String> = self
            .plan
            .traffic
            .iter()
            .filter_map(|change| {
                let point = self.point(change)?;
                Some(format!(
                    "{} has {}",
                    change.label,
                    self.writer.current(point)
                ))
            })
            .collect();
        format!(
            "{}; `bluegreen apply` continues the release, `bluegreen rollback --app {}` reverts it",
            points.join(", "),
            self.spec.app
        )
    }

    /// Target-group ARNs by name: the observed ones and green.
    fn arn_of(&self, name: &str) -> Option<String> {
        if name == self.green_name {
            return self.green_arn.clone();
        }
        self.observed
            .target_group_names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(arn, _)| arn.clone())
    }

    fn groups(&self, shares: &[crate::plan::Share]) -> Result<Vec<WeightedTargetGroup>> {
        shares
            .iter()
            .map(|s| {
                Ok(WeightedTargetGroup {
                    arn: self.arn_of(&s.target_group).ok_or_else(|| {
                        Error::Usage(format!("target group `{}` is unknown", s.target_group))
                    })?,
                    weight: s.weight,
                })
            })
            .collect()
    }

    async fn execute(&mut self, action: &PlannedAction) -> Result<(), StepError> {
        match action {
            PlannedAction::CreateTargetGroup { name } => self.create_target_group(name).await?,
            PlannedAction::UpdateTargetGroup { name, .. } => {
                self.cloud
                    .modify_health_check(self.green_arn()?, &self.spec.target_group.health_check)
                    .await?;
                self.printer
                    .step(&format!("updated the health check of {name}"));
            }
            PlannedAction::TerminateInstances { instance_ids, .. } => {
                // Only instances discovery found under green's own tags.
                let owned: Vec<String> = self
                    .green()
                    .map(|g| {
                        g.instances
                            .iter()
                            .filter(|i| instance_ids.contains(&i.id))
                            .map(|i| i.id.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if !owned.is_empty() {
                    // Out of the target group first, so they count neither way.
                    let registered: Vec<String> = match &self.green_arn {
                        Some(arn) => self
                            .cloud
                            .describe_target_health(arn)
                            .await?
                            .into_iter()
                            .map(|t| t.target_id)
                            .filter(|id| owned.contains(id))
                            .collect(),
                        None => Vec::new(),
                    };
                    if let (Some(arn), false) = (&self.green_arn, registered.is_empty()) {
                        self.cloud.deregister_targets(arn, &registered).await?;
                    }
                    self.cloud.terminate_instances(&owned).await?;
                    self.report.instances_terminated += owned.len();
                    self.printer.step(&format!(
                        "terminated {} instance(s) of green that differ from the spec",
                        owned.len()
                    ));
                }
            }
            PlannedAction::LaunchInstances { count } => self.launch(*count).await?,
            PlannedAction::RegisterTargets { .. } => self.register().await?,
            PlannedAction::AttachForHealthChecks { .. } => self.attach().await?,
            PlannedAction::WaitHealthy {
                timeout_seconds, ..
            } => self.wait_healthy(*timeout_seconds).await?,
            PlannedAction::RunHooks { phase, .. } => self.run_hooks(phase).await?,
            PlannedAction::ShiftTraffic {
                percent,
                wait_seconds,
                ..
            } => self.shift(*percent, *wait_seconds).await?,
            PlannedAction::Bake { seconds } => self.bake(*seconds).await?,
            PlannedAction::DetachTargetGroups { .. } => self.detach_blue().await?,
            PlannedAction::RemoveHealthCheckRules => self.remove_health_rules().await?,
            PlannedAction::DestroyStack { release, .. } => {
                let blue = self.observed.release(release);
                let arn = blue
                    .and_then(|b| b.target_group.as_ref())
                    .map(|tg| tg.arn.clone());
                self.tear_down(release, arn).await?;
            }
        }
        Ok(())
    }

    async fn create_target_group(&mut self, name: &str) -> Result<()> {
        let target_group = &self.spec.target_group;
        let tags = BTreeMap::from([
            (TAG_APP.to_string(), self.spec.app.clone()),
            (TAG_RELEASE.to_string(), self.spec.release.clone()),
            (
                TAG_SETTINGS.to_string(),
                naming::target_group_settings_hash(target_group),
            ),
            (TAG_CREATED_AT.to_string(), now_rfc3339()),
        ]);
        let arn = self
            .cloud
            .create_target_group(&NewTargetGroup {
                name: name.to_string(),
                port: target_group.port,
                protocol: target_group.protocol.clone(),
                vpc_id: target_group.vpc_id.clone(),
                health_check: target_group.health_check.clone(),
                deregistration_delay_seconds: target_group.deregistration_delay_seconds,
                tags,
            })
            .await?;
        self.writer.name_target_group(&arn, name);
        self.green_arn = Some(arn);
        self.printer.step(&format!("created target group {name}"));
        Ok(())
    }

    async fn launch(&mut self, count: u32) -> Result<(), StepError> {
        let instances = &self.spec.instances;
        let mut tags = instances.tags.clone();
        tags.insert(TAG_APP.into(), self.spec.app.clone());
        tags.insert(TAG_RELEASE.into(), self.spec.release.clone());
        tags.insert(
            TAG_SETTINGS.into(),
            naming::instance_settings_hash(instances),
        );
        tags.insert("Name".into(), self.green_name.clone());
        let subnets = &instances.subnet_ids;
        let bar = self.printer.bar(u64::from(count), "instances running");
        let mut launched = Vec::new();
        for (batch, subnet) in subnets.iter().enumerate() {
            // Spread evenly: the first `count % n` subnets take one more.
            let share = count / subnets.len() as u32
                + u32::from((batch as u32) < count % subnets.len() as u32);
            if share == 0 {
                continue;
            }
            let token = naming::sha256_hex(
                format!(
                    "{}/{}/{}/{batch}/{share}",
                    self.spec.app, self.spec.release, self.plan.green.instances.settings_hash
                )
                .as_bytes(),
            );
            let ids = self
                .cloud
                .run_instances(&NewInstances {
                    count: share,
                    subnet_id: subnet.clone(),
                    client_token: token[..32].to_string(),
                    image_id: instances.image_id.clone(),
                    instance_type: instances.instance_type.clone(),
                    security_group_ids: instances.security_group_ids.clone(),
                    key_name: instances.key_name.clone(),
                    iam_instance_profile: instances.iam_instance_profile.clone(),
                    user_data: instances.user_data.clone(),
                    launch_template: instances.launch_template.clone(),
                    tags: tags.clone(),
                })
                .await?;
            launched.extend(ids);
        }
        self.report.instances_created += launched.len();
        self.printer
            .step(&format!("launched {} instance(s)", launched.len()));
        let running = wait::until(RUNNING_TIMEOUT, || async {
            let described = self.cloud.describe_instances(&launched).await?;
            let up = described.iter().filter(|i| i.state == "running").count();
            bar.set_position(up as u64);
            if let Some(dead) = described
                .iter()
                .find(|i| i.state == "terminated" || i.state == "shutting-down")
            {
                return Err(StepError::Green(format!(
                    "instance {} stopped while launching ({})",
                    dead.id, dead.state
                )));
            }
            Ok((up == launched.len()).then_some(()))
        })
        .await?;
        bar.finish_and_clear();
        if running.is_none() {
            return Err(StepError::Green(format!(
                "instances were not running after {}s",
                RUNNING_TIMEOUT.as_secs()
            )));
        }
        self.printer
            .step(&format!("{} instance(s) running", launched.len()));
        self.green_instances.extend(launched);
        Ok(())
    }

    async fn register(&mut self) -> Result<()> {
        let arn = self.green_arn()?.to_string();
        let registered: Vec<String> = self
            .cloud
            .describe_target_health(&arn)
            .await?
            .into_iter()
            .map(|t| t.target_id)
            .collect();
        let missing: Vec<String> = self
            .green_instances
            .iter()
            .filter(|id| !registered.contains(id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            self.cloud.register_targets(&arn, &missing).await?;
            self.printer.step(&format!(
                "registered {} target(s) in {}",
                missing.len(),
                self.green_name
            ));
        }
        Ok(())
    }

    /// Green joins every production forward at weight 0 (or the test
    /// listener at 100 %), so that AWS starts health-checking it; where the
    /// listener does not forward, a rule no request matches does the same.
    async fn attach(&mut self) -> Result<()> {
        let green_arn = self.green_arn()?.to_string();
        for change in &self.plan.traffic {
            let Some(point) = self.point(change) else {
                continue;
            };
            if let Some(attach) = &change.attach {
                let groups = self.groups(attach)?;
                self.writer.write(point, groups).await?;
                self.printer.step(&format!(
                    "{}: attached {} at weight 0",
                    change.label, self.green_name
                ));
            } else if change.replaces.is_some() && change.shifts {
                let listener = match point.kind {
                    PointKind::Listener => point.arn.clone(),
                    PointKind::Rule => listener_of_rule(&point.arn),
                };
                let tags = BTreeMap::from([
                    (TAG_APP.to_string(), self.spec.app.clone()),
                    (TAG_HEALTH_CHECK_RULE.to_string(), self.spec.release.clone()),
                ]);
                let rule = self
                    .cloud
                    .create_unmatched_rule(&listener, &green_arn, &tags)
                    .await?;
                self.health_rules.push(rule);
                self.printer.step(&format!(
                    "{}: added a rule no request matches, forwarding to {}, so that AWS health-checks it",
                    change.label, self.green_name
                ));
            }
        }
        Ok(())
    }

    /// Green's healthy targets and all its registered targets.
    async fn green_health(&self) -> Result<(usize, usize, String)> {
        let health = self.cloud.describe_target_health(self.green_arn()?).await?;
        let healthy = health
            .iter()
            .filter(|t| t.state == TargetState::Healthy)
            .count();
        let mut states: BTreeMap<String, usize> = BTreeMap::new();
        for target in &health {
            let state = serde_json::to_value(&target.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "unknown".into());
            *states.entry(state).or_default() += 1;
        }
        let states = states
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok((healthy, health.len(), states))
    }

    fn healthy_enough(&self, healthy: usize, total: usize) -> bool {
        let wanted = self.spec.instances.count as usize;
        total >= wanted && healthy * 100 >= self.spec.rollout.min_healthy_percent as usize * wanted
    }

    async fn wait_healthy(&mut self, timeout_seconds: u64) -> Result<(), StepError> {
        let bar = self
            .printer
            .bar(u64::from(self.spec.instances.count), "targets healthy");
        let last = std::cell::RefCell::new(String::new());
        let this = &*self;
        let healthy = wait::until(Duration::from_secs(timeout_seconds), || async {
            let (healthy, total, states) = this.green_health().await?;
            bar.set_position(healthy as u64);
            *last.borrow_mut() = states;
            Ok::<_, StepError>(this.healthy_enough(healthy, total).then_some(()))
        })
        .await?;
        bar.finish_and_clear();
        let last = last.into_inner();
        match healthy {
            Some(()) => {
                self.printer.step(&format!("green is healthy ({last})"));
                Ok(())
            }
            None => Err(StepError::Green(format!(
                "green did not become healthy within {timeout_seconds}s ({last})"
            ))),
        }
    }

    /// Between writes: green must stay healthy, and nobody else may have
    /// touched the weights (a `rollback` from elsewhere stops this run).
    async fn check_health(&self, when: &str) -> Result<(), StepError> {
        for change in &self.plan.traffic {
            if let Some(point) = self.point(change) {
                self.writer.verify(point).await?;
            }
        }
        let (healthy, total, states) = self.green_health().await?;
        if self.healthy_enough(healthy, total) {
            Ok(())
        } else {
            Err(StepError::Green(format!(
                "green's health dropped below {}% {when} ({states})",
                self.spec.rollout.min_healthy_percent
            )))
        }
    }

    async fn run_hooks(&self, phase: &str) -> Result<(), StepError> {
        let commands = match phase {
            "before_traffic" => &self.spec.hooks.before_traffic,
            _ => &self.spec.hooks.after_traffic,
        };
        let blue = self
            .observed
            .releases
            .iter()
            .filter(|r| r.release != self.spec.release)
            .map(|r| r.release.clone())
            .next_back()
            .unwrap_or_default();
        let env = hooks::HookEnvironment {
            app: self.spec.app.clone(),
            release: self.spec.release.clone(),
            blue_release: blue,
            green_target_group_arn: self.green_arn.clone().unwrap_or_default(),
            green_instance_ids: self.green_instances.clone(),
            test_listener_arn: self
                .observed
                .traffic
                .iter()
                .find(|p| p.is_test_listener)
                .map(|p| p.arn.clone())
                .unwrap_or_default(),
        };
        for command in commands {
            self.printer.step(&format!("hook {phase}: {command}"));
            hooks::run(command, &env).await.map_err(StepError::Green)?;
        }
        Ok(())
    }

    async fn shift(&mut self, percent: u32, wait_seconds: u64) -> Result<(), StepError> {
        for change in &self.plan.traffic {
            let Some(step) = change.steps.iter().find(|s| s.percent == percent) else {
                continue;
            };
            let Some(point) = self.point(change) else {
                continue;
            };
            let groups = self.groups(&step.weights)?;
            if let Some(replaced) = change.replaces.as_ref().and(point.actions.last()) {
                self.take_over(point, replaced, groups).await?;
            } else {
                self.writer.write(point, groups).await?;
            }
            self.printer.step(&format!(
                "{}: {percent}% on {}",
                change.label, self.green_name
            ));
        }
        let printer = self.printer;
        self.steps_bar
            .get_or_insert_with(|| printer.bar(100, "% of traffic on green"))
            .set_position(u64::from(percent));
        if percent == 100 {
            if let Some(bar) = self.steps_bar.take() {
                bar.finish_and_clear();
            }
        }
        if wait_seconds > 0 {
            self.printer
                .step(&format!("watching green for {wait_seconds}s"));
            let when = format!("at {percent}%");
            wait::watch(Duration::from_secs(wait_seconds), || {
                self.check_health(&when)
            })
            .await?;
        }
        Ok(())
    }

    /// Replaces a fixed response or redirect with a forward to green, in one
    /// write, after recording it so that a rollback can put it back.
    async fn take_over(
        &mut self,
        point: &TrafficPoint,
        replaced: &Action,
        groups: Vec<WeightedTargetGroup>,
    ) -> Result<()> {
        let mut recorded = replaced.clone();
        let mut encoded = encode_action(&recorded);
        if encoded.is_none() {
            if let Action::FixedResponse { message_body, .. } = &mut recorded {
                *message_body = None;
                encoded = encode_action(&recorded);
                self.printer.warn(&format!(
                    "{}: the fixed response's body is too long to record; a rollback restores it without the body",
                    point.label()
                ));
            }
        }
        if let Some(value) = encoded {
            let tags = BTreeMap::from([(previous_action_tag(&self.spec.app), value)]);
            self.cloud
                .add_tags(std::slice::from_ref(&point.arn), &tags)
                .await?;
        }
        self.writer.write(point, groups).await
    }

    async fn bake(&mut self, seconds: u64) -> Result<(), StepError> {
        let arn = self.green_arn()?.to_string();
        let recorded = self
            .green()
            .and_then(|g| g.target_group_tags.get(TAG_BAKE_ENDS))
            .and_then(|v| humantime::parse_rfc3339(v).ok());
        let ends = match recorded {
            Some(ends) => ends,
            None => {
                let ends = SystemTime::now() + Duration::from_secs(seconds);
                let value = humantime::format_rfc3339_seconds(ends).to_string();
                self.cloud
                    .add_tags(
                        std::slice::from_ref(&arn),
                        &BTreeMap::from([(TAG_BAKE_ENDS.to_string(), value)]),
                    )
                    .await?;
                ends
            }
        };
        let left = ends.duration_since(SystemTime::now()).unwrap_or_default();
        self.printer.step(&format!(
            "baking until {} ({}s); blue stays up",
            humantime::format_rfc3339_seconds(ends),
            left.as_secs()
        ));
        let bar = self.printer.countdown(left, "bake");
        wait::watch(left, || async {
            bar.set_position(
                left.as_secs().saturating_sub(
                    ends.duration_since(SystemTime::now())
                        .unwrap_or_default()
                        .as_secs(),
                ),
            );
            self.check_health("during the bake").await
        })
        .await?;
        bar.finish_and_clear();
        Ok(())
    }

    /// After the bake: every production forward goes to green alone.
    async fn detach_blue(&mut self) -> Result<()> {
        let green_arn = self.green_arn()?.to_string();
        for change in self.plan.traffic.iter().filter(|c| !c.test_listener) {
            let Some(point) = self.point(change) else {
                continue;
            };
            if change.replaces.is_some() && change.current.is_empty() && !change.shifts {
                continue;
            }
            let groups = vec![WeightedTargetGroup {
                arn: green_arn.clone(),
                weight: 1,
            }];
            self.writer.write(point, groups).await?;
            self.printer.step(&format!(
                "{}: blue removed, all traffic on {}",
                change.label, self.green_name
            ));
        }
        Ok(())
    }

    async fn remove_health_rules(&mut self) -> Result<()> {
        teardown::delete_rules(self.cloud, &std::mem::take(&mut self.health_rules)).await
    }

    /// Puts every listener and rule back as it was before this release
    /// (without green), then removes green.
    async fn roll_back(&mut self) -> Result<()> {
        let green_arn = self.green_arn.clone();
        for point in &self.observed.traffic {
            if point.health_check_rule {
                continue;
            }
            let before = forward_of(&point.actions);
            let others: Vec<WeightedTargetGroup> = before
                .iter()
                .filter(|g| Some(&g.arn) != green_arn.as_ref())
                .cloned()
                .collect();
            if point
                .actions
                .iter()
                .all(|a| !matches!(a, Action::Forward { .. }))
            {
                // Taken over from a fixed response or redirect: put it back
                // if this run got as far as replacing it.
                let now = self
                    .cloud
                    .describe_actions(traffic::owner(point), &point.arn)
                    .await?;
                if let (Some(previous), true) = (point.actions.last(), !forward_of(&now).is_empty())
                {
                    self.cloud
                        .restore_action(traffic::owner(point), &point.arn, previous)
                        .await?;
                    self.printer.step(&format!(
                        "{}: restored {}",
                        point.label(),
                        previous.describe()
                    ));
                }
                continue;
            }
            if others.is_empty() {
                self.printer.warn(&format!(
                    "{}: no blue to return to; left as it is",
                    point.label()
                ));
                continue;
            }
            let total: i32 = others.iter().map(|g| g.weight.max(0)).sum();
            let restored: Vec<WeightedTargetGroup> = others
                .into_iter()
                .map(|g| WeightedTargetGroup {
                    weight: if total == 0 { 1 } else { g.weight },
                    ..g
                })
                .collect();
            self.writer.write_unchecked(point, restored).await?;
            self.printer
                .step(&format!("{}: traffic back on blue", point.label()));
        }
        self.remove_health_rules().await?;
        let release = self.spec.release.clone();
        if self.keep_failed {
            if let Some(arn) = &green_arn {
                let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
                let tags = BTreeMap::from([(naming::TAG_ROLLED_BACK.to_string(), now)]);
                self.cloud
                    .add_tags(std::slice::from_ref(arn), &tags)
                    .await?;
            }
            self.printer.warn(&format!(
                "kept release `{release}` ({}, {} instance(s)) out of the listeners for debugging (`--keep-failed`); the next `apply` of another release removes it",
                self.green_name,
                self.green_instances.len()
            ));
            return Ok(());
        }
        self.tear_down(&release, green_arn).await
    }

    /// Removes one of the app's stacks, counting what went.
    async fn tear_down(&mut self, release: &str, target_group_arn: Option<String>) -> Result<()> {
        let stack = teardown::Stack {
            app: self.spec.app.clone(),
            release: release.to_string(),
            target_group_arn,
            deregistration_delay: Duration::from_secs(u64::from(
                self.spec.target_group.deregistration_delay_seconds,
            )),
        };
        let removed = teardown::destroy(self.cloud, &stack, self.printer).await?;
        self.report.instances_terminated += removed.instances;
        self.report.target_groups_deleted += removed.target_groups;
        Ok(())
    }
}

/// `arn:…:listener-rule/app/NAME/LB/L/R` → `arn:…:listener/app/NAME/LB/L`.
fn listener_of_rule(rule_arn: &str) -> String {
    match rule_arn.rsplit_once('/') {
        Some((head, _)) => head.replacen(":listener-rule/", ":listener/", 1),
        None => rule_arn.to_string(),
    }
}
