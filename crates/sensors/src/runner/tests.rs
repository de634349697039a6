use std::time::Instant;

use model::{BoxFuture, CheckContext, MonitorError, SystemClock, Timestamp};
use testkit::ManualClock;

use super::*;

/// A monitor whose behaviour the test picks.
struct Scripted {
    name: &'static str,
    behaviour: Behaviour,
}

enum Behaviour {
    Ok,
    Hang,
    Panic,
    Fail,
    EchoState,
}

impl Monitor for Scripted {
    fn name(&self) -> &str {
        self.name
    }
    fn kind(&self) -> &'static str {
        "scripted"
    }
    fn check(&self, ctx: CheckContext) -> BoxFuture<'_, Result<Observation, MonitorError>> {
        Box::pin(async move {
            match self.behaviour {
                Behaviour::Ok => {
                    let mut obs = Observation::from_outcome(CheckOutcome::new(Status::Ok, "fine"));
                    obs.samples.push(Sample::new("things", 3.0, ctx.now));
                    Ok(obs)
                }
                Behaviour::Hang => {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    unreachable!("the runner abandons this check long before")
                }
                Behaviour::Panic => panic!("boom in {}", self.name),
                Behaviour::Fail => {
                    Err(MonitorError::new("cannot open /nowhere/app.log: not found"))
                }
                Behaviour::EchoState => {
                    let n = ctx.state.as_deref().map_or(0, |s| s[0]);
                    let mut obs = Observation::from_outcome(CheckOutcome::new(
                        Status::Ok,
                        format!("run {n}"),
                    ));
                    obs.next_state = Some(vec![n + 1]);
                    Ok(obs)
                }
            }
        })
    }
}

fn slot(name: &'static str, behaviour: Behaviour, timeout_ms: u64) -> MonitorSlot {
    MonitorSlot {
        monitor: Arc::new(Scripted { name, behaviour }),
        description: String::new(),
        timeout: Duration::from_millis(timeout_ms),
    }
}

#[tokio::test]
async fn hang_and_panic_become_unknown_and_others_finish_normally() {
    let slots = vec![
        slot("good", Behaviour::Ok, 5_000),
        slot("hangs", Behaviour::Hang, 300),
        slot("panics", Behaviour::Panic, 5_000),
        slot("fails", Behaviour::Fail, 5_000),
    ];
    let began = Instant::now();
    let results = check_all(&slots, |_| None, Arc::new(SystemClock)).await;
    let took = began.elapsed();

    assert!(
        took < Duration::from_secs(5),
        "the hung monitor delayed the run: {took:?}"
    );
    let by_name = |n: &str| results.iter().find(|r| r.run.name == n).unwrap();
    assert_eq!(by_name("good").run.outcome.status, Status::Ok);
    assert_eq!(by_name("good").run.outcome.summary, "fine");

    let hung = &by_name("hangs").run.outcome;
    assert_eq!(hung.status, Status::Unknown);
    assert_eq!(hung.summary, "timed out after 300ms");

    let panicked = &by_name("panics").run.outcome;
    assert_eq!(panicked.status, Status::Unknown);
    assert!(
        panicked.summary.contains("boom in panics"),
        "{}",
        panicked.summary
    );

    let failed = &by_name("fails").run.outcome;
    assert_eq!(failed.status, Status::Unknown);
    assert!(
        failed.summary.contains("/nowhere/app.log"),
        "{}",
        failed.summary
    );

    assert_eq!(worst(&results), Status::Unknown);
    let names: Vec<_> = results.iter().map(|r| r.run.name.as_str()).collect();
    assert_eq!(
        names,
        ["good", "hangs", "panics", "fails"],
        "results keep slot order"
    );
}

#[tokio::test]
async fn samples_carry_the_monitor_label_and_runner_metrics() {
    let clock = ManualClock::new(Timestamp(1_000));
    let r = check_one(&slot("good", Behaviour::Ok, 1_000), None, &clock).await;
    let things = r.run.samples.iter().find(|s| s.name == "things").unwrap();
    assert_eq!(things.labels.get("monitor"), Some("good"));
    let status = r
        .run
        .samples
        .iter()
        .find(|s| s.name == "periscope_monitor_status")
        .unwrap();
    assert_eq!(status.value, 0.0);
    assert_eq!(r.run.started, Timestamp(1_000));
}

#[tokio::test]
async fn state_is_passed_in_and_next_state_handed_back_only_on_success() {
    let clock = SystemClock;
    let s = slot("echo", Behaviour::EchoState, 1_000);
    let first = check_one(&s, None, &clock).await;
    assert_eq!(first.next_state, Some(vec![1]));
    let second = check_one(&s, first.next_state.clone(), &clock).await;
    assert_eq!(second.run.outcome.summary, "run 1");
    assert_eq!(second.next_state, Some(vec![2]));

    let failed = check_one(
        &slot("fails", Behaviour::Fail, 1_000),
        Some(vec![9]),
        &clock,
    )
    .await;
    assert_eq!(
        failed.next_state, None,
        "a failed check must not move state on"
    );
}

#[test]
fn human_durations() {
    assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
    assert_eq!(human_duration(Duration::from_secs(1)), "1s");
    assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
    assert_eq!(human_duration(Duration::from_secs(45)), "45s");
    assert_eq!(human_duration(Duration::from_secs(300)), "5m");
    assert_eq!(human_duration(Duration::from_secs(5400)), "90m");
    assert_eq!(human_duration(Duration::from_secs(7200)), "2h");
}
