//! Realistic application logs for the demo, deterministic so the demo always tells one story.

use std::fmt::Write as _;

use jiff::tz::TimeZone;
use model::Timestamp;

/// `2026-11-21 09:15:02,120`: the layout of most Java and Python application logs.
fn stamp(t: Timestamp) -> String {
    t.to_jiff()
        .to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S,%3f")
        .to_string()
}

/// The loan importer's log: a clean import with two failed look-ups, one with a stack trace.
pub fn loan_importer(start: Timestamp) -> String {
    let mut out = String::new();
    let mut t = start;
    let line = |out: &mut String, t: Timestamp, text: &str| {
        let _ = writeln!(out, "{} {text}", stamp(t));
    };
    line(&mut out, t, "INFO  [LoanImporter] Import started: batch");
    for i in 0..100u32 {
        t = t.plus_millis(2_130);
        line(
            &mut out,
            t,
            &format!(
                "INFO  [LoanImporter] Transferred loan L-{} amount=1000.00",
                10_001 + i
            ),
        );
        if i == 40 || i == 77 {
            line(
                &mut out,
                t,
                &format!(
                    "ERROR [GetLoans] Timeout after 30000 ms fetching loan L-{} from loan-service",
                    10_001 + i
                ),
            );
            if i == 40 {
                out.push_str("java.net.SocketTimeoutException: Read timed out\n");
                out.push_str("\tat java.net.SocketInputStream.socketRead0(Native Method)\n");
                out.push_str("\tat com.example.loans.LoanClient.fetch(LoanClient.java:88)\n");
            }
        }
    }
    line(
        &mut out,
        t.plus_millis(1_000),
        "INFO  [LoanImporter] Import finished: 100 loans, 100000.00 GBP",
    );
    out
}

/// The payment gateway's log, `count` requests from request number `first`: card declines,
/// gateway timeouts and an unhandled exception among normal traffic.
pub fn payments(start: Timestamp, first: u32, count: u32) -> String {
    let mut out = String::new();
    for n in first..first + count {
        let t = stamp(start.plus_millis(i64::from(n - first) * 1_500));
        let order = 50_000 + n;
        match n % 37 {
            3 | 19 => {
                let _ = writeln!(
                    out,
                    "{t} ERROR [Gateway] Card declined for order {order}: code=51 insufficient funds"
                );
            }
            11 => {
                let _ = writeln!(
                    out,
                    "{t} ERROR [Gateway] Timeout after 30000 ms waiting for acquirer (order {order})"
                );
            }
            29 if n % 2 == 0 => {
                let _ = writeln!(
                    out,
                    "{t} ERROR [Checkout] Unhandled exception processing order {order}"
                );
                out.push_str("java.lang.NullPointerException: basket is null\n");
                out.push_str("\tat com.example.pay.Checkout.total(Checkout.java:214)\n");
                out.push_str("\tat com.example.pay.Checkout.submit(Checkout.java:97)\n");
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{t} INFO  [Gateway] Payment authorised for order {order} in {} ms",
                    180 + (n * 7) % 400
                );
            }
        }
    }
    out
}

/// The nightly batch's log: one slow job, one failed job, one fine.
pub fn nightly_batch(start: Timestamp) -> String {
    let lines = [
        (0, "INFO  [Batch] Job reconcile started"),
        (
            2_734_000,
            "WARN  [Batch] Job reconcile slow: finished in 2734 s (limit 1800 s)",
        ),
        (2_735_000, "INFO  [Batch] Job export started"),
        (
            2_801_000,
            "ERROR [Batch] Job export FAILED with exit code 1: disk quota exceeded on /data/export",
        ),
        (2_802_000, "INFO  [Batch] Job cleanup started"),
        (2_809_000, "INFO  [Batch] Job cleanup finished in 7 s"),
    ];
    lines
        .iter()
        .map(|(ms, text)| format!("{} {text}\n", stamp(start.plus_millis(*ms))))
        .collect()
}
