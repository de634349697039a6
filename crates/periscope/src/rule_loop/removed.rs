//! Closing the alerts of rules that are no longer configured.
//!
//! A rule removed from the config (or its whole group) leaves its alert records behind.
//! Resolved and inactive ones age out with the prune; a pending or firing one would stay so
//! forever, and a firing one would stay firing for whoever was told about it. So at start and
//! at every prune (`prune.rs`), each pending or firing record that no loaded group would take
//! back ([`RuleIndex::unclaimed`]) is closed: firing becomes resolved and pending becomes
//! inactive, with a transition whose change is [`Change::RuleRemoved`], saved under the
//! record's group. A firing alert whose firing was notified has its resolution notified the way
//! every resolution is: the transition goes to the notifier with the resolved record. From then
//! on the record ages out like any other resolved one.
//!
//! A rule that moved leaves a record behind too when the group it moved to already has its own
//! record of the same alert (same rule name and labels: the group has, or had, a rule of that
//! name raising it). That group restores its own record (`restore.rs`), and the moved copy stays
//! under the old group, where nothing saves it any more: were it pending or firing, it would
//! stay so for ever and be handed to the notifier as firing at every start. So it is closed the
//! same way, by the prune that runs as `serve` starts.
//!
//! One exception: when a loaded group holds a pending or firing alert with the same rule name
//! and labels (a rule of that name lives on in another group, or a left-behind copy's winner is
//! open), the old record is closed without a notification, because to the notifier the two are
//! one alert and it is still firing.

use std::collections::{BTreeMap, BTreeSet};

use model::Timestamp;
use model::alert::{
    AlertKey, AlertPhase, AlertRecord, AlertStateStore, Change, StateBatch, StateStoreError,
    Transition,
};

use super::restore::RuleIndex;
use crate::notify_wire::AlertSink;

/// Closes the pending and firing records of removed rules in `state` at `now` (see the module
/// documentation), logs each transition and hands the notifiable ones to `alerts`. Returns how
/// many records were closed. A batch is saved before its transitions are handed on, so a
/// resolution is only announced once it is stored.
pub async fn close_removed(
    state: &dyn AlertStateStore,
    rules: &RuleIndex,
    alerts: Option<&AlertSink>,
    now: Timestamp,
) -> Result<usize, StateStoreError> {
    let records = state.load().await?;
    close_removed_among(state, rules, &records, alerts, now).await
}

/// [`close_removed`] over `records`, already loaded from `state`.
pub async fn close_removed_among(
    state: &dyn AlertStateStore,
    rules: &RuleIndex,
    records: &[AlertRecord],
    alerts: Option<&AlertSink>,
    now: Timestamp,
) -> Result<usize, StateStoreError> {
    let mut closed = 0;
    for batch in close(rules, records, now) {
        state.save(&batch).await?;
        let group = batch.group.as_deref().unwrap_or_default();
        for t in &batch.transitions {
            super::log_transition(group, t);
        }
        if let Some(sink) = alerts {
            sink.transitions(&batch.transitions, &batch.upserts);
        }
        closed += batch.upserts.len();
    }
    Ok(closed)
}

/// The batches that close the pending and firing records of removed rules among `records` at
/// `now`: one per group the records were saved under, each with the closed records and their
/// transitions (so the transitions are recorded under that group too).
pub fn close(rules: &RuleIndex, records: &[AlertRecord], now: Timestamp) -> Vec<StateBatch> {
    let open = |r: &AlertRecord| matches!(r.phase, AlertPhase::Pending | AlertPhase::Firing);
    let live: BTreeSet<&AlertKey> = records
        .iter()
        .filter(|r| open(r) && !rules.unclaimed(r))
        .map(|r| &r.key)
        .collect();
    let mut by_group: BTreeMap<Option<&str>, StateBatch> = BTreeMap::new();
    for record in records.iter().filter(|r| open(r) && rules.unclaimed(r)) {
        let (closed, transition) = closed(record, live.contains(&record.key), now);
        let batch = by_group
            .entry(record.group.as_deref())
            .or_insert_with(|| StateBatch {
                group: record.group.clone(),
                ..StateBatch::default()
            });
        batch.upserts.push(closed);
        batch.transitions.push(transition);
    }
    by_group.into_values().collect()
}

/// `record` closed at `now`, and the transition that says so. `shared` tells that a loaded
/// group holds an open alert of the same name and labels, which keeps the notification back.
fn closed(record: &AlertRecord, shared: bool, now: Timestamp) -> (AlertRecord, Transition) {
    let to = match record.phase {
        AlertPhase::Firing => AlertPhase::Resolved,
        _ => AlertPhase::Inactive,
    };
    // As for any resolution: only people who heard of the firing hear of its end.
    let notify = to == AlertPhase::Resolved && record.notified_firing && !shared;
    let mut closed = record.clone();
    closed.phase = to;
    closed.pending_since = None;
    if to == AlertPhase::Resolved {
        closed.resolved_at = Some(now);
    }
    // The closing is its last evaluation: it ages out a retention period from now, with the
    // transition that closed it.
    closed.last_evaluated_at = now;
    closed.notified_firing = false;
    let transition = Transition {
        key: record.key.clone(),
        change: Change::RuleRemoved,
        from: record.phase,
        to,
        at: now,
        notify,
        value: None,
        suppressed_by: None,
    };
    (closed, transition)
}

#[cfg(test)]
mod tests {
    use model::Labels;

    use super::super::restore::tests::{CORE, TWO_GROUPS, groups};
    use super::*;

    /// Groups `api` and `db` keep their rule `Down`; `Gone` and the group `old` are no longer
    /// configured.
    fn index() -> RuleIndex {
        RuleIndex::of(&groups(TWO_GROUPS))
    }

    const NOW: Timestamp = Timestamp(1_000_000);

    fn record(rule: &str, job: &str, group: Option<&str>, phase: AlertPhase) -> AlertRecord {
        let key = AlertKey::new(rule, Labels::new().with("alertname", rule).with("job", job));
        let mut r = AlertRecord::new(key, Timestamp(10));
        r.phase = phase;
        r.group = group.map(str::to_string);
        if phase == AlertPhase::Firing {
            r.active_since = Some(Timestamp(5));
            r.notified_firing = true;
        }
        r
    }

    #[test]
    fn a_firing_alert_of_a_removed_rule_resolves_and_its_resolution_is_notified() {
        let firing = record("Gone", "api", Some("api"), AlertPhase::Firing);
        let batches = close(&index(), std::slice::from_ref(&firing), NOW);
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        assert_eq!(batch.group.as_deref(), Some("api"), "saved where it was");
        let closed = &batch.upserts[0];
        assert_eq!(closed.phase, AlertPhase::Resolved);
        assert_eq!(closed.resolved_at, Some(NOW));
        assert_eq!(
            closed.active_since,
            Some(Timestamp(5)),
            "when it fired stays"
        );
        assert_eq!(closed.last_evaluated_at, NOW, "ages out from now on");
        let t = &batch.transitions[0];
        assert_eq!(
            (t.change, t.from, t.to, t.at, t.notify),
            (
                Change::RuleRemoved,
                AlertPhase::Firing,
                AlertPhase::Resolved,
                NOW,
                true
            )
        );
    }

    #[test]
    fn only_open_records_without_a_rule_are_closed_each_in_its_group() {
        let records = [
            // Its rule lives on: left to its group.
            record("Down", "api", Some("api"), AlertPhase::Firing),
            // A group that is gone, with a rule name two groups share: nobody takes it back.
            record("Down", "web", Some("old"), AlertPhase::Firing),
            // Pending never fired: it becomes inactive, and nobody was told.
            record("Gone", "api", None, AlertPhase::Pending),
            // Already resolved: the prune takes it in time.
            record("Gone", "db", Some("db"), AlertPhase::Resolved),
        ];
        let batches = close(&index(), &records, NOW);
        let closed: Vec<(Option<&str>, &str, AlertPhase, bool)> = batches
            .iter()
            .flat_map(|b| {
                b.upserts.iter().zip(&b.transitions).map(|(r, t)| {
                    assert_eq!(r.group, b.group, "a batch holds its own group's records");
                    (
                        b.group.as_deref(),
                        r.key.labels.get("job").unwrap(),
                        r.phase,
                        t.notify,
                    )
                })
            })
            .collect();
        assert_eq!(
            closed,
            [
                (None, "api", AlertPhase::Inactive, false),
                (Some("old"), "web", AlertPhase::Resolved, true),
            ]
        );
    }

    #[test]
    fn an_alert_still_open_in_a_loaded_group_is_closed_without_telling_anyone() {
        // `Down{job="api"}` fires in group api, and an old copy of it lingers under a group
        // that is gone (with the name shared, it is not taken as a move).
        let records = [
            record("Down", "api", Some("api"), AlertPhase::Firing),
            record("Down", "api", Some("old"), AlertPhase::Firing),
        ];
        let batches = close(&index(), &records, NOW);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].group.as_deref(), Some("old"));
        assert!(!batches[0].transitions[0].notify, "{:?}", batches[0]);
    }

    #[test]
    fn a_copy_left_behind_by_a_move_is_closed_and_its_end_told_only_when_no_copy_is_open() {
        // `Down` left group edge for group core, which restored its own record of the alert.
        let left = record("Down", "api", Some("edge"), AlertPhase::Firing);
        for (own, told) in [(AlertPhase::Firing, false), (AlertPhase::Resolved, true)] {
            let own = record("Down", "api", Some("core"), own);
            let mut g = groups(CORE);
            super::super::restore::restore(&mut g, vec![own.clone(), left.clone()]);
            let batches = close(&RuleIndex::of(&g), &[own, left.clone()], NOW);
            assert_eq!(batches.len(), 1, "core's own record is left to core");
            let batch = &batches[0];
            assert_eq!(batch.group.as_deref(), Some("edge"));
            assert_eq!(batch.upserts[0].phase, AlertPhase::Resolved);
            let t = &batch.transitions[0];
            assert_eq!(
                (t.change, t.notify),
                (Change::RuleRemoved, told),
                "{batch:?}"
            );
        }
    }

    #[test]
    fn the_meta_alert_of_a_removed_group_is_closed_and_a_live_groups_is_not() {
        let meta = |group: &str| {
            let key = AlertKey::new(
                rules::native::RULE_FAILING_ALERT,
                Labels::new().with("group", group).with("rule", "Down"),
            );
            let mut r = AlertRecord::new(key, Timestamp(10));
            r.phase = AlertPhase::Firing;
            r.group = Some(group.to_string());
            r
        };
        let batches = close(&index(), &[meta("api"), meta("old")], NOW);
        let groups: Vec<_> = batches.iter().map(|b| b.group.as_deref()).collect();
        assert_eq!(groups, [Some("old")]);
    }
}
