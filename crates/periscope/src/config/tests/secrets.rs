//! Secrets a command does not need: `serve` and `check-config` require every one, while
//! commands that read history or ask a running `serve` load the same config without them.

use super::*;

const UNSET: &str = "PERISCOPE_TEST_SECRET_NOBODY_SETS";

/// One secret of every kind, each from the unset variable or a missing file.
fn config_with_every_secret() -> String {
    format!(
        "[periscope]\nstate = \"postgres://periscope@db.internal:5432/alerts\"\n\
         state_password_env = \"{UNSET}\"\n\n\
         [email]\nsmtp_host = \"mail.internal\"\nfrom = \"p@x\"\nto = [\"o@x\"]\n\
         username = \"periscope\"\npassword_env = \"{UNSET}\"\n\n\
         [receiver.orders]\nkind = \"nats\"\nurl = \"nats://periscope@127.0.0.1:4222\"\n\
         stream = \"M\"\nsubjects = [\"m.>\"]\nconsumer = \"p\"\npassword_file = \"nats-password\"\n\n\
         [notify.route]\nreceiver = \"ops\"\n\n\
         [notify.receiver.ops]\n[[notify.receiver.ops.channel]]\nkind = \"slack\"\n\
         webhook_url_env = \"{UNSET}\"\n"
    )
}

#[test]
fn commands_that_serve_need_every_secret_and_say_where_each_is() {
    let text = config_with_every_secret();
    let errors = errors_of(&[("periscope.toml", &text)], None);
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    for key in [
        "periscope.state_password_env",
        "email.password_env",
        "receiver.orders.password_file",
        "notify.receiver.ops.channel.0.webhook_url_env",
    ] {
        assert!(keys.contains(&key), "{key} missing from {errors:#?}");
    }
    assert!(errors.iter().all(|e| e.position.is_some()), "{errors:#?}");
}

#[test]
fn commands_that_read_or_ask_load_without_the_secrets() {
    let text = config_with_every_secret();
    let files = [("periscope.toml", text.as_str())];
    let (_dir, config) = load_files_with(&files, None, Secrets::NotNeeded);
    let config = config.unwrap_or_else(|e| panic!("{e}"));
    // The state URL keeps its database, without a password: never the SQLite default.
    assert_eq!(
        config.state_db.url,
        "postgres://periscope@db.internal:5432/alerts"
    );
    assert_eq!(config.receivers.len(), 1);
    assert!(config.email.is_some());
    assert!(
        config.notify.is_some(),
        "the channel builds with a placeholder"
    );
    // Policy mistakes are still errors: only an unreadable secret is forgiven.
    let both = text.replace(
        "password_file = \"nats-password\"",
        "password_file = \"nats-password\"\npassword = \"inline\"",
    );
    let broken = [("periscope.toml", both.as_str())];
    let (_dir, config) = load_files_with(&broken, None, Secrets::NotNeeded);
    assert!(config.is_err());
}
