//! SIGINT and SIGTERM during a release: the run stops at its next safe
//! point (between two steps, or in a wait), never inside a write, and says
//! where production stands.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::watch;

static STOP: OnceLock<watch::Sender<bool>> = OnceLock::new();

fn sender() -> &'static watch::Sender<bool> {
    STOP.get_or_init(|| watch::channel(false).0)
}

/// Starts listening for SIGINT and SIGTERM.
pub fn install() {
    let stop = sender();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut interrupt), Ok(mut terminate)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        stop.send_replace(true);
    });
}

/// Whether a signal asked the run to stop.
pub fn requested() -> bool {
    *sender().borrow()
}

/// Sleeps for `duration`, or less when a stop is requested.
pub async fn sleep(duration: Duration) {
    let mut stop = sender().subscribe();
    if *stop.borrow_and_update() {
        return;
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = stop.changed() => {}
    }
}
