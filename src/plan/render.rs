//! The plan for people: `+ create`, `~ update`, `- destroy`, weights per
//! listener at every step, drift, and the one-line summary.

use std::fmt::Write as _;

use owo_colors::OwoColorize;

use super::{Change, Drift, Plan, PlannedAction, Share, Summary};

/// Renders the plan as text, with ANSI colours when `color` is set.
pub fn render(plan: &Plan, color: bool) -> String {
    let paint = Painter(color);
    let mut out = String::new();
    let green = &plan.green;

    // A refused plan is never "no changes": fall through so its blockers show.
    if plan.is_empty() && plan.blockers.is_empty() {
        let _ = writeln!(
            out,
            "No changes. Release `{}` of `{}` already serves all traffic and nothing else differs.",
            plan.release, plan.app
        );
        render_drift(&mut out, plan, &paint);
        return out;
    }

    let _ = writeln!(
        out,
        "bluegreen will release `{}` of app `{}`:\n",
        plan.release, plan.app
    );

    let hc = &green.health_check;
    let tg_line = format!(
        "target group {} ({}:{} in {}; health check {} {} every {}s, healthy after {}, matcher {}; deregistration delay {}s)",
        green.target_group_name,
        green.protocol,
        green.port,
        green.vpc_id,
        hc.protocol,
        hc.path,
        hc.interval_seconds,
        hc.healthy_threshold,
        hc.matcher,
        green.deregistration_delay_seconds
    );
    match green.target_group {
        Change::Create => {
            let _ = writeln!(out, "  {} {tg_line}", paint.add("+"));
        }
        Change::Update => {
            let _ = writeln!(out, "  {} {tg_line}", paint.change("~"));
            for change in &green.target_group_changes {
                let _ = writeln!(out, "      {change}");
            }
        }
        Change::Keep => {
            let _ = writeln!(out, "    {tg_line} (exists)");
        }
    }

    let fleet = &green.instances;
    let mut what = match (&fleet.instance_type, &fleet.image_id) {
        (Some(kind), Some(image)) => format!("{kind} from {image}"),
        (Some(kind), None) => kind.clone(),
        (None, Some(image)) => format!("from {image}"),
        (None, None) => String::new(),
    };
    if let Some(template) = &fleet.launch_template {
        let sep = if what.is_empty() { "" } else { ", " };
        what = format!("{what}{sep}launch template {template}");
    }
    let user_data = fleet
        .user_data
        .as_ref()
        .map(|d| format!("; user data {} bytes, sha256 {}", d.bytes, &d.sha256[..12]))
        .unwrap_or_default();
    for action in &plan.actions {
        if let PlannedAction::TerminateInstances {
            release,
            instance_ids,
            reason,
        } = action
        {
            let _ = writeln!(
                out,
                "  {} {} instance(s) of `{release}` ({reason}): {}",
                paint.destroy("-"),
                instance_ids.len(),
                instance_ids.join(", ")
            );
        }
    }
    if green.instances_to_launch > 0 {
        let _ = writeln!(
            out,
            "  {} {} instance(s) {what} across {}{user_data}",
            paint.add("+"),
            green.instances_to_launch,
            fleet.subnet_ids.join(", ")
        );
    }
    if !green.existing_instance_ids.is_empty() {
        let _ = writeln!(
            out,
            "    {} instance(s) already running: {}",
            green.existing_instance_ids.len(),
            green.existing_instance_ids.join(", ")
        );
    }
    if green.targets_to_register > 0 {
        let _ = writeln!(
            out,
            "    register {} target(s) in {}",
            green.targets_to_register, green.target_group_name
        );
    }

    for point in &plan.traffic {
        if !point.shifts {
            let _ = writeln!(
                out,
                "\n    {}: {} (unchanged)",
                point.label,
                shares(&point.current)
            );
            continue;
        }
        let kind = if point.test_listener {
            " (test listener)"
        } else {
            ""
        };
        let _ = writeln!(out, "\n  {} {}{kind}", paint.change("~"), point.label);
        let now = match &point.replaces {
            Some(action) => action.clone(),
            None => shares(&point.current),
        };
        let _ = writeln!(out, "      now        {now}");
        if let Some(attach) = &point.attach {
            let label = if point.test_listener {
                "test"
            } else {
                "attach"
            };
            let _ = writeln!(out, "      {label:<10} {}", shares(attach));
        }
        for step in &point.steps {
            let _ = writeln!(
                out,
                "      {:<10} {}",
                format!("step {}%", step.percent),
                shares(&step.weights)
            );
        }
        if !point.test_listener {
            let _ = writeln!(out, "      after bake {}", shares(&point.after_teardown));
        }
    }

    let bake = plan.actions.iter().find_map(|a| match a {
        PlannedAction::Bake { seconds } => Some(*seconds),
        _ => None,
    });
    let after = match bake {
        Some(seconds) => format!("after a {seconds}s bake"),
        None => "now (the bake is over)".to_string(),
    };
    for stack in &plan.teardown {
        let name = stack.target_group.as_deref().unwrap_or("(no target group)");
        if stack.owned {
            let release = stack.release.as_deref().unwrap_or_default();
            let instances = if stack.instance_ids.is_empty() {
                "no instances".to_string()
            } else {
                format!(
                    "{} instance(s): {}",
                    stack.instance_ids.len(),
                    stack.instance_ids.join(", ")
                )
            };
            let _ = writeln!(
                out,
                "\n  {} release `{release}` {after}: target group {name}, {instances}",
                paint.destroy("-")
            );
        } else {
            let _ = writeln!(
                out,
                "\n  {} detach target group {name} {after} (not created by bluegreen: kept, not deleted)",
                paint.change("~")
            );
        }
    }

    render_drift(&mut out, plan, &paint);
    for blocker in &plan.blockers {
        let _ = writeln!(out, "\n{} {blocker}", paint.destroy("cannot apply:"));
    }
    let _ = writeln!(out, "\n{}", summary_line(&plan.summary));
    out
}

fn render_drift(out: &mut String, plan: &Plan, paint: &Painter) {
    if plan.drift.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nDrift:");
    for drift in &plan.drift {
        let line = match drift {
            Drift::Weights {
                point,
                recorded,
                actual,
            } => format!(
                "{point}: weights are {}, but bluegreen last set {}",
                shares(actual),
                shares(recorded)
            ),
            Drift::GreenSettings {
                release,
                differences,
            } => {
                format!(
                    "release `{release}` exists with other settings: {}",
                    differences.join("; ")
                )
            }
            Drift::UnlistedRoute {
                point,
                target_groups,
                shifted,
            } => format!(
                "{point} forwards to {} but is not in the spec's `traffic`{}",
                target_groups.join(", "),
                if *shifted {
                    "; it is shifted with the rest"
                } else {
                    "; it is left alone"
                }
            ),
        };
        let _ = writeln!(out, "  {} {line}", paint.change("!"));
    }
}

/// `Plan: 4 to add, 0 to change, 3 to destroy, 1 listener to shift.`
pub fn summary_line(summary: &Summary) -> String {
    format!(
        "Plan: {} to add, {} to change, {} to destroy, {} {} to shift.",
        summary.add,
        summary.change,
        summary.destroy,
        summary.shift,
        if summary.shift == 1 {
            "listener"
        } else {
            "listeners"
        }
    )
}

/// `shop-v41 90% | shop-v42 10%`, in percent of the action's traffic.
pub fn shares(shares: &[Share]) -> String {
    if shares.is_empty() {
        return "no forward".to_string();
    }
    shares
        .iter()
        .map(|s| {
            format!(
                "{} {}%",
                s.target_group,
                super::percent_of(shares, &s.target_group)
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

struct Painter(bool);

impl Painter {
    fn add(&self, text: &str) -> String {
        if self.0 {
            text.green().to_string()
        } else {
            text.to_string()
        }
    }
    fn change(&self, text: &str) -> String {
        if self.0 {
            text.yellow().to_string()
        } else {
            text.to_string()
        }
    }
    fn destroy(&self, text: &str) -> String {
        if self.0 {
            text.red().to_string()
        } else {
            text.to_string()
        }
    }
}
