//! Flap detection: an alert that keeps changing notifies once, settles quietly, and says so
//! when it stops flapping (or not, when detection is off).

use model::Labels;
use model::alert::{AlertRecord, Change};

use super::fixture::{BASE, policy, run};
use super::tests::{at_min, fixture_key};
use super::*;

#[test]
fn a_flapping_alert_notifies_once_and_settles_firing_with_one_notice() {
    // The weighted share of changes climbs 6, 11.9, 17.7, 23.4, 29.0 then 34.4 % at 6m,
    // passing the 30 % high mark; once the alert holds steady the share decays and drops
    // below 25 % at 23m (21.1 %). People last heard "resolved" (5m), so the stop says firing.
    run("
        0m           fail 1 -> firing notify
        1m           ok     -> resolved notify
        2m           fail 1 -> firing notify
        3m           ok     -> resolved notify
        4m           fail 1 -> firing notify
        5m           ok     -> resolved notify
        6m           fail 1 -> firing notify flap-start flapping
        7m           ok     -> resolved quiet flapping
        8m           fail 1 -> firing quiet flapping
        9m..22m/1m   fail 1 -> firing flapping
        23m          fail 1 -> firing notify flap-stop
        24m          fail 1 -> firing
    ");
}

#[test]
fn a_flapping_alert_that_settles_where_people_last_heard_stops_quietly() {
    run("
        0m            fail 1 -> firing notify
        1m            ok     -> resolved notify
        2m            fail 1 -> firing notify
        3m            ok     -> resolved notify
        4m            fail 1 -> firing notify
        5m            ok     -> resolved notify
        6m            fail 1 -> firing notify flap-start flapping
        7m            ok     -> resolved quiet flapping
        8m            fail 1 -> firing quiet flapping
        9m            ok     -> resolved quiet flapping
        10m..23m/1m   ok     -> inactive flapping
        24m           ok     -> inactive quiet flap-stop
    ");
}

#[test]
fn a_flapping_alert_that_settles_after_a_firing_notice_announces_the_recovery() {
    // Thresholds 15/10: flapping starts on the recovery at 3m, which is then not notified; the
    // last notice said firing, so the stop at 21m (8.1 %) tells people it is over.
    let record = run("
        policy flap=15/10
        0m           fail 1 -> firing notify
        1m           ok     -> resolved notify
        2m           fail 1 -> firing notify
        3m           ok     -> resolved notify flap-start flapping
        4m..20m/1m   ok     -> inactive flapping
        21m          ok     -> inactive notify flap-stop
    ");
    assert!(!record.notified_firing);
}

#[test]
fn flap_detection_can_be_turned_off() {
    // An alert that changes at every evaluation notifies every change when detection is off.
    let mut record = AlertRecord::new(fixture_key(), BASE);
    let policy = policy("policy flap=off");
    for i in 0..40 {
        let evaluation = if i % 2 == 0 {
            Evaluation::Failing(Failure::new(Labels::new(), 1.0))
        } else {
            Evaluation::Ok
        };
        let (next, transition) = step(record, &policy, &evaluation, at_min(i));
        record = next;
        let t = transition.expect("every evaluation changes the phase");
        assert!(t.notify && t.change == Change::Phase, "{t:?}");
        assert!(!record.flapping);
    }
}
