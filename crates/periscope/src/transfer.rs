//! `periscope export` and `periscope import`: history in and out as OpenMetrics text.
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
use model::{Appender, PayloadFormat, StoreError, SystemClock};
use sensors::exposition;

use crate::cli::SeriesRange;
use crate::config::LoadOptions;
use crate::ingest::series_text;
use crate::query::{open_store, stored_series};

/// Bytes read, parsed and committed at a time by `import`.
const PART_BYTES: usize = 8 << 20;

/// `periscope export [SELECTOR] [--from] [--to] [--output FILE]`.
pub fn export(
    load: &LoadOptions,
    selector: Option<&str>,
    range: &SeriesRange,
    output: Option<&Path>,
) -> u8 {
    let selector = selector.unwrap_or(r#"{__name__=~".+"}"#);
    let (series, range) = match stored_series(load, selector, range) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let samples: usize = series.iter().map(|s| s.timestamps.len()).sum();
    let written = match output {
        Some(path) => File::create(path)
            .and_then(|f| {
                let mut out = BufWriter::new(f);
                exposition::write_openmetrics(&mut out, &series)?;
                out.flush()
            })
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            exposition::write_openmetrics(&mut out, &series)
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot write the export: {e}"))
        }
    };
    if let Err(e) = written {
        eprintln!("periscope: {e}");
        return 3;
    }
    eprintln!(
        "exported {samples} samples of {} series ({} to {})",
        series.len(),
        range.start,
        range.end
    );
    0
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
