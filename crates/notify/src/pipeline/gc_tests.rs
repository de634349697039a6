//! What the pipeline lets go of, and when: the state database must not grow for ever.

use std::collections::BTreeMap;

use model::alert::Document;

use super::tests::{alert, apply, at, deliver_all, plain, setup};
use super::*;
use crate::silence::NewSilence;

const DAY_MS: i64 = 86_400_000;

#[test]
fn expired_silences_and_the_log_of_vanished_groups_go_after_five_days_and_not_before() {
    let t0 = at("2026-11-02T10:00:00Z");
    let mut table = BTreeMap::new();
    let mut p = Pipeline::new(setup(plain()));
    let id = p
        .silences_mut()
        .add(
            NewSilence {
                matchers: vec![r#"alertname="Backup""#.into()],
                starts_at: t0,
                ends_at: t0.plus_millis(3_600_000),
                created_by: "alice".into(),
                comment: "backup window".into(),
            },
            t0,
        )
        .unwrap();
    p.save_silence(&id, t0);
    // Two groups are told; one keeps firing, the other's rule is removed while it fires, so
    // its alert never resolves.
    p.ingest(alert("Down", "a", "critical", t0), t0);
    p.ingest(alert("Gone", "a", "critical", t0), t0);
    assert_eq!(deliver_all(&mut p, t0.plus_millis(30_000)).len(), 4);
    apply(&mut table, p.take_writes());
    let kinds = |table: &BTreeMap<(String, String), Document>, kind: &str| {
        table.keys().filter(|(k, _)| k == kind).count()
    };
    assert_eq!((kinds(&table, "nflog"), kinds(&table, "silence")), (4, 1));

    // Restart: only `Down` comes back from the rule engine, and keeps firing for days.
    let mut p = Pipeline::new(setup(plain()));
    let docs: Vec<Document> = table.values().cloned().collect();
    assert!(p.restore(&docs, t0.plus_millis(60_000)).is_empty());
    let mut now = t0.plus_millis(60_000);
    while now < t0.plus_millis(5 * DAY_MS + 3 * 3_600_000) {
        p.ingest(alert("Down", "a", "critical", t0), now);
        deliver_all(&mut p, now);
        apply(&mut table, p.take_writes());
        // Four days in, nothing is collected yet.
        if now < t0.plus_millis(4 * DAY_MS) {
            assert_eq!((kinds(&table, "nflog"), kinds(&table, "silence")), (4, 1));
        }
        now = now.plus_millis(3_600_000);
    }
    // Five days after the silence ended and `Gone` was last told: both are forgotten; the
    // group that still fires keeps its log, so nobody is told of it again as if new.
    assert_eq!((kinds(&table, "nflog"), kinds(&table, "silence")), (2, 0));
    assert!(p.silences().get(&id).is_none());
    assert!(
        table
            .keys()
            .filter(|(k, _)| k == "nflog")
            .all(|(_, key)| key.contains("Down")),
        "{table:?}"
    );
    assert!(deliver_all(&mut p, now).is_empty());
}
