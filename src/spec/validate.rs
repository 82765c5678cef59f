//! Value checks on a parsed spec: everything serde's types cannot say, each
//! problem located by its field path. Runs before any AWS call.

use std::collections::BTreeSet;

use super::naming::{APP_NAME_MAX, TAG_APP};
use super::{
    HealthCheck, Instances, ListenerRef, Problem, Rollout, Spec, TargetGroupSpec, Traffic,
};

/// Tags the tool sets itself; a spec's own tags may not use the prefix.
const RESERVED_TAG_PREFIXES: [&str; 2] = ["bluegreen:", "aws:"];
/// AWS's per-resource tag limit, less the tags the tool adds (app, release, settings, Name).
const MAX_USER_TAGS: usize = 50 - 4;
/// AWS's limit on raw user data.
const MAX_USER_DATA_BYTES: usize = 16 * 1024;

/// Every problem in `spec`, in document order; empty when the spec is valid.
pub fn check(spec: &Spec) -> Vec<Problem> {
    let mut problems = Problems::default();
    check_app(spec, &mut problems);
    check_traffic(&spec.traffic, spec.region.as_deref(), &mut problems);
    check_instances(&spec.instances, &mut problems);
    check_target_group(&spec.target_group, &mut problems);
    check_rollout(&spec.rollout, &mut problems);
    for (phase, hooks) in [
        ("before_traffic", &spec.hooks.before_traffic),
        ("after_traffic", &spec.hooks.after_traffic),
    ] {
        for (i, hook) in hooks.iter().enumerate() {
            problems.require(
                !hook.trim().is_empty(),
                format!("hooks.{phase}[{i}]"),
                "a hook is a shell command and cannot be empty",
            );
        }
    }
    problems.0
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn require(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.0.push(Problem::new(field, message));
        }
    }

    fn range<T: PartialOrd + std::fmt::Display>(&mut self, value: T, min: T, max: T, field: &str) {
        self.require(
            value >= min && value <= max,
            field,
            format!("must be between {min} and {max}, got {value}"),
        );
    }
}

fn check_app(spec: &Spec, problems: &mut Problems) {
    let app = &spec.app;
    problems.require(
        !app.is_empty()
            && app.len() <= APP_NAME_MAX
            && app.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !app.starts_with('-')
            && !app.ends_with('-'),
        "app",
        format!(
            "must be 1 to {APP_NAME_MAX} lower-case letters, digits and `-` (not first or last), got `{app}`"
        ),
    );
    let release = &spec.release;
    problems.require(
        release.is_empty()
            || (release.len() <= 64
                && release
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && release.starts_with(|c: char| c.is_ascii_alphanumeric())),
        "release",
        format!("must be up to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit, got `{release}`"),
    );
    if let Some(region) = &spec.region {
        problems.require(
            is_region(region),
            "region",
            format!("`{region}` is not an AWS region name (like `us-east-1`)"),
        );
    }
}

fn is_region(region: &str) -> bool {
    let parts: Vec<_> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn check_traffic(traffic: &Traffic, region: Option<&str>, problems: &mut Problems) {
    problems.require(
        !traffic.listeners.is_empty() || !traffic.rules.is_empty(),
        "traffic",
        "name at least one listener in `traffic.listeners` or rule in `traffic.rules`",
    );
    let mut seen = BTreeSet::new();
    for (i, listener) in traffic.listeners.iter().enumerate() {
        let field = format!("traffic.listeners[{i}]");
        check_listener_ref(listener, region, &field, problems);
        problems.require(
            seen.insert(listener.clone()),
            &field,
            format!("`{listener}` is listed twice"),
        );
    }
    if let Some(test) = &traffic.test_listener {
        check_listener_ref(test, region, "traffic.test_listener", problems);
        problems.require(
            !seen.contains(test),
            "traffic.test_listener",
            "the test listener cannot also be a production listener",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, rule) in traffic.rules.iter().enumerate() {
        let field = format!("traffic.rules[{i}]");
        check_arn(rule, "listener-rule", 6, region, &field, problems);
        problems.require(
            seen.insert(rule),
            &field,
            format!("`{rule}` is listed twice"),
        );
    }
}

fn check_listener_ref(
    listener: &ListenerRef,
    region: Option<&str>,
    field: &str,
    problems: &mut Problems,
) {
    match listener {
        ListenerRef::Arn(arn) => check_arn(arn, "listener", 5, region, field, problems),
        ListenerRef::Port {
            load_balancer,
            port,
        } => {
            problems.require(
                is_load_balancer_name(load_balancer),
                format!("{field}.load_balancer"),
                format!("`{load_balancer}` is not a load balancer name (1 to 32 letters, digits and `-`)"),
            );
            problems.require(
                *port > 0,
                format!("{field}.port"),
                "must be between 1 and 65535",
            );
        }
    }
}

fn is_load_balancer_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Checks an ELBv2 ARN: `arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:KIND/app/NAME/ID/…`
/// with `parts` path segments after the kind.
fn check_arn(
    arn: &str,
    kind: &str,
    segments: usize,
    region: Option<&str>,
    field: &str,
    problems: &mut Problems,
) {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = fields.len() == 6
        && fields[0] == "arn"
        && fields[1].starts_with("aws")
        && fields[2] == "elasticloadbalancing"
        && is_region(fields[3])
        && fields[4].len() == 12
        && fields[4].chars().all(|c| c.is_ascii_digit())
        && {
            let path: Vec<&str> = fields[5].split('/').collect();
            path.len() == segments
                && path[0] == kind
                && path[1] == "app"
                && path[2..].iter().all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        };
    if !well_formed {
        let example = if kind == "listener" {
            "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/LB/ID/ID"
        } else {
            "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/LB/ID/ID/ID"
        };
        problems.require(
            false,
            field,
            format!("`{arn}` is not an Application Load Balancer {kind} ARN (like `{example}`)"),
        );
        return;
    }
    if let Some(region) = region {
        problems.require(
            fields[3] == region,
            field,
            format!(
                "the {kind} is in `{}` but the spec's region is `{region}`",
                fields[3]
            ),
        );
    }
}

/// `PREFIX-` followed by lower-case hex digits, the form of EC2 resource ids
/// (AWS issues 8 or 17; shorter ones are accepted for hand-written examples).
fn is_ec2_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (1..=17).contains(&hex.len())
                && hex
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        })
}

fn check_id(id: &str, prefix: &str, field: &str, problems: &mut Problems) {
    problems.require(
        is_ec2_id(id, prefix),
        field,
        format!("`{id}` is not a valid id (expected `{prefix}-` and lower-case hex digits)"),
    );
}

fn check_instances(instances: &Instances, problems: &mut Problems) {
    problems.range(instances.count, 1, 500, "instances.count");
    match &instances.launch_template {
        None => {
            problems.require(
                instances.image_id.is_some(),
                "instances.image_id",
                "required unless `launch_template` is given",
            );
            problems.require(
                instances.instance_type.is_some(),
                "instances.instance_type",
                "required unless `launch_template` is given",
            );
        }
        Some(template) => {
            problems.require(
                template.id.is_some() != template.name.is_some(),
                "instances.launch_template",
                "give exactly one of `id` and `name`",
            );
            if let Some(id) = &template.id {
                check_id(id, "lt", "instances.launch_template.id", problems);
            }
            let version = &template.version;
            problems.require(
                version == "$Latest"
                    || version == "$Default"
                    || (!version.is_empty() && version.chars().all(|c| c.is_ascii_digit())),
                "instances.launch_template.version",
                format!("must be `$Latest`, `$Default` or a version number, got `{version}`"),
            );
        }
    }
    if let Some(image) = &instances.image_id {
        check_id(image, "ami", "instances.image_id", problems);
    }
    if let Some(kind) = &instances.instance_type {
        let valid = kind.split_once('.').is_some_and(|(family, size)| {
            !family.is_empty()
                && !size.is_empty()
                && kind
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        });
        problems.require(
            valid,
            "instances.instance_type",
            format!("`{kind}` is not an instance type (like `t3.small`)"),
        );
    }
    problems.require(
        !instances.subnet_ids.is_empty(),
        "instances.subnet_ids",
        "name at least one subnet",
    );
    for (i, subnet) in instances.subnet_ids.iter().enumerate() {
        check_id(
            subnet,
            "subnet",
            &format!("instances.subnet_ids[{i}]"),
            problems,
        );
    }
    for (i, group) in instances.security_group_ids.iter().enumerate() {
        check_id(
            group,
            "sg",
            &format!("instances.security_group_ids[{i}]"),
            problems,
        );
    }
    if let Some(key) = &instances.key_name {
        problems.require(
            !key.is_empty(),
            "instances.key_name",
            "cannot be empty (leave it out instead)",
        );
    }
    if let Some(profile) = &instances.iam_instance_profile {
        problems.require(
            !profile.is_empty(),
            "instances.iam_instance_profile",
            "cannot be empty (leave it out instead)",
        );
    }
    if let Some(data) = &instances.user_data {
        problems.require(
            data.len() <= MAX_USER_DATA_BYTES,
            "instances.user_data",
            format!(
                "is {} bytes; AWS takes at most {MAX_USER_DATA_BYTES}",
                data.len()
            ),
        );
    }
    problems.require(
        instances.tags.len() <= MAX_USER_TAGS,
        "instances.tags",
        format!("at most {MAX_USER_TAGS} tags (AWS allows 50 and the tool sets 4)"),
    );
    for (key, value) in &instances.tags {
        let field = format!("instances.tags.{key}");
        problems.require(
            !RESERVED_TAG_PREFIXES.iter().any(|p| key.to_ascii_lowercase().starts_with(p)) && key != "Name",
            &field,
            format!("`{key}` is set by the tool (`{TAG_APP}`, `Name`, …); tags starting with `bluegreen:` or `aws:` are reserved"),
        );
        problems.require(
            !key.is_empty() && key.len() <= 128,
            &field,
            "tag keys are 1 to 128 characters",
        );
        problems.require(
            value.len() <= 256,
            &field,
            "tag values are at most 256 characters",
        );
    }
}

fn check_target_group(target_group: &TargetGroupSpec, problems: &mut Problems) {
    check_id(&target_group.vpc_id, "vpc", "target_group.vpc_id", problems);
    problems.require(
        target_group.port > 0,
        "target_group.port",
        "must be between 1 and 65535",
    );
    check_protocol(&target_group.protocol, "target_group.protocol", problems);
    check_health_check(&target_group.health_check, problems);
    problems.range(
        target_group.deregistration_delay_seconds,
        0,
        3600,
        "target_group.deregistration_delay_seconds",
    );
}

fn check_protocol(protocol: &str, field: &str, problems: &mut Problems) {
    problems.require(
        protocol == "HTTP" || protocol == "HTTPS",
        field,
        format!("must be `HTTP` or `HTTPS` (Application Load Balancer), got `{protocol}`"),
    );
}

fn check_health_check(check: &HealthCheck, problems: &mut Problems) {
    problems.require(
        check.path.starts_with('/') && check.path.len() <= 1024,
        "target_group.health_check.path",
        format!(
            "must start with `/` and be at most 1024 characters, got `{}`",
            check.path
        ),
    );
    problems.require(
        check.port == "traffic-port" || check.port.parse::<u16>().is_ok_and(|p| p > 0),
        "target_group.health_check.port",
        format!(
            "must be `traffic-port` or a port number, got `{}`",
            check.port
        ),
    );
    check_protocol(
        &check.protocol,
        "target_group.health_check.protocol",
        problems,
    );
    problems.range(
        check.interval_seconds,
        5,
        300,
        "target_group.health_check.interval_seconds",
    );
    problems.range(
        check.timeout_seconds,
        2,
        120,
        "target_group.health_check.timeout_seconds",
    );
    problems.require(
        check.timeout_seconds < check.interval_seconds,
        "target_group.health_check.timeout_seconds",
        format!(
            "must be less than `interval_seconds` ({}), got {}",
            check.interval_seconds, check.timeout_seconds
        ),
    );
    problems.range(
        check.healthy_threshold,
        2,
        10,
        "target_group.health_check.healthy_threshold",
    );
    problems.range(
        check.unhealthy_threshold,
        2,
        10,
        "target_group.health_check.unhealthy_threshold",
    );
    problems.require(
        is_matcher(&check.matcher),
        "target_group.health_check.matcher",
        format!(
            "must be HTTP codes from 200 to 499 like `200`, `200,302` or `200-299`, got `{}`",
            check.matcher
        ),
    );
}

fn is_matcher(matcher: &str) -> bool {
    let code = |s: &str| s.len() == 3 && s.parse::<u16>().is_ok_and(|c| (200..=499).contains(&c));
    !matcher.is_empty()
        && matcher.split(',').all(|part| match part.split_once('-') {
            Some((low, high)) => code(low) && code(high) && low < high,
            None => code(part),
        })
}

fn check_rollout(rollout: &Rollout, problems: &mut Problems) {
    problems.require(
        !rollout.steps.is_empty(),
        "rollout.steps",
        "give at least one step (`[100]` moves all traffic at once)",
    );
    let mut previous = 0;
    for (i, &step) in rollout.steps.iter().enumerate() {
        let field = format!("rollout.steps[{i}]");
        if !(1..=100).contains(&step) {
            problems.require(
                false,
                &field,
                format!("must be a percentage between 1 and 100, got {step}"),
            );
        } else if step <= previous {
            problems.require(
                false,
                &field,
                format!("steps must increase strictly, but {step} follows {previous}"),
            );
        }
        previous = previous.max(step);
    }
    if let Some(&last) = rollout.steps.last() {
        problems.require(
            last == 100,
            format!("rollout.steps[{}]", rollout.steps.len() - 1),
            format!("the last step must be 100 (all traffic on green), got {last}"),
        );
    }
    problems.range(
        rollout.min_healthy_percent,
        1,
        100,
        "rollout.min_healthy_percent",
    );
    problems.require(
        rollout.health_timeout_seconds > 0,
        "rollout.health_timeout_seconds",
        "must be at least 1",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_ids() {
        assert!(is_ec2_id("subnet-0123abcd", "subnet"));
        assert!(is_ec2_id("ami-0abcdef1234567890", "ami"));
        assert!(is_ec2_id("subnet-aaa", "subnet"));
        assert!(!is_ec2_id("subnet-", "subnet"));
        assert!(!is_ec2_id("subnet-xyz", "subnet"));
        assert!(!is_ec2_id("sg-0123ABCD", "sg"));
        assert!(!is_ec2_id("vpc-0123abcd", "subnet"));
    }

    #[test]
    fn matchers() {
        for ok in ["200", "200,302", "200-299", "200-299,404"] {
            assert!(is_matcher(ok), "{ok}");
        }
        for bad in ["", "20", "100", "299-200", "2xx", "200,"] {
            assert!(!is_matcher(bad), "{bad}");
        }
    }

    #[test]
    fn regions() {
        assert!(is_region("us-east-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("useast1"));
        assert!(!is_region("US-EAST-1"));
    }
}
