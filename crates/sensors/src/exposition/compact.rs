//! The parsers' own output, [`CompactBatch`]: like [`Batch`], but a series' labels live in one
//! text arena per batch instead of two `String`s per label.
//!
//! Why: building a [`model::Labels`] per series was most of the cost of parsing (allocation and
//! freeing, not reading), and the ingest path only needs one for series its store does not know
//! yet. A caller that keeps a map from label set to series handle reads [`SeriesView::labels`]
//! and builds [`SeriesView::to_labels`] only on a miss; [`crate::exposition::parse_compact_into`]
//! refills one batch so even its vectors are not allocated again. A label that repeats the
//! previous series' (same name or value at the same position, the common case in an
//! exposition) shares its text instead of copying it.
//!
//! A receiver can go further with a [`KnownSpellings`]: a parser that can tell the exact bytes
//! spelling a series' labels (remote-write can) asks it first, and a series it knows is neither
//! decoded nor checked again: its entry carries only the receiver's handle. Series it does not
//! know carry their spelling, for the receiver to remember once resolved.

use model::{Labels, METRIC_NAME_LABEL, Timestamp};

use super::batch::{Batch, Family, MetricType, ParsedSample, index};
use super::error::{Location, ParseErrors, Problems};
use super::names::LabelPair;

/// A piece of the label arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pair {
    name: Span,
    value: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SeriesEntry {
    family: u32,
    /// Range in `pairs`.
    first: u32,
    len: u32,
    /// Index of the `__name__` pair within the series.
    name_at: u32,
    /// The handle a [`KnownSpellings`] gave for it (its labels are then not in the batch).
    known: Option<u64>,
    /// The bytes that spelled its labels, in `spellings`, when the parser could tell them.
    spelling: Option<Span>,
}

/// Series a receiver has already resolved, by the exact bytes that spelled their labels in an
/// earlier payload. Equal spellings decode to equal labels, so a known spelling needs neither
/// decoding nor checking again.
pub trait KnownSpellings {
    /// The handle remembered for `spelling`, if any.
    fn handle(&self, spelling: &[u8]) -> Option<u64>;
}

/// A parsed payload whose label text is kept in one arena (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompactBatch {
    /// Metric families in payload order (as in [`Batch::families`]).
    pub families: Vec<Family>,
    /// Samples in payload order; [`ParsedSample::series`] indexes [`CompactBatch::series`].
    pub samples: Vec<ParsedSample>,
    series: Vec<SeriesEntry>,
    pairs: Vec<Pair>,
    text: String,
    spellings: Vec<u8>,
}

/// One series of a [`CompactBatch`]: its labels, sorted by name, `__name__` included.
#[derive(Clone, Copy, Debug)]
pub struct SeriesView<'a> {
    batch: &'a CompactBatch,
    entry: SeriesEntry,
}

impl<'a> SeriesView<'a> {
    fn text(&self, span: Span) -> &'a str {
        let start = span.start as usize;
        self.batch
            .text
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    fn pairs(&self) -> &'a [Pair] {
        let first = self.entry.first as usize;
        self.batch
            .pairs
            .get(first..first + self.entry.len as usize)
            .unwrap_or_default()
    }

    /// The handle a [`KnownSpellings`] gave for this series while parsing; its labels are
    /// then empty (the receiver knows them by the handle).
    pub fn known(&self) -> Option<u64> {
        self.entry.known
    }

    /// The bytes that spelled this series' labels in the payload, for a series the parser
    /// decoded and checked and could tell them of (remote-write): a receiver remembers its
    /// handle by them.
    pub fn spelling(&self) -> Option<&'a [u8]> {
        let span = self.entry.spelling?;
        let start = span.start as usize;
        self.batch.spellings.get(start..start + span.len as usize)
    }

    /// The labels as `(name, value)`, sorted by name, `__name__` included.
    pub fn labels(&self) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + 'a {
        let view = *self;
        self.pairs()
            .iter()
            .map(move |p| (view.text(p.name), view.text(p.value)))
    }

    /// The metric name.
    pub fn metric_name(&self) -> &'a str {
        self.pairs()
            .get(self.entry.name_at as usize)
            .map_or("", |p| self.text(p.value))
    }

    /// The value of label `name` (`__name__` included), if set.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.labels().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Number of labels, `__name__` included.
    pub fn len(&self) -> usize {
        self.entry.len as usize
    }

    /// True when the series has no label (never the case for a parsed series).
    pub fn is_empty(&self) -> bool {
        self.entry.len == 0
    }

    /// Index of its family in [`CompactBatch::families`].
    pub fn family_index(&self) -> u32 {
        self.entry.family
    }

    /// Its family.
    pub fn family(&self) -> &'a Family {
        &self.batch.families[self.entry.family as usize]
    }

    /// The labels as a [`Labels`] (allocates two strings per label).
    pub fn to_labels(&self) -> Labels {
        self.labels().collect()
    }
}

impl CompactBatch {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Number of distinct series (consecutive samples of one series share it).
    pub fn series_len(&self) -> usize {
        self.series.len()
    }

    /// Series `index` (`0..series_len()`).
    ///
    /// # Panics
    /// When `index` is out of range (indexes in [`ParsedSample::series`] never are).
    pub fn series(&self, index: u32) -> SeriesView<'_> {
        SeriesView {
            batch: self,
            entry: self.series[index as usize],
        }
    }

    /// The series of `sample`.
    pub fn series_of(&self, sample: &ParsedSample) -> SeriesView<'_> {
        self.series(sample.series)
    }

    /// Each sample with its series.
    pub fn iter(&self) -> impl Iterator<Item = (SeriesView<'_>, &ParsedSample)> {
        self.samples.iter().map(|s| (self.series_of(s), s))
    }

    /// The same batch with a [`Labels`] per series.
    pub fn to_batch(&self) -> Batch {
        Batch::from(self)
    }
}

/// Fills a [`CompactBatch`], reusing the last series when consecutive samples share it.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    batch: CompactBatch,
    /// Set when the label text outgrew the arena's 4 GiB index: the batch is then unusable.
    overflow: bool,
}

impl Builder {
    /// A builder that fills `batch`, emptied but keeping its capacity.
    pub(crate) fn new(mut batch: CompactBatch) -> Self {
        batch.families.clear();
        batch.samples.clear();
        batch.series.clear();
        batch.pairs.clear();
        batch.text.clear();
        batch.spellings.clear();
        Builder {
            batch,
            overflow: false,
        }
    }

    pub(crate) fn add_family(&mut self, name: &str, kind: MetricType) -> u32 {
        self.batch.families.push(Family {
            name: name.to_string(),
            kind,
            help: None,
            unit: None,
        });
        index(self.batch.families.len() - 1)
    }

    pub(crate) fn family_mut(&mut self, family: u32) -> &mut Family {
        &mut self.batch.families[family as usize]
    }

    pub(crate) fn family(&self, family: u32) -> &Family {
        &self.batch.families[family as usize]
    }

    /// Room for `samples` samples (and as many series of a few labels), so nothing is copied
    /// while it grows. Pages reserved but not used are never touched.
    pub(crate) fn reserve(&mut self, samples: usize) {
        self.batch.samples.reserve(samples);
        self.batch.series.reserve(samples);
        self.batch.pairs.reserve(samples.saturating_mul(4));
    }

    /// The series for metric `name` with `pairs` (sorted by name, without `__name__`).
    pub(crate) fn series(&mut self, family: u32, name: &str, pairs: &[LabelPair<'_>]) -> u32 {
        self.push_series(family, with_name(name, pairs))
    }

    /// The series with these labels (sorted by name, `__name__` included): the last one when
    /// it is the same, else a new one.
    pub(crate) fn push_series<'x>(
        &mut self,
        family: u32,
        labels: impl Iterator<Item = (&'x str, &'x str)>,
    ) -> u32 {
        let previous = self.batch.series.last().copied();
        let first = self.batch.pairs.len();
        let mut name_at = 0;
        // Comparing with the previous series and sharing its text is one pass: when every label
        // was shared, it is the same series.
        let mut same = previous.is_some_and(|p| p.family == family);
        for (k, (name, value)) in labels.enumerate() {
            let before = previous
                .filter(|p| k < p.len as usize)
                .and_then(|p| self.batch.pairs.get(p.first as usize + k).copied());
            if name == METRIC_NAME_LABEL {
                name_at = k;
            }
            let name = match before {
                Some(b) if self.span_text(b.name) == name => b.name,
                _ => {
                    same = false;
                    self.store(name)
                }
            };
            let value = match before {
                Some(b) if self.span_text(b.value) == value => b.value,
                _ => {
                    same = false;
                    self.store(value)
                }
            };
            self.batch.pairs.push(Pair { name, value });
        }
        if let Some(p) = previous
            && same
            && p.len as usize == self.batch.pairs.len() - first
        {
            self.batch.pairs.truncate(first);
            return index(self.batch.series.len() - 1);
        }
        self.batch.series.push(SeriesEntry {
            family,
            first: index(first),
            len: index(self.batch.pairs.len() - first),
            name_at: index(name_at),
            known: None,
            spelling: None,
        });
        index(self.batch.series.len() - 1)
    }

    /// A series a [`KnownSpellings`] knew as `handle`, in `family`: the last one when it is the
    /// same handle, else a new one without labels.
    pub(crate) fn push_known(&mut self, family: u32, handle: u64) -> u32 {
        if let Some(last) = self.batch.series.last()
            && last.known == Some(handle)
        {
            return index(self.batch.series.len() - 1);
        }
        self.batch.series.push(SeriesEntry {
            family,
            first: index(self.batch.pairs.len()),
            len: 0,
            name_at: 0,
            known: Some(handle),
            spelling: None,
        });
        index(self.batch.series.len() - 1)
    }

    /// Records the bytes that spelled `series`' labels (the first spelling wins when two
    /// spellings decode to the same series).
    pub(crate) fn spelled(&mut self, series: u32, spelling: &[u8]) {
        let start = self.batch.spellings.len();
        let Some(entry) = self.batch.series.get_mut(series as usize) else {
            return;
        };
        if entry.spelling.is_some() {
            return;
        }
        if let (Ok(start32), Ok(len)) = (u32::try_from(start), u32::try_from(spelling.len()))
            && start32.checked_add(len).is_some()
        {
            self.batch.spellings.extend_from_slice(spelling);
            entry.spelling = Some(Span {
                start: start32,
                len,
            });
        }
    }

    fn span_text(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.batch
            .text
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    fn store(&mut self, s: &str) -> Span {
        let start = self.batch.text.len();
        match (u32::try_from(start), u32::try_from(s.len())) {
            (Ok(start32), Ok(len)) if start32.checked_add(len).is_some() => {
                self.batch.text.push_str(s);
                Span {
                    start: start32,
                    len,
                }
            }
            _ => {
                self.overflow = true;
                Span::default()
            }
        }
    }

    pub(crate) fn sample(&mut self, series: u32, value: f64, timestamp: Option<i64>, line: u32) {
        self.batch.samples.push(ParsedSample {
            series,
            value,
            timestamp: timestamp.map(Timestamp::from_millis),
            line,
        });
    }

    /// A series as built so far.
    pub(crate) fn view(&self, series: u32) -> SeriesView<'_> {
        self.batch.series(series)
    }

    /// The batch, or every problem (plus one if the label text outgrew the arena).
    pub(crate) fn finish(self, mut problems: Problems) -> Result<CompactBatch, ParseErrors> {
        if self.overflow {
            problems.push(
                Location::Payload,
                "more than 4 GiB of label text: split the payload",
            );
        }
        problems.finish(self.batch)
    }
}

/// `pairs` with `__name__=name` at its sorted place.
fn with_name<'x>(
    name: &'x str,
    pairs: &'x [LabelPair<'_>],
) -> impl Iterator<Item = (&'x str, &'x str)> + Clone {
    let split = pairs.partition_point(|p| p.name < METRIC_NAME_LABEL);
    pairs[..split]
        .iter()
        .map(|p| (p.name, p.value.as_ref()))
        .chain(std::iter::once((METRIC_NAME_LABEL, name)))
        .chain(pairs[split..].iter().map(|p| (p.name, p.value.as_ref())))
}
