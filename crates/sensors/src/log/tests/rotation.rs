//! Rotation: every way a log file gets replaced, each checked for exact counts across checks
//! (no line lost, none counted twice).

use super::*;

const ONE_FILE: &str = r#"
paths = ["app.log"]
[rules.errors]
match = "ERROR"
"#;

const ROTATED_SET: &str = r#"
paths = ["app.log*"]
[rules.errors]
match = "ERROR"
"#;

/// Distinct first lines, so each generation of the file has its own fingerprint as real logs
/// (timestamps) do.
fn generation(g: usize, range: std::ops::Range<usize>) -> String {
    lines(&format!("generation {g} ERROR"), range)
}

#[tokio::test]
async fn rename_rotation_finishes_the_old_file_then_reads_the_new() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", generation(1, 0..3));
    assert_eq!(fact(&h.check().await, "records"), 3);

    h.append("app.log", generation(1, 3..5));
    h.rename("app.log", "app.log.1");
    h.write("app.log", generation(2, 0..4));
    let o = h.check().await;
    assert_eq!(
        (
            fact(&o, "records"),
            matches(&o, "errors"),
            fact(&o, "files")
        ),
        (6, 6, 2)
    );
    assert!(
        o.outcome.details.contains("rotated away"),
        "{}",
        o.outcome.details
    );
    let locations: Vec<&str> = o
        .events
        .iter()
        .filter_map(|e| e.location.as_deref())
        .collect();
    assert!(
        locations[0].ends_with("app.log.1:4") && locations[2].ends_with("app.log:1"),
        "{locations:?}"
    );

    h.append("app.log", generation(2, 4..5));
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), fact(&o, "files")), (1, 1));
}

#[tokio::test]
async fn rename_rotation_reads_the_rotated_files_unfinished_last_line() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", format!("{}partial ERROR", generation(1, 0..2)));
    assert_eq!(fact(&h.check().await, "records"), 2);
    h.rename("app.log", "app.log.1");
    h.write("app.log", generation(2, 0..1));
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "errors")), (2, 2));
    assert_eq!(events(&o, "errors")[0].message, "partial ERROR");
}

#[tokio::test]
async fn rename_rotation_inside_the_glob_is_not_read_twice() {
    let mut h = Harness::new(ROTATED_SET);
    h.write("app.log", generation(1, 0..3));
    assert_eq!(fact(&h.check().await, "records"), 3);
    h.append("app.log", generation(1, 3..5));
    h.rename("app.log", "app.log.1");
    h.write("app.log", generation(2, 0..4));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 6);
    // A second rotation: .1 becomes .2, app.log becomes .1, a third app.log appears.
    h.append("app.log", generation(2, 4..6));
    h.rename("app.log.1", "app.log.2");
    h.rename("app.log", "app.log.1");
    h.write("app.log", generation(3, 0..1));
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), fact(&o, "files")), (3, 3));
    assert_eq!(fact(&h.check().await, "records"), 0);
}

#[tokio::test]
async fn two_rotations_between_checks_with_a_glob_lose_nothing() {
    let mut h = Harness::new(ROTATED_SET);
    h.write("app.log", generation(1, 0..2));
    assert_eq!(fact(&h.check().await, "records"), 2);
    h.append("app.log", generation(1, 2..3));
    h.rename("app.log", "app.log.1");
    h.write("app.log", generation(2, 0..5));
    h.rename("app.log.1", "app.log.2");
    h.rename("app.log", "app.log.1");
    h.write("app.log", generation(3, 0..7));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 1 + 5 + 7);
}

#[tokio::test]
async fn copytruncate_finishes_the_copy_then_restarts_at_zero() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", generation(1, 0..3));
    assert_eq!(fact(&h.check().await, "records"), 3);

    h.append("app.log", generation(1, 3..5));
    fs::copy(h.path("app.log"), h.path("app.log.1")).unwrap();
    h.truncate("app.log");
    h.append("app.log", generation(2, 0..1));
    let o = h.check().await;
    assert_eq!((fact(&o, "records"), matches(&o, "errors")), (3, 3));
    assert!(
        o.outcome.details.contains("copytruncate"),
        "{}",
        o.outcome.details
    );

    h.append("app.log", generation(2, 1..3));
    assert_eq!(fact(&h.check().await, "records"), 2);
}

#[tokio::test]
async fn copytruncate_refilled_past_the_old_offset_is_caught_by_the_fingerprint() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", generation(1, 0..2));
    assert_eq!(fact(&h.check().await, "records"), 2);
    h.append("app.log", generation(1, 2..3));
    fs::copy(h.path("app.log"), h.path("app.log.1")).unwrap();
    h.truncate("app.log");
    // More bytes than the old offset before the next check: size alone would not tell.
    h.append("app.log", generation(2, 0..50));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 1 + 50);
}

#[tokio::test]
async fn copytruncate_with_the_copy_inside_the_glob() {
    let mut h = Harness::new(ROTATED_SET);
    h.write("app.log", generation(1, 0..3));
    assert_eq!(fact(&h.check().await, "records"), 3);
    h.append("app.log", generation(1, 3..4));
    fs::copy(h.path("app.log"), h.path("app.log.1")).unwrap();
    h.truncate("app.log");
    h.append("app.log", generation(2, 0..2));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 1 + 2);
    assert_eq!(fact(&h.check().await, "records"), 0);
}

#[tokio::test]
async fn truncate_to_zero_reads_the_new_content_from_the_start() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", generation(1, 0..3));
    assert_eq!(fact(&h.check().await, "records"), 3);
    h.truncate("app.log");
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 0);
    h.append("app.log", generation(2, 0..2));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 2);
    assert_eq!(fact(&h.check().await, "records"), 0);
}

#[tokio::test]
async fn truncate_and_refill_without_a_copy_is_noted() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", generation(1, 0..3));
    assert_eq!(fact(&h.check().await, "records"), 3);
    h.truncate("app.log");
    h.append("app.log", generation(2, 0..2));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 2);
    assert!(
        o.outcome.details.contains("may be missing"),
        "{}",
        o.outcome.details
    );
}

#[tokio::test]
async fn delete_and_recreate_reads_the_new_file_from_the_start() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", generation(1, 0..3));
    assert_eq!(fact(&h.check().await, "records"), 3);
    fs::remove_file(h.path("app.log")).unwrap();
    // Keep the old inode busy so the new file cannot reuse it, as on a live system.
    h.write("placeholder", "x");
    h.write("app.log", generation(2, 0..2));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 2);
    h.append("app.log", generation(2, 2..3));
    assert_eq!(fact(&h.check().await, "records"), 1);
}

#[tokio::test]
async fn a_new_file_reusing_the_old_inode_is_told_apart_by_its_content() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", generation(1, 0..30));
    assert_eq!(fact(&h.check().await, "records"), 30);
    // Same inode, new content longer than the old offset: only the fingerprint can tell.
    fs::write(h.path("app.log"), generation(2, 0..40)).unwrap();
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 40);
}

#[tokio::test]
async fn a_rotated_file_deleted_before_the_check_is_noted() {
    let mut h = Harness::new(ONE_FILE);
    h.write("app.log", format!("{}unfinished", generation(1, 0..2)));
    assert_eq!(fact(&h.check().await, "records"), 2);
    fs::remove_file(h.path("app.log")).unwrap();
    h.write("app.log", generation(2, 0..1));
    let o = h.check().await;
    assert_eq!(fact(&o, "records"), 1);
    assert!(
        o.outcome.details.contains("may be missing"),
        "{}",
        o.outcome.details
    );
}

#[tokio::test]
async fn the_state_never_grows_with_rotated_files_once_quiet() {
    let mut h = Harness::new(ONE_FILE);
    h.now = LATE;
    for g in 0..5 {
        h.write("app.log", generation(g, 0..2));
        assert_eq!(fact(&h.check().await, "records"), 2, "generation {g}");
        h.rename("app.log", &format!("app.log.{g}"));
    }
    let state: serde_json::Value = serde_json::from_slice(h.state.as_ref().unwrap()).unwrap();
    assert_eq!(state["files"].as_array().unwrap().len(), 1);
}
