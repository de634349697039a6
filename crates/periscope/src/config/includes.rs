//! The main file's satellites: the `--env` overlay (`periscope.<env>.toml`) and the files named
//! by `include` globs, read and merged into the main table with every problem kept for the
//! one report (a duplicate monitor name says where the first one is).

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::errors::ConfigError;
use super::sources::Sources;
use super::{merge, native_rules};

/// `[periscope].include` of the main file, read leniently (the strict pass reports its problems).
pub(super) fn include_patterns(text: &str) -> Vec<String> {
    let (table, _) = DeTable::parse_recoverable(text);
    let table = table.into_inner();
    let Some(DeValue::Table(general)) = table.get("periscope").map(|v| v.get_ref()) else {
        return Vec::new();
    };
    let Some(DeValue::Array(items)) = general.get("include").map(|v| v.get_ref()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|v| v.get_ref().as_str().map(str::to_string))
        .collect()
}

pub(super) fn read_overlay(
    sources: &mut Sources,
    main: &Path,
    env: &str,
) -> Result<usize, ConfigError> {
    let stem = main
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("periscope");
    let path = main.with_file_name(format!("{stem}.{env}.toml"));
    if !path.exists() {
        return Err(ConfigError::file(
            &path,
            format!("--env {env} needs this overlay file, and it does not exist"),
        )
        .hint(format!(
            "create {} with the settings that differ in {env} (it may be nearly empty)",
            path.display()
        )));
    }
    sources.read(&path)
}

pub(super) fn read_includes(
    sources: &mut Sources,
    base: &Path,
    patterns: &[String],
    errors: &mut Vec<ConfigError>,
) -> Vec<usize> {
    let mut indices = Vec::new();
    for pattern in patterns {
        let full = base.join(pattern);
        let is_glob = pattern.contains(['*', '?', '[']);
        let paths: Vec<PathBuf> = if is_glob {
            match glob::glob(&full.to_string_lossy()) {
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                    found.sort();
                    if found.is_empty() {
                        tracing::warn!(pattern = %full.display(), "include pattern matches no file");
                    }
                    found
                }
                Err(e) => {
                    errors.push(ConfigError::file(
                        &full,
                        format!("periscope.include: bad glob pattern: {e}"),
                    ));
                    continue;
                }
            }
        } else if full.exists() {
            vec![full]
        } else {
            errors.push(
                ConfigError::file(&full, "periscope.include: included file does not exist")
                    .hint("fix the path, or use a glob such as `monitors/*.toml` to allow none"),
            );
            continue;
        };
        for path in paths {
            match sources.read(&path) {
                Ok(i) => indices.push(i),
                Err(e) => errors.push(e),
            }
        }
    }
    indices
}

pub(super) fn monitor_names(root: &DeTable<'_>) -> Vec<(String, usize)> {
    match root.get("monitor").map(|v| v.get_ref()) {
        Some(DeValue::Table(t)) => t
            .iter()
            .map(|(k, _)| (k.get_ref().to_string(), k.span().start))
            .collect(),
        _ => Vec::new(),
    }
}

/// Adds an included file's monitors to the root, refusing anything else and duplicate names.
pub(super) fn merge_include<'i>(
    sources: &Sources,
    root: &mut DeTable<'i>,
    table: DeTable<'i>,
    origin: &mut Vec<(String, usize)>,
    errors: &mut Vec<ConfigError>,
) {
    for (key, value) in table {
        if key.get_ref() == "rule" {
            native_rules::merge_include(sources, root, key, value, errors);
            continue;
        }
        if key.get_ref() != "monitor" {
            errors.push(
                ConfigError::at(
                    sources,
                    Some(key.span().start),
                    key.get_ref().to_string(),
                    "included files may only hold [monitor.*] and [rule.*] tables",
                )
                .hint("move this section to the main config file"),
            );
            continue;
        }
        let DeValue::Table(monitors) = value.into_inner() else {
            errors.push(ConfigError::at(
                sources,
                Some(key.span().start),
                "monitor",
                "`monitor` must be a table of monitors",
            ));
            continue;
        };
        let target = root
            .entry(Spanned::new(
                key.span(),
                std::borrow::Cow::Borrowed("monitor"),
            ))
            .or_insert_with(|| merge::table_value(key.span(), DeTable::new()));
        let DeValue::Table(target) = target.get_mut() else {
            continue;
        };
        for (name, monitor) in monitors {
            if let Some((_, first)) = origin.iter().find(|(n, _)| n == name.get_ref().as_ref()) {
                let first_at = sources
                    .locate(*first)
                    .map(|(f, l, _)| format!("{}:{l}", f.path.display()))
                    .unwrap_or_default();
                errors.push(
                    ConfigError::at(
                        sources,
                        Some(name.span().start),
                        format!("monitor.{}", name.get_ref()),
                        "duplicate monitor name",
                    )
                    .hint(format!(
                        "first defined at {first_at}; monitor names must be unique across all files"
                    )),
                );
                continue;
            }
            origin.push((name.get_ref().to_string(), name.span().start));
            target.insert(name, monitor);
        }
    }
}
