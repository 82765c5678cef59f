//! The deploy lock: one run at a time may change an app. It lives in AWS
//! (the runs may be on different machines) as an EC2 key pair named
//! `bluegreen-lock-APP`, because creating a key pair whose name exists fails
//! atomically. Its tags say who holds it, since when and until when; a lock
//! whose holder crashed expires (at once when the holder was a process of
//! this machine that is gone), and `bluegreen unlock` breaks one by hand.
//! Holders renew the expiry while they work.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cloud::{Cloud, Tags};
use crate::{Error, Result};

const TAG_HOLDER: &str = "bluegreen:lock-holder";
const TAG_SINCE: &str = "bluegreen:lock-since";
const TAG_EXPIRES: &str = "bluegreen:lock-expires";

/// How long a lock lasts without renewal.
pub const TTL: Duration = Duration::from_secs(3 * 60);
/// How often a holder renews it.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockInfo {
    pub id: String,
    pub holder: String,
    pub since: String,
    pub expires: String,
}

impl LockInfo {
    fn from_tags(id: String, tags: &Tags) -> Self {
        let tag = |k: &str| tags.get(k).cloned().unwrap_or_else(|| "?".into());
        Self {
            id,
            holder: tag(TAG_HOLDER),
            since: tag(TAG_SINCE),
            expires: tag(TAG_EXPIRES),
        }
    }

    /// Past its expiry, or held by a process of this machine that is gone.
    fn abandoned(&self) -> bool {
        let expired = humantime::parse_rfc3339(&self.expires).is_ok_and(|t| t <= SystemTime::now());
        let dead_here = self
            .holder
            .rsplit_once(" pid ")
            .and_then(|(who, pid)| {
                Some((who.split_once('@')?.1.to_string(), pid.parse::<u32>().ok()?))
            })
            .is_some_and(|(host, pid)| {
                host == hostname() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
        expired || dead_here
    }
}

/// The lock's name for `app`.
pub fn name(app: &str) -> String {
    format!("bluegreen-lock-{app}")
}

fn stamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `user@host pid N`, for people reading who holds a lock.
fn holder() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    format!("{user}@{} pid {}", hostname(), std::process::id())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Takes the app's lock; [`Error::Locked`] when another run holds it.
pub async fn acquire(cloud: &impl Cloud, app: &str) -> Result<LockInfo> {
    let now = SystemTime::now();
    let tags: Tags = BTreeMap::from([
        (TAG_HOLDER.to_string(), holder()),
        (TAG_SINCE.to_string(), stamp(now)),
        (TAG_EXPIRES.to_string(), stamp(now + TTL)),
    ]);
    for _ in 0..2 {
        match cloud.create_lock(&name(app), &tags).await {
            Ok(id) => return Ok(LockInfo::from_tags(id, &tags)),
            Err(err) if err.code.ends_with("Duplicate") => {
                let Some((id, held)) = cloud.describe_lock(&name(app)).await? else {
                    continue; // released meanwhile: try again
                };
                let info = LockInfo::from_tags(id, &held);
                if !info.abandoned() {
                    return Err(Error::Locked {
                        app: app.to_string(),
                        holder: info.holder,
                        since: info.since,
                        id: info.id,
                    });
                }
                // Left by a run that died: break it, then race for it afresh
                // (creation stays atomic, so one run wins).
                cloud.delete_lock(&name(app)).await?;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(Error::Usage(format!(
        "could not take the lock of `{app}`: it changed hands twice; try again"
    )))
}

/// Pushes the expiry forward; called every [`RENEW_EVERY`] while working.
pub async fn renew(cloud: &impl Cloud, lock: &LockInfo) -> Result<()> {
    let tags = BTreeMap::from([(TAG_EXPIRES.to_string(), stamp(SystemTime::now() + TTL))]);
    Ok(cloud.tag_lock(&lock.id, &tags).await?)
}

/// Gives the lock back, if it is still ours.
pub async fn release(cloud: &impl Cloud, app: &str, lock: &LockInfo) -> Result<()> {
    match cloud.describe_lock(&name(app)).await? {
        Some((id, _)) if id == lock.id => Ok(cloud.delete_lock(&name(app)).await?),
        _ => Ok(()),
    }
}

/// Who holds the app's lock, if anyone.
pub async fn holder_of(cloud: &impl Cloud, app: &str) -> Result<Option<LockInfo>> {
    Ok(cloud
        .describe_lock(&name(app))
        .await?
        .map(|(id, tags)| LockInfo::from_tags(id, &tags)))
}

/// Breaks the app's lock by hand; `id` must be the lock's id.
pub async fn unlock(cloud: &impl Cloud, app: &str, id: &str) -> Result<LockInfo> {
    match holder_of(cloud, app).await? {
        Some(info) if info.id == id => {
            cloud.delete_lock(&name(app)).await?;
            Ok(info)
        }
        Some(info) => Err(Error::Usage(format!(
            "the lock of `{app}` is `{}` (held by {}), not `{id}`: nothing was removed",
            info.id, info.holder
        ))),
        None => Err(Error::Usage(format!("`{app}` is not locked"))),
    }
}

/// Runs `work` while holding the app's lock, renewing it meanwhile, and
/// gives it back afterwards whatever the outcome.
pub async fn with_lock<C: Cloud, T>(
    cloud: &C,
    app: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let lock = acquire(cloud, app).await?;
    let renewing = async {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            // A failed renewal is retried at the next tick; the expiry leaves room.
            let _ = renew(cloud, &lock).await;
        }
    };
    let result = tokio::select! {
        result = work => result,
        never = renewing => never,
    };
    let released = release(cloud, app, &lock).await;
    let value = result?;
    released?;
    Ok(value)
}
