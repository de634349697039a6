//! `[http] anonymous` and `[http.token.NAME]`: what is accepted, what is refused and where.

use super::*;
use crate::http_access::{Scope, Scopes};

const HTTP: &str = "[http]\nlisten = \"127.0.0.1:9464\"\n";

#[test]
fn without_tokens_the_api_is_open() {
    let (_dir, config) = load_files(&[("p.toml", HTTP)], None);
    let access = config.unwrap().http.unwrap().access;
    assert!(access.is_open());
}

#[test]
fn tokens_read_their_secrets_and_close_the_api_to_anonymous_requests() {
    let text = format!(
        "{HTTP}[http.token.grafana]\nscopes = [\"read\"]\nsecret_file = \"grafana.token\"\n\n\
         [http.token.ops]\nscopes = [\"read\", \"manage\"]\nsecret_file = \"ops.token\"\n"
    );
    let (_dir, config) = load_files(
        &[
            ("p.toml", &text),
            ("grafana.token", "0123456789abcdef-grafana\n"),
            ("ops.token", "0123456789abcdef-ops\nsecond line ignored\n"),
        ],
        None,
    );
    let access = config.unwrap().http.unwrap().access;
    assert_eq!(access.anonymous, Scopes::default());
    let names: Vec<_> = access.tokens.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["grafana", "ops"]);
    assert_eq!(access.tokens[1].secret, "0123456789abcdef-ops");
    assert!(access.tokens[1].scopes.has(Scope::Manage));
    assert!(!access.tokens[0].scopes.has(Scope::Push));
}

#[test]
fn anonymous_scopes_can_be_granted_beside_tokens() {
    let text = format!(
        "{HTTP}anonymous = [\"read\"]\n[http.token.apps]\nscopes = [\"push\"]\n\
         secret_file = \"apps.token\"\n"
    );
    let (_dir, config) = load_files(
        &[("p.toml", &text), ("apps.token", "a-long-enough-secret")],
        None,
    );
    let access = config.unwrap().http.unwrap().access;
    assert_eq!(access.anonymous, [Scope::Read].into_iter().collect());
}

#[test]
fn policy_mistakes_are_located_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[http.token.a]\nscopes = [\"write\"]\nsecret_file = \"t\"\n",
            "http.token.a.scopes",
            "`write` is not a scope",
        ),
        (
            "[http.token.a]\nscopes = []\nsecret_file = \"t\"\n",
            "http.token.a.scopes",
            "no scope",
        ),
        (
            "[http.token.a]\nscopes = [\"read\"]\n",
            "http.token.a",
            "needs secret_env or secret_file",
        ),
        (
            "[http.token.a]\nscopes = [\"read\"]\nsecret = \"inline\"\n",
            "http.token.a",
            "secret",
        ),
        (
            "[http.token.a]\nscopes = [\"read\"]\nsecret_env = \"X\"\nsecret_file = \"t\"\n",
            "http.token.a.secret_env",
            "not both",
        ),
        (
            "anonymous = [\"everything\"]\n",
            "http.anonymous",
            "`everything` is not a scope",
        ),
        (
            "[http.token.a]\nscopes = [\"read\"]\nsecret_file = \"t\"\n\
             [http.token.b]\nscopes = [\"push\"]\nsecret_file = \"t\"\n",
            "http.token.b",
            "same secret as token `a`",
        ),
    ];
    for (extra, key, needle) in cases {
        let text = format!("{HTTP}{extra}");
        let errors = errors_of(&[("p.toml", &text), ("t", "0123456789abcdefXYZ")], None);
        let found = errors
            .iter()
            .find(|e| e.key.starts_with(key) && e.to_string().contains(needle));
        assert!(found.is_some(), "{key} / {needle}: {errors:#?}");
        assert!(found.unwrap().position.is_some(), "{key}: located");
    }
}

#[test]
fn a_secret_that_cannot_be_read_is_an_error_unless_the_command_serves_nothing() {
    let text = format!(
        "{HTTP}[http.token.a]\nscopes = [\"read\"]\nsecret_env = \"PERISCOPE_TEST_UNSET_TOKEN_VAR\"\n\
         [http.token.b]\nscopes = [\"read\"]\nsecret_file = \"short.token\"\n"
    );
    let files = [("p.toml", text.as_str()), ("short.token", "abc")];
    let errors = errors_of(&files, None);
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(shown[0].contains("PERISCOPE_TEST_UNSET_TOKEN_VAR` is not set"));
    assert!(shown[0].contains("http.token.a.secret_env"));
    assert!(shown[1].contains("3 characters long; use at least 16"));
    // `query`, `silence`... load it without the tokens: they serve nothing.
    let (_dir, config) = load_files_with(&files, None, Secrets::NotNeeded);
    let access = config.unwrap().http.unwrap().access;
    assert!(access.tokens.is_empty());
}
