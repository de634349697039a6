//! The run every golden file is made from: an OK log monitor whose sections are empty, a
//! CRITICAL one with grouped errors (one of them full of characters logs really contain), and
//! an UNKNOWN SQL monitor that could not reach its database.

use model::{
    CheckOutcome, ErrorGroup, Fact, FactValue, Fragment, MonitorRun, RunRecord, Sample, Section,
    Status, Timestamp,
};

/// 2026-11-21T00:05:00Z, when the run started.
pub const RUN_START: i64 = 1_795_219_500_000;

/// `RUN_START` plus `ms`.
pub fn at(ms: i64) -> Timestamp {
    Timestamp(RUN_START + ms)
}

pub fn loan_importer() -> MonitorRun {
    let (started, finished) = (at(9_000), at(237_000)); // 00:05:09 - 00:08:57, as in the seed
    MonitorRun {
        name: "loan-importer".into(),
        kind: "log".into(),
        description: "Nightly loan import from the broker".into(),
        started,
        finished,
        outcome: CheckOutcome::new(Status::Ok, "No errors in loan-importer.log"),
        samples: vec![
            Sample::new("periscope_log_lines_read", 2000.0, finished)
                .label("monitor", "loan-importer")
                .label("file", "/var/log/loan-importer.log"),
            Sample::new("periscope_log_matches", 0.0, finished)
                .label("monitor", "loan-importer")
                .label("rule", "get_loans"),
        ],
        events: vec![],
        fragment: Fragment {
            facts: vec![
                Fact::new("lines_read", "Lines Read", FactValue::Count(2000)),
                Fact::new(
                    "loans_transferred",
                    "Number of Loans Transferred",
                    FactValue::Count(100),
                ),
                Fact::new(
                    "amount_transferred",
                    "Amount of Loans Transferred",
                    FactValue::Number {
                        value: 100000.0,
                        unit: Some("GBP".into()),
                    },
                ),
                Fact::new("last_record", "Last Record", FactValue::Time(at(235_500))),
            ],
            sections: vec![
                Section {
                    key: "get_loans".into(),
                    title: "Get Loans Errors".into(),
                    groups: vec![],
                },
                Section {
                    key: "insert_debt".into(),
                    title: "Insert Debt Errors".into(),
                    groups: vec![],
                },
            ],
        },
    }
}

pub fn payments() -> MonitorRun {
    let (started, finished) = (at(250), at(1_480));
    let group = |message: &str, count, first: i64, last: i64| ErrorGroup {
        message: message.into(),
        count,
        first_seen: Some(at(first)),
        last_seen: Some(at(last)),
    };
    MonitorRun {
        name: "payments-gateway".into(),
        kind: "log".into(),
        description: String::new(),
        started,
        finished,
        outcome: CheckOutcome::new(
            Status::Critical,
            "17 error records in payments.log (critical above 10)",
        ),
        samples: vec![
            Sample::new("periscope_log_matches", 9.0, finished)
                .label("monitor", "payments-gateway")
                .label("rule", "timeout"),
            Sample::new("periscope_partner_errors", 9.0, finished)
                .label("monitor", "payments-gateway")
                .label("partner", "ACME Bank, Ltd; EU=\"1\""),
            Sample::new("payments_p95_latency", 1.8435, at(1_000))
                .label("monitor", "payments-gateway")
                .unit("s"),
        ],
        events: vec![],
        fragment: Fragment {
            facts: vec![
                Fact::new("lines_read", "Lines Read", FactValue::Count(48213)),
                Fact::new("error_records", "Error Records", FactValue::Count(17)),
                Fact::new(
                    "error_rate",
                    "Error Rate",
                    FactValue::Number {
                        value: 0.0353,
                        unit: Some("%".into()),
                    },
                ),
                Fact::new(
                    "slowest_request",
                    "Slowest Request",
                    FactValue::DurationMs(30_412),
                ),
                Fact::new(
                    "log_file",
                    "Log File",
                    FactValue::Text("/mnt/logs/payments/payments.log".into()),
                ),
            ],
            sections: vec![
                Section {
                    key: "payment_errors".into(),
                    title: "Payment Errors".into(),
                    groups: vec![
                        group(
                            "Timeout after 30000 ms calling partner ACME Bank (POST /v2/payments/authorize)",
                            9,
                            -228_000,
                            -12_000,
                        ),
                        group("Connection reset by peer", 5, -200_000, -30_000),
                        group(
                            "Duplicate payment reference <PAY-19283> & \"retry\" refused",
                            2,
                            -100_000,
                            -90_000,
                        ),
                        // What a log line can hold: an ANSI colour, a NUL, a form feed.
                        group(
                            "IllegalStateException: card \u{1b}[31mexpired\u{1b}[0m\u{0}\u{c}",
                            1,
                            -5_000,
                            -5_000,
                        ),
                    ],
                },
                Section {
                    key: "refund_errors".into(),
                    title: "Refund Errors".into(),
                    groups: vec![],
                },
            ],
        },
    }
}

pub fn replica() -> MonitorRun {
    MonitorRun {
        name: "reporting-replica".into(),
        kind: "sql".into(),
        description: "Loans awaiting settlement on the reporting replica".into(),
        started: at(10),
        finished: at(30_010),
        outcome: CheckOutcome::unknown("cannot connect to db-replica.internal:5432")
            .with_details("connection refused (os error 111)\nretried 3 times over 30 s"),
        samples: vec![],
        events: vec![],
        fragment: Fragment::default(),
    }
}

/// The run, monitors in config order: OK, CRITICAL, UNKNOWN.
pub fn run() -> RunRecord {
    RunRecord {
        host: "app-prod-01".into(),
        environment: "production".into(),
        started: at(0),
        finished: at(242_000),
        monitors: vec![loan_importer(), payments(), replica()],
    }
}

/// The same run `days` days later (every time shifted).
pub fn run_days_later(days: i64) -> RunRecord {
    let shift = days * 86_400_000;
    let mut run = run();
    run.started = run.started.plus_millis(shift);
    run.finished = run.finished.plus_millis(shift);
    for m in &mut run.monitors {
        m.started = m.started.plus_millis(shift);
        m.finished = m.finished.plus_millis(shift);
        for s in &mut m.samples {
            s.timestamp = s.timestamp.plus_millis(shift);
        }
    }
    run
}
