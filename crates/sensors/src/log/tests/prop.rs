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
