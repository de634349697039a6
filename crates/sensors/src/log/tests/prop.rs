//! Property: however lines are cut into writes and checks, every line is counted exactly once.

use proptest::prelude::*;

use super::*;

/// A line's content: printable text, sometimes the phrase, sometimes bytes that are not UTF-8,
/// and carriage returns; never a newline.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ,.:]{0,40}".prop_map(String::into_bytes),
        2 => "[a-z ]{0,10}".prop_map(|s| format!("{s}ERROR{s}").into_bytes()),
        1 => proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..60),
        1 => Just(b"ERROR\r".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_line_is_counted_once(
        content in proptest::collection::vec(line(), 1..80),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..8),
        record_start in any::<bool>(),
    ) {
        let mut data = Vec::new();
        for l in &content {
            data.extend_from_slice(l);
            data.push(b'\n');
        }
        let expected_errors = content.iter().filter(|l| l.windows(5).any(|w| w == b"ERROR")).count() as u64;
        // Checks happen after each write; the writes cut the data at arbitrary bytes.
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        points.push(data.len());
        points.sort_unstable();

        let text = if record_start {
            // Every line starts a record, but records are held until the next one starts.
            "paths = [\"app.log\"]\nrecord_start = '.?'\n[rules.e]\nmatch = \"ERROR\""
        } else {
            "paths = [\"app.log\"]\n[rules.e]\nmatch = \"ERROR\""
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (records, errors, bytes) = rt.block_on(async {
            let mut h = Harness::new(text);
            h.write("app.log", b"");
            let (mut records, mut errors, mut bytes) = (0, 0, 0);
            let mut written = 0;
            for p in points {
                h.append("app.log", &data[written..p]);
                written = p;
                let o = h.check().await;
                records += fact(&o, "records");
                errors += matches(&o, "e");
                bytes += fact(&o, "bytes");
            }
            h.now = LATE;
            let o = h.check().await;
            records += fact(&o, "records");
            errors += matches(&o, "e");
            bytes += fact(&o, "bytes");
            (records, errors, bytes)
        });
        prop_assert_eq!(records, content.len() as u64);
        prop_assert_eq!(errors, expected_errors);
        prop_assert_eq!(bytes, data.len() as u64);
    }
}

/// What a line of the timestamp property holds: the time since the previous line (busy logs
/// write many records per second), an alteration of the timestamp, the rule's phrase or not,
/// CRLF or not, and the kind of timestamp (mostly valid; none, an impossible date, a leap
/// second).
type Stamped = (u64, Option<(usize, usize)>, &'static str, bool, u8);

fn stamped_line() -> impl Strategy<Value = Stamped> {
    (
        prop_oneof![8 => 0u64..40, 2 => 0u64..5000, 1 => 0u64..86_400_000],
        prop_oneof![12 => Just(None), 1 => (0usize..19, 0usize..4).prop_map(Some)],
        prop_oneof![4 => Just(""), 1 => Just("ERROR ")],
        any::<bool>(),
        0u8..30,
    )
}

/// The text of line `l` at `ms` after 2024-03-01 00:00 (local time).
fn stamped_text(ms: u64, l: &Stamped) -> Vec<u8> {
    let &(_, edit, phrase, crlf, kind) = l;
    let (d, h, m, s, f) = (
        1 + ms / 86_400_000 % 28,
        ms / 3_600_000 % 24,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
    );
    let mut line = match kind {
        0 => format!("no timestamp {phrase}here"),
        1 => format!("2024-02-30 {h:02}:{m:02}:{s:02},{f:03} {phrase}impossible"),
        2 => format!("2024-03-{d:02} {h:02}:{m:02}:60,{f:03} {phrase}leap"),
        _ => format!("2024-03-{d:02} {h:02}:{m:02}:{s:02},{f:03} {phrase}message"),
    }
    .into_bytes();
    if let Some((at, b)) = edit {
        let at = at.min(line.len() - 1);
        line[at] = b"9:x,"[b];
    }
    if crlf {
        line.push(b'\r');
    }
    line
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The facts about record times are what parsing every record on its own gives: how many
    /// records have a valid timestamp, and the earliest and latest of them. Lines holding the
    /// phrase become records on the matching path, the others are timed in bulk.
    #[test]
    fn timestamp_facts_equal_a_parse_of_every_record(
        lines in proptest::collection::vec(stamped_line(), 1..400),
        zone in proptest::sample::select(vec!["UTC", "Europe/Amsterdam"]),
    ) {
        use super::super::timestamp::{Layout, Parser, Zone};
        let format = "%Y-%m-%d %H:%M:%S,%f";
        let mut at = 0;
        let content: Vec<Vec<u8>> = lines
            .iter()
            .map(|l| {
                at += l.0;
                stamped_text(at, l)
            })
            .collect();
        let mut data = Vec::new();
        for l in &content {
            data.extend_from_slice(l);
            data.push(b'\n');
        }
        let (mut count, mut first, mut last) = (0u64, None::<i64>, None::<i64>);
        for l in &content {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let mut fresh = Parser::new(
                vec![Layout::compile(format).unwrap()],
                false,
                Zone::parse(zone).unwrap(),
                EARLY,
            );
            if let Some((t, _)) = fresh.parse(l) {
                count += 1;
                first = Some(first.map_or(t, |f| f.min(t)));
                last = Some(last.map_or(t, |x| x.max(t)));
            }
        }
        let text = format!(
            "paths = [\"app.log\"]\ntimestamp = {{ format = \"{format}\", timezone = \"{zone}\" }}\n[rules.e]\nmatch = \"ERROR\""
        );
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let o = rt.block_on(async {
            let mut h = Harness::new(&text);
            h.write("app.log", &data);
            h.check().await
        });
        let time = |key: &str| o.fragment.facts.iter().find(|f| f.key == key).map(|f| match f.value {
            FactValue::Time(t) => t.0,
            ref other => panic!("{key} is {other:?}"),
        });
        prop_assert_eq!(fact(&o, "records"), content.len() as u64);
        prop_assert_eq!(fact(&o, "records_with_timestamp"), count);
        prop_assert_eq!(time("first_record_time"), first);
        prop_assert_eq!(time("last_record_time"), last);
    }
}
