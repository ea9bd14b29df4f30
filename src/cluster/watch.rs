//! How watches recover from faults.
//!
//! kube-runtime's default backoff is made for long-running controllers: up
//! to 30 s between attempts, reset only after two quiet minutes, and it
//! treats 410 Gone like any error. For a command that waits a few minutes
//! that means noticing a recovered API (or re-listing after 410) many
//! seconds late. Here, as client-go's reflector does, 410 Gone re-lists at
//! once; other errors back off from 250 ms, doubling, jittered, up to 4 s;
//! any event resets the backoff.

use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::watcher;

const FIRST: Duration = Duration::from_millis(250);
const CAP: Duration = Duration::from_secs(4);

/// Exponential backoff with jitter (each delay in `[d/2, d]`).
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// The delay before the next attempt.
    pub fn delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(CAP);
        let half = d / 2;
        half + Duration::from_millis(rand::random_range(0..=half.as_millis() as u64))
    }

    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

/// Whether a watcher error is 410 Gone (the watcher re-lists next).
pub fn is_gone(err: &watcher::Error) -> bool {
    match err {
        watcher::Error::WatchError(s) => s.code == 410,
        watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::InitialListFailed(kube::Error::Api(s)) => s.code == 410,
        _ => false,
    }
}

/// Wrap a watcher stream with [`Backoff`]: errors are still yielded (so the
/// caller can stop on fatal ones), and the next poll waits as described in
/// the module documentation.
pub fn with_backoff<S, T>(stream: S) -> impl Stream<Item = Result<T, watcher::Error>> + Send
where
    S: Stream<Item = Result<T, watcher::Error>> + Send + Unpin,
    T: Send,
{
    futures::stream::unfold(
        (stream, Backoff::default(), None::<Duration>, false),
        |(mut stream, mut backoff, pause, last_gone)| async move {
            if let Some(d) = pause {
                tokio::time::sleep(d).await;
            }
            let item = stream.next().await?;
            let (pause, gone) = match &item {
                Ok(_) => {
                    backoff.reset();
                    (None, false)
                }
                // The server answered: re-list at once (but not in a loop).
                Err(e) if is_gone(e) && !last_gone => {
                    backoff.reset();
                    (None, true)
                }
                Err(e) => {
                    let d = backoff.delay();
                    tracing::debug!(error = %e, "watch error; retrying in {} ms", d.as_millis());
                    (Some(d), is_gone(e))
                }
            };
            Some((item, (stream, backoff, pause, gone)))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<Duration> = (0..8).map(|_| b.delay()).collect();
        let mut want = FIRST;
        for d in &delays {
            assert!(
                *d >= want / 2 && *d <= want,
                "{d:?} within [{want:?}/2, {want:?}]"
            );
            want = (want * 2).min(CAP);
        }
        assert!(delays[7] >= CAP / 2);
        b.reset();
        assert!(b.delay() <= FIRST);
    }

    #[test]
    fn gone_is_recognised() {
        let status = |code| kube::core::Status {
            code,
            ..Default::default()
        };
        assert!(is_gone(&watcher::Error::WatchError(Box::new(status(410)))));
        assert!(!is_gone(&watcher::Error::WatchError(Box::new(status(500)))));
    }
}
