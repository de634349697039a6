use std::collections::BTreeMap;

use model::level::Level;
use model::{Labels, Timestamp};

use super::*;
use crate::channel::Person;

fn notification() -> Notification {
    let labels: Labels = [
        ("alertname", "DiskFull"),
        ("instance", "db1"),
        ("level", "critical"),
    ]
    .into_iter()
    .collect();
    let mut firing = Alert::firing(labels.clone(), Timestamp(1_700_000_000_000));
    firing
        .annotations
        .insert("summary".into(), "Disk / is 97% full <now>".into());
    let resolved = Alert::firing(
        labels.clone().with("instance", "db2"),
        Timestamp(1_700_000_000_000),
    )
    .resolved_at(Timestamp(1_700_000_600_000));
    Notification {
        receiver: "ops".into(),
        group_key: "{}:{alertname=\"DiskFull\"}".into(),
        group_labels: [("alertname", "DiskFull")].into_iter().collect(),
        common_labels: [("alertname", "DiskFull"), ("level", "critical")]
            .into_iter()
            .collect(),
        common_annotations: BTreeMap::new().into(),
        alerts: vec![firing, resolved],
        truncated_alerts: 0,
        external_url: "http://periscope.example".into(),
        level: Level::Critical,
        at: Timestamp(1_700_000_600_000),
        ack_url: Some("http://periscope.example/ack/abc".into()),
        people: vec![Person {
            name: "alice".into(),
            chat: Some("@alice".into()),
            ..Person::default()
        }],
        reference: None,
    }
}

#[test]
fn defaults_say_what_fires_where_and_how_to_acknowledge() {
    let t = Templates::default();
    let n = notification();
    let title = t.render("title", &n);
    assert_eq!(title.text, "[FIRING:1] DiskFull (critical)");
    assert_eq!(title.warning, None);
    let text = t.render("text", &n).text;
    assert!(
        text.starts_with("FIRING DiskFull on db1 since 2023-11-14T22:13:20.000Z"),
        "{text}"
    );
    assert!(text.contains("Disk / is 97% full <now>"), "{text}");
    assert!(
        text.contains("RESOLVED DiskFull on db2 at 2023-11-14T22:23:20.000Z"),
        "{text}"
    );
    assert!(
        text.ends_with("Acknowledge: http://periscope.example/ack/abc"),
        "{text}"
    );
    let chat = t.render("chat", &n).text;
    assert!(
        chat.starts_with("*[FIRING:1] DiskFull (critical)*"),
        "{chat}"
    );
    assert!(chat.contains("@alice"), "{chat}");
}

#[test]
fn html_escapes_values_and_text_does_not() {
    let t = Templates::default();
    let n = notification();
    let html = t.render("html", &n).text;
    assert!(html.contains("97% full &lt;now&gt;"), "{html}");
    // The link is escaped too (`/` as `&#x2f;`), which browsers read back as `/`.
    assert!(
        html.contains(
            r#"<a href="http:&#x2f;&#x2f;periscope.example&#x2f;ack&#x2f;abc">Acknowledge</a>"#
        ),
        "{html}"
    );
    assert!(t.render("text", &n).text.contains("<now>"));
}

#[test]
fn a_custom_template_replaces_the_default() {
    let custom = BTreeMap::from([(
        "title".to_string(),
        "{{ level }}: {{ alerts | length }} on {{ receiver }}".to_string(),
    )]);
    let t = Templates::new(&custom).unwrap();
    assert_eq!(
        t.render("title", &notification()).text,
        "critical: 2 on ops"
    );
}

#[test]
fn a_template_that_does_not_compile_is_a_config_error() {
    let custom = BTreeMap::from([
        ("title".to_string(), "{{ level ".to_string()),
        ("subject".to_string(), "x".to_string()),
    ]);
    let errors = Templates::new(&custom).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.name == "subject" && e.message.contains("unknown template"))
    );
    assert!(
        errors
            .iter()
            .any(|e| e.name == "title" && e.message.contains("line 1"))
    );
}

#[test]
fn a_template_that_fails_to_render_falls_back_to_the_default_and_says_so() {
    // Adding a number to the receiver's name compiles but fails when rendered.
    let custom = BTreeMap::from([("title".to_string(), "{{ receiver + 1 }}".to_string())]);
    let t = Templates::new(&custom).unwrap();
    let r = t.render("title", &notification());
    assert_eq!(r.text, "[FIRING:1] DiskFull (critical)");
    let warning = r.warning.expect("a warning");
    assert!(
        warning.contains("template `title` failed to render"),
        "{warning}"
    );
    assert!(warning.contains("default template was used"), "{warning}");
}
