//! Where received metrics and measured samples meet the store.
//!
//! [`StoreSink`] is the [`PayloadSink`] behind every receiver (HTTP push, remote-write, brokers):
//! parse the payload, append it all-or-nothing, and resolve only once the commit is synced.
//! [`store_samples`] keeps the history of what monitors measure. Both speak only `model`'s
//! [`Storage`] trait, so this file does not know which store it writes to.

use std::collections::HashMap;
use std::sync::Arc;

use model::{
    BoxFuture, Clock, IngestError, IngestReceipt, Labels, Payload, PayloadFormat, PayloadSink,
    Sample, SeriesRef, Storage, StoreError, Timestamp,
};
use sensors::exposition::{self, CompactBatch};

mod series_cache;

use series_cache::{SeriesCache, Spelled, key_into};

/// Parses payloads and commits them to a store.
pub struct StoreSink {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    series: Arc<SeriesCache>,
}

impl StoreSink {
    /// A sink writing into `storage`; samples without a timestamp get `clock`'s time.
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> Self {
        StoreSink {
            storage,
            clock,
            series: Arc::new(SeriesCache::default()),
        }
    }
}

impl PayloadSink for StoreSink {
    fn ingest(&self, payload: Payload) -> BoxFuture<'_, Result<IngestReceipt, IngestError>> {
        let storage = Arc::clone(&self.storage);
        let series = Arc::clone(&self.series);
        let now = self.clock.now();
        Box::pin(async move {
            // Parsing and appending are CPU work on bodies up to many megabytes: keep them off
            // the threads that serve other requests and broker consumers.
            let prepared = tokio::task::spawn_blocking(move || {
                prepare(storage.as_ref(), &series, &payload, now)
            })
            .await
            .map_err(|e| IngestError::Unavailable(format!("ingest task failed: {e}")))??;
            let (appender, samples) = prepared;
            let summary = appender.commit().await.map_err(store_error)?;
            debug_assert_eq!(summary.samples, samples);
            Ok(IngestReceipt { samples })
        })
    }
}

type Prepared = (Box<dyn model::Appender>, u64);

/// Parses `payload` and appends every sample to a fresh batch; any problem refuses it all.
fn prepare(
    storage: &dyn Storage,
    cache: &SeriesCache,
    payload: &Payload,
    now: Timestamp,
) -> Result<Prepared, IngestError> {
    PARSED.with_borrow_mut(|Parsed { batch, key, fresh }| {
        {
            // Remote-write series already seen are taken by their spelling, undecoded.
            let known = cache.read();
            exposition::parse_known_into(payload.format, &payload.body, batch, &known)
                .map_err(|e| IngestError::Poison(e.to_string()))?;
        }
        let mut appender = storage.appender();
        let refs = resolve(appender.as_mut(), cache, batch, key, fresh)?;
        for (i, sample) in batch.samples.iter().enumerate() {
            let series = refs[sample.series as usize];
            let timestamp = sample.timestamp.unwrap_or(now);
            appender
                .append(series, timestamp, sample.value)
                .map_err(|e| match e {
                    StoreError::Rejected(reason) => IngestError::Poison(format!(
                        "{}: {} at {timestamp}: {reason}",
                        location(payload.format, sample.line),
                        series_text(&labels_of(payload, batch, i)),
                    )),
                    other => store_error(other),
                })?;
        }
        Ok((appender, batch.samples.len() as u64))
    })
}

/// The store's reference for each series of `batch`: known while parsing, remembered by label
/// text, or resolved by the store (all of a payload's new series in one call) and remembered.
fn resolve(
    appender: &mut dyn model::Appender,
    cache: &SeriesCache,
    batch: &CompactBatch,
    key: &mut Vec<u8>,
    fresh: &mut Vec<series_cache::Entry>,
) -> Result<Vec<SeriesRef>, IngestError> {
    let mut refs = Vec::with_capacity(batch.series_len());
    fresh.clear();
    // Series for the store: their labels, and where their references go.
    let mut unknown: Vec<Labels> = Vec::new();
    let mut slots: Vec<usize> = Vec::new();
    let known = cache.read();
    for index in 0..batch.series_len() {
        let view = batch.series(index as u32);
        if let Some(handle) = view.known() {
            refs.push(SeriesRef(handle));
            continue;
        }
        let (spelled, spelling) = match view.spelling() {
            // Looked up while parsing, and unknown then: no second lookup.
            Some(wire) => (Spelled::Wire, wire),
            None => {
                key_into(key, view.labels());
                if let Some(series) = known.get(Spelled::Text, key) {
                    refs.push(series);
                    continue;
                }
                (Spelled::Text, &key[..])
            }
        };
        fresh.push((spelled, spelling.into(), SeriesRef(u64::MAX)));
        unknown.push(view.to_labels());
        slots.push(refs.len());
        refs.push(SeriesRef(u64::MAX));
    }
    drop(known);
    if unknown.is_empty() {
        cache.settle();
        return Ok(refs);
    }
    let mut resolved = Vec::with_capacity(unknown.len());
    appender
        .series_many(&unknown, &mut resolved)
        .map_err(store_error)?;
    for ((slot, entry), series) in slots.into_iter().zip(fresh.iter_mut()).zip(resolved) {
        refs[slot] = series;
        entry.2 = series;
    }
    cache.remember(fresh.drain(..));
    Ok(refs)
}

/// The labels of sample `i` of `batch`, for a message. A series known by its spelling has no
/// labels in the batch: the payload is then parsed again in full (only on this error path), and
/// the samples come in the same order either way.
#[cold]
fn labels_of(payload: &Payload, batch: &CompactBatch, i: usize) -> Labels {
    let view = batch.series_of(&batch.samples[i]);
    if view.known().is_none() {
        return view.to_labels();
    }
    exposition::parse_compact(payload.format, &payload.body)
        .ok()
        .and_then(|full| full.samples.get(i).map(|s| full.series_of(s).to_labels()))
        .unwrap_or_default()
}

/// What each blocking thread reuses from payload to payload, so its vectors and label arena
/// are not allocated again for each request.
#[derive(Default)]
struct Parsed {
    batch: CompactBatch,
    /// The label-text key of the series being resolved.
    key: Vec<u8>,
    /// Series resolved by the store for this payload, to remember.
    fresh: Vec<series_cache::Entry>,
}

thread_local! {
    static PARSED: std::cell::RefCell<Parsed> = std::cell::RefCell::new(Parsed::default());
}

fn store_error(e: StoreError) -> IngestError {
    match e {
        StoreError::Unavailable(m) => IngestError::Unavailable(m),
        StoreError::Rejected(r) => IngestError::Poison(r.to_string()),
        StoreError::Invalid(m) => IngestError::Poison(m),
    }
}

/// Where a sample was in its payload, in the payload's own terms.
fn location(format: PayloadFormat, line: u32) -> String {
    match format {
        PayloadFormat::PrometheusText | PayloadFormat::OpenMetrics => format!("line {line}"),
        PayloadFormat::Json => format!("samples[{line}]"),
        PayloadFormat::RemoteWrite => format!("timeseries[{line}]"),
    }
}

/// A series the way people write it: `name{a="1",b="2"}`.
pub fn series_text(labels: &Labels) -> String {
    let name = labels.metric_name().unwrap_or("");
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| *k != model::METRIC_NAME_LABEL)
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    if rest.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", rest.join(","))
    }
}

/// What [`store_samples`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// Samples committed.
    pub samples: u64,
    /// Samples the store refused (each logged with its reason).
    pub refused: u64,
}

/// The metric holding each check's outcome: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the
/// plugin exit codes), labelled `monitor`, stamped when the check finished. The `monitor`
/// short form of `[rule.NAME]` reads it.
pub const CHECK_STATUS_METRIC: &str = "periscope_check_status";

/// A run's samples followed by its [`CHECK_STATUS_METRIC`] sample: what the store keeps of
/// one check.
pub fn run_samples(run: &model::MonitorRun) -> Vec<Sample> {
    let mut samples = run.samples.clone();
    samples.push(
        Sample::new(
            CHECK_STATUS_METRIC,
            f64::from(run.outcome.status.exit_code()),
            run.finished,
        )
        .label("monitor", run.name.as_str()),
    );
    samples
}

/// Keeps monitor samples in the store. Unlike a received payload these are not all-or-nothing:
/// a refused sample (e.g. a second check within the same millisecond) is logged and skipped.
pub async fn store_samples(
    storage: &dyn Storage,
    samples: &[Sample],
) -> Result<Stored, StoreError> {
    let mut appender = storage.appender();
    let mut refs: HashMap<Labels, SeriesRef> = HashMap::new();
    let mut stored = Stored::default();
    for sample in samples {
        let labels = sample.series_labels();
        let series = match refs.get(&labels) {
            Some(r) => *r,
            None => {
                let r = appender.series(&labels)?;
                refs.insert(labels, r);
                r
            }
        };
        match appender.append(series, sample.timestamp, sample.value) {
            Ok(()) => stored.samples += 1,
            Err(StoreError::Rejected(reason)) => {
                stored.refused += 1;
                tracing::warn!(series = %series_text(&sample.series_labels()), %reason, "sample not stored");
            }
            Err(e) => return Err(e),
        }
    }
    appender.commit().await?;
    Ok(stored)
}

#[cfg(test)]
mod tests;
