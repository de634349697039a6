use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine;

use super::*;

fn policy() -> Access {
    Access {
        anonymous: [Scope::Read].into_iter().collect(),
        tokens: vec![
            Token {
                name: "apps".into(),
                scopes: [Scope::Push].into_iter().collect(),
                secret: "push-secret".into(),
            },
            Token {
                name: "ops".into(),
                scopes: Scopes::all(),
                secret: "ops-secret".into(),
            },
        ],
    }
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[test]
fn anonymous_scopes_need_no_token_and_others_do() {
    let access = policy();
    assert_eq!(access.decide(Scope::Read, None), Ok(None));
    let Err(Refusal::Unauthenticated(m)) = access.decide(Scope::Push, None) else {
        panic!("push without a token must be refused");
    };
    assert!(m.contains("`push` scope"), "{m}");
}

#[test]
fn a_token_allows_its_scopes_only_and_names_the_fix() {
    let access = policy();
    assert_eq!(
        access.decide(Scope::Push, Some("Bearer push-secret")),
        Ok(Some("apps"))
    );
    let Err(Refusal::Forbidden(m)) = access.decide(Scope::Manage, Some("Bearer push-secret"))
    else {
        panic!("a push token must not manage");
    };
    assert!(
        m.contains("token `apps` may do push but not `manage`"),
        "{m}"
    );
    assert!(m.contains("http.token.apps.scopes"), "{m}");
    assert_eq!(
        access.decide(Scope::Manage, Some("bearer ops-secret")),
        Ok(Some("ops"))
    );
}

#[test]
fn basic_auth_carries_the_secret_as_password() {
    let access = policy();
    let header = basic("prometheus", "push-secret");
    assert_eq!(access.decide(Scope::Push, Some(&header)), Ok(Some("apps")));
    let wrong = basic("push-secret", "nope");
    assert!(matches!(
        access.decide(Scope::Push, Some(&wrong)),
        Err(Refusal::Unauthenticated(_))
    ));
}

#[test]
fn unknown_or_malformed_credentials_are_refused_even_for_anonymous_scopes() {
    // A client that sends a wrong token learns so, rather than reading on as anonymous.
    let access = policy();
    for value in [
        "Bearer wrong",
        "Bearer push-secre",
        "Token x",
        "Basic !!!",
        "",
    ] {
        assert!(
            matches!(
                access.decide(Scope::Read, Some(value)),
                Err(Refusal::Unauthenticated(_))
            ),
            "{value:?}"
        );
    }
}

#[test]
fn an_open_api_allows_everything() {
    let access = Access::default();
    assert!(access.is_open());
    for scope in Scope::ALL {
        assert_eq!(access.decide(scope, None), Ok(None));
    }
    assert!(!policy().is_open());
}

#[test]
fn endpoints_need_the_scope_of_what_they_do() {
    let none = HeaderMap::new();
    let mut json = HeaderMap::new();
    json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut form = HeaderMap::new();
    form.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    // Types the JSON extractor accepts too: only a form counts as the signed page's.
    let mut vendor_json = HeaderMap::new();
    vendor_json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.api+json"),
    );
    let mut upper_form = HeaderMap::new();
    upper_form.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
    );
    let ack = notify::ack::ACK_PATH;
    let cases = [
        (Method::POST, "/api/v1/push", &none, Some(Scope::Push)),
        (Method::POST, "/api/v1/write", &none, Some(Scope::Push)),
        (Method::GET, "/api/v1/query", &none, Some(Scope::Read)),
        (
            Method::POST,
            "/api/v1/query_range",
            &form,
            Some(Scope::Read),
        ),
        (Method::GET, "/api/v1/silences", &none, Some(Scope::Read)),
        (Method::POST, "/api/v1/silences", &json, Some(Scope::Manage)),
        (
            Method::DELETE,
            "/api/v1/silence/abc",
            &none,
            Some(Scope::Manage),
        ),
        (
            Method::GET,
            "/api/v1/notify/status",
            &none,
            Some(Scope::Read),
        ),
        (Method::GET, ack, &none, None),
        (Method::POST, ack, &form, None),
        (Method::POST, ack, &json, Some(Scope::Manage)),
        (Method::POST, ack, &none, Some(Scope::Manage)),
        (Method::POST, ack, &vendor_json, Some(Scope::Manage)),
        (Method::POST, ack, &upper_form, None),
        (Method::GET, "/no/such/path", &none, Some(Scope::Read)),
    ];
    for (method, path, headers, want) in cases {
        assert_eq!(
            needed_scope(&method, path, headers),
            want,
            "{method} {path}"
        );
    }
}

#[test]
fn scopes_parse_and_print_by_name() {
    for scope in Scope::ALL {
        assert_eq!(Scope::parse(scope.name()), Some(scope));
    }
    assert_eq!(Scope::parse("write"), None);
    assert_eq!(Scopes::all().to_string(), "read, push, manage");
    assert_eq!(Scopes::default().to_string(), "nothing");
}

#[test]
fn debug_output_hides_secrets() {
    let shown = format!("{:?}", policy());
    assert!(!shown.contains("ops-secret"), "{shown}");
    assert!(shown.contains("<hidden>"));
}
