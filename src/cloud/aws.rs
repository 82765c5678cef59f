//! [`Cloud`] over the AWS SDK for Rust: the only module that knows the SDK's
//! types. Configuration comes from `aws-config`'s default chain, with the
//! region settled up front so a missing one fails at once instead of waiting
//! on instance metadata.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2 as elbv2;

use super::{
    Action, ActionsOwner, Cloud, CloudError, CloudResult, Instance, Listener, LoadBalancer,
    NewInstances, NewTargetGroup, ObservedHealthCheck, Rule, Tags, TargetGroup, TargetHealth,
    TargetState, WeightedTargetGroup,
};
use crate::spec::naming::TAG_APP;

/// DescribeTags takes at most 20 ARNs per call.
const DESCRIBE_TAGS_BATCH: usize = 20;

/// How to reach AWS: everything left `None` comes from the SDK's own
/// environment and profile handling.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub max_attempts: Option<u32>,
}

/// The AWS SDK clients.
#[derive(Debug, Clone)]
pub struct AwsCloud {
    ec2: aws_sdk_ec2::Client,
    elb: elbv2::Client,
    /// The action lists of listeners and rules exactly as last read, by ARN:
    /// ModifyListener and ModifyRule replace the whole list, so a write sends
    /// back every action and setting it does not mean to change.
    last_read: Arc<Mutex<HashMap<String, Vec<elbv2::types::Action>>>>,
    calls: CallCounter,
}

/// Counts the API calls the SDK makes, by operation (retries not included).
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl aws_sdk_ec2::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "bluegreen-call-counter"
    }

    // Once per operation, after its last attempt (the operation's metadata
    // is not in the bag yet when execution starts).
    fn read_after_execution(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &aws_sdk_ec2::config::RuntimeComponents,
        cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(metadata) = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
        {
            if let Ok(mut counts) = self.0.lock() {
                *counts.entry(metadata.name().to_string()).or_default() += 1;
            }
        }
        Ok(())
    }
}

impl AwsCloud {
    /// Builds the clients; fails with [`crate::Error::NoRegion`] when no region is set.
    pub async fn connect(options: &ConnectOptions) -> crate::Result<Self> {
        let region = match &options.region {
            Some(region) => Region::new(region.clone()),
            None => region_from_environment(options.profile.as_deref())
                .await
                .ok_or(crate::Error::NoRegion)?,
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(attempts) = options.max_attempts {
            loader = loader.retry_config(RetryConfig::standard().with_max_attempts(attempts));
        }
        let config = loader.load().await;
        let calls = CallCounter::default();
        let ec2 = aws_sdk_ec2::config::Builder::from(&config)
            .interceptor(calls.clone())
            .build();
        let elb = elbv2::config::Builder::from(&config)
            .interceptor(calls.clone())
            .build();
        Ok(Self {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            elb: elbv2::Client::from_conf(elb),
            last_read: Arc::default(),
            calls,
        })
    }

    /// API calls made so far, by operation.
    pub fn call_counts(&self) -> BTreeMap<String, usize> {
        self.calls.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn remember(&self, arn: &str, actions: &[elbv2::types::Action]) {
        if let Ok(mut cache) = self.last_read.lock() {
            cache.insert(arn.to_string(), actions.to_vec());
        }
    }

    /// The raw actions last read for `arn`, reading them when never read.
    async fn raw_actions(
        &self,
        owner: ActionsOwner,
        arn: &str,
    ) -> CloudResult<Vec<elbv2::types::Action>> {
        let cached = self.last_read.lock().ok().and_then(|c| c.get(arn).cloned());
        match cached {
            Some(actions) => Ok(actions),
            None => {
                self.describe_actions(owner, arn).await?;
                Ok(self
                    .last_read
                    .lock()
                    .ok()
                    .and_then(|c| c.get(arn).cloned())
                    .unwrap_or_default())
            }
        }
    }

    async fn modify_actions(
        &self,
        owner: ActionsOwner,
        arn: &str,
        actions: Vec<elbv2::types::Action>,
    ) -> CloudResult<()> {
        // DescribeListeners never returns an OIDC client secret; sending the
        // action back without one needs `UseExistingClientSecret`.
        let mut actions = actions;
        for action in &mut actions {
            if let Some(oidc) = action.authenticate_oidc_config.as_mut() {
                if oidc.client_secret.is_none() {
                    oidc.use_existing_client_secret = Some(true);
                }
            }
        }
        match owner {
            ActionsOwner::Listener => {
                self.elb
                    .modify_listener()
                    .listener_arn(arn)
                    .set_default_actions(Some(actions.clone()))
                    .send()
                    .await
                    .map_err(|e| cloud_error("ModifyListener", e))?;
            }
            ActionsOwner::Rule => {
                self.elb
                    .modify_rule()
                    .rule_arn(arn)
                    .set_actions(Some(actions.clone()))
                    .send()
                    .await
                    .map_err(|e| cloud_error("ModifyRule", e))?;
            }
        }
        self.remember(arn, &actions);
        Ok(())
    }
}

fn elb_tags(tags: &Tags) -> Vec<elbv2::types::Tag> {
    tags.iter()
        .map(|(k, v)| elbv2::types::Tag::builder().key(k).value(v).build())
        .collect()
}

fn ec2_tags(tags: &Tags) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
        .collect()
}

fn forward_action(
    target_groups: &[WeightedTargetGroup],
    like: Option<&elbv2::types::Action>,
) -> elbv2::types::Action {
    let tuples = target_groups.iter().map(|g| {
        elbv2::types::TargetGroupTuple::builder()
            .target_group_arn(&g.arn)
            .weight(g.weight)
            .build()
    });
    let stickiness = like
        .and_then(|a| a.forward_config())
        .and_then(|c| c.target_group_stickiness_config())
        .cloned();
    elbv2::types::Action::builder()
        .r#type(elbv2::types::ActionTypeEnum::Forward)
        .set_order(like.and_then(|a| a.order()))
        .forward_config(
            elbv2::types::ForwardActionConfig::builder()
                .set_target_groups(Some(tuples.collect()))
                .set_target_group_stickiness_config(stickiness)
                .build(),
        )
        .build()
}

/// The SDK form of a fixed response, redirect or forward, in `order`.
fn sdk_action(action: &Action, order: Option<i32>) -> elbv2::types::Action {
    use elbv2::types::{
        ActionTypeEnum, FixedResponseActionConfig, RedirectActionConfig,
        RedirectActionStatusCodeEnum,
    };
    let builder = elbv2::types::Action::builder().set_order(order);
    match action {
        Action::Forward { target_groups, .. } => {
            let mut forward = forward_action(target_groups, None);
            forward.order = order;
            forward
        }
        Action::FixedResponse {
            status_code,
            content_type,
            message_body,
        } => builder
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(status_code)
                    .set_content_type(content_type.clone())
                    .set_message_body(message_body.clone())
                    .build(),
            )
            .build(),
        Action::Redirect {
            status_code,
            protocol,
            host,
            port,
            path,
            query,
        } => builder
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .status_code(RedirectActionStatusCodeEnum::from(status_code.as_str()))
                    .set_protocol(protocol.clone())
                    .set_host(host.clone())
                    .set_port(port.clone())
                    .set_path(path.clone())
                    .set_query(query.clone())
                    .build(),
            )
            .build(),
        Action::Other { kind } => builder.r#type(ActionTypeEnum::from(kind.as_str())).build(),
    }
}

fn is_terminal(action: &elbv2::types::Action) -> bool {
    use elbv2::types::ActionTypeEnum as Kind;
    matches!(
        action.r#type(),
        Some(Kind::Forward | Kind::FixedResponse | Kind::Redirect)
    )
}

/// The region from `AWS_REGION` / `AWS_DEFAULT_REGION` or the profile, and
/// deliberately not from instance metadata, which would wait on timeouts
/// off EC2.
async fn region_from_environment(profile: Option<&str>) -> Option<Region> {
    let mut from_profile = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(profile) = profile {
        from_profile = from_profile.profile_name(profile);
    }
    RegionProviderChain::first_try(
        aws_config::environment::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(from_profile.build())
    .region()
    .await
}

/// Turns an SDK error into one line: AWS's code and message, or what went
/// wrong on the way there.
fn cloud_error<E>(operation: &'static str, err: SdkError<E>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message) = match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            (
                inner
                    .code()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP{}", service.raw().status().as_u16())),
                inner
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {}", service.raw().status().as_u16())),
            )
        }
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => (
            "Unreachable".to_string(),
            format!("could not reach the endpoint: {}", causes(&err)),
        ),
        SdkError::TimeoutError(_) => ("Timeout".to_string(), "the request timed out".to_string()),
        _ if causes(&err).contains("credential") => ("NoCredentials".to_string(), causes(&err)),
        _ => ("RequestFailed".to_string(), causes(&err)),
    };
    CloudError {
        operation,
        code,
        message,
    }
}

/// The messages of an error and its causes, joined: one line, no debug dump.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    // Some causes (the credential chain) span lines; the user gets one.
    parts
        .join(": ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn convert_action(action: &elbv2::types::Action) -> Action {
    use elbv2::types::ActionTypeEnum as Kind;
    match action.r#type() {
        Some(Kind::Forward) => {
            let config = action.forward_config();
            let mut target_groups: Vec<WeightedTargetGroup> = config
                .map(|c| c.target_groups())
                .unwrap_or_default()
                .iter()
                .filter_map(|tuple| {
                    Some(WeightedTargetGroup {
                        arn: tuple.target_group_arn()?.to_string(),
                        // AWS's default weight when a tuple gives none.
                        weight: tuple.weight().unwrap_or(1),
                    })
                })
                .collect();
            // A forward may name a single group without a ForwardConfig.
            if target_groups.is_empty() {
                if let Some(arn) = action.target_group_arn() {
                    target_groups.push(WeightedTargetGroup {
                        arn: arn.to_string(),
                        weight: 1,
                    });
                }
            }
            let stickiness_seconds = config
                .and_then(|c| c.target_group_stickiness_config())
                .filter(|s| s.enabled() == Some(true))
                .map(|s| s.duration_seconds().unwrap_or(0));
            Action::Forward {
                target_groups,
                stickiness_seconds,
            }
        }
        Some(Kind::FixedResponse) => {
            let config = action.fixed_response_config();
            Action::FixedResponse {
                status_code: config
                    .and_then(|c| c.status_code())
                    .unwrap_or_default()
                    .to_string(),
                content_type: config.and_then(|c| c.content_type()).map(str::to_string),
                message_body: config.and_then(|c| c.message_body()).map(str::to_string),
            }
        }
        Some(Kind::Redirect) => {
            let config = action.redirect_config();
            let field = |f: fn(&elbv2::types::RedirectActionConfig) -> Option<&str>| {
                config.and_then(f).map(str::to_string)
            };
            Action::Redirect {
                status_code: config
                    .and_then(|c| c.status_code())
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                protocol: field(|c| c.protocol()),
                host: field(|c| c.host()),
                port: field(|c| c.port()),
                path: field(|c| c.path()),
                query: field(|c| c.query()),
            }
        }
        other => Action::Other {
            kind: other.map(|k| k.as_str().to_string()).unwrap_or_default(),
        },
    }
}

fn convert_instance(i: &aws_sdk_ec2::types::Instance) -> Option<Instance> {
    Some(Instance {
        id: i.instance_id()?.to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        instance_type: i.instance_type().map(|t| t.as_str().to_string()),
        image_id: i.image_id().map(str::to_string),
        subnet_id: i.subnet_id().map(str::to_string),
        tags: i
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
    })
}

fn targets(instance_ids: &[String]) -> Vec<elbv2::types::TargetDescription> {
    instance_ids
        .iter()
        .map(|id| elbv2::types::TargetDescription::builder().id(id).build())
        .collect()
}

fn sorted_actions(actions: &[elbv2::types::Action]) -> Vec<Action> {
    let mut actions: Vec<_> = actions.iter().collect();
    actions.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    actions.into_iter().map(convert_action).collect()
}

fn convert_state(state: Option<&elbv2::types::TargetHealthStateEnum>) -> TargetState {
    use elbv2::types::TargetHealthStateEnum as S;
    match state {
        Some(S::Initial) => TargetState::Initial,
        Some(S::Healthy) => TargetState::Healthy,
        Some(S::Unhealthy) => TargetState::Unhealthy,
        Some(S::UnhealthyDraining) => TargetState::UnhealthyDraining,
        Some(S::Unused) => TargetState::Unused,
        Some(S::Draining) => TargetState::Draining,
        Some(S::Unavailable) => TargetState::Unavailable,
        Some(other) => TargetState::Other(other.as_str().to_string()),
        None => TargetState::Other("unknown".to_string()),
    }
}

impl Cloud for AwsCloud {
    async fn describe_load_balancers(&self, names: &[String]) -> CloudResult<Vec<LoadBalancer>> {
        let mut pages = self
            .elb
            .describe_load_balancers()
            .set_names((!names.is_empty()).then(|| names.to_vec()))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| cloud_error("DescribeLoadBalancers", e))?;
            found.extend(page.load_balancers().iter().filter_map(|lb| {
                Some(LoadBalancer {
                    arn: lb.load_balancer_arn()?.to_string(),
                    name: lb.load_balancer_name()?.to_string(),
                })
            }));
        }
        Ok(found)
    }

    async fn describe_listeners(&self, load_balancer_arn: &str) -> CloudResult<Vec<Listener>> {
        let mut pages = self
            .elb
            .describe_listeners()
            .load_balancer_arn(load_balancer_arn)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| cloud_error("DescribeListeners", e))?;
            for listener in page.listeners() {
                if let Some(arn) = listener.listener_arn() {
                    self.remember(arn, listener.default_actions());
                }
            }
            found.extend(page.listeners().iter().filter_map(|l| {
                Some(Listener {
                    arn: l.listener_arn()?.to_string(),
                    load_balancer_arn: l.load_balancer_arn()?.to_string(),
                    port: l.port(),
                    protocol: l.protocol().map(|p| p.as_str().to_string()),
                    default_actions: sorted_actions(l.default_actions()),
                })
            }));
        }
        Ok(found)
    }

    async fn describe_rules(&self, listener_arn: &str) -> CloudResult<Vec<Rule>> {
        // DescribeRules has no paginator in the SDK; it pages by Marker.
        let mut found = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .elb
                .describe_rules()
                .listener_arn(listener_arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| cloud_error("DescribeRules", e))?;
            for rule in page.rules() {
                if let Some(arn) = rule.rule_arn() {
                    self.remember(arn, rule.actions());
                }
            }
            found.extend(
                page.rules()
                    .iter()
                    .filter(|r| r.is_default() != Some(true))
                    .filter_map(|r| {
                        Some(Rule {
                            arn: r.rule_arn()?.to_string(),
                            listener_arn: listener_arn.to_string(),
                            priority: r.priority().unwrap_or_default().to_string(),
                            actions: sorted_actions(r.actions()),
                        })
                    }),
            );
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(found);
            }
        }
    }

    async fn describe_target_groups(&self) -> CloudResult<Vec<TargetGroup>> {
        let mut pages = self.elb.describe_target_groups().into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| cloud_error("DescribeTargetGroups", e))?;
            found.extend(page.target_groups().iter().filter_map(|tg| {
                Some(TargetGroup {
                    arn: tg.target_group_arn()?.to_string(),
                    name: tg.target_group_name()?.to_string(),
                    port: tg.port(),
                    protocol: tg.protocol().map(|p| p.as_str().to_string()),
                    vpc_id: tg.vpc_id().map(str::to_string),
                    health_check: ObservedHealthCheck {
                        path: tg.health_check_path().map(str::to_string),
                        port: tg.health_check_port().map(str::to_string),
                        protocol: tg.health_check_protocol().map(|p| p.as_str().to_string()),
                        interval_seconds: tg.health_check_interval_seconds(),
                        timeout_seconds: tg.health_check_timeout_seconds(),
                        healthy_threshold: tg.healthy_threshold_count(),
                        unhealthy_threshold: tg.unhealthy_threshold_count(),
                        matcher: tg.matcher().and_then(|m| m.http_code()).map(str::to_string),
                    },
                    load_balancer_arns: tg.load_balancer_arns().to_vec(),
                })
            }));
        }
        Ok(found)
    }

    async fn describe_tags(&self, arns: &[String]) -> CloudResult<BTreeMap<String, Tags>> {
        let calls = arns.chunks(DESCRIBE_TAGS_BATCH).map(|batch| {
            self.elb
                .describe_tags()
                .set_resource_arns(Some(batch.to_vec()))
                .send()
        });
        let pages = futures::future::try_join_all(calls)
            .await
            .map_err(|e| cloud_error("DescribeTags", e))?;
        Ok(pages
            .iter()
            .flat_map(|page| page.tag_descriptions())
            .filter_map(|description| {
                let tags = description
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_string(),
                            t.value().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect();
                Some((description.resource_arn()?.to_string(), tags))
            })
            .collect())
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> CloudResult<Vec<TargetHealth>> {
        let output = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| cloud_error("DescribeTargetHealth", e))?;
        Ok(output
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let health = d.target_health();
                Some(TargetHealth {
                    target_id: d.target()?.id()?.to_string(),
                    state: convert_state(health.and_then(|h| h.state())),
                    reason: health
                        .and_then(|h| h.reason())
                        .map(|r| r.as_str().to_string()),
                })
            })
            .collect())
    }

    async fn describe_app_instances(&self, app: &str) -> CloudResult<Vec<Instance>> {
        let mut pages = self
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name(format!("tag:{TAG_APP}"))
                    .values(app)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .set_values(Some(
                        ["pending", "running", "stopping", "stopped"]
                            .map(String::from)
                            .to_vec(),
                    ))
                    .build(),
            )
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| cloud_error("DescribeInstances", e))?;
            for reservation in page.reservations() {
                found.extend(reservation.instances().iter().filter_map(convert_instance));
            }
        }
        Ok(found)
    }

    async fn describe_instances(&self, ids: &[String]) -> CloudResult<Vec<Instance>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        // DescribeInstances takes up to 1000 ids per call.
        for batch in ids.chunks(1000) {
            let mut pages = self
                .ec2
                .describe_instances()
                .set_instance_ids(Some(batch.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| cloud_error("DescribeInstances", e))?;
                for reservation in page.reservations() {
                    found.extend(reservation.instances().iter().filter_map(convert_instance));
                }
            }
        }
        Ok(found)
    }

    async fn describe_actions(&self, owner: ActionsOwner, arn: &str) -> CloudResult<Vec<Action>> {
        let raw: Vec<elbv2::types::Action> = match owner {
            ActionsOwner::Listener => self
                .elb
                .describe_listeners()
                .listener_arns(arn)
                .send()
                .await
                .map_err(|e| cloud_error("DescribeListeners", e))?
                .listeners()
                .first()
                .map(|l| l.default_actions().to_vec())
                .unwrap_or_default(),
            ActionsOwner::Rule => self
                .elb
                .describe_rules()
                .rule_arns(arn)
                .send()
                .await
                .map_err(|e| cloud_error("DescribeRules", e))?
                .rules()
                .first()
                .map(|r| r.actions().to_vec())
                .unwrap_or_default(),
        };
        self.remember(arn, &raw);
        Ok(sorted_actions(&raw))
    }

    async fn create_target_group(&self, group: &NewTargetGroup) -> CloudResult<String> {
        use elbv2::types::{Matcher, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum};
        let check = &group.health_check;
        let created = self
            .elb
            .create_target_group()
            .name(&group.name)
            .protocol(ProtocolEnum::from(group.protocol.as_str()))
            .port(i32::from(group.port))
            .vpc_id(&group.vpc_id)
            .target_type(TargetTypeEnum::Instance)
            .health_check_protocol(ProtocolEnum::from(check.protocol.as_str()))
            .health_check_port(&check.port)
            .health_check_path(&check.path)
            .health_check_interval_seconds(check.interval_seconds as i32)
            .health_check_timeout_seconds(check.timeout_seconds as i32)
            .healthy_threshold_count(check.healthy_threshold as i32)
            .unhealthy_threshold_count(check.unhealthy_threshold as i32)
            .matcher(Matcher::builder().http_code(&check.matcher).build())
            .set_tags(Some(elb_tags(&group.tags)))
            .send()
            .await
            .map_err(|e| cloud_error("CreateTargetGroup", e))?;
        let arn = created
            .target_groups()
            .first()
            .and_then(|tg| tg.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| CloudError {
                operation: "CreateTargetGroup",
                code: "MissingField".into(),
                message: "the answer names no target group".into(),
            })?;
        self.elb
            .modify_target_group_attributes()
            .target_group_arn(&arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(group.deregistration_delay_seconds.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| cloud_error("ModifyTargetGroupAttributes", e))?;
        Ok(arn)
    }

    async fn modify_health_check(
        &self,
        target_group_arn: &str,
        check: &crate::spec::HealthCheck,
    ) -> CloudResult<()> {
        use elbv2::types::{Matcher, ProtocolEnum};
        self.elb
            .modify_target_group()
            .target_group_arn(target_group_arn)
            .health_check_protocol(ProtocolEnum::from(check.protocol.as_str()))
            .health_check_port(&check.port)
            .health_check_path(&check.path)
            .health_check_interval_seconds(check.interval_seconds as i32)
            .health_check_timeout_seconds(check.timeout_seconds as i32)
            .healthy_threshold_count(check.healthy_threshold as i32)
            .unhealthy_threshold_count(check.unhealthy_threshold as i32)
            .matcher(Matcher::builder().http_code(&check.matcher).build())
            .send()
            .await
            .map_err(|e| cloud_error("ModifyTargetGroup", e))?;
        Ok(())
    }

    async fn add_tags(&self, arns: &[String], tags: &Tags) -> CloudResult<()> {
        self.elb
            .add_tags()
            .set_resource_arns(Some(arns.to_vec()))
            .set_tags(Some(elb_tags(tags)))
            .send()
            .await
            .map_err(|e| cloud_error("AddTags", e))?;
        Ok(())
    }

    async fn run_instances(&self, request: &NewInstances) -> CloudResult<Vec<String>> {
        use aws_sdk_ec2::types::{
            IamInstanceProfileSpecification, InstanceType, LaunchTemplateSpecification,
            ResourceType, TagSpecification,
        };
        use base64::Engine;
        let tags = ec2_tags(&request.tags);
        let tag_specifications = [ResourceType::Instance, ResourceType::Volume].map(|kind| {
            TagSpecification::builder()
                .resource_type(kind)
                .set_tags(Some(tags.clone()))
                .build()
        });
        let profile = request.iam_instance_profile.as_ref().map(|p| {
            let spec = IamInstanceProfileSpecification::builder();
            if p.starts_with("arn:") {
                spec.arn(p)
            } else {
                spec.name(p)
            }
            .build()
        });
        let template = request.launch_template.as_ref().map(|t| {
            LaunchTemplateSpecification::builder()
                .set_launch_template_id(t.id.clone())
                .set_launch_template_name(t.name.clone())
                .version(&t.version)
                .build()
        });
        let output = self
            .ec2
            .run_instances()
            .min_count(request.count as i32)
            .max_count(request.count as i32)
            .subnet_id(&request.subnet_id)
            .client_token(&request.client_token)
            .set_image_id(request.image_id.clone())
            .set_instance_type(request.instance_type.as_deref().map(InstanceType::from))
            .set_security_group_ids(
                (!request.security_group_ids.is_empty())
                    .then(|| request.security_group_ids.clone()),
            )
            .set_key_name(request.key_name.clone())
            .set_iam_instance_profile(profile)
            .set_user_data(
                request
                    .user_data
                    .as_ref()
                    .map(|data| base64::engine::general_purpose::STANDARD.encode(data)),
            )
            .set_launch_template(template)
            .set_tag_specifications(Some(tag_specifications.to_vec()))
            .send()
            .await
            .map_err(|e| cloud_error("RunInstances", e))?;
        Ok(output
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect())
    }

    async fn register_targets(
        &self,
        target_group_arn: &str,
        instance_ids: &[String],
    ) -> CloudResult<()> {
        self.elb
            .register_targets()
            .target_group_arn(target_group_arn)
            .set_targets(Some(targets(instance_ids)))
            .send()
            .await
            .map_err(|e| cloud_error("RegisterTargets", e))?;
        Ok(())
    }

    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        instance_ids: &[String],
    ) -> CloudResult<()> {
        self.elb
            .deregister_targets()
            .target_group_arn(target_group_arn)
            .set_targets(Some(targets(instance_ids)))
            .send()
            .await
            .map_err(|e| cloud_error("DeregisterTargets", e))?;
        Ok(())
    }

    async fn terminate_instances(&self, instance_ids: &[String]) -> CloudResult<()> {
        for batch in instance_ids.chunks(1000) {
            self.ec2
                .terminate_instances()
                .set_instance_ids(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| cloud_error("TerminateInstances", e))?;
        }
        Ok(())
    }

    async fn delete_target_group(&self, target_group_arn: &str) -> CloudResult<()> {
        self.elb
            .delete_target_group()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| cloud_error("DeleteTargetGroup", e))?;
        Ok(())
    }

    async fn write_forward(
        &self,
        owner: ActionsOwner,
        arn: &str,
        target_groups: &[WeightedTargetGroup],
    ) -> CloudResult<()> {
        let mut actions = self.raw_actions(owner, arn).await?;
        let forward = actions
            .iter()
            .position(|a| a.r#type() == Some(&elbv2::types::ActionTypeEnum::Forward))
            .or_else(|| actions.iter().rposition(is_terminal));
        match forward {
            Some(i) => {
                let like = actions[i].clone();
                let mut new = forward_action(target_groups, Some(&like));
                new.order = like.order();
                actions[i] = new;
            }
            None => {
                let order = actions
                    .iter()
                    .filter_map(|a| a.order())
                    .max()
                    .map(|o| o + 1);
                let mut new = forward_action(target_groups, None);
                new.order = order;
                actions.push(new);
            }
        }
        self.modify_actions(owner, arn, actions).await
    }

    async fn restore_action(
        &self,
        owner: ActionsOwner,
        arn: &str,
        action: &Action,
    ) -> CloudResult<()> {
        let mut actions = self.raw_actions(owner, arn).await?;
        match actions.iter().rposition(is_terminal) {
            Some(i) => {
                let order = actions[i].order();
                actions[i] = sdk_action(action, order);
            }
            None => actions.push(sdk_action(action, None)),
        }
        self.modify_actions(owner, arn, actions).await
    }

    async fn create_unmatched_rule(
        &self,
        listener_arn: &str,
        target_group_arn: &str,
        tags: &Tags,
    ) -> CloudResult<String> {
        use elbv2::types::{HostHeaderConditionConfig, RuleCondition};
        let taken: Vec<i32> = self
            .describe_rules(listener_arn)
            .await?
            .iter()
            .filter_map(|r| r.priority.parse().ok())
            .collect();
        // The lowest precedence that is free, so the rule never shadows another.
        let priority = (1..=50_000)
            .rev()
            .find(|p| !taken.contains(p))
            .unwrap_or(50_000);
        let created = self
            .elb
            .create_rule()
            .listener_arn(listener_arn)
            .priority(priority)
            .conditions(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(
                        // `.invalid` is reserved (RFC 2606): no real client asks for it.
                        HostHeaderConditionConfig::builder()
                            .values("bluegreen-health-check.invalid")
                            .build(),
                    )
                    .build(),
            )
            .actions(forward_action(
                &[WeightedTargetGroup {
                    arn: target_group_arn.to_string(),
                    weight: 1,
                }],
                None,
            ))
            .set_tags(Some(elb_tags(tags)))
            .send()
            .await
            .map_err(|e| cloud_error("CreateRule", e))?;
        created
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .map(str::to_string)
            .ok_or_else(|| CloudError {
                operation: "CreateRule",
                code: "MissingField".into(),
                message: "the answer names no rule".into(),
            })
    }

    async fn delete_rule(&self, rule_arn: &str) -> CloudResult<()> {
        self.elb
            .delete_rule()
            .rule_arn(rule_arn)
            .send()
            .await
            .map_err(|e| cloud_error("DeleteRule", e))?;
        Ok(())
    }

    async fn create_lock(&self, name: &str, tags: &Tags) -> CloudResult<String> {
        use aws_sdk_ec2::types::{ResourceType, TagSpecification};
        let tags = ec2_tags(tags);
        let created = self
            .ec2
            .create_key_pair()
            .key_name(name)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::KeyPair)
                    .set_tags(Some(tags))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| cloud_error("CreateKeyPair", e))?;
        // The private key is of no use to anyone: it is dropped here, unread.
        Ok(created.key_pair_id().unwrap_or_default().to_string())
    }

    async fn describe_lock(&self, name: &str) -> CloudResult<Option<(String, Tags)>> {
        let found = match self.ec2.describe_key_pairs().key_names(name).send().await {
            Ok(found) => found,
            Err(err) => {
                let err = cloud_error("DescribeKeyPairs", err);
                return if err.is_not_found() {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        Ok(found.key_pairs().first().map(|pair| {
            let tags = pair
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect();
            (pair.key_pair_id().unwrap_or_default().to_string(), tags)
        }))
    }

    async fn tag_lock(&self, id: &str, tags: &Tags) -> CloudResult<()> {
        self.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(tags)))
            .send()
            .await
            .map_err(|e| cloud_error("CreateTags", e))?;
        Ok(())
    }

    async fn delete_lock(&self, name: &str) -> CloudResult<()> {
        self.ec2
            .delete_key_pair()
            .key_name(name)
            .send()
            .await
            .map_err(|e| cloud_error("DeleteKeyPair", e))?;
        Ok(())
    }
}
