//! One monitor's block in the summary and alert texts.

use std::fmt::Write;

use jiff::tz::TimeZone;
use model::{MonitorRun, Section, Status};

use crate::text::{WIDTH, one_line, truncate, wrap, wrap_hanging};
use crate::value::{duration, fact_text, local_time};

/// Error groups shown per section; the rest are counted in one line. Ten fit on a phone screen
/// and are enough to see what kind of trouble it is; the snapshot has them all.
const MAX_GROUPS: usize = 10;

/// Lines of long output (plugin output, the reason behind UNKNOWN) shown for a monitor.
const MAX_DETAIL_LINES: usize = 6;

/// The indent of section content, as in the seed's report.
const INDENT: &str = "   ";

/// Appends the block for `m`: title, what it watches, its verdict, times, facts and sections.
pub(crate) fn monitor_block(out: &mut String, m: &MonitorRun, tz: &TimeZone) {
    let title = format!("{}: {}", one_line(&m.name), m.outcome.status);
    let _ = writeln!(out, "{title}");
    let _ = writeln!(out, "{}", "-".repeat(title.chars().count().min(WIDTH)));
    lines(out, wrap(&m.description, WIDTH, ""));

    // For UNKNOWN the summary is why the monitor could not see: say so.
    let summary = match m.outcome.status {
        Status::Unknown if !m.outcome.summary.trim().is_empty() => {
            format!("Reason: {}", m.outcome.summary)
        }
        _ => m.outcome.summary.clone(),
    };
    lines(out, wrap_hanging(&summary, WIDTH, "", "  "));
    // Long output only when something is wrong: on an OK monitor it is noise.
    if m.outcome.status != Status::Ok {
        details(out, &m.outcome.details);
    }

    let _ = writeln!(out, "Start Time: {}", local_time(m.started, tz));
    let _ = writeln!(out, "Stop Time: {}", local_time(m.finished, tz));
    let _ = writeln!(out, "Elapsed: {}", duration(m.elapsed_ms()));
    for fact in &m.fragment.facts {
        let line = format!("{}: {}", one_line(&fact.label), fact_text(&fact.value, tz));
        lines(out, wrap_hanging(&line, WIDTH, "", "  "));
    }
    for section in &m.fragment.sections {
        section_lines(out, section);
    }
}

/// Up to [`MAX_DETAIL_LINES`] wrapped lines of `details`, indented.
fn details(out: &mut String, details: &str) {
    let wrapped: Vec<String> = details.lines().flat_map(|l| wrap(l, WIDTH, "  ")).collect();
    let shown = wrapped.len().min(MAX_DETAIL_LINES);
    lines(out, wrapped[..shown].to_vec());
    if wrapped.len() > shown {
        let _ = writeln!(out, "  ... {} more lines", wrapped.len() - shown);
    }
}

/// A section: its title (with the total when there is one) and its grouped messages, most
/// frequent first, each cut to fit one line.
fn section_lines(out: &mut String, section: &Section) {
    let total = section.total();
    if section.groups.is_empty() || total == 0 {
        let _ = writeln!(out, "{}", one_line(&section.title));
        let _ = writeln!(out, "{INDENT}No Errors Reported.");
        return;
    }
    let _ = writeln!(out, "{} ({total})", one_line(&section.title));
    let mut groups: Vec<_> = section.groups.iter().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count)); // stable: equal counts keep their order
    for g in groups.iter().take(MAX_GROUPS) {
        let prefix = format!("{INDENT}{} x ", g.count);
        let room = WIDTH.saturating_sub(prefix.chars().count()).max(20);
        let _ = writeln!(out, "{prefix}{}", truncate(&one_line(&g.message), room));
    }
    if groups.len() > MAX_GROUPS {
        let rest = &groups[MAX_GROUPS..];
        let occurrences: u64 = rest.iter().map(|g| g.count).sum();
        let (n, s) = (rest.len(), if rest.len() == 1 { "" } else { "s" });
        let times = if occurrences == 1 { "once" } else { "times" };
        let seen = if occurrences == 1 {
            String::new()
        } else {
            format!("{occurrences} ")
        };
        let _ = writeln!(
            out,
            "{INDENT}... and {n} more message{s}, seen {seen}{times}"
        );
    }
}

fn lines(out: &mut String, lines: Vec<String>) {
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
}
