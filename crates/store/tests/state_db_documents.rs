//! The notifier's documents in the state database, each test body run twice: on SQLite in a
//! temporary directory and on the real PostgreSQL at 127.0.0.1:5432 (override with
//! `PERISCOPE_TEST_POSTGRES_URL`), in a database created for that one test and dropped after
//! it. The PostgreSQL databases use an ICU `en-US` collation where the server has one, so key
//! order that leaned on the database's collation instead of the key's bytes would show.

use model::alert::{
    AlertKey, AlertRecord, AlertStateStore, Document, DocumentStore, DocumentWrite, StateBatch,
    StateStoreError,
};
use model::{Labels, Timestamp};

#[macro_use]
#[path = "support/fresh_db.rs"]
mod fresh_db;

use fresh_db::{Backend, Fresh, fresh};

on_both!(
    documents_are_put_replaced_and_deleted_by_kind_and_key,
    a_batch_lands_whole_or_not_at_all,
    a_nul_character_is_refused_on_both_databases,
    prune_drops_only_older_documents_of_the_kind,
    documents_survive_a_restart_and_an_upgrade_from_version_1,
    large_bodies_and_unicode_keys_read_back_in_key_byte_order,
    an_unreadable_row_is_reported_as_corrupt,
);

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + minutes * 60_000)
}

fn doc(kind: &str, key: &str, body: &str, minute: i64) -> Document {
    Document {
        kind: kind.into(),
        key: key.into(),
        body: body.into(),
        updated_at: at(minute),
    }
}

fn put(d: &Document) -> DocumentWrite {
    DocumentWrite::Put(d.clone())
}

fn delete(kind: &str, key: &str) -> DocumentWrite {
    DocumentWrite::Delete {
        kind: kind.into(),
        key: key.into(),
    }
}

fn keys(documents: &[Document]) -> Vec<&str> {
    documents.iter().map(|d| d.key.as_str()).collect()
}

async fn documents_are_put_replaced_and_deleted_by_kind_and_key(backend: Backend) {
    let fresh = fresh(backend, "crud").await;
    let db = fresh.open().await;
    assert_eq!(db.load_documents("silence").await.unwrap(), []);
    let s2 = doc("silence", "s2", r#"{"matchers":["job=\"api\""]}"#, 0);
    let s1 = doc("silence", "s1", r#"{"matchers":["severity=\"info\""]}"#, 1);
    // The same key under another kind is another document.
    let log = doc("nflog", "s1", r#"{"sent":1}"#, 2);
    db.write_documents(&[put(&s2), put(&s1), put(&log)])
        .await
        .unwrap();
    assert_eq!(
        db.load_documents("silence").await.unwrap(),
        [s1.clone(), s2.clone()]
    );
    assert_eq!(
        db.load_documents("nflog").await.unwrap(),
        std::slice::from_ref(&log)
    );

    // A put with an existing kind and key replaces body and time, nothing else.
    let s1_edited = doc("silence", "s1", r#"{"matchers":[],"expired":true}"#, 5);
    db.write_documents(&[put(&s1_edited)]).await.unwrap();
    assert_eq!(
        db.load_documents("silence").await.unwrap(),
        [s1_edited.clone(), s2.clone()]
    );

    // Deleting is by kind and key; deleting what is not there is no error.
    db.write_documents(&[delete("silence", "s2"), delete("silence", "never")])
        .await
        .unwrap();
    assert_eq!(db.load_documents("silence").await.unwrap(), [s1_edited]);
    assert_eq!(db.load_documents("nflog").await.unwrap(), [log]);
    db.write_documents(&[]).await.unwrap();
    db.close().await;
    fresh.finish().await;
}

/// Makes the database itself refuse to insert a document keyed `poison`.
async fn refuse_poison(fresh: &Fresh) {
    match fresh.backend {
        Backend::Sqlite => {
            fresh
                .raw(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON notify_documents \
                     WHEN NEW.doc_key = 'poison' \
                     BEGIN SELECT RAISE(ABORT, 'poisoned document'); END",
                )
                .await
        }
        Backend::Postgres => {
            fresh
                .raw(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN \
                       IF NEW.doc_key = 'poison' THEN \
                         RAISE EXCEPTION 'poisoned document' USING ERRCODE = 'check_violation'; \
                       END IF; \
                       RETURN NEW; \
                     END $$; \
                     CREATE TRIGGER refuse_poison BEFORE INSERT ON notify_documents \
                     FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
                )
                .await
        }
    }
}

async fn a_batch_lands_whole_or_not_at_all(backend: Backend) {
    let fresh = fresh(backend, "batch").await;
    let db = fresh.open().await;
    let sent = doc("nflog", "g1", r#"{"sent":"firing"}"#, 0);
    let queued = doc("queue", "d1", r#"{"channel":"pager"}"#, 0);
    db.write_documents(&[put(&sent), put(&queued)])
        .await
        .unwrap();

    refuse_poison(&fresh).await;
    // "Sent" moves on and the queued delivery goes: the database refuses the third write.
    let resent = doc("nflog", "g1", r#"{"sent":"resolved"}"#, 5);
    let poison = doc("queue", "poison", "{}", 5);
    let batch = [put(&resent), delete("queue", "d1"), put(&poison)];
    let err = db
        .write_documents(&batch)
        .await
        .expect_err("the trigger refuses the batch");
    assert!(matches!(err, StateStoreError::Invalid(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("queue/\"poison\""),
        "names the document: {text}"
    );
    assert!(
        text.contains("poisoned document"),
        "the database's words: {text}"
    );
    assert_eq!(db.load_documents("nflog").await.unwrap(), [sent]);
    assert_eq!(db.load_documents("queue").await.unwrap(), [queued]);

    // The same batch without the refused write lands whole.
    db.write_documents(&batch[..2]).await.unwrap();
    assert_eq!(db.load_documents("nflog").await.unwrap(), [resent]);
    assert_eq!(db.load_documents("queue").await.unwrap(), []);
    db.close().await;
    fresh.finish().await;
}

async fn a_nul_character_is_refused_on_both_databases(backend: Backend) {
    let fresh = fresh(backend, "nul").await;
    let db = fresh.open().await;
    let first = doc("ack", "a1", r#"{"by":"ann"}"#, 0);
    let bad = doc("ack", "a2", "{\"by\":\"b\0b\"}", 0);
    let err = db
        .write_documents(&[put(&first), put(&bad)])
        .await
        .expect_err("PostgreSQL cannot store NUL, so neither database takes it");
    assert!(matches!(err, StateStoreError::Invalid(_)), "{err}");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(
        text.contains("ack/\"a2\"") && text.contains("body"),
        "{text}"
    );
    assert_eq!(db.load_documents("ack").await.unwrap(), []);
    let err = db
        .write_documents(&[delete("ack", "a\0")])
        .await
        .expect_err("a NUL in a key is refused too");
    assert!(err.to_string().contains("key"), "{err}");
    db.close().await;
    fresh.finish().await;
}

async fn prune_drops_only_older_documents_of_the_kind(backend: Backend) {
    let fresh = fresh(backend, "prune").await;
    let db = fresh.open().await;
    let old = doc("nflog", "old", "{}", 0);
    let edge = doc("nflog", "edge", "{}", 10);
    let new = doc("nflog", "new", "{}", 20);
    let other_old = doc("silence", "old", "{}", 0);
    db.write_documents(&[put(&old), put(&edge), put(&new), put(&other_old)])
        .await
        .unwrap();

    // Strictly before the horizon goes; at the horizon stays.
    assert_eq!(db.prune_documents("nflog", at(10)).await.unwrap(), 1);
    assert_eq!(
        db.load_documents("nflog").await.unwrap(),
        [edge.clone(), new.clone()]
    );
    assert_eq!(db.load_documents("silence").await.unwrap(), [other_old]);
    assert_eq!(db.prune_documents("nflog", at(10)).await.unwrap(), 0);

    // Rewriting a document makes it recent again.
    let edge_again = doc("nflog", "edge", r#"{"again":true}"#, 30);
    db.write_documents(&[put(&edge_again)]).await.unwrap();
    assert_eq!(db.prune_documents("nflog", at(25)).await.unwrap(), 1);
    assert_eq!(db.load_documents("nflog").await.unwrap(), [edge_again]);
    db.close().await;
    fresh.finish().await;
}

async fn documents_survive_a_restart_and_an_upgrade_from_version_1(backend: Backend) {
    let fresh = fresh(backend, "restart").await;
    let db = fresh.open().await;
    let record = AlertRecord::new(AlertKey::new("Up", Labels::new().with("job", "api")), at(0));
    let batch = StateBatch {
        upserts: vec![record.clone()],
        ..StateBatch::default()
    };
    db.save(&batch).await.unwrap();
    db.close().await;
    drop(db);

    // A state database written before the documents existed: schema version 1 only.
    fresh.raw("DROP TABLE notify_documents").await;
    fresh
        .raw("DELETE FROM _sqlx_migrations WHERE version = 2")
        .await;
    let db = fresh.open().await;
    assert_eq!(db.load().await.unwrap(), std::slice::from_ref(&record));
    let silence = doc("silence", "s1", r#"{"comment":"maintenance"}"#, 3);
    let ack = doc("ack", "k1", r#"{"by":"ann"}"#, 4);
    db.write_documents(&[put(&silence), put(&ack)])
        .await
        .unwrap();
    db.close().await;
    drop(db);

    let db = fresh.open().await;
    assert_eq!(db.load_documents("silence").await.unwrap(), [silence]);
    assert_eq!(db.load_documents("ack").await.unwrap(), [ack]);
    assert_eq!(db.load().await.unwrap(), [record]);
    db.close().await;
    fresh.finish().await;
}

async fn large_bodies_and_unicode_keys_read_back_in_key_byte_order(backend: Backend) {
    let fresh = fresh(backend, "unicode").await;
    let db = fresh.open().await;
    // 1 MB of JSON with multi-byte characters throughout.
    let mut big = String::from(r#"{"log":""#);
    while big.len() < 1_000_000 {
        big.push_str("disk \u{201c}/\u{201d} at 97.5 % \u{2014} r\u{e9}plica 日本 🔔; ");
    }
    big.push_str(r#""}"#);
    let written: Vec<Document> = [
        "z",
        "\u{e9}t\u{e9}",
        "B",
        "a",
        "\u{c4}rger",
        "日本",
        "🔔 pager",
    ]
    .iter()
    .map(|key| doc("nflog", key, r#"{"n":1}"#, 0))
    .chain([doc("nflog", "big", &big, 1)])
    .collect();
    let writes: Vec<DocumentWrite> = written.iter().map(put).collect();
    db.write_documents(&writes).await.unwrap();

    let loaded = db.load_documents("nflog").await.unwrap();
    // Byte order, the same on every database and collation (en-US would put "Ärger" after
    // "a" and "B" after "a").
    assert_eq!(
        keys(&loaded),
        [
            "B",
            "a",
            "big",
            "z",
            "\u{c4}rger",
            "\u{e9}t\u{e9}",
            "日本",
            "🔔 pager"
        ]
    );
    let big_back = loaded
        .iter()
        .find(|d| d.key == "big")
        .expect("big document");
    assert_eq!(big_back.body.len(), big.len());
    assert!(big_back.body == big, "the 1 MB body reads back unchanged");

    db.write_documents(&[delete("nflog", "日本"), delete("nflog", "big")])
        .await
        .unwrap();
    let loaded = db.load_documents("nflog").await.unwrap();
    assert_eq!(
        keys(&loaded),
        ["B", "a", "z", "\u{c4}rger", "\u{e9}t\u{e9}", "🔔 pager"]
    );
    db.close().await;
    fresh.finish().await;
}

async fn an_unreadable_row_is_reported_as_corrupt(backend: Backend) {
    let fresh = fresh(backend, "corrupt").await;
    fresh.open().await.close().await;
    // A time that is not a number, as a hand edit (or a bad restore) might leave it.
    if backend == Backend::Postgres {
        fresh
            .raw("ALTER TABLE notify_documents ALTER COLUMN updated_at TYPE TEXT")
            .await;
    }
    fresh
        .raw(
            "INSERT INTO notify_documents (kind, doc_key, body, updated_at) \
             VALUES ('silence', 's9', '{}', 'yesterday')",
        )
        .await;
    let db = fresh.open().await;
    let err = db
        .load_documents("silence")
        .await
        .expect_err("the row cannot be read");
    assert!(matches!(err, StateStoreError::Corrupt(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("notify_documents row silence/\"s9\""),
        "{text}"
    );
    assert!(text.contains("updated_at"), "{text}");
    // Other kinds still load.
    assert_eq!(db.load_documents("nflog").await.unwrap(), []);
    db.close().await;
    fresh.finish().await;
}
