//! `periscope export` and `periscope import`: history in and out as OpenMetrics text.
//!
//! Export reads and writes one metric name at a time, so its memory is that of the largest
//! metric in the selection, not of the whole selection.
//!
//! Import reads the file in parts of about [`PART_BYTES`], each ending at a line break, and
//! commits each part before reading the next, so memory stays flat on files of any size and a
//! problem leaves everything before it stored. A part is parsed as a complete exposition (the
//! strict OpenMetrics parser, with `# EOF` added where the part lacks it); a family cut in two
//! by a part boundary reads on as a family of unknown type, which stores the same samples.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use model::{
    Appender, Clock, METRIC_NAME_LABEL, Matcher, PayloadFormat, Querier, StoreError, SystemClock,
    TimeRange,
};
use sensors::exposition;

use crate::cli::SeriesRange;
use crate::config::LoadOptions;
use crate::ingest::series_text;
use crate::query::{open_store, open_view, selection};

/// Bytes read, parsed and committed at a time by `import`.
const PART_BYTES: usize = 8 << 20;

/// `periscope export [SELECTOR] [--from] [--to] [--output FILE]`.
///
/// Written a metric name at a time, so memory holds one metric's series, not the whole
/// selection; a progress bar counts the metrics. A file is written under a temporary name and
/// renamed once complete, so a failed export never leaves a file that looks whole.
pub fn export(
    load: &LoadOptions,
    selector: Option<&str>,
    range: &SeriesRange,
    output: Option<&Path>,
) -> u8 {
    let selector = selector.unwrap_or(r#"{__name__=~".+"}"#);
    let (matchers, range) = match selection(selector, range, SystemClock.now()) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("periscope: {e}");
            return 1;
        }
    };
    let Some(store) = open_view(load) else {
        return 3;
    };
    let names = match store.label_values(METRIC_NAME_LABEL, &matchers, range) {
        Ok(names) => names,
        Err(e) => {
            eprintln!("periscope: reading the metric store failed: {e}");
            return 3;
        }
    };
    let progress = ProgressBar::new(names.len() as u64).with_style(
        ProgressStyle::with_template("exporting [{bar:40}] {pos}/{len} metrics {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let export = Export {
        store: store.as_ref(),
        matchers: &matchers,
        range,
        names: &names,
        progress: &progress,
    };
    let written = match output {
        Some(path) => export.to_file(path),
        None => export
            .write(BufWriter::new(io::stdout().lock()))
            .map_err(|e| format!("cannot write the export: {e}")),
    };
    progress.finish_and_clear();
    match written {
        Ok(counts) => {
            eprintln!(
                "exported {} samples of {} series ({} to {})",
                counts.samples, counts.series, range.start, range.end
            );
            0
        }
        Err(e) => {
            eprintln!("periscope: {e}");
            3
        }
    }
}

/// What an export wrote.
#[derive(Default)]
struct Counts {
    series: usize,
    samples: usize,
}

/// One export: the selection, and the metric names in it.
struct Export<'a> {
    store: &'a dyn Querier,
    matchers: &'a [Matcher],
    range: TimeRange,
    names: &'a [String],
    progress: &'a ProgressBar,
}

impl Export<'_> {
    /// Writes every metric to `out`, then `# EOF`.
    fn write<W: Write>(&self, mut out: W) -> io::Result<Counts> {
        let mut counts = Counts::default();
        for name in self.names {
            let mut matchers = self.matchers.to_vec();
            matchers.push(Matcher::equal(METRIC_NAME_LABEL, name.as_str()));
            let series = self
                .store
                .select(&matchers, self.range)
                .map_err(|e| io::Error::other(format!("reading the metric store failed: {e}")))?;
            exposition::write_families(&mut out, &series)?;
            counts.series += series.len();
            counts.samples += series.iter().map(|s| s.timestamps.len()).sum::<usize>();
            self.progress.inc(1);
        }
        exposition::write_eof(&mut out)?;
        out.flush()?;
        Ok(counts)
    }

    /// Writes to `path` by way of a temporary file beside it.
    fn to_file(&self, path: &Path) -> Result<Counts, String> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let written = File::create(&partial)
            .and_then(|f| {
                let counts = self.write(BufWriter::new(&f))?;
                f.sync_all()?;
                Ok(counts)
            })
            .and_then(|counts| std::fs::rename(&partial, path).map(|()| counts));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            format!("cannot write {}: {e}", path.display())
        })
    }
}

/// `periscope import FILE`: 0 when every sample was stored, 1 for a problem in the file (with
/// its line; parts before it stay stored), 3 when the store fails.
pub fn import(load: &LoadOptions, path: &Path) -> u8 {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("periscope: cannot open {}: {e}", path.display());
            return 1;
        }
    };
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let Some(store) = open_store(load) else {
        return 3;
    };
    let progress = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    progress.set_message(format!("importing {}", path.display()));
    let mut importer = Importer {
        store: &store,
        lines_before: 0,
        samples: 0,
    };
    let result = importer.run(&mut file, &progress);
    progress.finish_and_clear();
    let code = match result {
        Ok(()) => {
            eprintln!(
                "imported {} samples from {} ({} lines)",
                importer.samples,
                path.display(),
                importer.lines_before
            );
            0
        }
        Err(ImportError::File(message)) => {
            eprintln!(
                "periscope: {}: {message}\n{} samples before it were stored",
                path.display(),
                importer.samples
            );
            1
        }
        Err(ImportError::Store(message)) => {
            eprintln!(
                "periscope: {message}\n{} samples before it were stored",
                importer.samples
            );
            3
        }
    };
    let now = model::Clock::now(&SystemClock);
    if let Err(e) = store.maintain(now) {
        eprintln!("periscope: metric store maintenance failed after import: {e}");
    }
    if let Err(e) = store.close() {
        eprintln!("periscope: metric store not closed cleanly: {e}");
        return 3;
    }
    code
}

enum ImportError {
    /// The file is wrong at a place it names.
    File(String),
    /// The store failed.
    Store(String),
}

struct Importer<'s> {
    store: &'s store::Store,
    /// Lines in the parts already imported, to turn a part's line numbers into the file's.
    lines_before: u64,
    samples: u64,
}

impl Importer<'_> {
    fn run(&mut self, file: &mut File, progress: &ProgressBar) -> Result<(), ImportError> {
        let mut buf: Vec<u8> = Vec::with_capacity(PART_BYTES + 64 * 1024);
        let mut chunk = vec![0u8; 1 << 20];
        let mut done = false;
        while !done {
            while buf.len() < PART_BYTES {
                let n = file
                    .read(&mut chunk)
                    .map_err(|e| ImportError::File(format!("read failed: {e}")))?;
                if n == 0 {
                    done = true;
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            // A part ends at the last line break; the rest starts the next part.
            let cut = if done {
                buf.len()
            } else {
                match last_newline(&buf) {
                    Some(i) => i + 1,
                    // One line longer than a part: keep reading until it ends.
                    None => continue,
                }
            };
            let rest = buf.split_off(cut);
            let part = std::mem::replace(&mut buf, rest);
            self.part(part, done)?;
            progress.inc(cut as u64);
        }
        Ok(())
    }

    fn part(&mut self, mut part: Vec<u8>, last: bool) -> Result<(), ImportError> {
        let lines = part.iter().filter(|&&b| b == b'\n').count() as u64;
        let has_eof = part.ends_with(b"# EOF\n") || part.ends_with(b"# EOF");
        if !has_eof {
            if last && !part.is_empty() {
                return Err(ImportError::File(format!(
                    "line {}: the file does not end with `# EOF` (truncated?)",
                    self.lines_before + lines + 1
                )));
            }
            part.extend_from_slice(b"# EOF\n");
        }
        let batch = exposition::parse(PayloadFormat::OpenMetrics, &part).map_err(|errors| {
            let first = errors
                .errors()
                .first()
                .map(|e| self.shift_line(&e.to_string()))
                .unwrap_or_else(|| errors.to_string());
            ImportError::File(first)
        })?;
        let mut appender = self.store.store_appender();
        let mut refs = Vec::with_capacity(batch.series.len());
        for series in &batch.series {
            refs.push(appender.series(&series.labels).map_err(store_error)?);
        }
        for sample in &batch.samples {
            let Some(t) = sample.timestamp else {
                return Err(ImportError::File(format!(
                    "line {}: sample has no timestamp; imported samples need one",
                    self.lines_before + u64::from(sample.line)
                )));
            };
            appender
                .append(refs[sample.series as usize], t, sample.value)
                .map_err(|e| match e {
                    StoreError::Rejected(reason) => ImportError::File(format!(
                        "line {}: {} at {t}: {reason}",
                        self.lines_before + u64::from(sample.line),
                        series_text(batch.labels(sample))
                    )),
                    other => store_error(other),
                })?;
        }
        let summary = appender.commit_blocking().map_err(store_error)?;
        self.samples += summary.samples;
        self.lines_before += lines;
        Ok(())
    }

    /// Rewrites a part's `line N` into the file's line number.
    fn shift_line(&self, message: &str) -> String {
        let Some(rest) = message.strip_prefix("line ") else {
            return message.to_string();
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<u64>() {
            Ok(n) => format!("line {}{}", self.lines_before + n, &rest[digits.len()..]),
            Err(_) => message.to_string(),
        }
    }
}

fn store_error(e: StoreError) -> ImportError {
    ImportError::Store(format!("the metric store refused the import: {e}"))
}

fn last_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().rposition(|&b| b == b'\n')
}
