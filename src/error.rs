//! The library's error type: one variant per way a command can fail, each
//! rendering as one short line that names the thing at fault in backticks and,
//! where there is one, what to do about it.

use std::path::PathBuf;

use crate::cloud::CloudError;
use crate::spec::SpecError;

/// Everything a `bluegreen` command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec, its variables or its modules are unusable.
    #[error(transparent)]
    Spec(#[from] SpecError),

    /// AWS (or the emulator) refused or could not be reached.
    #[error(transparent)]
    Cloud(#[from] CloudError),

    /// No region could be found without asking instance metadata.
    #[error("no AWS region: pass `--region`, set `region` in the spec, or set `AWS_REGION`")]
    NoRegion,

    /// A listener named in the spec or on the command line does not exist.
    #[error("listener `{0}` not found: check the ARN (and the region) in `traffic`")]
    ListenerNotFound(String),

    /// A `{"load_balancer": NAME, "port": N}` reference names nothing.
    #[error("load balancer `{name}` has no listener on port {port}")]
    ListenerPortNotFound { name: String, port: u16 },

    /// A load balancer named in the spec does not exist.
    #[error("load balancer `{0}` not found")]
    LoadBalancerNotFound(String),

    /// A listener rule named in the spec does not exist.
    #[error("listener rule `{0}` not found: check the ARN in `traffic.rules`")]
    RuleNotFound(String),

    /// A file the user named could not be written.
    #[error("cannot write `{path}`: {source}")]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A saved plan file could not be read or is not a plan.
    #[error("`{path}` is not a bluegreen plan file: {message}")]
    BadPlanFile { path: PathBuf, message: String },

    /// A listener or rule holds other weights than this run last saw or wrote.
    #[error("`{point}` was changed by someone else: bluegreen expected {expected}, it now has {actual}; nothing was written there. Find out who changed it, then run `bluegreen plan` again")]
    Conflict {
        point: String,
        expected: String,
        actual: String,
    },

    /// Green failed and `rollout.auto_rollback` is off.
    #[error("green failed ({reason}) and `rollout.auto_rollback` is off: traffic stays as it is; `bluegreen rollback --app {app}` puts it back on blue")]
    GreenFailed { reason: String, app: String },

    /// A saved plan was made from another state of AWS.
    #[error("the saved plan `{}` no longer matches AWS (it was made from state {planned}, AWS is now at {actual}): run `bluegreen plan` again", path.display())]
    PlanOutdated {
        path: PathBuf,
        planned: String,
        actual: String,
    },

    /// `apply` or `rollback` without a terminal to confirm on.
    #[error("{0}: stdin is not a terminal, so there is nobody to confirm; pass `--auto-approve` to go ahead without asking")]
    NeedsApproval(&'static str),

    /// The person at the terminal said no.
    #[error("cancelled; nothing was changed")]
    Cancelled,

    /// No release of the app is left to take traffic back.
    #[error("app `{0}` has no previous release with healthy targets (nor an earlier target group or action) to take traffic back")]
    NothingToRollBackTo(String),

    /// An app with no resources at all.
    #[error("app `{0}` has no releases and no listener routes to it (looked for target groups tagged `bluegreen:app={0}`)")]
    UnknownApp(String),

    /// Another run holds the app's lock.
    #[error("`{app}` is locked by {holder} since {since} (lock `{id}`): wait for that run, or if it died, `bluegreen unlock --app {app} {id}`")]
    Locked {
        app: String,
        holder: String,
        since: String,
        id: String,
    },

    /// A signal asked the run to stop; it did, at a safe point.
    #[error("stopped by a signal: {state}")]
    Interrupted { state: String },

    /// A command-line argument is malformed in a way clap cannot check.
    #[error("{0}")]
    Usage(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
