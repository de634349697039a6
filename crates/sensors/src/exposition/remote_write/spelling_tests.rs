//! Series known by their spelling: a receiver that remembers the label bytes of series it has
//! resolved gets the same samples on the same series as one that decodes every label, and the
//! same verdict on every damaged request.

use std::collections::HashMap;

use model::Labels;
use proptest::prelude::*;
use prost::Message as _;

use super::wire_tests::{any_request, damage, delimited, edits, key, label};
use super::{Sample, TimeSeries, WriteRequest, decode};
use crate::exposition::compact::{CompactBatch, KnownSpellings};
use crate::exposition::error::ParseErrors;

/// What a receiver remembers: spelling -> handle, handle -> labels.
#[derive(Default)]
struct Learned {
    handles: HashMap<Vec<u8>, u64>,
    labels: Vec<Labels>,
}

impl KnownSpellings for Learned {
    fn handle(&self, spelling: &[u8]) -> Option<u64> {
        self.handles.get(spelling).copied()
    }
}

impl Learned {
    /// Remembers every spelled series of `batch`.
    fn learn(&mut self, batch: &CompactBatch) {
        for i in 0..batch.series_len() {
            let view = batch.series(i as u32);
            if let Some(spelling) = view.spelling() {
                self.handles
                    .insert(spelling.to_vec(), self.labels.len() as u64);
                self.labels.push(view.to_labels());
            }
        }
    }

    /// Every sample with its series' labels (looked up by handle for known series), value bits,
    /// timestamp and position.
    fn resolve(&self, batch: &CompactBatch) -> Vec<(Labels, u64, Option<i64>, u32)> {
        batch
            .samples
            .iter()
            .map(|s| {
                let view = batch.series_of(s);
                let labels = match view.known() {
                    Some(h) => self.labels[h as usize].clone(),
                    None => view.to_labels(),
                };
                let ts = s.timestamp.map(|t| t.as_millis());
                (labels, s.value.to_bits(), ts, s.line)
            })
            .collect()
    }
}

fn with(raw: &[u8], known: &Learned) -> Result<CompactBatch, ParseErrors> {
    decode(raw, CompactBatch::default(), Some(known))
}

fn plain(raw: &[u8]) -> Result<CompactBatch, ParseErrors> {
    decode(raw, CompactBatch::default(), None)
}

fn sample(value: f64, timestamp: i64) -> Sample {
    Sample { value, timestamp }
}

fn two_series() -> WriteRequest {
    WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![label("__name__", "up"), label("job", "api")],
                samples: vec![sample(1.0, 1000)],
            },
            TimeSeries {
                labels: vec![label("__name__", "up"), label("job", "db")],
                samples: vec![sample(0.0, 1000), sample(1.0, 2000)],
            },
        ],
    }
}

#[test]
fn a_spelling_is_the_label_fields_bytes_and_a_known_one_is_taken_by_handle() {
    let raw = two_series().encode_to_vec();
    let mut learned = Learned::default();
    let first = with(&raw, &learned).unwrap();
    assert!((0..2).all(|i| first.series(i).known().is_none()));
    // The spelling of the first series is exactly its two label fields as sent.
    let mut expected = delimited(1, &label("__name__", "up").encode_to_vec());
    expected.extend(delimited(1, &label("job", "api").encode_to_vec()));
    assert_eq!(first.series(0).spelling(), Some(&expected[..]));
    learned.learn(&first);
    assert_eq!(learned.labels.len(), 2);

    let again = with(&raw, &learned).unwrap();
    assert_eq!(again.series(0).known(), Some(0));
    assert_eq!(again.series(1).known(), Some(1));
    assert_eq!(
        again.series(0).labels().count(),
        0,
        "labels are not decoded again"
    );
    assert_eq!(learned.resolve(&again), learned.resolve(&first));
    assert_eq!(again.len(), 3);
}

#[test]
fn label_fields_split_by_a_sample_are_decoded_every_time() {
    let mut series = delimited(1, &label("__name__", "up").encode_to_vec());
    series.extend(delimited(2, &sample(1.0, 5).encode_to_vec()));
    series.extend(delimited(1, &label("job", "api").encode_to_vec()));
    let raw = delimited(1, &series);
    let batch = with(&raw, &Learned::default()).unwrap();
    assert_eq!(batch.series(0).spelling(), None);
    assert_eq!(batch.series(0).get("job"), Some("api"));
}

#[test]
fn a_known_series_with_a_broken_sample_is_still_refused() {
    let good = two_series().encode_to_vec();
    let mut learned = Learned::default();
    learned.learn(&with(&good, &learned).unwrap());
    // The first series again, its labels as before, its sample's value cut short.
    let mut series = delimited(1, &label("__name__", "up").encode_to_vec());
    series.extend(delimited(1, &label("job", "api").encode_to_vec()));
    let mut broken = key(1, 1);
    broken.extend([0, 0, 0]);
    series.extend(delimited(2, &broken));
    let raw = delimited(1, &series);
    let e = with(&raw, &learned).unwrap_err().to_string();
    assert_eq!(e, plain(&raw).unwrap_err().to_string());
    assert!(e.contains("timeseries[0].samples[0].value"), "{e}");
}

/// The same verdict, and when accepted the same samples on the same series.
fn agree(raw: &[u8], learned: &Learned) {
    match (with(raw, learned), plain(raw)) {
        (Ok(a), Ok(b)) => assert_eq!(learned.resolve(&a), learned.resolve(&b)),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("with spellings: {a:?}\nwithout: {b:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn known_spellings_change_nothing_but_the_work(request in any_request()) {
        let raw = request.encode_to_vec();
        let mut learned = Learned::default();
        if let Ok(first) = with(&raw, &learned) {
            learned.learn(&first);
            // Every series prost encodes has its labels together, so all are known now.
            let again = with(&raw, &learned).unwrap();
            prop_assert!((0..again.series_len()).all(|i| again.series(i as u32).known().is_some()));
        }
        agree(&raw, &learned);
    }

    #[test]
    fn damaged_requests_get_the_same_verdict_with_known_spellings(
        request in any_request(),
        edits in edits(),
    ) {
        let mut raw = request.encode_to_vec();
        let mut learned = Learned::default();
        if let Ok(first) = with(&raw, &learned) {
            learned.learn(&first);
        }
        damage(&mut raw, edits);
        agree(&raw, &learned);
    }
}
