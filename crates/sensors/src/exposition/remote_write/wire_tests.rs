//! The hand-written protobuf walker (`wire.rs`) against malformed input, and against prost (the
//! decoder it replaced, `reference.rs`) on random requests and random damage to them.

use proptest::prelude::*;
use prost::Message as _;

use super::{Label, Sample, TimeSeries, WriteRequest, decode, parse, reference};
use crate::exposition::compact::CompactBatch;
use crate::exposition::error::ParseErrors;

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn key(field: u32, wire: u8) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(field) << 3 | u64::from(wire), &mut out);
    out
}

/// A length-delimited field.
pub(super) fn delimited(field: u32, content: &[u8]) -> Vec<u8> {
    let mut out = key(field, 2);
    varint(content.len() as u64, &mut out);
    out.extend_from_slice(content);
    out
}

/// One unknown field (number 9) of each wire type, a nested group included.
fn unknown_fields() -> Vec<u8> {
    let mut out = key(9, 0);
    varint(u64::MAX, &mut out);
    out.extend(key(9, 1));
    out.extend([7; 8]);
    out.extend(delimited(9, b"\xff\xfe not even UTF-8"));
    out.extend(key(9, 3));
    out.extend(key(10, 3));
    out.extend(key(11, 5));
    out.extend([1, 2, 3, 4]);
    out.extend(key(10, 4));
    out.extend(key(12, 0));
    out.push(5);
    out.extend(key(9, 4));
    out.extend(key(9, 5));
    out.extend([0; 4]);
    out
}

pub(super) fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.into(),
        value: value.into(),
    }
}

fn small_request() -> WriteRequest {
    WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![label("__name__", "up"), label("job", "api")],
            samples: vec![
                Sample {
                    value: 1.5,
                    timestamp: 1000,
                },
                Sample {
                    value: -2.0,
                    timestamp: -7,
                },
            ],
        }],
    }
}

/// Decodes `raw` both ways and checks they agree: the same batch, the same rule violations, or
/// both refusing it as protobuf (in their own words). Returns the hand decoder's answer.
fn both(raw: &[u8]) -> Result<CompactBatch, ParseErrors> {
    let hand = decode(raw, CompactBatch::default(), None);
    let prost = reference::parse_decompressed(raw, CompactBatch::default());
    match (&hand, &prost) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) if b.to_string().starts_with("payload: not a protobuf") => {
            assert_eq!(a.errors().len(), 1, "{a}");
            let a = a.to_string();
            assert!(
                a.starts_with("payload: not a protobuf WriteRequest: "),
                "{a}"
            );
            assert!(a.contains("(at byte "), "{a}");
        }
        _ => assert_eq!(
            hand.as_ref().map_err(ToString::to_string),
            prost.as_ref().map_err(ToString::to_string),
            "{raw:02x?}"
        ),
    }
    hand
}

fn wire_error(raw: &[u8]) -> String {
    both(raw).unwrap_err().to_string()
}

#[test]
fn truncated_at_every_byte_is_an_error_never_a_panic() {
    let raw = small_request().encode_to_vec();
    assert_eq!(both(&raw).unwrap().len(), 2);
    assert!(both(&raw[..0]).unwrap().is_empty());
    for cut in 1..raw.len() {
        let e = wire_error(&raw[..cut]);
        assert!(
            e.starts_with("payload: not a protobuf WriteRequest: "),
            "{e}"
        );
    }
}

#[test]
fn truncation_inside_a_label_names_the_field_and_byte() {
    let raw = small_request().encode_to_vec();
    // 0a LEN 0a LEN 0a 08 "__name__": cut in the middle of the name.
    let e = wire_error(&raw[..9]);
    assert_eq!(
        e,
        format!(
            "payload: not a protobuf WriteRequest: timeseries[0]: length {} runs past the end of its message (7 bytes left) (at byte 1 of the decompressed request)",
            raw[1]
        )
    );
}

#[test]
fn varints_longer_than_64_bits_are_refused() {
    // Ten bytes whose last carries more than the 64th bit.
    let mut raw = vec![0x0a];
    raw.extend([0xff; 9]);
    raw.push(0x02);
    let e = wire_error(&raw);
    assert_eq!(
        e,
        "payload: not a protobuf WriteRequest: timeseries[0]: varint overflows 64 bits (at byte 1 of the decompressed request)"
    );
    // Eleven bytes.
    let mut raw = vec![0x0a];
    raw.extend([0x80; 10]);
    raw.push(0x00);
    assert!(wire_error(&raw).contains("varint overflows 64 bits"));
    // A key that does not fit 32 bits.
    let mut raw = Vec::new();
    varint(1 << 33 | 2, &mut raw);
    assert!(wire_error(&raw).contains("field key 8589934594 is out of range"));
    // The largest valid varint is fine: a timestamp of -1.
    let mut sample = key(2, 0);
    varint(u64::MAX, &mut sample);
    let series = [
        delimited(
            1,
            &[delimited(1, b"__name__"), delimited(2, b"up")].concat(),
        ),
        delimited(2, &sample),
    ]
    .concat();
    let batch = both(&delimited(1, &series)).unwrap();
    assert_eq!(batch.samples[0].timestamp, Some(model::Timestamp(-1)));
}

#[test]
fn a_known_field_with_the_wrong_wire_type_is_named() {
    let cases: [(Vec<u8>, &str); 5] = [
        (
            [key(1, 0), vec![1]].concat(),
            "timeseries[0]: field 1 has wire type 0 (varint), expected 2 (length-delimited) (at byte 0",
        ),
        (
            delimited(1, &[key(2, 5), vec![0; 4]].concat()),
            "timeseries[0].samples[0]: field 2 has wire type 5 (32-bit), expected 2 (length-delimited) (at byte 2",
        ),
        (
            delimited(1, &delimited(1, &[key(1, 0), vec![3]].concat())),
            "timeseries[0].labels[0].name: field 1 has wire type 0 (varint), expected 2",
        ),
        (
            delimited(1, &delimited(2, &[key(1, 0), vec![3]].concat())),
            "timeseries[0].samples[0].value: field 1 has wire type 0 (varint), expected 1 (64-bit)",
        ),
        (
            delimited(1, &delimited(2, &delimited(2, b"x"))),
            "timeseries[0].samples[0].timestamp: field 2 has wire type 2 (length-delimited), expected 0 (varint)",
        ),
    ];
    for (raw, want) in cases {
        let e = wire_error(&raw);
        assert!(
            e.starts_with(&format!("payload: not a protobuf WriteRequest: {want}")),
            "{e}"
        );
    }
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped_at_every_level() {
    let u = unknown_fields();
    let name = [
        u.clone(),
        delimited(1, b"__name__"),
        u.clone(),
        delimited(2, b"up"),
        u.clone(),
    ]
    .concat();
    let job = [delimited(1, b"job"), u.clone(), delimited(2, b"api")].concat();
    let mut sample = [u.clone(), key(1, 1)].concat();
    sample.extend(2.5f64.to_le_bytes());
    sample.extend(u.clone());
    sample.extend(key(2, 0));
    varint(1234, &mut sample);
    let series = [
        u.clone(),
        delimited(1, &name),
        u.clone(),
        delimited(2, &sample),
        delimited(1, &job),
        u.clone(),
    ]
    .concat();
    let raw = [
        u.clone(),
        delimited(1, &series),
        u.clone(),
        delimited(3, &u),
    ]
    .concat();
    let batch = both(&raw).unwrap();
    assert_eq!(batch.len(), 1);
    let s = batch.series(0);
    assert_eq!(
        s.labels().collect::<Vec<_>>(),
        [("__name__", "up"), ("job", "api")]
    );
    assert_eq!(batch.samples[0].value, 2.5);
    assert_eq!(batch.samples[0].timestamp, Some(model::Timestamp(1234)));
}

#[test]
fn bad_keys_and_groups_are_refused() {
    let cases: [(Vec<u8>, &str); 6] = [
        (vec![0x0e], "field 1 has invalid wire type 6 (at byte 0"),
        (vec![0x0f], "field 1 has invalid wire type 7 (at byte 0"),
        (vec![0x02, 0x00], "field number 0 is not valid (at byte 0"),
        (key(9, 4), "end of group 9 without its start (at byte 0"),
        (
            [key(9, 3), key(8, 4)].concat(),
            "group 9 ends with the end of group 8 (at byte 1",
        ),
        (
            key(9, 3),
            "varint runs past the end of its message (at byte 1",
        ),
    ];
    for (raw, want) in cases {
        let e = wire_error(&raw);
        assert!(
            e.starts_with(&format!("payload: not a protobuf WriteRequest: {want}")),
            "{e}"
        );
    }
    // Groups nested deeper than prost's recursion limit.
    let deep: Vec<u8> = (0..200).flat_map(|_| key(9, 3)).collect();
    assert!(wire_error(&deep).contains("groups nest too deep"));
    let nested = |n: usize| -> Vec<u8> {
        let mut raw: Vec<u8> = (0..n).flat_map(|_| key(9, 3)).collect();
        raw.extend((0..n).flat_map(|_| key(9, 4)));
        raw
    };
    assert!(both(&nested(100)).unwrap().is_empty());
    assert!(wire_error(&nested(101)).contains("groups nest too deep"));
}

#[test]
fn negative_and_huge_lengths_are_refused() {
    let mut raw = key(1, 2);
    varint((-1i64).cast_unsigned(), &mut raw);
    assert_eq!(
        wire_error(&raw),
        "payload: not a protobuf WriteRequest: timeseries[0]: length is negative (-1 as a signed number) (at byte 1 of the decompressed request)"
    );
    let mut raw = key(1, 2);
    varint(1 << 40, &mut raw);
    raw.extend([0; 16]);
    assert_eq!(
        wire_error(&raw),
        "payload: not a protobuf WriteRequest: timeseries[0]: length 1099511627776 runs past the end of its message (16 bytes left) (at byte 1 of the decompressed request)"
    );
    // A label longer than its time series, though not than the request.
    let mut inner = key(1, 2);
    varint(50, &mut inner);
    let raw = [delimited(1, &inner), vec![0; 60]].concat();
    assert!(wire_error(&raw).contains(
        "timeseries[0].labels[0]: length 50 runs past the end of its message (0 bytes left)"
    ));
}

#[test]
fn invalid_utf8_is_located_to_the_byte() {
    let raw = delimited(
        1,
        &delimited(
            1,
            &[delimited(1, b"job"), delimited(2, b"ok\xffno")].concat(),
        ),
    );
    assert_eq!(
        wire_error(&raw),
        "payload: not a protobuf WriteRequest: timeseries[0].labels[0].value: string is not valid UTF-8 (at byte 13 of the decompressed request)"
    );
}

#[test]
fn the_last_occurrence_of_a_field_wins_and_labels_add_up() {
    let mut sample = key(1, 1);
    sample.extend(1.0f64.to_le_bytes());
    sample.extend(key(1, 1));
    sample.extend(3.0f64.to_le_bytes());
    let series = [
        delimited(2, &sample),
        delimited(
            1,
            &[
                delimited(1, b"job"),
                delimited(1, b"__name__"),
                delimited(2, b"x"),
            ]
            .concat(),
        ),
        delimited(1, &[delimited(1, b"job"), delimited(2, b"a")].concat()),
    ]
    .concat();
    let batch = both(&delimited(1, &series)).unwrap();
    assert_eq!(batch.samples[0].value, 3.0);
    assert_eq!(
        batch.series(0).labels().collect::<Vec<_>>(),
        [("__name__", "x"), ("job", "a")]
    );
}

#[test]
fn the_reused_buffer_never_leaks_a_previous_request() {
    let big = WriteRequest {
        timeseries: (0..500)
            .map(|i| TimeSeries {
                labels: vec![label("__name__", "big"), label("i", &i.to_string())],
                samples: vec![Sample::default()],
            })
            .collect(),
    };
    let encode = |r: &WriteRequest| {
        snap::raw::Encoder::new()
            .compress_vec(&r.encode_to_vec())
            .unwrap()
    };
    assert_eq!(
        parse(&encode(&big), CompactBatch::default(), None)
            .unwrap()
            .len(),
        500
    );
    let small = parse(&encode(&small_request()), CompactBatch::default(), None).unwrap();
    assert_eq!(small.len(), 2);
    assert_eq!(small.series_len(), 1);
}

fn any_label() -> impl Strategy<Value = Label> {
    let name = prop_oneof![
        4 => proptest::string::string_regex("[a-c]{1,2}").unwrap(),
        1 => Just("__name__".to_string()),
        1 => Just("__x".to_string()),
        1 => Just("1x".to_string()),
        1 => Just(String::new()),
    ];
    let value = prop_oneof![
        4 => proptest::string::string_regex("[a-z_:]{1,3}").unwrap(),
        1 => Just(String::new()),
        1 => any::<String>(),
    ];
    (name, value).prop_map(|(name, value)| Label { name, value })
}

/// A random edit: where, which byte, and whether it replaces, is inserted, or cuts the rest.
pub(super) type Edit = (prop::sample::Index, u8, u8);

/// Random damage to an encoded request.
pub(super) fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4)
}

/// Applies `edits` to `raw`.
pub(super) fn damage(raw: &mut Vec<u8>, edits: Vec<Edit>) {
    for (at, byte, kind) in edits {
        if raw.is_empty() {
            raw.push(byte);
            continue;
        }
        let i = at.index(raw.len());
        match kind {
            0 => raw[i] = byte,
            1 => raw.insert(i, byte),
            _ => raw.truncate(i),
        }
    }
}

pub(super) fn any_request() -> impl Strategy<Value = WriteRequest> {
    let series = (
        proptest::string::string_regex("[a-z_:]{1,3}").unwrap(),
        proptest::collection::vec(any_label(), 0..5),
        proptest::collection::vec((any::<f64>(), any::<i64>()), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, mut labels, samples, named, sorted)| {
            if named {
                labels.push(label("__name__", &name));
            }
            if sorted {
                labels.sort_by(|a, b| a.name.cmp(&b.name));
            }
            TimeSeries {
                labels,
                samples: samples
                    .into_iter()
                    .map(|(value, timestamp)| Sample { value, timestamp })
                    .collect(),
            }
        });
    proptest::collection::vec(series, 0..6).prop_map(|timeseries| WriteRequest { timeseries })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn decodes_as_prost_does(request in any_request()) {
        both(&request.encode_to_vec()).ok();
    }

    #[test]
    fn damaged_requests_are_judged_as_prost_judges_them(
        request in any_request(),
        edits in edits(),
    ) {
        let mut raw = request.encode_to_vec();
        damage(&mut raw, edits);
        both(&raw).ok();
    }

    #[test]
    fn random_bytes_are_judged_as_prost_judges_them(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        both(&raw).ok();
    }
}
