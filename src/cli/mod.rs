//! The command line: parses arguments, calls the library, prints through the
//! [`Printer`] and maps the outcome to an exit code. No release logic lives here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

use crate::cloud::{AwsCloud, ConnectOptions};
use crate::output::{OutputFormat, Printer};
use crate::plan::{self, Plan};
use crate::spec::{self, ListenerRef, Spec, Variables};
use crate::{discovery, release, status, Error, Result};

/// Exit codes, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; for `plan --detailed-exitcode`, no changes.
    Success = 0,
    /// Something failed; nothing more was changed.
    Failure = 1,
    /// `plan --detailed-exitcode`: there are changes.
    Changes = 2,
    /// Green failed and traffic was put back on blue.
    RolledBack = 3,
    /// Another run holds the app's lock.
    Locked = 4,
    /// SIGINT or SIGTERM stopped the run at a safe point.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Blue/green releases of EC2 fleets behind an Application Load Balancer.
#[derive(Debug, Parser)]
#[command(name = "bluegreen", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// AWS region (else the spec's `region`, then AWS_REGION or the profile).
    #[arg(long, global = true, value_name = "REGION")]
    region: Option<String>,
    /// AWS profile from the shared config files.
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator, a proxy); AWS_ENDPOINT_URL works too.
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Attempts per AWS call, retries included (default 3; AWS_MAX_ATTEMPTS works too).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    max_attempts: Option<u32>,
    /// Results as text for people or as JSON for jobs.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    output: OutputFormat,
    /// No colours (NO_COLOR works too).
    #[arg(long, global = true)]
    no_color: bool,
    /// More detail on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Args)]
struct SpecArgs {
    /// The spec file (JSON).
    #[arg(value_name = "SPEC")]
    spec: PathBuf,
    /// Set a variable, `NAME=VALUE` (repeatable); beats BLUEGREEN_VAR_NAME and the spec's default.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = Variables::parse_assignment)]
    vars: Vec<(String, String)>,
}

/// An app, by spec or by name.
#[derive(Debug, Args)]
struct AppArgs {
    /// The spec file (JSON); or name the app with `--app`.
    #[arg(value_name = "SPEC", required_unless_present = "app")]
    spec: Option<PathBuf>,
    /// The app's name, to work without the spec (found by its tags).
    #[arg(long, value_name = "APP", conflicts_with = "spec")]
    app: Option<String>,
    /// Set a variable of the spec, `NAME=VALUE` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = Variables::parse_assignment)]
    vars: Vec<(String, String)>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a spec, its variables and modules, without calling AWS.
    Validate(SpecArgs),
    /// Show what `apply` would change, reading AWS but changing nothing.
    Plan {
        #[command(flatten)]
        spec: SpecArgs,
        /// Save the plan (with a fingerprint of what it saw) for `apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Release the spec: prepare green, test it, shift traffic, bake, tear blue down.
    Apply {
        /// A spec, or a plan saved by `plan --out` (refused if AWS changed since).
        #[arg(value_name = "SPEC|PLANFILE")]
        target: PathBuf,
        /// Set a variable, `NAME=VALUE` (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = Variables::parse_assignment)]
        vars: Vec<(String, String)>,
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// When green fails, keep it (out of the listeners) for debugging instead of removing it.
        #[arg(long)]
        keep_failed: bool,
    },
    /// Emergency revert: all traffic back to the previous release, at once.
    Rollback {
        #[command(flatten)]
        app: AppArgs,
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
    },
    /// Break an app's lock left by a run that died (see the lock id in the error).
    Unlock {
        /// The app whose lock to break.
        #[arg(long, value_name = "APP")]
        app: String,
        /// The lock's id, as the locked-out command printed it.
        #[arg(value_name = "LOCK_ID")]
        lock_id: String,
    },
    /// Print a shell completion script (`bluegreen completions bash > /etc/bash_completion.d/bluegreen`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from these same definitions.
    Man,
    /// Show the app's releases, their health and the weights on each listener.
    Status {
        #[command(flatten)]
        app: AppArgs,
    },
    /// Put N % of traffic on the newest release and the rest on the previous one.
    Shift {
        #[command(flatten)]
        app: AppArgs,
        /// Percent of traffic for the newest release.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
        percent: u32,
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
    },
    /// End the bake now and tear down the previous releases.
    Finalize {
        #[command(flatten)]
        app: AppArgs,
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
    },
    /// Remove every release of the app, after taking it out of the listeners.
    Destroy {
        #[command(flatten)]
        app: AppArgs,
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Also when a listener would be left with nothing to forward to (it then answers 503).
        #[arg(long)]
        force: bool,
    },
}

/// Parses the command line and runs it; the whole of `main`.
pub fn main() -> ExitCode {
    // A malformed command line exits 1 like any bad input: 2 means "changes"
    // to `plan --detailed-exitcode`, and a job must not mistake one for the other.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Failure
            } else {
                Exit::Success
            }
            .into();
        }
    };
    let printer = Printer::new(cli.global.output, cli.global.no_color, cli.global.verbose);
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            printer.error(&format!("cannot start the async runtime: {err}"));
            return Exit::Failure.into();
        }
    };
    match runtime.block_on(run(cli, &printer)) {
        Ok(exit) => exit.into(),
        Err(err) => {
            printer.error(&err);
            match err {
                Error::Locked { .. } => Exit::Locked.into(),
                Error::Interrupted { .. } => Exit::Interrupted.into(),
                _ => Exit::Failure.into(),
            }
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "off",
        1 => "bluegreen=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BLUEGREEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli, printer: &Printer) -> Result<Exit> {
    match cli.command {
        Command::Validate(args) => validate(&args, printer),
        Command::Plan {
            spec,
            out,
            detailed_exitcode,
        } => {
            let spec = load_spec(&spec)?;
            let cloud = connect(&cli.global, Some(&spec)).await?;
            let progress = printer.spinner("reading the app's state from AWS");
            let observed = discovery::observe(&cloud, &spec.app, Some(&spec.traffic)).await;
            progress.finish_and_clear();
            let plan = plan::plan(&spec, &observed?);
            printer.text(&plan::render::render(&plan, printer.color()));
            printer.json(&plan);
            if let Some(path) = out {
                SavedPlan::new(plan.clone(), spec).write(&path)?;
                printer.info(&format!(
                    "Saved the plan to `{}`: `bluegreen apply {}` carries it out if AWS has not changed since.",
                    path.display(),
                    path.display()
                ));
            }
            if !plan.blockers.is_empty() {
                return Err(Error::Usage(format!(
                    "the plan cannot be applied: {}",
                    plan.blockers.join("; ")
                )));
            }
            Ok(match (detailed_exitcode, plan.is_empty()) {
                (true, false) => Exit::Changes,
                _ => Exit::Success,
            })
        }
        Command::Apply {
            target,
            vars,
            auto_approve,
            keep_failed,
        } => {
            apply(
                &cli.global,
                &target,
                vars,
                auto_approve,
                keep_failed,
                printer,
            )
            .await
        }
        Command::Rollback { app, auto_approve } => {
            let (cloud, observed) = observe_app(&cli.global, &app, printer).await?;
            confirm(
                "rollback",
                auto_approve,
                &format!(
                    "Put all traffic of `{}` back on the previous release?",
                    observed.app
                ),
            )?;
            // The emergency exit is never locked out; it only says who else is at work.
            if let Ok(Some(lock)) = release::lock::holder_of(&cloud, &observed.app).await {
                printer.warn(&format!(
                    "`{}` is locked by {} since {}; rolling back anyway (that run stops when it sees the change)",
                    observed.app, lock.holder, lock.since
                ));
            }
            let started = std::time::Instant::now();
            let done = release::revert::rollback(&cloud, &observed).await?;
            printer.text(&format!(
                "Rolled back `{}`: traffic moved from release `{}` to {} on {} in {:.1}s.",
                observed.app,
                done.from,
                done.to,
                done.points.join(", "),
                started.elapsed().as_secs_f64()
            ));
            printer.json(&done);
            Ok(Exit::Success)
        }
        Command::Shift {
            app,
            percent,
            auto_approve,
        } => {
            let (cloud, observed, spec) = observe_app_with_spec(&cli.global, &app, printer).await?;
            confirm(
                "shift",
                auto_approve,
                &format!(
                    "Put {percent}% of `{}`'s traffic on its newest release?",
                    observed.app
                ),
            )?;
            let min = spec.as_ref().map_or(100, |s| s.rollout.min_healthy_percent);
            let done = release::lock::with_lock(&cloud, &observed.app, async {
                release::operate::shift(&cloud, &observed, percent, min, printer).await
            })
            .await?;
            printer.text(&format!(
                "Shifted `{}` to {percent}% on {}.",
                observed.app,
                done.points.join(", ")
            ));
            printer.json(&done);
            Ok(Exit::Success)
        }
        Command::Finalize { app, auto_approve } => {
            let (cloud, observed, spec) = observe_app_with_spec(&cli.global, &app, printer).await?;
            confirm(
                "finalize",
                auto_approve,
                &format!(
                    "End `{}`'s bake now and tear down its previous releases?",
                    observed.app
                ),
            )?;
            let delay = spec.as_ref().map(|s| {
                std::time::Duration::from_secs(u64::from(
                    s.target_group.deregistration_delay_seconds,
                ))
            });
            let done = release::lock::with_lock(&cloud, &observed.app, async {
                release::operate::finalize(&cloud, &observed, delay, printer).await
            })
            .await?;
            printer.text(&format!(
                "Finalized `{}`: removed {} release(s), {} instance(s) terminated.",
                observed.app,
                done.releases_removed.len(),
                done.instances_terminated
            ));
            printer.json(&done);
            Ok(Exit::Success)
        }
        Command::Destroy {
            app,
            auto_approve,
            force,
        } => {
            let (cloud, observed, spec) = observe_app_with_spec(&cli.global, &app, printer).await?;
            confirm(
                "destroy",
                auto_approve,
                &format!("Remove every release of `{}`?", observed.app),
            )?;
            let delay = spec.as_ref().map(|s| {
                std::time::Duration::from_secs(u64::from(
                    s.target_group.deregistration_delay_seconds,
                ))
            });
            let done = release::lock::with_lock(&cloud, &observed.app, async {
                release::operate::destroy(&cloud, &observed, force, delay, printer).await
            })
            .await?;
            printer.text(&format!(
                "Destroyed `{}`: removed {} release(s), {} instance(s) terminated, {} target group(s) deleted.",
                observed.app,
                done.releases_removed.len(),
                done.instances_terminated,
                done.target_groups_deleted
            ));
            printer.json(&done);
            Ok(Exit::Success)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "bluegreen", &mut script);
            printer.raw(&script);
            Ok(Exit::Success)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|err| Error::Usage(format!("cannot render the manual page: {err}")))?;
            printer.raw(&page);
            Ok(Exit::Success)
        }
        Command::Unlock { app, lock_id } => {
            let cloud = connect(&cli.global, None).await?;
            let info = release::lock::unlock(&cloud, &app, &lock_id).await?;
            printer.text(&format!(
                "Unlocked `{app}` (the lock was held by {} since {}).",
                info.holder, info.since
            ));
            printer.json(&info);
            Ok(Exit::Success)
        }
        Command::Status { app } => {
            let (_, observed) = observe_app(&cli.global, &app, printer).await?;
            let status = status::status(&observed);
            printer.text(&status::render(&status));
            printer.json(&status);
            Ok(Exit::Success)
        }
    }
}

/// Discovery for a command that takes `SPEC` or `--app`.
async fn observe_app(
    global: &GlobalArgs,
    args: &AppArgs,
    printer: &Printer,
) -> Result<(AwsCloud, discovery::Observed)> {
    let (cloud, observed, _) = observe_app_with_spec(global, args, printer).await?;
    Ok((cloud, observed))
}

/// Discovery for a command that takes `SPEC` or `--app`, with the spec when given.
/// An app with nothing at all is an error: most likely a typo in its name.
async fn observe_app_with_spec(
    global: &GlobalArgs,
    args: &AppArgs,
    printer: &Printer,
) -> Result<(AwsCloud, discovery::Observed, Option<Spec>)> {
    let spec = match &args.spec {
        Some(path) => Some(spec::load(path, &Variables::from_cli(args.vars.clone()))?),
        None => None,
    };
    let app = match (&spec, &args.app) {
        (Some(spec), _) => spec.app.clone(),
        (None, Some(app)) => app.clone(),
        (None, None) => return Err(Error::Usage("name the app: a SPEC or `--app APP`".into())),
    };
    let cloud = connect(global, spec.as_ref()).await?;
    let progress = printer.spinner("reading the app's state from AWS");
    let observed = discovery::observe(&cloud, &app, spec.as_ref().map(|s| &s.traffic)).await;
    progress.finish_and_clear();
    let observed = observed?;
    if observed.releases.is_empty() && observed.traffic.is_empty() {
        return Err(Error::UnknownApp(observed.app));
    }
    Ok((cloud, observed, spec))
}

/// Asks on the terminal; refuses without `--auto-approve` when there is none.
fn confirm(what: &'static str, auto_approve: bool, question: &str) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::NeedsApproval(what));
    }
    eprint!("{question} Only `yes` goes ahead: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|err| Error::Usage(err.to_string()))?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Cancelled)
    }
}

async fn apply(
    global: &GlobalArgs,
    target: &Path,
    vars: Vec<(String, String)>,
    auto_approve: bool,
    keep_failed: bool,
    printer: &Printer,
) -> Result<Exit> {
    let saved = SavedPlan::looks_like(target)
        .then(|| SavedPlan::read(target))
        .transpose()?;
    let spec = match &saved {
        Some(saved) => saved.spec.clone(),
        None => spec::load(target, &Variables::from_cli(vars))?,
    };
    let cloud = connect(global, Some(&spec)).await?;
    let app = spec.app.clone();
    release::signal::install();
    release::lock::with_lock(&cloud, &app, async {
        apply_locked(
            &cloud,
            spec,
            saved,
            target,
            auto_approve,
            keep_failed,
            printer,
        )
        .await
    })
    .await
}

/// `apply` once the lock is held: everything is read afresh under it.
async fn apply_locked(
    cloud: &AwsCloud,
    spec: Spec,
    saved: Option<SavedPlan>,
    target: &Path,
    auto_approve: bool,
    keep_failed: bool,
    printer: &Printer,
) -> Result<Exit> {
    let cloud = cloud.clone();
    let progress = printer.spinner("reading the app's state from AWS");
    let observed = discovery::observe(&cloud, &spec.app, Some(&spec.traffic)).await;
    progress.finish_and_clear();
    let observed = observed?;
    let plan = plan::plan(&spec, &observed);
    if let Some(saved) = &saved {
        if saved.plan.fingerprint != plan.fingerprint {
            return Err(Error::PlanOutdated {
                path: target.to_path_buf(),
                planned: saved.plan.fingerprint.clone(),
                actual: plan.fingerprint.clone(),
            });
        }
    }
    if !plan.blockers.is_empty() {
        return Err(Error::Usage(format!(
            "the plan cannot be applied: {}",
            plan.blockers.join("; ")
        )));
    }
    printer.text(&plan::render::render(&plan, printer.color()));
    if plan.is_empty() {
        printer.json(&serde_json::json!({
            "outcome": "no-changes", "app": spec.app, "release": spec.release,
        }));
        return Ok(Exit::Success);
    }
    // A saved plan was reviewed when it was made.
    if saved.is_none() {
        confirm("apply", auto_approve, "Apply this plan?")?;
    }
    let started = std::time::Instant::now();
    let options = release::Options { keep_failed };
    let (outcome, report) =
        release::apply(&cloud, &spec, &plan, &observed, &options, printer).await?;
    let seconds = started.elapsed().as_secs_f64();
    let calls = cloud.call_counts();
    let phases = report
        .phases
        .iter()
        .map(|(name, took)| format!("{name} {:.1}s", took.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ");
    let (headline, outcome_name, exit) = match &outcome {
        release::Outcome::Released => (
            format!("Released `{}` of `{}`", spec.release, spec.app),
            "released",
            Exit::Success,
        ),
        release::Outcome::NoChanges => (
            format!("No changes for `{}`", spec.app),
            "no-changes",
            Exit::Success,
        ),
        release::Outcome::RolledBack { reason } => (
            format!(
                "Rolled back `{}` of `{}` ({reason}); production is on blue",
                spec.release, spec.app
            ),
            "rolled-back",
            Exit::RolledBack,
        ),
    };
    printer.text(&format!(
        "\n{headline} in {seconds:.1}s: {} instance(s) created, {} terminated, {} target group(s) deleted, {} listener write(s), {} API call(s).\nPhases: {phases}.",
        report.instances_created,
        report.instances_terminated,
        report.target_groups_deleted,
        report.listener_writes,
        calls.values().sum::<usize>(),
    ));
    printer.json(&serde_json::json!({
        "outcome": outcome_name,
        "reason": match &outcome { release::Outcome::RolledBack { reason } => Some(reason), _ => None },
        "app": spec.app,
        "release": spec.release,
        "seconds": seconds,
        "instances_created": report.instances_created,
        "instances_terminated": report.instances_terminated,
        "target_groups_deleted": report.target_groups_deleted,
        "listener_writes": report.listener_writes,
        "phases": report.phases.iter().map(|(name, took)| serde_json::json!({"phase": name, "seconds": took.as_secs_f64()})).collect::<Vec<_>>(),
        "api_calls": calls,
    }));
    Ok(exit)
}

fn load_spec(args: &SpecArgs) -> Result<Spec> {
    Ok(spec::load(
        &args.spec,
        &Variables::from_cli(args.vars.clone()),
    )?)
}

fn validate(args: &SpecArgs, printer: &Printer) -> Result<Exit> {
    let spec = load_spec(args)?;
    printer.text(&format!(
        "`{}` is valid: app `{}`, release `{}`, {} instance(s), {} listener(s), {} rule(s), steps {:?}.",
        args.spec.display(),
        spec.app,
        spec.release,
        spec.instances.count,
        spec.traffic.listeners.len(),
        spec.traffic.rules.len(),
        spec.rollout.steps,
    ));
    printer.json(&serde_json::json!({
        "valid": true,
        "app": spec.app,
        "release": spec.release,
        "target_group": spec::naming::target_group_name(&spec.app, &spec.release),
        "user_data": spec.instances.user_data_digest(),
    }));
    Ok(Exit::Success)
}

/// Connects to AWS; the region is `--region`, else the spec's, else the SDK's environment.
async fn connect(global: &GlobalArgs, spec: Option<&Spec>) -> Result<AwsCloud> {
    let region = global
        .region
        .clone()
        .or_else(|| spec.and_then(|s| s.region.clone()));
    if let (Some(region), Some(spec)) = (&region, spec) {
        check_listener_regions(spec, region)?;
    }
    AwsCloud::connect(&ConnectOptions {
        region,
        profile: global.profile.clone(),
        endpoint_url: global.endpoint_url.clone(),
        max_attempts: global.max_attempts,
    })
    .await
}

/// A listener ARN from another region would only fail later as "not found".
fn check_listener_regions(spec: &Spec, region: &str) -> Result<()> {
    let arns = spec
        .traffic
        .listeners
        .iter()
        .chain(spec.traffic.test_listener.iter())
        .filter_map(|l| match l {
            ListenerRef::Arn(arn) => Some(arn.as_str()),
            ListenerRef::Port { .. } => None,
        })
        .chain(spec.traffic.rules.iter().map(String::as_str));
    for arn in arns {
        if let Some(arn_region) = arn.split(':').nth(3) {
            if arn_region != region {
                return Err(Error::Usage(format!(
                    "`{arn}` is in region `{arn_region}` but the region in use is `{region}`: pass `--region {arn_region}` or fix the ARN"
                )));
            }
        }
    }
    Ok(())
}

/// What `plan --out` writes: the plan and the resolved spec it was made from.
///
/// Like Terraform's saved plans, the file holds the spec's values, user data
/// included, so it is written readable by its owner only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub plan: Plan,
    pub spec: Spec,
}

const SAVED_PLAN_FORMAT: &str = "bluegreen-plan/1";

impl SavedPlan {
    pub fn new(plan: Plan, spec: Spec) -> Self {
        Self {
            format: SAVED_PLAN_FORMAT.to_string(),
            plan,
            spec,
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let json = serde_json::to_vec_pretty(self).map_err(|err| Error::Usage(err.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let write_error = |source| Error::WriteFile {
            path: path.to_path_buf(),
            source,
        };
        let mut file = options.open(path).map_err(write_error)?;
        file.write_all(&json).map_err(write_error)?;
        file.write_all(b"\n").map_err(write_error)
    }

    /// Whether `path` holds a saved plan rather than a spec.
    pub fn looks_like(path: &Path) -> bool {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|value| {
                value.get("format").and_then(|f| f.as_str()) == Some(SAVED_PLAN_FORMAT)
            })
    }

    pub fn read(path: &Path) -> Result<Self> {
        let bad = |message: String| Error::BadPlanFile {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|err| bad(err.to_string()))?;
        let saved: SavedPlan = serde_json::from_str(&text).map_err(|err| bad(err.to_string()))?;
        if saved.format != SAVED_PLAN_FORMAT {
            return Err(bad(format!(
                "format `{}` is not `{SAVED_PLAN_FORMAT}`",
                saved.format
            )));
        }
        Ok(saved)
    }
}
