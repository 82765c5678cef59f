//! The spec: the JSON document that declares one app's release.
//!
//! Loading goes in a fixed order, each step in its own module:
//! 1. read and parse the file ([`load`]), reporting JSON syntax errors with
//!    line and column;
//! 2. fill `${var.*}` and `${env.*}` references ([`interpolate`]);
//! 3. merge a `module` under the spec ([`module`]);
//! 4. deserialize into the typed [`Spec`], rejecting unknown fields and wrong
//!    types with the field path;
//! 5. check values ([`validate`]) and derive the release name when the spec
//!    leaves it out ([`naming`]).
//!
//! Nothing here talks to AWS: a spec is fully checked before any call.

pub mod interpolate;
pub mod module;
pub mod naming;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use interpolate::Variables;

/// One problem found in a spec, located by its field path (`rollout.steps[1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

/// Why a spec (or one of its modules) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{}`:{line}:{column}: invalid JSON: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{}", render_problems(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn render_problems(path: &Path, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("`{}`: {p}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

impl SpecError {
    pub(crate) fn invalid(path: &Path, problems: Vec<Problem>) -> Self {
        SpecError::Invalid {
            path: path.to_path_buf(),
            problems,
        }
    }

    pub(crate) fn one(path: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid(path, vec![Problem::new(field, message)])
    }
}

/// A fully loaded and checked spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The JSON Schema an editor validates this file against; ignored by the tool.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The application's name: owns every resource tagged `bluegreen:app`.
    pub app: String,
    /// The release (stack) this spec describes; derived from the settings when empty.
    #[serde(default)]
    pub release: String,
    /// The AWS region; `--region` and the SDK's environment take over when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Defaults for `${var.NAME}` references.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Value>,
    pub traffic: Traffic,
    pub instances: Instances,
    pub target_group: TargetGroupSpec,
    #[serde(default)]
    pub rollout: Rollout,
    #[serde(default)]
    pub hooks: Hooks,
}

/// Where production traffic comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Listeners whose default action forwards to the app.
    #[serde(default)]
    pub listeners: Vec<ListenerRef>,
    /// Listener-rule ARNs that forward to the app.
    #[serde(default)]
    pub rules: Vec<String>,
    /// A listener that sends all its traffic to green before production moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_listener: Option<ListenerRef>,
}

/// A listener, by ARN or by load balancer name and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum ListenerRef {
    Arn(String),
    Port { load_balancer: String, port: u16 },
}

impl<'de> Deserialize<'de> for ListenerRef {
    // Hand-written so that a bad entry gets a precise message instead of
    // serde's "did not match any variant of untagged enum".
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ByPort {
            load_balancer: String,
            port: u16,
        }
        match Value::deserialize(deserializer)? {
            Value::String(arn) => Ok(ListenerRef::Arn(arn)),
            value @ Value::Object(_) => {
                let ByPort {
                    load_balancer,
                    port,
                } = ByPort::deserialize(value).map_err(serde::de::Error::custom)?;
                Ok(ListenerRef::Port {
                    load_balancer,
                    port,
                })
            }
            _ => Err(serde::de::Error::custom(
                "expected a listener ARN or {\"load_balancer\": NAME, \"port\": N}",
            )),
        }
    }
}

impl fmt::Display for ListenerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenerRef::Arn(arn) => f.write_str(arn),
            ListenerRef::Port {
                load_balancer,
                port,
            } => write!(f, "{load_balancer}:{port}"),
        }
    }
}

/// The green fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instances {
    /// How many instances to launch (1–500).
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Instances are spread over these subnets in turn.
    pub subnet_ids: Vec<String>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_instance_profile: Option<String>,
    /// Plain-text user data; never printed, only its size and hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplate>,
    /// Extra tags for the instances (and their volumes).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// An EC2 launch template, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `$Latest`, `$Default` or a version number.
    #[serde(default = "default_template_version")]
    pub version: String,
}

fn default_template_version() -> String {
    "$Latest".to_string()
}

/// Green's target group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroupSpec {
    pub vpc_id: String,
    pub port: u16,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Seconds a deregistered target keeps its connections (0–3600).
    #[serde(default = "default_deregistration_delay")]
    pub deregistration_delay_seconds: u32,
}

fn default_protocol() -> String {
    "HTTP".to_string()
}

fn default_deregistration_delay() -> u32 {
    300
}

/// Target-group health check; every default is AWS's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheck {
    pub path: String,
    /// `traffic-port` or a port number.
    pub port: String,
    pub protocol: String,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// HTTP codes counted as healthy: `200`, `200,302` or `200-299`.
    pub matcher: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: "/".into(),
            port: "traffic-port".into(),
            protocol: "HTTP".into(),
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: "200".into(),
        }
    }
}

/// How traffic moves to green and how long blue is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rollout {
    /// Percent of traffic on green at each step: strictly increasing, ending at 100.
    pub steps: Vec<u32>,
    pub step_interval_seconds: u64,
    pub bake_seconds: u64,
    pub health_timeout_seconds: u64,
    pub min_healthy_percent: u32,
    pub auto_rollback: bool,
}

impl Default for Rollout {
    fn default() -> Self {
        Self {
            steps: vec![100],
            step_interval_seconds: 60,
            bake_seconds: 300,
            health_timeout_seconds: 600,
            min_healthy_percent: 100,
            auto_rollback: true,
        }
    }
}

/// Shell commands run around the traffic shift.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hooks {
    pub before_traffic: Vec<String>,
    pub after_traffic: Vec<String>,
}

/// Reads, resolves and checks the spec at `path`.
pub fn load(path: &Path, vars: &Variables) -> Result<Spec, SpecError> {
    let document = read_json(path)?;
    from_value(path, document, vars)
}

/// Resolves and checks an already parsed spec document; `path` names it in errors
/// and anchors relative module sources.
pub fn from_value(path: &Path, document: Value, vars: &Variables) -> Result<Spec, SpecError> {
    let Value::Object(mut document) = document else {
        return Err(SpecError::one(path, "", "a spec is a JSON object"));
    };
    let defaults = match document.get("variables") {
        None => BTreeMap::new(),
        Some(Value::Object(map)) => map.clone().into_iter().collect(),
        Some(_) => {
            return Err(SpecError::one(
                path,
                "variables",
                "expected an object of variable defaults",
            ))
        }
    };
    let module = document.remove("module");
    let mut resolver = vars.resolver(&defaults);
    let mut problems = Vec::new();
    let mut document = Value::Object(document);
    interpolate::fill(
        &mut document,
        "",
        &mut resolver,
        &mut problems,
        &["variables"],
    );
    let mut module = module.map(|mut m| {
        interpolate::fill(&mut m, "module", &mut resolver, &mut problems, &[]);
        m
    });
    if !problems.is_empty() {
        // Without a module every reference has been seen, so a `--var` nobody
        // uses (often a typo of a missing one) is reported along.
        if module.is_none() {
            problems.extend(resolver.unused_cli_variables());
        }
        return Err(SpecError::invalid(path, problems));
    }
    if let Some(module) = module.take() {
        let (body, referenced) = module::expand(path, module, vars, &defaults)?;
        // A `--var` used only inside the module's body is used.
        resolver.mark_referenced(referenced);
        module::merge_under(&mut document, body);
    }
    let unused = resolver.unused_cli_variables();
    if !unused.is_empty() {
        return Err(SpecError::invalid(path, unused));
    }

    let mut spec: Spec = serde_path_to_error::deserialize(document).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { String::new() } else { field };
        SpecError::one(path, field, err.into_inner().to_string())
    })?;
    let problems = validate::check(&spec);
    if !problems.is_empty() {
        return Err(SpecError::invalid(path, problems));
    }
    if spec.release.is_empty() {
        spec.release = naming::derived_release(&spec);
    }
    Ok(spec)
}

/// Parses a JSON file, locating syntax errors by line and column.
pub(crate) fn read_json(path: &Path) -> Result<Value, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|err| SpecError::Syntax {
        path: path.to_path_buf(),
        line: err.line(),
        column: err.column(),
        message: syntax_message(&err),
    })
}

// serde_json appends " at line L column C" to its messages; we print those
// ourselves in the `file:line:column` prefix.
fn syntax_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

impl Instances {
    /// Size in bytes and SHA-256 of the user data, the only form in which it is shown.
    pub fn user_data_digest(&self) -> Option<UserDataDigest> {
        self.user_data.as_ref().map(|data| UserDataDigest {
            bytes: data.len(),
            sha256: naming::sha256_hex(data.as_bytes()),
        })
    }
}

/// What is shown of user data instead of its contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDataDigest {
    pub bytes: usize,
    pub sha256: String,
}

#[cfg(test)]
mod tests;
