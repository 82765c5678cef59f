//! [`Cloud`] over the AWS SDK for Rust: the only module that knows the SDK's
//! types. Configuration comes from `aws-config`'s default chain, with the
//! region settled up front so a missing one fails at once instead of waiting
//! on instance metadata.

use std::collections::BTreeMap;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2 as elbv2;

use super::{
    Action, Cloud, CloudError, CloudResult, Instance, Listener, LoadBalancer, ObservedHealthCheck,
    Rule, Tags, TargetGroup, TargetHealth, TargetState, WeightedTargetGroup,
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
        Ok(Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            elb: elbv2::Client::new(&config),
        })
    }
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
                inner.code().unwrap_or("Unknown").to_string(),
                inner
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {}", service.raw().status().as_u16())),
            )
        }
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => (
            "Unreachable".to_string(),
            format!(
                "could not reach the endpoint: {}",
                DisplayErrorContext(&err)
            ),
        ),
        SdkError::TimeoutError(_) => ("Timeout".to_string(), "the request timed out".to_string()),
        _ => (
            "RequestFailed".to_string(),
            DisplayErrorContext(&err).to_string(),
        ),
    };
    CloudError {
        operation,
        code,
        message,
    }
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
        Some(Kind::FixedResponse) => Action::FixedResponse {
            status_code: action
                .fixed_response_config()
                .and_then(|c| c.status_code())
                .map(str::to_string)
                .unwrap_or_default(),
        },
        Some(Kind::Redirect) => {
            let location = action
                .redirect_config()
                .map(|c| {
                    format!(
                        "{}://{}:{}{}?{}",
                        c.protocol().unwrap_or("#{protocol}"),
                        c.host().unwrap_or("#{host}"),
                        c.port().unwrap_or("#{port}"),
                        c.path().unwrap_or("/#{path}"),
                        c.query().unwrap_or("#{query}")
                    )
                })
                .unwrap_or_default();
            Action::Redirect { location }
        }
        other => Action::Other {
            kind: other.map(|k| k.as_str().to_string()).unwrap_or_default(),
        },
    }
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
                found.extend(reservation.instances().iter().filter_map(|i| {
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
                }));
            }
        }
        Ok(found)
    }
}
