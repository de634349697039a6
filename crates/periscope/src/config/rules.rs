//! `[rules]` and `[periscope].state`: which Prometheus rule files are evaluated, how often, and
//! where alert state is kept.
//!
//! Rule files are loaded (and so fully checked) while the config loads, so `check-config`
//! reports a broken rule file exactly like a broken config key: with the rule file, its line
//! and what is wrong. A config that loads has rules that can be evaluated.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rules::rulefile::{self, RuleFile, RuleFileError};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Secrets;
use super::errors::ConfigError;
use super::locate;
use super::schema::RulesSection;
use super::sources::Sources;

/// Default evaluation interval of a rule group that sets none (Prometheus' default).
pub const DEFAULT_RULE_INTERVAL: Duration = Duration::from_secs(60);
/// File name of the default SQLite state database, in the state directory.
pub const DEFAULT_STATE_FILE: &str = "state.db";

/// The rules to evaluate, resolved.
#[derive(Clone, Debug, Default)]
pub struct RulesConfig {
    /// False when `[rules] enabled = false`: files are still checked but nothing is evaluated.
    pub enabled: bool,
    /// Interval of groups that set none.
    pub interval: Duration,
    /// Every rule file the `files` globs matched, loaded and validated, in glob order.
    pub files: Vec<RuleFile>,
    /// Periscope's own rules (`[rule.NAME]`), compiled, enabled or not, in config order.
    pub native: Vec<rules::native::NativeRule>,
}

impl RulesConfig {
    /// The rule files to evaluate: none when disabled.
    pub fn active(&self) -> &[RuleFile] {
        if self.enabled { &self.files } else { &[] }
    }

    /// The `[rule.NAME]` rules to evaluate: the enabled ones, none when `[rules]` is disabled.
    pub fn active_native(&self) -> Vec<&rules::native::NativeRule> {
        if !self.enabled {
            return Vec::new();
        }
        self.native.iter().filter(|r| r.enabled).collect()
    }
}

/// Where alert state lives, resolved.
#[derive(Clone)]
pub struct StateDbConfig {
    /// The URL to open, with the password in it when one was configured.
    pub url: String,
    /// The URL with any password replaced by `***`, for messages and logs.
    pub shown: String,
}

impl std::fmt::Debug for StateDbConfig {
    // Never print the URL itself: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDbConfig")
            .field("url", &self.shown)
            .finish()
    }
}

/// Records located errors while resolving `[rules]` and the state URL.
pub struct RulesResolver<'a, 'i> {
    pub sources: &'a Sources,
    pub root: &'a Spanned<DeValue<'i>>,
    pub errors: &'a mut Vec<ConfigError>,
    /// Whether the state database's password must be readable.
    pub secrets: Secrets,
}

impl RulesResolver<'_, '_> {
    fn at(&self, key: &str) -> Option<usize> {
        Some(locate::span_of_path(self.root, key).start)
    }

    fn fail(&mut self, key: &str, message: impl Into<String>, hint: impl Into<String>) {
        let err = ConfigError::at(self.sources, self.at(key), key, message).hint(hint);
        self.errors.push(err);
    }

    /// `[rules]`: every file its globs match, loaded through `rules::rulefile`.
    pub fn rules(&mut self, s: RulesSection, base_dir: &Path) -> RulesConfig {
        let interval = match s.interval {
            None => DEFAULT_RULE_INTERVAL,
            Some(d) => match Duration::try_from(d) {
                Ok(d) if !d.is_zero() => d,
                _ => {
                    self.fail(
                        "rules.interval",
                        format!("must be a positive duration, got `{d:#}`"),
                        "e.g. `15s`, `1m`",
                    );
                    DEFAULT_RULE_INTERVAL
                }
            },
        };
        let mut files = Vec::new();
        for (i, pattern) in s.files.iter().enumerate() {
            let key = format!("rules.files.{i}");
            for path in self.matches(&key, pattern, base_dir) {
                match rulefile::load(&path) {
                    Ok(file) => {
                        for w in &file.warnings {
                            tracing::warn!(rule_file = %path.display(), "{w}");
                        }
                        files.push(file);
                    }
                    Err(RuleFileError::Read { source, .. }) => {
                        let err = ConfigError::at(
                            self.sources,
                            self.at(&key),
                            key.clone(),
                            format!("cannot read rule file {}: {source}", path.display()),
                        );
                        self.errors.push(err);
                    }
                    Err(RuleFileError::Invalid { problems, .. }) => {
                        self.errors
                            .extend(problems.iter().map(|p| rule_problem(&path, p)));
                    }
                }
            }
        }
        RulesConfig {
            enabled: s.enabled.unwrap_or(true),
            interval,
            files,
            native: Vec::new(),
        }
    }

    /// The files `pattern` names: a glob may match none (with a warning), a plain path must
    /// exist.
    fn matches(&mut self, key: &str, pattern: &str, base_dir: &Path) -> Vec<PathBuf> {
        let full = base_dir.join(pattern);
        if !pattern.contains(['*', '?', '[']) {
            if full.exists() {
                return vec![full];
            }
            self.fail(
                key,
                format!("rule file {} does not exist", full.display()),
                "fix the path (relative to the config file), or use a glob such as \
                 `rules/*.yml` to allow none",
            );
            return Vec::new();
        }
        match glob::glob(&full.to_string_lossy()) {
            Ok(paths) => {
                let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                found.sort();
                if found.is_empty() {
                    tracing::warn!(pattern = %full.display(), "rule file pattern matches no file");
                }
                found
            }
            Err(e) => {
                self.fail(key, format!("bad glob pattern: {e}"), "e.g. `rules/*.yml`");
                Vec::new()
            }
        }
    }

    /// `[periscope].state` (and `state_password_env`): the state database's URL.
    pub fn state_db(
        &mut self,
        state: Option<&str>,
        password_env: Option<&str>,
        base_dir: &Path,
        state_dir: &Path,
    ) -> StateDbConfig {
        let default = sqlite_url(&state_dir.join(DEFAULT_STATE_FILE), "mode=rwc");
        let fallback = StateDbConfig {
            url: default.clone(),
            shown: default.clone(),
        };
        let Some(text) = state else {
            if password_env.is_some() {
                self.fail(
                    "periscope.state_password_env",
                    "a password is only used with a PostgreSQL state database",
                    "set state = \"postgres://USER@HOST:5432/DATABASE\", or remove \
                     state_password_env",
                );
            }
            return fallback;
        };
        let key = "periscope.state";
        let hint = "e.g. \"sqlite://state/state.db?mode=rwc\" or \
                    \"postgres://periscope@db.example.com:5432/periscope\"";
        let mut url = match url::Url::parse(text) {
            Ok(u) => u,
            Err(e) => {
                self.fail(key, format!("`{}` is not a URL: {e}", redact(text)), hint);
                return fallback;
            }
        };
        match url.scheme() {
            "sqlite" => {
                if password_env.is_some() {
                    self.fail(
                        "periscope.state_password_env",
                        "a SQLite state database takes no password",
                        "remove state_password_env",
                    );
                }
                let resolved = resolve_sqlite(text, base_dir);
                StateDbConfig {
                    url: resolved.clone(),
                    shown: resolved,
                }
            }
            "postgres" | "postgresql" => {
                if url.host_str().is_none_or(str::is_empty) {
                    self.fail(key, "the PostgreSQL URL names no host", hint);
                    return fallback;
                }
                if let Some(var) = password_env {
                    let env_key = "periscope.state_password_env";
                    if url.password().is_some() {
                        self.fail(
                            env_key,
                            "the state URL already holds a password; set either that or \
                             state_password_env",
                            "remove the password from the URL",
                        );
                        return fallback;
                    }
                    if url.username().is_empty() {
                        self.fail(
                            env_key,
                            "state_password_env needs a user name in the state URL",
                            "e.g. state = \"postgres://periscope@db.example.com:5432/periscope\"",
                        );
                        return fallback;
                    }
                    let Ok(secret) = std::env::var(var) else {
                        if self.secrets == Secrets::NotNeeded {
                            // Not connected to by this command: the URL without a password,
                            // never the SQLite default in its place.
                            return StateDbConfig {
                                url: url.to_string(),
                                shown: redact(url.as_str()),
                            };
                        }
                        self.fail(
                            env_key,
                            format!("environment variable `{var}` is not set"),
                            format!("export {var}=... before starting Periscope"),
                        );
                        return fallback;
                    };
                    if url.set_password(Some(&secret)).is_err() {
                        self.fail(env_key, "this URL cannot carry a password", hint);
                        return fallback;
                    }
                }
                StateDbConfig {
                    url: url.to_string(),
                    shown: redact(url.as_str()),
                }
            }
            other => {
                self.fail(
                    key,
                    format!("unsupported state database `{other}:`; use sqlite or postgres"),
                    hint,
                );
                fallback
            }
        }
    }
}

/// Checks that the `monitor = "M"` short form of the `[rule.NAME]` at `key` names a
/// `[monitor.M]` of the config (in any file): a rule on a monitor that does not exist would
/// only ever fire "no data". The error points at the `monitor` key, with the closest monitor
/// name as a hint.
pub fn check_monitor_ref(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    key: &str,
    monitor: Option<&str>,
    errors: &mut Vec<ConfigError>,
) {
    let Some(monitor) = monitor else {
        return;
    };
    let known: Vec<String> = monitors(root).map(|(name, _)| name.to_string()).collect();
    if known.iter().any(|m| m == monitor) {
        return;
    }
    let path = format!("{key}.monitor");
    let hint = name_hint(
        monitor,
        &known,
        |m| format!("did you mean `{m}`?"),
        "no [monitor.NAME] is configured",
        "known monitors",
    );
    let at = Some(locate::span_of_path(root, &path).start);
    errors.push(
        ConfigError::at(
            sources,
            at,
            path,
            format!("no monitor is called `{monitor}`"),
        )
        .hint(hint),
    );
}

/// Checks that the `log = "M/R"` short form of the `[rule.NAME]` at `key` names a log monitor
/// `[monitor.M]` (`kind = "log"`, in any file) and one of its rules `[monitor.M.rules.R]`: the
/// rule counts `periscope_log_matches{monitor="M",rule="R"}`, which nothing else writes, so a
/// misspelt name would only ever see no data. The error points at the `log` key, with the
/// closest log monitor or rule name as a hint. Text that is not `M/R` at all is left to the
/// rule's own check.
pub fn check_log_ref(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    key: &str,
    log: Option<&str>,
    errors: &mut Vec<ConfigError>,
) {
    let Some((monitor, rule)) = log
        .and_then(|text| text.split_once('/'))
        .filter(|(m, r)| !m.is_empty() && !r.is_empty())
    else {
        return;
    };
    let path = format!("{key}.log");
    let mut fail = |message: String, hint: String| {
        let at = Some(locate::span_of_path(root, &path).start);
        errors.push(ConfigError::at(sources, at, path.clone(), message).hint(hint));
    };
    let is_log = |table: &DeTable<'_>| match table.get("kind").map(Spanned::get_ref) {
        Some(DeValue::String(kind)) => kind == "log",
        _ => false,
    };
    let log_monitors: Vec<(&str, &DeTable<'_>)> =
        monitors(root).filter(|(_, table)| is_log(table)).collect();
    let Some((_, table)) = log_monitors.iter().find(|(name, _)| *name == monitor) else {
        let names: Vec<String> = log_monitors.iter().map(|(n, _)| n.to_string()).collect();
        let other_kind = monitors(root).any(|(name, _)| name == monitor);
        let message = if other_kind {
            format!("monitor `{monitor}` is not a log monitor (`kind = \"log\"`)")
        } else {
            format!("no log monitor is called `{monitor}`")
        };
        let none = "no [monitor.NAME] with kind = \"log\" is configured";
        let hint = if other_kind {
            // The name is right, the kind is not: no other name to suggest.
            known_list(&names, none, "log monitors")
        } else {
            name_hint(
                monitor,
                &names,
                |m| format!("did you mean `{m}/{rule}`?"),
                none,
                "log monitors",
            )
        };
        fail(message, hint);
        return;
    };
    let rules: Vec<String> = match table.get("rules").map(Spanned::get_ref) {
        Some(DeValue::Table(rules)) => rules
            .iter()
            .map(|(name, _)| name.get_ref().to_string())
            .collect(),
        _ => Vec::new(),
    };
    if rules.iter().any(|r| r == rule) {
        return;
    }
    let hint = name_hint(
        rule,
        &rules,
        |r| format!("did you mean `{monitor}/{r}`?"),
        &format!("[monitor.{monitor}] has no [monitor.{monitor}.rules.NAME]"),
        "its rules",
    );
    fail(
        format!("log monitor `{monitor}` has no rule `{rule}`"),
        hint,
    );
}

/// Every `[monitor.NAME]` table of the merged config root, with its name.
fn monitors<'a, 'i>(
    root: &'a Spanned<DeValue<'i>>,
) -> impl Iterator<Item = (&'a str, &'a DeTable<'i>)> {
    let monitors = match root.get_ref() {
        DeValue::Table(table) => match table.get("monitor").map(Spanned::get_ref) {
            Some(DeValue::Table(monitors)) => Some(monitors),
            _ => None,
        },
        _ => None,
    };
    monitors.into_iter().flatten().filter_map(|(name, value)| {
        let DeValue::Table(table) = value.get_ref() else {
            return None;
        };
        Some((name.get_ref().as_ref(), table))
    })
}

/// The hint for `wanted`, a name not in `known`: `suggest` of the closest known name when it is
/// close enough to be a typo, otherwise the known names (see [`known_list`]).
fn name_hint(
    wanted: &str,
    known: &[String],
    suggest: impl Fn(&str) -> String,
    none: &str,
    label: &str,
) -> String {
    closest(wanted, known).map_or_else(|| known_list(known, none, label), suggest)
}

/// `label: a, b, c`, or `none` when nothing is known.
fn known_list(known: &[String], none: &str, label: &str) -> String {
    if known.is_empty() {
        none.to_string()
    } else {
        format!("{label}: {}", known.join(", "))
    }
}

/// The name in `known` closest to `wanted`, when it is close enough to be a typo of it.
fn closest<'a>(wanted: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (super::errors::edit_distance(wanted, k), k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// A rule file problem as a config problem: the rule file and its line, the group and rule
/// as the key.
fn rule_problem(path: &Path, p: &rulefile::Problem) -> ConfigError {
    let mut place = Vec::new();
    if let Some(g) = &p.group {
        place.push(format!("group {g:?}"));
    }
    if let Some(r) = &p.rule {
        if r.name.is_empty() {
            place.push(format!("rule {}", r.index));
        } else {
            place.push(format!("rule {} ({:?})", r.index, r.name));
        }
    }
    ConfigError {
        file: Some(path.to_path_buf()),
        position: (p.line > 0).then(|| (p.line, p.column.unwrap_or(1))),
        key: place.join(", "),
        message: p.message.clone(),
        hint: p.hint.clone(),
    }
}

/// A `sqlite://` URL for `path` with `query`; characters that mean something in a URL are
/// escaped so sqlx reads the path back as written.
fn sqlite_url(path: &Path, query: &str) -> String {
    let text = path
        .to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    format!("sqlite://{text}?{query}")
}

/// A SQLite URL whose relative path is taken relative to the config file, like every other
/// path in the config (sqlx would take it relative to the working directory).
fn resolve_sqlite(text: &str, base_dir: &Path) -> String {
    let rest = text
        .strip_prefix("sqlite://")
        .or_else(|| text.strip_prefix("sqlite:"))
        .unwrap_or(text);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.starts_with('/') || path == ":memory:" || path.is_empty() {
        return text.to_string();
    }
    let joined = base_dir.join(path).to_string_lossy().into_owned();
    if query.is_empty() {
        format!("sqlite://{joined}")
    } else {
        format!("sqlite://{joined}?{query}")
    }
}

/// `text` with any password in it replaced by `***`.
fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => text.to_string(),
        // Not a URL: it could still hold `user:secret@`, so cut what lies between.
        Err(_) => match (text.find("://"), text.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}***{}", &text[..s + 3], &text[at..]),
            _ => text.to_string(),
        },
    }
}
