//! Waiting at exit for the last holders of the metric store to let go, so it closes cleanly.
//!
//! Why: a blocking task whose caller was cancelled by the shutdown (an ingest parse, a
//! maintenance pass) still runs to its end, holding its clone of the store; closing without it
//! would leave the write-ahead log to replay at the next start.

use std::sync::Arc;
use std::time::Duration;

/// How long `serve` waits at exit for such work to finish.
pub const RELEASE_WAIT: Duration = Duration::from_secs(10);

/// `shared`'s value once nothing else holds it, or still shared after `wait`.
pub async fn last_holder<T>(mut shared: Arc<T>, wait: Duration) -> Result<T, Arc<T>> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match Arc::try_unwrap(shared) {
            Ok(owned) => return Ok(owned),
            Err(still) if tokio::time::Instant::now() >= deadline => return Err(still),
            Err(still) => {
                shared = still;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_holder_finishing_its_work_is_waited_for_and_one_that_never_does_is_not() {
        let store = Arc::new(7);
        let held = Arc::clone(&store);
        let worker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
        });
        assert_eq!(last_holder(store, Duration::from_secs(10)).await, Ok(7));
        worker.join().unwrap();

        let store = Arc::new(8);
        let _kept = Arc::clone(&store);
        let started = std::time::Instant::now();
        assert!(
            last_holder(store, Duration::from_millis(100))
                .await
                .is_err()
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
    }
}
