//! Discovery: the observed state of one app, read from AWS by its tags.
//!
//! There is no state file; this is the state. For one app it finds the
//! target groups tagged `bluegreen:app` (and their health), the app's
//! instances, and every listener default action and listener rule that
//! forwards to one of them or is named in the spec. Listeners are found from
//! the spec and by scanning load balancers, never from a target group's
//! `LoadBalancerArns` alone (ModifyListener does not always fill it).
//!
//! Calls go out in four concurrent rounds: (target groups, instances, load
//! balancers) → (ownership tags, listeners) → (rules, target health) → (the
//! weights tags of the listeners and rules that matter).

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::cloud::{
    Action, Cloud, CloudError, Instance, Listener, Rule, Tags, TargetGroup, TargetHealth,
    TargetState,
};
use crate::spec::naming::{
    sha256_hex, TAG_APP, TAG_HEALTH_CHECK_RULE, TAG_PREVIOUS_ACTION_PREFIX, TAG_RELEASE,
    TAG_WEIGHTS_PREFIX,
};
use crate::spec::{ListenerRef, Traffic};
use crate::{Error, Result};

/// At most this many describe calls of one kind in flight, to stay clear of throttling.
const CONCURRENT_CALLS: usize = 8;

/// Everything the tool knows about an app, as AWS reports it now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub app: String,
    /// The app's releases, by name.
    pub releases: Vec<ObservedRelease>,
    /// Listeners and rules that route to the app, in a stable order.
    pub traffic: Vec<TrafficPoint>,
    /// Names of every target group that appears in `traffic`, by ARN.
    pub target_group_names: BTreeMap<String, String>,
    /// When this was read, in seconds since the Unix epoch: the plan's clock
    /// (a bake's end is compared with it), so the plan stays a pure function.
    #[serde(default)]
    pub observed_at: u64,
}

/// One release (stack) of the app: what carries its `bluegreen:release` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedRelease {
    pub release: String,
    pub target_group: Option<TargetGroup>,
    #[serde(default)]
    pub target_group_tags: Tags,
    pub instances: Vec<Instance>,
    pub health: Vec<TargetHealth>,
}

impl ObservedRelease {
    /// Registered targets that are healthy, and all registered targets.
    pub fn healthy_count(&self) -> (usize, usize) {
        let healthy = self
            .health
            .iter()
            .filter(|t| t.state == TargetState::Healthy)
            .count();
        (healthy, self.health.len())
    }
}

/// Which listener a traffic point is, and why we look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointKind {
    /// A listener's default action.
    Listener,
    /// A listener rule.
    Rule,
}

/// A listener default action or rule that routes (or should route) to the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficPoint {
    pub arn: String,
    pub kind: PointKind,
    pub load_balancer: String,
    pub listener_port: Option<i32>,
    /// The rule's priority; `None` for a listener's default action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    pub actions: Vec<Action>,
    /// Named in the spec's `traffic.listeners` or `traffic.rules`.
    pub in_spec: bool,
    /// The spec's `traffic.test_listener`.
    pub is_test_listener: bool,
    /// The weights this tool last wrote here, by target-group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_weights: Option<BTreeMap<String, i32>>,
    /// What the point did before a first release took it over (a fixed
    /// response or redirect), for `rollback` to put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_action: Option<Action>,
    /// A rule the tool made only so that AWS health-checks green; carries no traffic.
    #[serde(default)]
    pub health_check_rule: bool,
}

impl TrafficPoint {
    /// A short human name: `shop:443` or `shop:443 rule 10`.
    pub fn label(&self) -> String {
        let port = self
            .listener_port
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into());
        match &self.priority {
            None => format!("{}:{port}", self.load_balancer),
            Some(priority) => format!("{}:{port} rule {priority}", self.load_balancer),
        }
    }

    /// The forward action's target groups, if the point forwards at all.
    pub fn forward(&self) -> Option<&[crate::cloud::WeightedTargetGroup]> {
        self.actions.iter().find_map(|a| match a {
            Action::Forward { target_groups, .. } => Some(target_groups.as_slice()),
            _ => None,
        })
    }
}

impl Observed {
    /// The release called `name`, if any of its resources exist.
    pub fn release(&self, name: &str) -> Option<&ObservedRelease> {
        self.releases.iter().find(|r| r.release == name)
    }

    /// The release that owns a target group, by ARN.
    pub fn release_of_target_group(&self, arn: &str) -> Option<&ObservedRelease> {
        self.releases
            .iter()
            .find(|r| r.target_group.as_ref().is_some_and(|tg| tg.arn == arn))
    }

    /// A target group's name (its ARN when unknown).
    pub fn target_group_name<'a>(&'a self, arn: &'a str) -> &'a str {
        self.target_group_names
            .get(arn)
            .map(String::as_str)
            .unwrap_or(arn)
    }

    /// A digest of what the plan depends on: resources, ids, actions and
    /// recorded weights (not health, which moves on its own). A saved plan is
    /// refused when this has changed.
    pub fn fingerprint(&self) -> String {
        let releases: Vec<_> = self
            .releases
            .iter()
            .map(|r| {
                let mut ids: Vec<&str> = r.instances.iter().map(|i| i.id.as_str()).collect();
                ids.sort_unstable();
                serde_json::json!([
                    r.release,
                    r.target_group.as_ref().map(|tg| &tg.arn),
                    r.target_group_tags,
                    ids
                ])
            })
            .collect();
        let traffic: Vec<_> = self
            .traffic
            .iter()
            .map(|p| serde_json::json!([p.arn, p.actions, p.recorded_weights]))
            .collect();
        let basis = serde_json::json!({ "releases": releases, "traffic": traffic });
        sha256_hex(basis.to_string().as_bytes())[..16].to_string()
    }
}

/// `arn:…:listener/app/NAME/LB/L` → `arn:…:loadbalancer/app/NAME/LB`.
fn load_balancer_of_listener(listener_arn: &str) -> Option<String> {
    let (head, path) = listener_arn.rsplit_once(":listener/")?;
    let (lb_path, _) = path.rsplit_once('/')?;
    Some(format!("{head}:loadbalancer/{lb_path}"))
}

/// `arn:…:listener-rule/app/NAME/LB/L/R` → `arn:…:listener/app/NAME/LB/L`.
fn listener_of_rule(rule_arn: &str) -> Option<String> {
    let (head, path) = rule_arn.rsplit_once(":listener-rule/")?;
    let (listener_path, _) = path.rsplit_once('/')?;
    Some(format!("{head}:listener/{listener_path}"))
}

/// Parses a weights tag value, `name=weight name=weight` (ELBv2 tag values
/// allow letters, digits, spaces and `_.:/=+-@`, so no commas).
pub fn parse_recorded_weights(value: &str) -> Option<BTreeMap<String, i32>> {
    value
        .split(' ')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, weight) = part.split_once('=')?;
            Some((name.to_string(), weight.parse().ok()?))
        })
        .collect()
}

/// Formats weights for the weights tag (the inverse of [`parse_recorded_weights`]).
pub fn format_recorded_weights(weights: &BTreeMap<String, i32>) -> String {
    weights
        .iter()
        .map(|(name, weight)| format!("{name}={weight}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The previous-action tag key for `app`.
pub fn previous_action_tag(app: &str) -> String {
    format!("{TAG_PREVIOUS_ACTION_PREFIX}{app}")
}

/// An action as a tag value: base64 of its JSON (base64's alphabet fits
/// ELBv2's tag values), or `None` when that passes the 256-character limit.
pub fn encode_action(action: &Action) -> Option<String> {
    use base64::Engine;
    let json = serde_json::to_vec(action).ok()?;
    let text = base64::engine::general_purpose::STANDARD.encode(json);
    (text.len() <= 256).then_some(text)
}

/// The inverse of [`encode_action`].
pub fn decode_action(value: &str) -> Option<Action> {
    use base64::Engine;
    let json = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// The weights tag key for `app`.
pub fn weights_tag(app: &str) -> String {
    format!("{TAG_WEIGHTS_PREFIX}{app}")
}

async fn concurrently<T, R, F, Fut>(items: Vec<T>, call: F) -> Result<Vec<R>, CloudError>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, CloudError>>,
{
    futures::stream::iter(items)
        .map(call)
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await
}

/// Reads the observed state of `app`. With `traffic` (from a spec), the
/// listeners and rules it names are read and must exist; without it, every
/// load balancer in the region is scanned.
pub async fn observe(cloud: &impl Cloud, app: &str, traffic: Option<&Traffic>) -> Result<Observed> {
    let spec_listeners: Vec<&ListenerRef> = traffic
        .map(|t| t.listeners.iter().chain(t.test_listener.iter()).collect())
        .unwrap_or_default();
    let named_load_balancers: Vec<String> = spec_listeners
        .iter()
        .filter_map(|l| match l {
            ListenerRef::Port { load_balancer, .. } => Some(load_balancer.clone()),
            ListenerRef::Arn(_) => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    // Round 1.
    let (all_groups, instances, load_balancers) = futures::try_join!(
        async { cloud.describe_target_groups().await.map_err(Error::from) },
        async { cloud.describe_app_instances(app).await.map_err(Error::from) },
        async {
            match traffic {
                None => cloud
                    .describe_load_balancers(&[])
                    .await
                    .map_err(Error::from),
                Some(_) if named_load_balancers.is_empty() => Ok(Vec::new()),
                Some(_) => cloud
                    .describe_load_balancers(&named_load_balancers)
                    .await
                    .map_err(|err| match err.is_not_found() {
                        true => Error::LoadBalancerNotFound(named_load_balancers.join("`, `")),
                        false => err.into(),
                    }),
            }
        },
    )?;
    let load_balancer_names: BTreeMap<String, String> = load_balancers
        .iter()
        .map(|lb| (lb.arn.clone(), lb.name.clone()))
        .collect();

    // Round 2: which candidate groups the app owns, and the listeners of every
    // load balancer that may route to it.
    let prefix = format!("{app}-");
    let candidates: Vec<String> = all_groups
        .iter()
        .filter(|tg| tg.name.starts_with(&prefix))
        .map(|tg| tg.arn.clone())
        .collect();
    let mut load_balancer_arns: BTreeSet<String> = load_balancer_names.keys().cloned().collect();
    if let Some(traffic) = traffic {
        for listener in &spec_listeners {
            if let ListenerRef::Arn(arn) = listener {
                load_balancer_arns.extend(load_balancer_of_listener(arn));
            }
        }
        for rule in &traffic.rules {
            load_balancer_arns
                .extend(listener_of_rule(rule).and_then(|l| load_balancer_of_listener(&l)));
        }
        for tg in all_groups.iter().filter(|tg| tg.name.starts_with(&prefix)) {
            load_balancer_arns.extend(tg.load_balancer_arns.iter().cloned());
        }
    }
    let (tags, listeners) = futures::try_join!(
        async { cloud.describe_tags(&candidates).await.map_err(Error::from) },
        async {
            let per_load_balancer =
                concurrently(load_balancer_arns.into_iter().collect(), |arn| async move {
                    match cloud.describe_listeners(&arn).await {
                        // A load balancer derived from a mistyped ARN: reported below
                        // as the listener that was not found.
                        Err(err) if err.is_not_found() => Ok(Vec::new()),
                        other => other,
                    }
                })
                .await?;
            Ok::<_, Error>(
                per_load_balancer
                    .into_iter()
                    .flatten()
                    .collect::<Vec<Listener>>(),
            )
        },
    )?;
    let owned: BTreeMap<&str, &Tags> = tags
        .iter()
        .filter(|(_, tags)| tags.get(TAG_APP).map(String::as_str) == Some(app))
        .map(|(arn, tags)| (arn.as_str(), tags))
        .collect();

    // Which listeners the spec means.
    let mut spec_listener_arns = BTreeSet::new();
    let mut test_listener_arn = None;
    if let Some(traffic) = traffic {
        for reference in &spec_listeners {
            let arn = resolve_listener(reference, &listeners, &load_balancer_names)?;
            if traffic.test_listener.as_ref() == Some(*reference) {
                test_listener_arn = Some(arn);
            } else {
                spec_listener_arns.insert(arn);
            }
        }
    }

    // Round 3: rules of every listener, and the health of every owned group.
    let owned_arns: Vec<String> = owned.keys().map(|a| a.to_string()).collect();
    let (rules, health) = futures::try_join!(
        async {
            let per_listener = concurrently(
                listeners.iter().map(|l| l.arn.clone()).collect(),
                |arn| async move { cloud.describe_rules(&arn).await },
            )
            .await?;
            Ok::<_, Error>(per_listener.into_iter().flatten().collect::<Vec<Rule>>())
        },
        async {
            concurrently(owned_arns.clone(), |arn| async move {
                cloud.describe_target_health(&arn).await
            })
            .await
            .map_err(Error::from)
        },
    )?;
    let spec_rules: BTreeSet<&str> = traffic
        .map(|t| t.rules.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for rule in &spec_rules {
        if !rules.iter().any(|r| r.arn == *rule) {
            return Err(Error::RuleNotFound(rule.to_string()));
        }
    }

    // "Blue" target groups: the app's own, and whatever the spec's listeners
    // and rules forward to now (a first release takes over from those).
    let forwards_to = |actions: &[Action]| -> Vec<String> {
        actions
            .iter()
            .flat_map(|a| match a {
                Action::Forward { target_groups, .. } => {
                    target_groups.iter().map(|t| t.arn.clone()).collect()
                }
                _ => Vec::new(),
            })
            .collect()
    };
    let mut app_groups: BTreeSet<String> = owned_arns.iter().cloned().collect();
    for listener in listeners
        .iter()
        .filter(|l| spec_listener_arns.contains(&l.arn))
    {
        app_groups.extend(forwards_to(&listener.default_actions));
    }
    for rule in rules.iter().filter(|r| spec_rules.contains(r.arn.as_str())) {
        app_groups.extend(forwards_to(&rule.actions));
    }
    let routes_to_app = |actions: &[Action]| {
        forwards_to(actions)
            .iter()
            .any(|arn| app_groups.contains(arn))
    };

    let listener_by_arn: BTreeMap<&str, &Listener> =
        listeners.iter().map(|l| (l.arn.as_str(), l)).collect();
    let lb_name = |listener: &Listener| {
        load_balancer_names
            .get(&listener.load_balancer_arn)
            .cloned()
            .or_else(|| load_balancer_name_from_arn(&listener.load_balancer_arn))
            .unwrap_or_default()
    };
    let mut points = Vec::new();
    for listener in &listeners {
        let in_spec = spec_listener_arns.contains(&listener.arn);
        let is_test = test_listener_arn.as_deref() == Some(listener.arn.as_str());
        if in_spec || is_test || routes_to_app(&listener.default_actions) {
            points.push(TrafficPoint {
                arn: listener.arn.clone(),
                kind: PointKind::Listener,
                load_balancer: lb_name(listener),
                listener_port: listener.port,
                priority: None,
                actions: listener.default_actions.clone(),
                in_spec,
                is_test_listener: is_test,
                recorded_weights: None,
                previous_action: None,
                health_check_rule: false,
            });
        }
    }
    for rule in &rules {
        let in_spec = spec_rules.contains(rule.arn.as_str());
        if in_spec || routes_to_app(&rule.actions) {
            let listener = listener_by_arn.get(rule.listener_arn.as_str());
            points.push(TrafficPoint {
                arn: rule.arn.clone(),
                kind: PointKind::Rule,
                load_balancer: listener.map(|l| lb_name(l)).unwrap_or_default(),
                listener_port: listener.and_then(|l| l.port),
                priority: Some(rule.priority.clone()),
                actions: rule.actions.clone(),
                in_spec,
                is_test_listener: false,
                recorded_weights: None,
                previous_action: None,
                health_check_rule: false,
            });
        }
    }
    points.sort_by(|a, b| {
        (a.kind, &a.load_balancer, a.listener_port, priority_key(a)).cmp(&(
            b.kind,
            &b.load_balancer,
            b.listener_port,
            priority_key(b),
        ))
    });

    // Round 4: what this tool last wrote on each point.
    let point_arns: Vec<String> = points.iter().map(|p| p.arn.clone()).collect();
    let point_tags = if point_arns.is_empty() {
        BTreeMap::new()
    } else {
        cloud.describe_tags(&point_arns).await?
    };
    let tag_key = weights_tag(app);
    let previous_key = previous_action_tag(app);
    for point in &mut points {
        let Some(tags) = point_tags.get(&point.arn) else {
            continue;
        };
        point.recorded_weights = tags
            .get(&tag_key)
            .and_then(|value| parse_recorded_weights(value));
        point.previous_action = tags
            .get(&previous_key)
            .and_then(|value| decode_action(value));
        point.health_check_rule = tags.get(TAG_HEALTH_CHECK_RULE).is_some()
            && tags.get(TAG_APP).map(String::as_str) == Some(app);
    }

    // Assemble releases from the owned groups and the tagged instances.
    let mut releases: BTreeMap<String, ObservedRelease> = BTreeMap::new();
    let empty = |release: &str| ObservedRelease {
        release: release.to_string(),
        target_group: None,
        target_group_tags: Tags::new(),
        instances: Vec::new(),
        health: Vec::new(),
    };
    for (arn, health) in owned_arns.iter().zip(health) {
        let tags = owned[arn.as_str()];
        let Some(release) = tags.get(TAG_RELEASE) else {
            continue;
        };
        let entry = releases
            .entry(release.clone())
            .or_insert_with(|| empty(release));
        entry.target_group = all_groups.iter().find(|tg| &tg.arn == arn).cloned();
        entry.target_group_tags = tags.clone();
        entry.health = health;
    }
    for instance in instances {
        let Some(release) = instance.tags.get(TAG_RELEASE).cloned() else {
            continue;
        };
        releases
            .entry(release.clone())
            .or_insert_with(|| empty(&release))
            .instances
            .push(instance);
    }
    for release in releases.values_mut() {
        release.instances.sort_by(|a, b| a.id.cmp(&b.id));
    }

    let mut target_group_names: BTreeMap<String, String> = BTreeMap::new();
    for point in &points {
        for arn in forwards_to(&point.actions) {
            let name = all_groups
                .iter()
                .find(|tg| tg.arn == arn)
                .map(|tg| tg.name.clone())
                .or_else(|| target_group_name_from_arn(&arn))
                .unwrap_or_else(|| arn.clone());
            target_group_names.insert(arn, name);
        }
    }
    for release in releases.values() {
        if let Some(tg) = &release.target_group {
            target_group_names.insert(tg.arn.clone(), tg.name.clone());
        }
    }

    Ok(Observed {
        observed_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        app: app.to_string(),
        releases: releases.into_values().collect(),
        traffic: points,
        target_group_names,
    })
}

fn priority_key(point: &TrafficPoint) -> i64 {
    point
        .priority
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or(i64::MAX)
}

fn resolve_listener(
    reference: &ListenerRef,
    listeners: &[Listener],
    load_balancer_names: &BTreeMap<String, String>,
) -> Result<String> {
    match reference {
        ListenerRef::Arn(arn) => listeners
            .iter()
            .find(|l| &l.arn == arn)
            .map(|l| l.arn.clone())
            .ok_or_else(|| Error::ListenerNotFound(arn.clone())),
        ListenerRef::Port {
            load_balancer,
            port,
        } => listeners
            .iter()
            .find(|l| {
                l.port == Some(i32::from(*port))
                    && load_balancer_names.get(&l.load_balancer_arn) == Some(load_balancer)
            })
            .map(|l| l.arn.clone())
            .ok_or_else(|| Error::ListenerPortNotFound {
                name: load_balancer.clone(),
                port: *port,
            }),
    }
}

/// `arn:…:loadbalancer/app/NAME/ID` → `NAME`.
fn load_balancer_name_from_arn(arn: &str) -> Option<String> {
    arn.rsplit_once(":loadbalancer/")?
        .1
        .split('/')
        .nth(1)
        .map(str::to_string)
}

/// `arn:…:targetgroup/NAME/ID` → `NAME`.
fn target_group_name_from_arn(arn: &str) -> Option<String> {
    arn.rsplit_once(":targetgroup/")?
        .1
        .split('/')
        .next()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2";

    #[test]
    fn arns_derive_their_parents() {
        assert_eq!(
            load_balancer_of_listener(LISTENER).unwrap(),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188"
        );
        let rule = LISTENER.replace(":listener/", ":listener-rule/") + "/9683b2d02a6cabee";
        assert_eq!(listener_of_rule(&rule).unwrap(), LISTENER);
        assert_eq!(
            load_balancer_name_from_arn(&load_balancer_of_listener(LISTENER).unwrap()).as_deref(),
            Some("shop")
        );
        assert_eq!(
            target_group_name_from_arn(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/shop-v1/73e2d6bc24d8a067"
            )
            .as_deref(),
            Some("shop-v1")
        );
    }

    #[test]
    fn recorded_weights_round_trip() {
        let weights: BTreeMap<String, i32> =
            [("shop-v1".to_string(), 90), ("shop-v2".to_string(), 10)].into();
        let text = format_recorded_weights(&weights);
        assert_eq!(text, "shop-v1=90 shop-v2=10");
        assert_eq!(parse_recorded_weights(&text), Some(weights));
        assert_eq!(parse_recorded_weights("garbage"), None);
    }
}
