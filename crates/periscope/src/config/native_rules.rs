//! `[time_period.NAME]` and `[rule.NAME]`: Periscope's own rules in the TOML config
//! (see `docs/rules.md`), checked as strictly as every other table and compiled through
//! `rules::native` while the config loads, so a config that loads has rules that evaluate.
//!
//! Checks beyond one table: every `depends_on` names a rule that exists, and dependencies do
//! not form a cycle (a cycle would let two rules suppress each other forever).

use std::collections::BTreeMap;

use model::time_period::{RawTimePeriod, TimePeriods};
use rules::native::{self, NativeRule, RuleDef};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::errors::ConfigError;
use super::locate;
use super::sources::Sources;

/// Reads `[time_period.*]` from the merged config root (rules and the response side both name
/// them); problems go to `errors`.
pub fn periods(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    errors: &mut Vec<ConfigError>,
) -> TimePeriods {
    let DeValue::Table(table) = root.get_ref() else {
        return TimePeriods::default();
    };
    let at = |key: &str| Some(locate::span_of_path(root, key).start);
    let mut defs = BTreeMap::new();
    if let Some(value) = table.get("time_period") {
        match value.get_ref() {
            DeValue::Table(list) => {
                for (name, value) in list.iter() {
                    let key = format!("time_period.{}", name.get_ref());
                    if let Some(p) =
                        super::section::<RawTimePeriod>(sources, root, &key, value, errors)
                    {
                        defs.insert(name.get_ref().to_string(), p);
                    }
                }
            }
            _ => errors.push(ConfigError::at(
                sources,
                at("time_period"),
                "time_period",
                "`time_period` must be a table: write [time_period.NAME] sections",
            )),
        }
    }
    TimePeriods::build(&defs).unwrap_or_else(|issues| {
        for issue in issues {
            let key = format!("time_period.{}", issue.path);
            let mut e = ConfigError::at(sources, at(&key), key.clone(), issue.message);
            if let Some(h) = issue.hint {
                e = e.hint(h);
            }
            errors.push(e);
        }
        TimePeriods::default()
    })
}

/// Reads `[rule.*]` from the merged config root, naming `periods`; problems go to `errors`.
/// Returns every rule that compiled, enabled or not, in config order.
pub fn load(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    periods: &TimePeriods,
    errors: &mut Vec<ConfigError>,
) -> Vec<NativeRule> {
    let DeValue::Table(table) = root.get_ref() else {
        return Vec::new();
    };
    let at = |key: &str| Some(locate::span_of_path(root, key).start);
    let mut compiled = Vec::new();
    let Some(value) = table.get("rule") else {
        return compiled;
    };
    let DeValue::Table(list) = value.get_ref() else {
        errors.push(ConfigError::at(
            sources,
            at("rule"),
            "rule",
            "`rule` must be a table: write [rule.NAME] sections",
        ));
        return compiled;
    };
    let mut names = Vec::new();
    for (name, value) in list.iter() {
        let name = name.get_ref().to_string();
        names.push(name.clone());
        let key = format!("rule.{name}");
        let Some(def) = super::section::<RuleDef>(sources, root, &key, value, errors) else {
            continue;
        };
        super::rules::check_monitor_ref(sources, root, &key, def.monitor.as_deref(), errors);
        super::rules::check_log_ref(sources, root, &key, def.log.as_deref(), errors);
        match native::compile(&name, &def, periods) {
            Ok(rule) => compiled.push(rule),
            Err(issues) => {
                for issue in issues {
                    let path = format!("{key}.{}", issue.path);
                    let mut e = ConfigError::at(sources, at(&path), path.clone(), issue.message);
                    if let Some(h) = issue.hint {
                        e = e.hint(h);
                    }
                    errors.push(e);
                }
            }
        }
    }
    for rule in &compiled {
        for (i, parent) in rule.depends_on.iter().enumerate() {
            if !names.contains(parent) {
                let key = format!("rule.{}.depends_on.{i}", rule.name);
                errors.push(
                    ConfigError::at(
                        sources,
                        at(&key),
                        format!("rule.{}.depends_on", rule.name),
                        format!("no rule is called `{parent}`"),
                    )
                    .hint(format!("known rules: {}", names.join(", "))),
                );
            }
        }
    }
    if let Some(cycle) = cycle(&compiled) {
        let key = format!("rule.{}.depends_on", cycle[0]);
        errors.push(
            ConfigError::at(
                sources,
                at(&key),
                key.clone(),
                format!("dependencies form a cycle: {}", cycle.join(" -> ")),
            )
            .hint("a parent suppresses its children; remove one depends_on of the cycle"),
        );
    }
    compiled
}

/// Adds an included file's `[rule.*]` tables to the root, refusing duplicate names.
pub fn merge_include<'i>(
    sources: &Sources,
    root: &mut DeTable<'i>,
    key: Spanned<std::borrow::Cow<'i, str>>,
    value: Spanned<DeValue<'i>>,
    errors: &mut Vec<ConfigError>,
) {
    let DeValue::Table(rules) = value.into_inner() else {
        errors.push(ConfigError::at(
            sources,
            Some(key.span().start),
            "rule",
            "`rule` must be a table of rules",
        ));
        return;
    };
    let target = root
        .entry(Spanned::new(key.span(), std::borrow::Cow::Borrowed("rule")))
        .or_insert_with(|| super::merge::table_value(key.span(), DeTable::new()));
    let DeValue::Table(target) = target.get_mut() else {
        return;
    };
    for (name, rule) in rules {
        if target.get(name.get_ref().as_ref()).is_some() {
            errors.push(
                ConfigError::at(
                    sources,
                    Some(name.span().start),
                    format!("rule.{}", name.get_ref()),
                    "duplicate rule name",
                )
                .hint("rule names must be unique across all files"),
            );
            continue;
        }
        target.insert(name, rule);
    }
}

/// A dependency cycle, as the rule names along it (first repeated at the end), if any.
fn cycle(rules: &[NativeRule]) -> Option<Vec<String>> {
    let parents: BTreeMap<&str, &[String]> = rules
        .iter()
        .map(|r| (r.name.as_str(), r.depends_on.as_slice()))
        .collect();
    fn visit<'a>(
        name: &'a str,
        parents: &BTreeMap<&'a str, &'a [String]>,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if done.contains(&name) {
            return None;
        }
        path.push(name);
        for parent in parents.get(name).copied().unwrap_or_default() {
            if let Some(c) = visit(parent, parents, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.push(name);
        None
    }
    let mut done = Vec::new();
    for name in parents.keys() {
        if let Some(c) = visit(name, &parents, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}
