//! A sandbox on the emulator: a VPC with two subnets, a security group, an
//! Application Load Balancer and a listener forwarding to a "legacy" target
//! group that bluegreen does not own, as a team has before its first release.
//! Also seeds releases the way `apply` leaves them, for plan and status tests.
//!
//! Shared by the test suite and by `cargo run --example sandbox` (the demo).

#![allow(dead_code)] // each user takes the parts it needs

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::types::{ResourceType, Tag as Ec2Tag, TagSpecification};
use aws_sdk_elasticloadbalancingv2 as elbv2;
use elbv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig, ProtocolEnum, Tag,
    TargetDescription, TargetGroupTuple,
};

/// The emulator's region for every test.
pub const REGION: &str = "us-east-1";

/// SDK clients pointed at the emulator, with throwaway credentials.
pub async fn clients(endpoint: &str) -> (aws_sdk_ec2::Client, elbv2::Client) {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "testing", "testing", None, None, "sandbox",
        ))
        .load()
        .await;
    (
        aws_sdk_ec2::Client::new(&config),
        elbv2::Client::new(&config),
    )
}

/// What the sandbox created.
pub struct Sandbox {
    pub ec2: aws_sdk_ec2::Client,
    pub elb: elbv2::Client,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub security_group_id: String,
    pub load_balancer_name: String,
    pub load_balancer_arn: String,
    pub listener_arn: String,
    pub legacy_target_group_arn: String,
}

/// A release seeded as `apply` would have left it.
pub struct SeededRelease {
    pub target_group_arn: String,
    pub target_group_name: String,
    pub instance_ids: Vec<String>,
}

/// The AMI the sandbox's specs use; the emulator accepts any id.
pub const IMAGE_ID: &str = "ami-0abcdef1234567890";

impl Sandbox {
    /// Creates the network, a load balancer named `load_balancer_name` and
    /// its port-80 listener forwarding to `legacy`.
    pub async fn create(endpoint: &str, load_balancer_name: &str) -> Sandbox {
        let (ec2, elb) = clients(endpoint).await;
        let vpc_id = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .expect("create vpc")
            .vpc
            .and_then(|v| v.vpc_id)
            .expect("vpc id");
        let mut subnet_ids = Vec::new();
        for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
            let subnet = ec2
                .create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block(format!("10.0.{}.0/24", i + 1))
                .availability_zone(*zone)
                .send()
                .await
                .expect("create subnet");
            subnet_ids.push(subnet.subnet.and_then(|s| s.subnet_id).expect("subnet id"));
        }
        let security_group_id = ec2
            .create_security_group()
            .group_name(format!("{load_balancer_name}-sg"))
            .description("bluegreen sandbox")
            .vpc_id(&vpc_id)
            .send()
            .await
            .expect("create security group")
            .group_id
            .expect("group id");
        let load_balancer_arn = elb
            .create_load_balancer()
            .name(load_balancer_name)
            .set_subnets(Some(subnet_ids.clone()))
            .security_groups(&security_group_id)
            .send()
            .await
            .expect("create load balancer")
            .load_balancers()[0]
            .load_balancer_arn()
            .expect("lb arn")
            .to_string();
        let legacy_target_group_arn =
            create_target_group(&elb, &format!("legacy-{load_balancer_name}"), &vpc_id, &[]).await;
        let listener_arn = elb
            .create_listener()
            .load_balancer_arn(&load_balancer_arn)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(forward(&[(&legacy_target_group_arn, 1)]))
            .send()
            .await
            .expect("create listener")
            .listeners()[0]
            .listener_arn()
            .expect("listener arn")
            .to_string();
        Sandbox {
            ec2,
            elb,
            vpc_id,
            subnet_ids,
            security_group_id,
            load_balancer_name: load_balancer_name.to_string(),
            load_balancer_arn,
            listener_arn,
            legacy_target_group_arn,
        }
    }

    /// A handle for reading and changing an existing sandbox from another thread.
    pub async fn reader(endpoint: &str) -> Sandbox {
        let (ec2, elb) = clients(endpoint).await;
        Sandbox {
            ec2,
            elb,
            vpc_id: String::new(),
            subnet_ids: Vec::new(),
            security_group_id: String::new(),
            load_balancer_name: String::new(),
            load_balancer_arn: String::new(),
            listener_arn: String::new(),
            legacy_target_group_arn: String::new(),
        }
    }

    /// `--var` values that point `examples/web.json` at this sandbox.
    pub fn example_vars(&self) -> Vec<(String, String)> {
        [
            ("load_balancer", self.load_balancer_name.clone()),
            ("vpc_id", self.vpc_id.clone()),
            ("subnet_a", self.subnet_ids[0].clone()),
            ("subnet_b", self.subnet_ids[1].clone()),
            ("security_group", self.security_group_id.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Creates a release's target group and `count` registered instances,
    /// tagged as bluegreen tags them.
    pub async fn seed_release(
        &self,
        app: &str,
        release: &str,
        count: i32,
        settings_hash: &str,
    ) -> SeededRelease {
        let target_group_name = format!("{app}-{release}");
        let tags = [("bluegreen:app", app), ("bluegreen:release", release)];
        let target_group_arn =
            create_target_group(&self.elb, &target_group_name, &self.vpc_id, &tags).await;
        let mut instance_ids = Vec::new();
        if count > 0 {
            let ec2_tags: Vec<Ec2Tag> = tags
                .iter()
                .chain(
                    [
                        ("bluegreen:settings", settings_hash),
                        ("Name", target_group_name.as_str()),
                    ]
                    .iter(),
                )
                .map(|(k, v)| Ec2Tag::builder().key(*k).value(*v).build())
                .collect();
            let reservation = self
                .ec2
                .run_instances()
                .image_id(IMAGE_ID)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
                .min_count(count)
                .max_count(count)
                .subnet_id(&self.subnet_ids[0])
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Instance)
                        .set_tags(Some(ec2_tags))
                        .build(),
                )
                .send()
                .await
                .expect("run instances");
            instance_ids = reservation
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect();
            let targets = instance_ids
                .iter()
                .map(|id| TargetDescription::builder().id(id).build());
            self.elb
                .register_targets()
                .target_group_arn(&target_group_arn)
                .set_targets(Some(targets.collect()))
                .send()
                .await
                .expect("register targets");
        }
        SeededRelease {
            target_group_arn,
            target_group_name,
            instance_ids,
        }
    }

    /// Sets a listener's default action to a weighted forward.
    pub async fn set_forward(&self, listener_arn: &str, weights: &[(&str, i32)]) {
        self.elb
            .modify_listener()
            .listener_arn(listener_arn)
            .default_actions(forward(weights))
            .send()
            .await
            .expect("modify listener");
    }

    /// Sets a target group's HTTP health check.
    pub async fn set_health_check(
        &self,
        target_group_arn: &str,
        path: &str,
        interval: i32,
        healthy_threshold: i32,
    ) {
        self.elb
            .modify_target_group()
            .target_group_arn(target_group_arn)
            .health_check_path(path)
            .health_check_interval_seconds(interval)
            .healthy_threshold_count(healthy_threshold)
            .send()
            .await
            .expect("modify target group");
    }

    /// Adds a listener rule on `path_pattern` forwarding to weighted groups; returns its ARN.
    pub async fn add_rule(
        &self,
        priority: i32,
        path_pattern: &str,
        weights: &[(&str, i32)],
    ) -> String {
        use elbv2::types::RuleCondition;
        self.elb
            .create_rule()
            .listener_arn(&self.listener_arn)
            .priority(priority)
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .values(path_pattern)
                    .build(),
            )
            .actions(forward(weights))
            .send()
            .await
            .expect("create rule")
            .rules()[0]
            .rule_arn()
            .expect("rule arn")
            .to_string()
    }

    /// A listener's forward weights, by target-group name (empty when it does not forward).
    pub async fn listener_weights(&self, listener_arn: &str) -> Vec<(String, i32)> {
        let listeners = self
            .elb
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
            .expect("describe listener");
        let actions = listeners.listeners()[0].default_actions().to_vec();
        self.weights_of(&actions).await
    }

    /// A rule's actions, as the SDK reports them.
    pub async fn rule_actions(&self, rule_arn: &str) -> Vec<Action> {
        self.elb
            .describe_rules()
            .rule_arns(rule_arn)
            .send()
            .await
            .expect("describe rule")
            .rules()[0]
            .actions()
            .to_vec()
    }

    /// A listener's default actions, as the SDK reports them.
    pub async fn listener_actions(&self, listener_arn: &str) -> Vec<Action> {
        self.elb
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
            .expect("describe listener")
            .listeners()[0]
            .default_actions()
            .to_vec()
    }

    async fn weights_of(&self, actions: &[Action]) -> Vec<(String, i32)> {
        let Some(forward) = actions
            .iter()
            .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        else {
            return Vec::new();
        };
        let mut tuples: Vec<(String, i32)> = match forward.forward_config() {
            Some(config) if !config.target_groups().is_empty() => config
                .target_groups()
                .iter()
                .map(|t| {
                    (
                        t.target_group_arn().unwrap_or_default().to_string(),
                        t.weight().unwrap_or(1),
                    )
                })
                .collect(),
            _ => vec![(
                forward.target_group_arn().unwrap_or_default().to_string(),
                1,
            )],
        };
        for (arn, _) in &mut tuples {
            if let Some(name) = arn.split('/').nth(1) {
                *arn = name.to_string();
            }
        }
        tuples
    }

    /// Names of every target group in the region.
    pub async fn target_group_names(&self) -> Vec<String> {
        self.elb
            .describe_target_groups()
            .send()
            .await
            .expect("describe target groups")
            .target_groups()
            .iter()
            .filter_map(|tg| tg.target_group_name().map(str::to_string))
            .collect()
    }

    /// The state of each instance, by id.
    pub async fn instance_states(&self, ids: &[String]) -> Vec<String> {
        let output = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .expect("describe instances");
        let mut states: Vec<(String, String)> = output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap_or_default().to_string(),
                    i.state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        states.sort_by_key(|(id, _)| ids.iter().position(|i| i == id));
        states.into_iter().map(|(_, state)| state).collect()
    }

    /// Live (not shutting down or terminated) instances tagged for `app`, with their release.
    pub async fn app_instances(&self, app: &str) -> Vec<(String, String)> {
        use aws_sdk_ec2::types::Filter;
        let output = self
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("tag:bluegreen:app")
                    .values(app)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .values("stopping")
                    .values("stopped")
                    .build(),
            )
            .send()
            .await
            .expect("describe instances");
        output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                let release = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("bluegreen:release"))
                    .and_then(|t| t.value())
                    .unwrap_or_default();
                (
                    i.instance_id().unwrap_or_default().to_string(),
                    release.to_string(),
                )
            })
            .collect()
    }

    /// Checks that every target group the listener sends traffic to has a
    /// healthy target; `Err` names the one that has not.
    pub async fn weighted_groups_are_healthy(&self, listener_arn: &str) -> Result<(), String> {
        let Ok(listeners) = self
            .elb
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
        else {
            return Ok(());
        };
        let actions = listeners.listeners()[0].default_actions().to_vec();
        let tuples: Vec<(String, i32)> = actions
            .iter()
            .filter_map(|a| a.forward_config())
            .flat_map(|c| c.target_groups())
            .map(|t| {
                (
                    t.target_group_arn().unwrap_or_default().to_string(),
                    t.weight().unwrap_or(1),
                )
            })
            .collect();
        for (arn, weight) in tuples.iter().filter(|(_, w)| *w > 0) {
            let health = self
                .elb
                .describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(|e| format!("{arn} (weight {weight}) cannot be read: {e:?}"))?;
            let healthy = health
                .target_health_descriptions()
                .iter()
                .filter(|d| {
                    d.target_health()
                        .and_then(|h| h.state())
                        .map(|s| s.as_str())
                        == Some("healthy")
                })
                .count();
            if healthy == 0 {
                return Err(format!("{arn} has weight {weight} and no healthy target"));
            }
        }
        Ok(())
    }

    /// Instances the tool does not own (no bluegreen tags).
    pub async fn launch_untagged(&self, count: i32) -> Vec<String> {
        self.ec2
            .run_instances()
            .image_id(IMAGE_ID)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
            .min_count(count)
            .max_count(count)
            .subnet_id(&self.subnet_ids[0])
            .send()
            .await
            .expect("run instances")
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect()
    }

    /// Registers instances in a target group.
    pub async fn register(&self, target_group_arn: &str, ids: &[String]) {
        let targets = ids
            .iter()
            .map(|id| TargetDescription::builder().id(id).build());
        self.elb
            .register_targets()
            .target_group_arn(target_group_arn)
            .set_targets(Some(targets.collect()))
            .send()
            .await
            .expect("register targets");
    }

    /// The ARN of a target group, by name.
    pub async fn target_group_arn(&self, name: &str) -> String {
        self.elb
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .expect("describe target group")
            .target_groups()[0]
            .target_group_arn()
            .expect("arn")
            .to_string()
    }

    /// Puts an OIDC authentication action (order 1) before the listener's forward (order 2).
    pub async fn authenticate_then_forward(&self, listener_arn: &str, target_group_arn: &str) {
        use elbv2::types::AuthenticateOidcActionConfig;
        let oidc = Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .order(1)
            .authenticate_oidc_config(
                AuthenticateOidcActionConfig::builder()
                    .issuer("https://idp.example")
                    .authorization_endpoint("https://idp.example/auth")
                    .token_endpoint("https://idp.example/token")
                    .user_info_endpoint("https://idp.example/user")
                    .client_id("shop")
                    .client_secret("secret")
                    .scope("openid")
                    .build(),
            )
            .build();
        let mut forward = forward(&[(target_group_arn, 1)]);
        forward.order = Some(2);
        self.elb
            .modify_listener()
            .listener_arn(listener_arn)
            .default_actions(oidc)
            .default_actions(forward)
            .send()
            .await
            .expect("modify listener");
    }

    /// Sets a listener's default action to a fixed 404.
    pub async fn set_fixed_response(&self, listener_arn: &str) {
        let action = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("404")
                    .build(),
            )
            .build();
        self.elb
            .modify_listener()
            .listener_arn(listener_arn)
            .default_actions(action)
            .send()
            .await
            .expect("modify listener");
    }

    /// Records weights on a listener the way bluegreen does after writing them.
    pub async fn record_weights(&self, arn: &str, app: &str, weights: &[(&str, i32)]) {
        let mut weights: Vec<_> = weights.to_vec();
        weights.sort();
        let value = weights
            .iter()
            .map(|(name, weight)| format!("{name}={weight}"))
            .collect::<Vec<_>>()
            .join(" ");
        self.elb
            .add_tags()
            .resource_arns(arn)
            .tags(
                Tag::builder()
                    .key(format!("bluegreen:weights:{app}"))
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .expect("add tags");
    }
}

async fn create_target_group(
    elb: &elbv2::Client,
    name: &str,
    vpc_id: &str,
    tags: &[(&str, &str)],
) -> String {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect();
    elb.create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id(vpc_id)
        .set_tags((!tags.is_empty()).then_some(tags))
        .send()
        .await
        .expect("create target group")
        .target_groups()[0]
        .target_group_arn()
        .expect("tg arn")
        .to_string()
}

/// A forward action over weighted target groups.
pub fn forward(weights: &[(&str, i32)]) -> Action {
    let tuples = weights.iter().map(|(arn, weight)| {
        TargetGroupTuple::builder()
            .target_group_arn(*arn)
            .weight(*weight)
            .build()
    });
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .set_target_groups(Some(tuples.collect()))
                .build(),
        )
        .build()
}
