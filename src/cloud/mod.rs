//! The cloud: the EC2 and ELBv2 operations the tool uses, as one trait over
//! plain data types, so that discovery and the release cycle never touch the
//! SDK. [`aws`] implements it with the AWS SDK for Rust; tests point that same
//! implementation at an emulator.

pub mod aws;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use aws::{AwsCloud, ConnectOptions};

/// Tags of one resource.
pub type Tags = BTreeMap<String, String>;

/// A failed AWS call, reduced to what a person needs: which operation, AWS's
/// error code and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {code}: {message}{}", hint(code))]
pub struct CloudError {
    pub operation: &'static str,
    pub code: String,
    pub message: String,
}

fn hint(code: &str) -> &'static str {
    match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            " (refresh your AWS credentials and run again)"
        }
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            " (the credentials in use lack this permission: see `bluegreen iam-policy`)"
        }
        "InvalidClientTokenId" | "AuthFailure" | "UnrecognizedClientException" => {
            " (check AWS_PROFILE / AWS_ACCESS_KEY_ID)"
        }
        "Unreachable" => " (check `--endpoint-url`, the network, or the region)",
        "NoCredentials" => {
            " (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`)"
        }
        _ => "",
    }
}

impl CloudError {
    /// The error code AWS uses when the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code.ends_with("NotFound") || self.code.contains(".NotFound")
    }

    /// Worth trying again later: throttling, AWS-side failures, the network.
    /// (The SDK has already retried these; a polling loop may look again.)
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code.as_str(),
            "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "RequestThrottled"
                | "SlowDown"
                | "ServiceUnavailable"
                | "InternalFailure"
                | "InternalError"
                | "Unavailable"
                | "Unreachable"
                | "Timeout"
                | "RequestTimeout"
        ) || self.code.starts_with("HTTP5")
    }
}

/// Result of a cloud call.
pub type CloudResult<T> = Result<T, CloudError>;

/// An Application Load Balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
}

/// A listener and its default actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: Option<i32>,
    pub protocol: Option<String>,
    pub default_actions: Vec<Action>,
}

/// A listener rule (the listener's default rule is not listed as one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub arn: String,
    pub listener_arn: String,
    pub priority: String,
    pub actions: Vec<Action>,
}

/// One action of a listener or rule. Only what the tool reasons about is
/// modelled; writes send back the rest untouched (see the release cycle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Action {
    /// Weighted forward to up to five target groups.
    Forward {
        target_groups: Vec<WeightedTargetGroup>,
        /// Seconds of target-group stickiness, when enabled.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stickiness_seconds: Option<i32>,
    },
    FixedResponse {
        status_code: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_body: Option<String>,
    },
    Redirect {
        /// `HTTP_301` or `HTTP_302`.
        status_code: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
    },
    /// `authenticate-oidc`, `authenticate-cognito` or an action type newer than the tool.
    Other { kind: String },
}

impl Action {
    /// A short description: `forward`, `fixed-response 404`, `redirect to https://#{host}:443/#{path}?#{query}`.
    pub fn describe(&self) -> String {
        match self {
            Action::Forward { .. } => "forward".into(),
            Action::FixedResponse { status_code, .. } => format!("fixed-response {status_code}"),
            Action::Redirect {
                protocol,
                host,
                port,
                path,
                query,
                ..
            } => format!(
                "redirect to {}://{}:{}{}?{}",
                protocol.as_deref().unwrap_or("#{protocol}"),
                host.as_deref().unwrap_or("#{host}"),
                port.as_deref().unwrap_or("#{port}"),
                path.as_deref().unwrap_or("/#{path}"),
                query.as_deref().unwrap_or("#{query}")
            ),
            Action::Other { kind } => kind.clone(),
        }
    }
}

/// A target group in a forward action, with its weight (0–999).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedTargetGroup {
    pub arn: String,
    pub weight: i32,
}

/// A target group with the settings the tool compares against the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub port: Option<i32>,
    pub protocol: Option<String>,
    pub vpc_id: Option<String>,
    pub health_check: ObservedHealthCheck,
    pub load_balancer_arns: Vec<String>,
}

/// A target group's health check as AWS reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedHealthCheck {
    pub path: Option<String>,
    pub port: Option<String>,
    pub protocol: Option<String>,
    pub interval_seconds: Option<i32>,
    pub timeout_seconds: Option<i32>,
    pub healthy_threshold: Option<i32>,
    pub unhealthy_threshold: Option<i32>,
    pub matcher: Option<String>,
}

/// One registered target and its health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealth {
    pub target_id: String,
    pub state: TargetState,
    /// AWS's reason code, such as `Elb.InitialHealthChecking` or `Target.NotInUse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// ELBv2 target health states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy,
    UnhealthyDraining,
    Unused,
    Draining,
    Unavailable,
    Other(String),
}

/// An EC2 instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    /// `pending`, `running`, `stopping`, `stopped`, …
    pub state: String,
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    pub subnet_id: Option<String>,
    pub tags: Tags,
}

/// Which kind of ELBv2 resource holds a list of actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionsOwner {
    /// A listener's default actions.
    Listener,
    /// A listener rule's actions.
    Rule,
}

/// A target group to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTargetGroup {
    pub name: String,
    pub port: u16,
    pub protocol: String,
    pub vpc_id: String,
    pub health_check: crate::spec::HealthCheck,
    pub deregistration_delay_seconds: u32,
    pub tags: Tags,
}

/// One RunInstances call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstances {
    pub count: u32,
    pub subnet_id: String,
    /// Idempotency token: the same token and parameters return the same instances.
    pub client_token: String,
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    pub security_group_ids: Vec<String>,
    pub key_name: Option<String>,
    pub iam_instance_profile: Option<String>,
    pub user_data: Option<String>,
    pub launch_template: Option<crate::spec::LaunchTemplate>,
    /// Set on the instances and their volumes at creation.
    pub tags: Tags,
}

/// The cloud operations the tool needs, and no others.
///
/// Describe calls page through all results themselves.
#[allow(async_fn_in_trait)] // used with static dispatch only
pub trait Cloud {
    /// Load balancers by name; every load balancer in the region when `names` is empty.
    async fn describe_load_balancers(&self, names: &[String]) -> CloudResult<Vec<LoadBalancer>>;
    /// Listeners of one load balancer.
    async fn describe_listeners(&self, load_balancer_arn: &str) -> CloudResult<Vec<Listener>>;
    /// Rules of one listener, without its default rule.
    async fn describe_rules(&self, listener_arn: &str) -> CloudResult<Vec<Rule>>;
    /// Every target group in the region.
    async fn describe_target_groups(&self) -> CloudResult<Vec<TargetGroup>>;
    /// Tags of ELBv2 resources (target groups, listeners, rules), by ARN.
    async fn describe_tags(&self, arns: &[String]) -> CloudResult<BTreeMap<String, Tags>>;
    /// Registered targets of one target group and their health.
    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> CloudResult<Vec<TargetHealth>>;
    /// Instances tagged as belonging to `app` that are not terminated or shutting down.
    async fn describe_app_instances(&self, app: &str) -> CloudResult<Vec<Instance>>;
    /// Instances by id, whatever their state (terminated ones while AWS still lists them).
    async fn describe_instances(&self, ids: &[String]) -> CloudResult<Vec<Instance>>;
    /// The current actions of one listener or rule.
    async fn describe_actions(&self, owner: ActionsOwner, arn: &str) -> CloudResult<Vec<Action>>;

    /// Creates a target group, tagged at creation, with its deregistration delay.
    async fn create_target_group(&self, group: &NewTargetGroup) -> CloudResult<String>;
    /// Sets a target group's health check.
    async fn modify_health_check(
        &self,
        target_group_arn: &str,
        check: &crate::spec::HealthCheck,
    ) -> CloudResult<()>;
    /// Adds (or overwrites) tags on ELBv2 resources.
    async fn add_tags(&self, arns: &[String], tags: &Tags) -> CloudResult<()>;
    /// Launches instances in one call; returns their ids.
    async fn run_instances(&self, request: &NewInstances) -> CloudResult<Vec<String>>;
    async fn register_targets(
        &self,
        target_group_arn: &str,
        instance_ids: &[String],
    ) -> CloudResult<()>;
    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        instance_ids: &[String],
    ) -> CloudResult<()>;
    async fn terminate_instances(&self, instance_ids: &[String]) -> CloudResult<()>;
    async fn delete_target_group(&self, target_group_arn: &str) -> CloudResult<()>;
    /// Sets the target groups and weights of the forward action of a listener
    /// or rule, keeping every other action and setting exactly as last read
    /// (authentication, order, stickiness). When there is no forward action,
    /// the terminal action (fixed response or redirect) is replaced by one.
    async fn write_forward(
        &self,
        owner: ActionsOwner,
        arn: &str,
        target_groups: &[WeightedTargetGroup],
    ) -> CloudResult<()>;
    /// Replaces the terminal action of a listener or rule with `action`
    /// (putting back a fixed response or redirect that a first release took over).
    async fn restore_action(
        &self,
        owner: ActionsOwner,
        arn: &str,
        action: &Action,
    ) -> CloudResult<()>;
    /// Creates a rule that no request matches, forwarding to a target group,
    /// so that AWS health-checks the group without sending it traffic.
    async fn create_unmatched_rule(
        &self,
        listener_arn: &str,
        target_group_arn: &str,
        tags: &Tags,
    ) -> CloudResult<String>;
    async fn delete_rule(&self, rule_arn: &str) -> CloudResult<()>;

    /// Creates the named lock if no lock of that name exists (atomic in AWS:
    /// an EC2 key pair); returns its id, or the `…Duplicate` error when held.
    async fn create_lock(&self, name: &str, tags: &Tags) -> CloudResult<String>;
    /// The named lock's id and tags, if it exists.
    async fn describe_lock(&self, name: &str) -> CloudResult<Option<(String, Tags)>>;
    /// Updates tags on a lock (its expiry), by id.
    async fn tag_lock(&self, id: &str, tags: &Tags) -> CloudResult<()>;
    /// Deletes the named lock.
    async fn delete_lock(&self, name: &str) -> CloudResult<()>;
}
