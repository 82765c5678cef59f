//! Polling: look at once, then back off, and never sleep past a condition
//! that is already true. AWS answers in seconds and the emulator at once;
//! the same loop serves both.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// First pause between two looks.
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// Longest pause between two looks.
const LONGEST_PAUSE: Duration = Duration::from_secs(5);
/// Transient errors in a row a loop rides out before giving up.
const TRANSIENT_ERRORS_TOLERATED: usize = 10;

/// An error a polling loop may ride out by looking again.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for crate::Error {
    fn is_transient(&self) -> bool {
        matches!(self, crate::Error::Cloud(err) if err.is_transient())
    }
}

/// Counts transient errors in a row; `Err` once there are too many, or for
/// any other error.
struct Tolerance(usize);

impl Tolerance {
    fn absorb<E: Transient>(&mut self, err: E) -> Result<(), E> {
        if err.is_transient() && self.0 < TRANSIENT_ERRORS_TOLERATED {
            self.0 += 1;
            Ok(())
        } else {
            Err(err)
        }
    }
}

/// Calls `look` until it returns `Some`, or until `timeout` has passed or a
/// stop is requested (then `None`). The first look is immediate; pauses grow by half each time.
/// Transient errors count as "not yet", a few in a row.
pub async fn until<T, E, F, Fut>(timeout: Duration, mut look: F) -> Result<Option<T>, E>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    let mut tolerance = Tolerance(0);
    loop {
        match look().await {
            Ok(Some(value)) => return Ok(Some(value)),
            Ok(None) => tolerance.0 = 0,
            Err(err) => tolerance.absorb(err)?,
        }
        let now = Instant::now();
        if now >= deadline || super::signal::requested() {
            return Ok(None);
        }
        super::signal::sleep(pause.min(deadline - now)).await;
        pause = (pause * 3 / 2).min(LONGEST_PAUSE);
    }
}

/// Calls `check` regularly for `duration`, stopping early with its error.
/// Used to watch green's health through a step interval or the bake;
/// transient errors skip a look, a few in a row.
pub async fn watch<E, F, Fut>(duration: Duration, mut check: F) -> Result<(), E>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let deadline = Instant::now() + duration;
    let mut tolerance = Tolerance(0);
    loop {
        match check().await {
            Ok(()) => tolerance.0 = 0,
            Err(err) => tolerance.absorb(err)?,
        }
        let now = Instant::now();
        if now >= deadline || super::signal::requested() {
            return Ok(());
        }
        super::signal::sleep(LONGEST_PAUSE.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Fault(bool);

    impl Transient for Fault {
        fn is_transient(&self) -> bool {
            self.0
        }
    }

    impl Transient for () {
        fn is_transient(&self) -> bool {
            false
        }
    }

    impl Transient for &str {
        fn is_transient(&self) -> bool {
            false
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_ridden_out_and_others_are_not() {
        let mut looks = 0;
        let found = until(Duration::from_secs(60), || {
            looks += 1;
            let n = looks;
            async move {
                if n < 4 {
                    Err(Fault(true))
                } else {
                    Ok(Some(n))
                }
            }
        })
        .await;
        assert_eq!(found, Ok(Some(4)));

        let failed: Result<Option<()>, _> =
            until(Duration::from_secs(60), || async { Err(Fault(false)) }).await;
        assert_eq!(failed, Err(Fault(false)));

        let mut looks = 0;
        let endless: Result<Option<()>, _> = until(Duration::from_secs(600), || {
            looks += 1;
            async { Err(Fault(true)) }
        })
        .await;
        assert_eq!(endless, Err(Fault(true)));
        assert_eq!(looks, TRANSIENT_ERRORS_TOLERATED + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_true_condition_is_seen_without_sleeping() {
        let started = Instant::now();
        let found: Result<_, ()> = until(Duration::from_secs(60), || async { Ok(Some(7)) }).await;
        assert_eq!(found, Ok(Some(7)));
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn looks_back_off_and_give_up_at_the_timeout() {
        let mut looks = 0;
        let found: Result<Option<()>, ()> = until(Duration::from_secs(10), || {
            looks += 1;
            async { Ok(None) }
        })
        .await;
        assert_eq!(found, Ok(None));
        // 0.2, 0.3, 0.45, … capped at 5 s: about ten looks in ten seconds, not fifty.
        assert!((5..=12).contains(&looks), "{looks} looks");
    }

    #[tokio::test(start_paused = true)]
    async fn watch_stops_at_the_first_failure() {
        let mut checks = 0;
        let result = watch(Duration::from_secs(60), || {
            checks += 1;
            let n = checks;
            async move {
                if n == 3 {
                    Err("degraded")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(result, Err("degraded"));
        assert_eq!(checks, 3);
    }
}
