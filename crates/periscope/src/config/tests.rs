use std::path::Path;

use super::*;

/// Writes `files` into a temp dir and loads the first one, secrets required.
fn load_files(
    files: &[(&str, &str)],
    env: Option<&str>,
) -> (tempfile::TempDir, Result<Config, ConfigErrors>) {
    load_files_with(files, env, Secrets::Required)
}

/// [`load_files`] with the secrets mode of a command.
fn load_files_with(
    files: &[(&str, &str)],
    env: Option<&str>,
    secrets: Secrets,
) -> (tempfile::TempDir, Result<Config, ConfigErrors>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let opts = LoadOptions {
        path: dir.path().join(files[0].0),
        env: env.map(str::to_string),
        state_dir: None,
        secrets,
    };
    let result = load(&opts);
    (dir, result)
}

fn errors_of(files: &[(&str, &str)], env: Option<&str>) -> Vec<ConfigError> {
    match load_files(files, env).1 {
        Ok(_) => panic!("config was accepted: {files:?}"),
        Err(e) => e.0,
    }
}

const LOG_MONITOR: &str = "[monitor.app]\nkind = \"log\"\npaths = [\"app.log\"]\n";

#[test]
fn the_example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/periscope.toml");
    let opts = LoadOptions {
        path: path.clone(),
        env: None,
        state_dir: None,
        secrets: Secrets::Required,
    };
    let config = load(&opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        config.monitors.len() >= 3,
        "the example shows every monitor kind"
    );
    for kind in crate::wire::KINDS {
        assert!(
            config.monitors.iter().any(|m| m.kind == *kind),
            "example lacks a `{kind}` monitor"
        );
    }
    let test = LoadOptions {
        env: Some("test".into()),
        ..opts
    };
    // The example rule file loads with the config, and shows both kinds of rule.
    let rules: Vec<_> = config.rules.files.iter().collect();
    assert_eq!(rules.len(), 1, "config/rules/example.yml");
    assert!(rules[0].recording_rules() >= 1 && rules[0].alerting_rules() >= 2);
    assert!(config.rules.enabled);
    assert_eq!(config.rules.interval, rules::DEFAULT_RULE_INTERVAL);
    let in_test = load(&test).unwrap_or_else(|e| panic!("with --env test: {e}"));
    assert!(
        in_test.enabled().count() < config.enabled().count(),
        "the test overlay disables a monitor"
    );
}

#[test]
fn minimal_config_gets_named_defaults() {
    let (dir, config) = load_files(&[("periscope.toml", LOG_MONITOR)], None);
    let config = config.unwrap();
    assert_eq!(config.environment, "production");
    assert_eq!(config.state_dir, dir.path().join("state"));
    assert_eq!(config.output.dir, dir.path().join("output"));
    assert_eq!(config.output.naming, SnapshotNaming::Daily);
    let app = config.monitor("app").unwrap();
    assert!(app.enabled);
    assert_eq!(app.timeout, DEFAULT_TIMEOUT);
    assert!(matches!(app.schedule, Schedule::Every(d) if d == DEFAULT_INTERVAL));
}

#[test]
fn the_store_is_on_by_default_and_http_off() {
    let (dir, config) = load_files(&[("periscope.toml", LOG_MONITOR)], None);
    let config = config.unwrap();
    let store = config.store.expect("history is kept by default");
    assert_eq!(store.dir, dir.path().join("state/metrics"));
    assert_eq!(store.retention, storage::DEFAULT_RETENTION);
    assert_eq!(store.retention_bytes, 0);
    assert!(config.http.is_none());
    let (_dir, config) = load_files(&[("periscope.toml", "[store]\nenabled = false\n")], None);
    assert!(config.unwrap().store.is_none());
    let text = "[http]\nlisten = \"127.0.0.1:0\"\nmax_body = \"1MiB\"\n";
    let (_dir, config) = load_files(&[("periscope.toml", text)], None);
    assert_eq!(config.unwrap().http.unwrap().max_body_bytes, 1 << 20);
}

const RULE_FILE: &str =
    "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n";

#[test]
fn the_example_rule_file_loads() {
    // Checked on its own too: the example config's monitors need plugins this machine may lack.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/rules/example.yml");
    let file = ::rules::rulefile::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.recording_rules(), 1);
    assert_eq!(file.alerting_rules(), 2);
    assert!(file.warnings.is_empty(), "{:?}", file.warnings);
}

#[test]
fn rules_and_state_have_named_defaults() {
    let (dir, config) = load_files(&[("periscope.toml", LOG_MONITOR)], None);
    let config = config.unwrap();
    assert!(config.rules.files.is_empty());
    assert_eq!(config.rules.interval, rules::DEFAULT_RULE_INTERVAL);
    let db = dir.path().join("state").join(rules::DEFAULT_STATE_FILE);
    assert_eq!(
        config.state_db.url,
        format!("sqlite://{}?mode=rwc", db.display())
    );

    // Globs are relative to the config file; a relative SQLite path is too.
    let main = "[periscope]\nstate = \"sqlite://alerts.db?mode=rwc\"\n\
                [rules]\nfiles = [\"rules/*.yml\", \"none/*.yml\"]\ninterval = \"15s\"\n";
    let (dir, config) = load_files(
        &[("etc/periscope.toml", main), ("etc/rules/a.yml", RULE_FILE)],
        None,
    );
    let config = config.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.rules.files.len(), 1);
    assert_eq!(config.rules.interval, Duration::from_secs(15));
    assert_eq!(config.rules.active().len(), 1);
    let db = dir.path().join("etc/alerts.db");
    assert_eq!(
        config.state_db.url,
        format!("sqlite://{}?mode=rwc", db.display())
    );

    let off = "[rules]\nenabled = false\nfiles = [\"a.yml\"]\n";
    let (_dir, config) = load_files(&[("periscope.toml", off), ("a.yml", RULE_FILE)], None);
    let config = config.unwrap();
    assert_eq!(
        config.rules.files.len(),
        1,
        "a disabled rule file is still checked"
    );
    assert!(config.rules.active().is_empty());
}

#[test]
fn the_postgres_password_comes_from_the_environment_and_is_never_shown() {
    let main = "[periscope]\nstate = \"postgres://periscope@db.internal:5432/alerts\"\n\
                state_password_env = \"HOME\"\n";
    let (_dir, config) = load_files(&[("periscope.toml", main)], None);
    let db = config.unwrap_or_else(|e| panic!("{e}")).state_db;
    let home = std::env::var("HOME").unwrap();
    let url = url::Url::parse(&db.url).unwrap();
    // The URL carries it percent-encoded; sqlx decodes it.
    assert_eq!(
        url.password().map(|p| p.replace("%2F", "/")),
        Some(home.clone())
    );
    assert_eq!(db.shown, "postgres://periscope:***@db.internal:5432/alerts");
    assert!(!format!("{db:?}").contains(&home));

    let inline = "[periscope]\nstate = \"postgres://p:s3cret@db.internal/alerts\"\n";
    let (_dir, config) = load_files(&[("periscope.toml", inline)], None);
    let db = config.unwrap().state_db;
    assert!(db.url.contains("s3cret") && !db.shown.contains("s3cret"));
}

#[test]
fn receiver_passwords_come_from_a_file_not_the_config() {
    let main = "[receiver.sensors]\nkind = \"mqtt\"\nhost = \"127.0.0.1\"\nclient_id = \"p\"\n\
                topics = [\"s/#\"]\nusername = \"periscope\"\npassword_file = \"mqtt-password\"\n\n\
                [receiver.edge]\nkind = \"nats\"\nurl = \"nats://periscope@127.0.0.1:4222\"\n\
                stream = \"M\"\nsubjects = [\"m.>\"]\nconsumer = \"p\"\npassword_file = \"mqtt-password\"\n";
    let (_dir, config) = load_files(
        &[("periscope.toml", main), ("mqtt-password", "s3cret\n")],
        None,
    );
    let config = config.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.receivers.len(), 2);
    // An inline password beside password_file is refused rather than silently preferred.
    let both = main.replace("username = ", "password = \"inline\"\nusername = ");
    let errors = errors_of(&[("periscope.toml", &both), ("mqtt-password", "x")], None);
    assert!(
        errors[0]
            .message
            .contains("set either password or password_file"),
        "{errors:#?}"
    );
}

#[test]
fn the_email_ca_file_is_found_next_to_the_config() {
    let ca = std::fs::read_to_string(testkit::test_ca_file()).unwrap();
    let main = "[email]\nsmtp_host = \"mail.internal\"\nfrom = \"p@x\"\nto = [\"o@x\"]\nca_file = \"certs/internal-ca.pem\"\n";
    let (dir, config) = load_files(
        &[
            ("etc/periscope.toml", main),
            ("etc/certs/internal-ca.pem", ca.as_str()),
        ],
        None,
    );
    let email = config.unwrap().email.unwrap();
    assert_eq!(email.security, report::SmtpSecurity::StartTls);
    assert_eq!(
        email.ca_file,
        Some(dir.path().join("etc/certs/internal-ca.pem"))
    );

    let without = "[email]\nsmtp_host = \"mail\"\nfrom = \"p@x\"\nto = [\"o@x\"]\n";
    let (_dir, config) = load_files(&[("periscope.toml", without)], None);
    assert_eq!(config.unwrap().email.unwrap().ca_file, None);
}

#[test]
fn env_overlay_disables_a_monitor_and_overrides_settings() {
    let main = format!("[periscope]\ntimezone = \"UTC\"\n{LOG_MONITOR}interval = \"5m\"\n");
    let overlay = "[monitor.app]\nenabled = false\n[output]\nsnapshot = \"per-run\"\n";
    let (_d, config) = load_files(
        &[("periscope.toml", &main), ("periscope.test.toml", overlay)],
        Some("test"),
    );
    let config = config.unwrap();
    assert_eq!(config.environment, "test");
    let app = config.monitor("app").unwrap();
    assert!(!app.enabled);
    assert!(
        matches!(app.schedule, Schedule::Every(d) if d == Duration::from_secs(300)),
        "base settings survive the merge"
    );
    assert_eq!(config.output.naming, SnapshotNaming::PerRun);
}

#[test]
fn monitors_keep_the_order_the_file_gives_them() {
    let text = "[monitor.zeta]\nkind = \"command\"\ncommand = [\"true\"]\n\
                [monitor.alpha]\nkind = \"command\"\ncommand = [\"true\"]\n\
                [monitor.mid]\nkind = \"command\"\ncommand = [\"true\"]\n";
    let overlay = "[monitor.zeta]\ncommand = [\"false\"]\n";
    let (_d, config) = load_files(
        &[("periscope.toml", text), ("periscope.test.toml", overlay)],
        Some("test"),
    );
    let names: Vec<_> = config
        .unwrap()
        .monitors
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(
        names,
        ["zeta", "alpha", "mid"],
        "reports list monitors as the config does"
    );
}

#[test]
fn includes_add_monitors_from_globs() {
    let main = "[periscope]\ninclude = [\"monitors/*.toml\"]\n";
    let a = "[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\n";
    let b = "[monitor.b]\nkind = \"command\"\ncommand = [\"true\"]\n";
    let (_d, config) = load_files(
        &[
            ("periscope.toml", main),
            ("monitors/a.toml", a),
            ("monitors/b.toml", b),
        ],
        None,
    );
    let config = config.unwrap();
    let names: Vec<_> = config.monitors.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn every_error_in_a_file_is_reported_at_once() {
    let text = "\
[periscope]
timezone = \"Mars/Olympus\"

[monitor.one]
kind = \"log\"
pathz = [\"x.log\"]

[monitor.two]
kind = \"log\"
paths = [\"y.log\"]
cron = \"99 * * * *\"
";
    let errors = errors_of(&[("periscope.toml", text)], None);
    let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "periscope.timezone",
            "monitor.one.pathz",
            "monitor.two.cron"
        ],
        "{errors:#?}"
    );
    let lines: Vec<_> = errors.iter().map(|e| e.position.unwrap().0).collect();
    assert_eq!(lines, [2, 6, 11]);
}

mod access;
mod broken;
mod secrets;

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    /// Fragments of real configs, so generated text often gets deep into the loader.
    const PIECES: &[&str] = &[
        "[periscope]\n",
        "[output]\n",
        "[email]\n",
        "[monitor.a]\n",
        "[monitor.a.rules.x]\n",
        "[monitor.b]\n",
        "kind = \"log\"\n",
        "kind = \"command\"\n",
        "kind = \"http\"\n",
        "paths = [\"a.log\"]\n",
        "command = [\"true\"]\n",
        "url = \"http://127.0.0.1:1/\"\n",
        "regex = '('\n",
        "match = \"x\"\n",
        "cron = \"* * * * *\"\n",
        "interval = \"5m\"\n",
        "timeout = \"-1s\"\n",
        "enabled = false\n",
        "timezone = \"UTC\"\n",
        "include = [\"*.toml\"]\n",
        "warning = 1\ncritical = 0\n",
        "= \n",
        "[[\n",
        "snapshot = \"daily\"\n",
        "to = []\n",
        "\"\\u00e9\" = 1\n",
        "a.b.c = 1\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn loading_any_text_gives_a_config_or_located_errors(
            picks in proptest::collection::vec(0..PIECES.len(), 0..12),
            noise in "[ -~\\n]{0,40}",
        ) {
            let mut text: String = picks.iter().map(|i| PIECES[*i]).collect();
            text.push_str(&noise);
            let (_dir, result) = load_files(&[("periscope.toml", &text)], None);
            if let Err(errors) = result {
                prop_assert!(!errors.0.is_empty());
                for e in &errors.0 {
                    prop_assert!(e.file.is_some(), "every error names a file: {e}");
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }
}
