use std::path::Path;

use super::*;

/// Writes `files` into a temp dir and loads the first one.
fn load_files(
    files: &[(&str, &str)],
    env: Option<&str>,
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

/// One broken config: files (the first is loaded), and what the first error must say.
struct Broken {
    what: &'static str,
    files: &'static [(&'static str, &'static str)],
    env: Option<&'static str>,
    file: &'static str,
    line: Option<usize>,
    key: &'static str,
    message: &'static str,
    hint: Option<&'static str>,
}

const BROKEN: &[Broken] = &[
    Broken {
        what: "syntax error",
        files: &[("periscope.toml", "[monitor.a]\nkind = \"log\npaths = []\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "",
        message: "TOML syntax error",
        hint: None,
    },
    Broken {
        what: "unknown section",
        files: &[("periscope.toml", "[outptu]\ndir = \"x\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(1),
        key: "outptu",
        message: "unknown section",
        hint: Some("did you mean `output`"),
    },
    Broken {
        what: "unknown key in a section",
        files: &[("periscope.toml", "[output]\ndirectory = \"x\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "output.directory",
        message: "unknown field `directory`",
        hint: None,
    },
    Broken {
        what: "unknown monitor key",
        files: &[(
            "periscope.toml",
            "[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\nrecord_strat = '^x'\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(4),
        key: "monitor.a.record_strat",
        message: "unknown field `record_strat`",
        hint: Some("did you mean `record_start`"),
    },
    Broken {
        what: "wrong type",
        files: &[(
            "periscope.toml",
            "[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\ninterval = 5\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(4),
        key: "monitor.a.interval",
        message: "",
        hint: None,
    },
    Broken {
        what: "bad cron expression",
        files: &[(
            "periscope.toml",
            "[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\ncron = \"61 * * * *\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(4),
        key: "monitor.a.cron",
        message: "bad cron expression",
        hint: Some("five fields"),
    },
    Broken {
        what: "interval and cron",
        files: &[(
            "periscope.toml",
            "[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\ninterval = \"1m\"\ncron = \"* * * * *\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(5),
        key: "monitor.a.cron",
        message: "either `interval` or `cron`",
        hint: None,
    },
    Broken {
        what: "bad regex",
        files: &[(
            "periscope.toml",
            "[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\n[monitor.a.rules.x]\nregex = 'Timeout (\\d+'\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(5),
        key: "monitor.a.rules.x.regex",
        message: "regex",
        hint: None,
    },
    Broken {
        what: "duplicate monitor across files",
        files: &[
            (
                "periscope.toml",
                "[periscope]\ninclude = [\"more.toml\"]\n[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\n",
            ),
            (
                "more.toml",
                "\n[monitor.a]\nkind = \"log\"\npaths = [\"b.log\"]\n",
            ),
        ],
        env: None,
        file: "more.toml",
        line: Some(2),
        key: "monitor.a",
        message: "duplicate monitor name",
        hint: Some("first defined at"),
    },
    Broken {
        what: "missing include",
        files: &[("periscope.toml", "[periscope]\ninclude = [\"nope.toml\"]\n")],
        env: None,
        file: "nope.toml",
        line: None,
        key: "",
        message: "included file does not exist",
        hint: None,
    },
    Broken {
        what: "unknown kind",
        files: &[("periscope.toml", "[monitor.a]\nkind = \"lgo\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "monitor.a.kind",
        message: "unknown monitor kind `lgo`",
        hint: Some("log, command, http"),
    },
    Broken {
        what: "missing kind",
        files: &[("periscope.toml", "[monitor.a]\npaths = [\"a.log\"]\n")],
        env: None,
        file: "periscope.toml",
        line: Some(1),
        key: "monitor.a.kind",
        message: "missing `kind`",
        hint: None,
    },
    Broken {
        what: "unknown time zone",
        files: &[(
            "periscope.toml",
            "[periscope]\ntimezone = \"Europe/Lodnon\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "periscope.timezone",
        message: "unknown time zone",
        hint: Some("IANA"),
    },
    Broken {
        what: "zero timeout",
        files: &[(
            "periscope.toml",
            "[monitor.a]\nkind = \"log\"\npaths = [\"a.log\"]\ntimeout = \"0s\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(4),
        key: "monitor.a.timeout",
        message: "positive duration",
        hint: None,
    },
    Broken {
        what: "password env not set",
        files: &[(
            "periscope.toml",
            "[email]\nsmtp_host = \"mail\"\nfrom = \"p@x\"\nto = [\"o@x\"]\nusername = \"u\"\npassword_env = \"PERISCOPE_TEST_SURELY_UNSET\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(6),
        key: "email.password_env",
        message: "PERISCOPE_TEST_SURELY_UNSET",
        hint: None,
    },
    Broken {
        what: "inline password",
        files: &[(
            "periscope.toml",
            "[email]\nsmtp_host = \"mail\"\nfrom = \"p@x\"\nto = [\"o@x\"]\npassword = \"hunter2\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(5),
        key: "email.password",
        message: "unknown field `password`",
        hint: None,
    },
    Broken {
        what: "missing CA file",
        files: &[(
            "periscope.toml",
            "[email]\nsmtp_host = \"mail\"\nfrom = \"p@x\"\nto = [\"o@x\"]\nca_file = \"certs/ca.pem\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(5),
        key: "email.ca_file",
        message: "cannot read CA file",
        hint: Some("PEM"),
    },
    Broken {
        what: "CA file without a certificate",
        files: &[
            (
                "periscope.toml",
                "[email]\nsmtp_host = \"mail\"\nfrom = \"p@x\"\nto = [\"o@x\"]\nsecurity = \"tls\"\nca_file = \"ca.pem\"\n",
            ),
            ("ca.pem", "not a certificate\n"),
        ],
        env: None,
        file: "periscope.toml",
        line: Some(6),
        key: "email.ca_file",
        message: "holds no PEM certificate",
        hint: None,
    },
    Broken {
        what: "CA file with plain SMTP",
        files: &[(
            "periscope.toml",
            "[email]\nsmtp_host = \"mail\"\nfrom = \"p@x\"\nto = [\"o@x\"]\nsecurity = \"plain\"\nca_file = \"ca.pem\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(6),
        key: "email.ca_file",
        message: "would not be used",
        hint: Some("remove ca_file"),
    },
    Broken {
        what: "empty command",
        files: &[(
            "periscope.toml",
            "[monitor.q]\nkind = \"command\"\ncommand = []\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(3),
        key: "monitor.q.command",
        message: "",
        hint: None,
    },
    Broken {
        what: "bad monitor name",
        files: &[(
            "periscope.toml",
            "[monitor.\"bad name\"]\nkind = \"log\"\npaths = [\"a.log\"]\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(1),
        key: "monitor.bad name",
        message: "letters, digits",
        hint: None,
    },
    Broken {
        what: "include with a non-monitor section",
        files: &[
            (
                "periscope.toml",
                "[periscope]\ninclude = [\"extra.toml\"]\n",
            ),
            ("extra.toml", "[output]\ndir = \"x\"\n"),
        ],
        env: None,
        file: "extra.toml",
        line: Some(1),
        key: "output",
        message: "only hold [monitor.*]",
        hint: None,
    },
    Broken {
        what: "missing env overlay",
        files: &[("periscope.toml", "[periscope]\n")],
        env: Some("staging"),
        file: "periscope.staging.toml",
        line: None,
        key: "",
        message: "--env staging",
        hint: Some("create"),
    },
    Broken {
        what: "bad enum value",
        files: &[("periscope.toml", "[output]\nsnapshot = \"hourly\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "output.snapshot",
        message: "hourly",
        hint: None,
    },
    Broken {
        what: "retention in months",
        files: &[("periscope.toml", "[store]\nretention = \"3mo\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "store.retention",
        message: "retention must be a positive span",
        hint: Some("use days"),
    },
    Broken {
        what: "unknown size unit",
        files: &[("periscope.toml", "[store]\nretention_size = \"10 gigs\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "store.retention_size",
        message: "`gigs` is not a size unit",
        hint: Some("10GiB"),
    },
    Broken {
        what: "listen address without a port",
        files: &[("periscope.toml", "[http]\nlisten = \"localhost\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "http.listen",
        message: "`localhost` is not an address and port",
        hint: Some("127.0.0.1:9464"),
    },
    Broken {
        what: "unknown receiver kind",
        files: &[("periscope.toml", "[receiver.apps]\nkind = \"kafka\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "receiver.apps.kind",
        message: "unknown receiver kind `kafka`",
        hint: Some("rabbitmq, nats, mqtt"),
    },
    Broken {
        what: "unknown receiver setting",
        files: &[(
            "periscope.toml",
            "[receiver.apps]\nkind = \"rabbitmq\"\nurl = \"amqp://127.0.0.1\"\nqueue = \"q\"\nprefetsh = 5\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(5),
        key: "receiver.apps.prefetsh",
        message: "unknown field `prefetsh`",
        hint: Some("prefetch"),
    },
    Broken {
        what: "receiver password from an unset variable",
        files: &[(
            "periscope.toml",
            "[receiver.apps]\nkind = \"rabbitmq\"\nurl = \"amqp://periscope@127.0.0.1/\"\nqueue = \"q\"\npassword_env = \"PERISCOPE_TEST_NEVER_SET\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(5),
        key: "receiver.apps.password_env",
        message: "`PERISCOPE_TEST_NEVER_SET` is not set",
        hint: Some("export PERISCOPE_TEST_NEVER_SET"),
    },
    Broken {
        what: "receiver password twice",
        files: &[
            (
                "periscope.toml",
                "[receiver.apps]\nkind = \"nats\"\nurl = \"nats://p:inline@127.0.0.1:4222\"\nstream = \"M\"\nsubjects = [\"m.>\"]\nconsumer = \"p\"\npassword_file = \"secret.txt\"\n",
            ),
            ("secret.txt", "s3cret\n"),
        ],
        env: None,
        file: "periscope.toml",
        line: Some(7),
        key: "receiver.apps.password_file",
        message: "already holds a password",
        hint: Some("remove the password from the url"),
    },
    Broken {
        what: "receiver without a store",
        files: &[(
            "periscope.toml",
            "[store]\nenabled = false\n\n[receiver.apps]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nstream = \"M\"\nsubjects = [\"m.>\"]\nconsumer = \"p\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(4),
        key: "receiver.apps",
        message: "[store] is disabled",
        hint: None,
    },
    Broken {
        what: "HTTP receiver without a store",
        files: &[(
            "periscope.toml",
            "[store]\nenabled = false\n\n[http]\nlisten = \"127.0.0.1:9464\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(5),
        key: "http.listen",
        message: "[store] is disabled",
        hint: Some("remove `enabled = false`"),
    },
    Broken {
        what: "unknown key in [rules]",
        files: &[("periscope.toml", "[rules]\nfile = [\"a.yml\"]\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "rules.file",
        message: "unknown field `file`",
        hint: Some("did you mean `files`"),
    },
    Broken {
        what: "zero rule interval",
        files: &[("periscope.toml", "[rules]\ninterval = \"0s\"\n")],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "rules.interval",
        message: "must be a positive duration",
        hint: None,
    },
    Broken {
        what: "missing rule file",
        files: &[(
            "periscope.toml",
            "[rules]\nfiles = [\"rules/*.yml\",\n  \"alerts.yml\"]\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(3),
        key: "rules.files.1",
        message: "alerts.yml does not exist",
        hint: Some("relative to the config file"),
    },
    Broken {
        what: "broken rule file",
        files: &[
            ("periscope.toml", "[rules]\nfiles = [\"rules/*.yml\"]\n"),
            (
                "rules/api.yml",
                "groups:\n  - name: api\n    rules:\n      - alert: Slow\n        expr: rate(x[5m] > 1\n",
            ),
        ],
        env: None,
        file: "api.yml",
        line: Some(5),
        key: "group \"api\", rule 1 (\"Slow\")",
        message: "",
        hint: None,
    },
    Broken {
        what: "unsupported state database",
        files: &[(
            "periscope.toml",
            "[periscope]\nstate = \"mysql://db/alerts\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "periscope.state",
        message: "unsupported state database `mysql:`",
        hint: Some("postgres://"),
    },
    Broken {
        what: "state is not a URL",
        files: &[(
            "periscope.toml",
            "[periscope]\nstate = \"state/alerts.db\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(2),
        key: "periscope.state",
        message: "is not a URL",
        hint: Some("sqlite://"),
    },
    Broken {
        what: "state password variable unset",
        files: &[(
            "periscope.toml",
            "[periscope]\nstate = \"postgres://p@db/alerts\"\nstate_password_env = \"PERISCOPE_TEST_NEVER_SET\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(3),
        key: "periscope.state_password_env",
        message: "`PERISCOPE_TEST_NEVER_SET` is not set",
        hint: None,
    },
    Broken {
        what: "state password twice",
        files: &[(
            "periscope.toml",
            "[periscope]\nstate = \"postgres://p:inline@db/alerts\"\nstate_password_env = \"HOME\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(3),
        key: "periscope.state_password_env",
        message: "already holds a password",
        hint: Some("remove the password"),
    },
    Broken {
        what: "unknown key in a rule",
        files: &[(
            "periscope.toml",
            "[rule.a]\nexpr = \"x\"\nabove = { critical = 1 }\nthreshold = 3\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(4),
        key: "rule.a.threshold",
        message: "unknown field `threshold`",
        hint: None,
    },
    Broken {
        what: "a rule with both for and for_checks",
        files: &[(
            "periscope.toml",
            "[rule.a]\nexpr = \"x\"\nabove = { critical = 1 }\nfor = \"5m\"\nfor_checks = 3\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(5),
        key: "rule.a.for_checks",
        message: "set either `for` or `for_checks`",
        hint: Some("counts failing evaluations"),
    },
    Broken {
        what: "a rule with a bad time period",
        files: &[(
            "periscope.toml",
            "[rule.a]\nexpr = \"x\"\n[[rule.a.when]]\nduring = \"weekdays 25:00-26:00 Europe/London\"\nabove = { critical = 1 }\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(3),
        key: "rule.a.when",
        message: "25:00",
        hint: None,
    },
    Broken {
        what: "a rule with a bad level",
        files: &[(
            "periscope.toml",
            "[rule.a]\nexpr = \"up == 0\"\nlevel = \"page\"\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(3),
        key: "rule.a.level",
        message: "unknown variant `page`",
        hint: None,
    },
    Broken {
        what: "a rule depending on a rule that does not exist",
        files: &[(
            "periscope.toml",
            "[rule.a]\nexpr = \"up == 0\"\nlevel = \"critical\"\ndepends_on = [\"nope\"]\n",
        )],
        env: None,
        file: "periscope.toml",
        line: Some(4),
        key: "rule.a.depends_on",
        message: "no rule is called `nope`",
        hint: Some("known rules: a"),
    },
];

#[test]
fn broken_configs_say_file_line_key_and_what() {
    assert!(BROKEN.len() >= 15);
    for case in BROKEN {
        let errors = errors_of(case.files, case.env);
        let e = &errors[0];
        let ctx = format!("case `{}`: got {errors:#?}", case.what);
        let file = e.file.as_ref().unwrap_or_else(|| panic!("no file: {ctx}"));
        assert_eq!(file.file_name().unwrap(), case.file, "{ctx}");
        assert_eq!(e.position.map(|p| p.0), case.line, "{ctx}");
        assert_eq!(e.key, case.key, "{ctx}");
        assert!(e.message.contains(case.message), "{ctx}");
        if let Some(h) = case.hint {
            assert!(e.hint.as_deref().unwrap_or("").contains(h), "{ctx}");
        }
        // The rendered form is what users read: it must carry the location.
        let shown = e.to_string();
        assert!(shown.contains(case.file), "{ctx}: {shown}");
    }
}

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
