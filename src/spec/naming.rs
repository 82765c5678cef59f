//! Names and tags the tool gives to what it creates, and the hashes that tell
//! one set of settings from another.
//!
//! Every resource the tool creates carries [`TAG_APP`] and [`TAG_RELEASE`];
//! those tags, not names, decide ownership. Names only have to be valid and
//! unique: a target group is `{app}-{release}` when that fits AWS's 32
//! characters, else a shortened form ending in a hash of the full pair.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Instances, Spec, TargetGroupSpec};

/// The app that owns a resource.
pub const TAG_APP: &str = "bluegreen:app";
/// The release (stack) a resource belongs to.
pub const TAG_RELEASE: &str = "bluegreen:release";
/// Hash of the settings an instance or target group was created from.
pub const TAG_SETTINGS: &str = "bluegreen:settings";
/// On a listener or rule: the weights this tool last wrote there, `target-group-name=weight …`.
pub const TAG_WEIGHTS_PREFIX: &str = "bluegreen:weights:";
/// On green's target group: when the bake ends (RFC 3339), once traffic is all on green.
pub const TAG_BAKE_ENDS: &str = "bluegreen:bake-ends";

/// On a listener or rule a first release took over: its previous action
/// (fixed response or redirect), base64 of its JSON, so `rollback` can restore it.
pub const TAG_PREVIOUS_ACTION_PREFIX: &str = "bluegreen:previous-action:";
/// On a target group: when it was created (RFC 3339); orders releases.
pub const TAG_CREATED_AT: &str = "bluegreen:created-at";
/// On a rule the tool created only so that AWS health-checks green.
pub const TAG_HEALTH_CHECK_RULE: &str = "bluegreen:health-check-rule";

/// On a release's target group: when `rollback` took its traffic away.
pub const TAG_ROLLED_BACK: &str = "bluegreen:rolled-back";

/// AWS's limit on target-group names.
pub const TARGET_GROUP_NAME_MAX: usize = 32;
/// Longest app name: leaves room for `-` and an 8-character release or hash.
pub const APP_NAME_MAX: usize = 20;

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn short_hash(value: &impl Serialize) -> String {
    // Struct fields serialize in declaration order and maps are sorted, so the
    // JSON form is canonical for our types.
    let json = serde_json::to_vec(value).unwrap_or_default();
    sha256_hex(&json)[..10].to_string()
}

/// Hash of the instance settings (what a replacement fleet would differ in).
pub fn instance_settings_hash(instances: &Instances) -> String {
    short_hash(instances)
}

/// Hash of the target-group settings.
pub fn target_group_settings_hash(target_group: &TargetGroupSpec) -> String {
    short_hash(target_group)
}

/// The release name used when the spec gives none: a short hash of the
/// normalized instance and target-group settings, so a changed spec is a new release.
pub fn derived_release(spec: &Spec) -> String {
    format!(
        "r{}",
        &short_hash(&(&spec.instances, &spec.target_group))[..8]
    )
}

/// Green's target-group name for `app` and `release`.
pub fn target_group_name(app: &str, release: &str) -> String {
    let plain = format!("{app}-{release}");
    let valid = plain.len() <= TARGET_GROUP_NAME_MAX
        && plain.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !plain.ends_with('-');
    if valid {
        return plain;
    }
    // Shortened: app, as much of the sanitized release as fits, and a hash of
    // the exact pair so two releases never meet on one name.
    let hash = &sha256_hex(format!("{app}\0{release}").as_bytes())[..6];
    let room = TARGET_GROUP_NAME_MAX - app.len() - hash.len() - 2;
    let release_part: String = release
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(room)
        .collect();
    let release_part = release_part.trim_matches('-');
    if release_part.is_empty() {
        format!("{app}-{hash}")
    } else {
        format!("{app}-{release_part}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(target_group_name("shop", "v42"), "shop-v42");
    }

    #[test]
    fn long_or_dotted_names_are_shortened_validly_and_distinctly() {
        let a = target_group_name("checkout-service", "2026-11-27-build-1234");
        let b = target_group_name("checkout-service", "2026-11-27-build-1235");
        let c = target_group_name("shop", "1.2.3");
        for name in [&a, &b, &c] {
            assert!(name.len() <= TARGET_GROUP_NAME_MAX, "{name}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{name}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
        assert_ne!(a, b);
        assert!(a.starts_with("checkout-service-"));
        assert!(c.starts_with("shop-1-2-3-"));
        assert_ne!(
            target_group_name("shop", "1.2.3"),
            target_group_name("shop", "1-2-3")
        );
    }

    #[test]
    fn longest_app_still_fits() {
        let app = "a".repeat(APP_NAME_MAX);
        let name = target_group_name(&app, &"r".repeat(64));
        assert!(name.len() <= TARGET_GROUP_NAME_MAX);
        assert!(name.starts_with(&format!("{app}-")));
    }
}
