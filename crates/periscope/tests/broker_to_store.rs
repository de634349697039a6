//! Seed 003's promise end to end, with the real binary, the real store and the RabbitMQ server
//! on 127.0.0.1:5672: applications publish while Periscope is stopped; when `serve` starts,
//! every message is stored exactly once by (series, timestamp), a poison message goes to the
//! dead-letter queue with its reason, and the same messages delivered again change nothing.
//! The broker password reaches Periscope through `password_env`, never the config file.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{World, stderr, stdout};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// What Periscope is configured with: the password comes from the environment, not the file.
const URL_WITHOUT_PASSWORD: &str = "amqp://guest@127.0.0.1:5672/%2f";
const PASSWORD_VAR: &str = "PERISCOPE_TEST_AMQP_PASSWORD";
const WAIT: Duration = Duration::from_secs(30);

struct Names {
    exchange: String,
    queue: String,
}

async fn channel() -> (Connection, Channel) {
    assert!(
        std::net::TcpStream::connect("127.0.0.1:5672").is_ok(),
        "RabbitMQ is not listening on 127.0.0.1:5672; start it with `rabbitmq-server -detached` \
         (or `bash scripts/services.sh`)"
    );
    let connection = Connection::connect(URL, ConnectionProperties::default())
        .await
        .expect("RabbitMQ accepts guest/guest");
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (connection, channel)
}

/// Declares what the receiver declares, so messages published before it ever ran are kept.
async fn prepare(channel: &Channel, names: &Names) {
    channel
        .exchange_declare(
            names.exchange.as_str().into(),
            lapin::ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    // The dead-letter queue too, so the test can watch it before the receiver first runs.
    for queue in [names.queue.clone(), format!("{}.dead-letter", names.queue)] {
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
    }
    channel
        .queue_bind(
            names.queue.as_str().into(),
            names.exchange.as_str().into(),
            "app.#".into(),
            Default::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
}

async fn publish(channel: &Channel, names: &Names, bodies: &[String]) {
    for body in bodies {
        let confirm = channel
            .basic_publish(
                names.exchange.as_str().into(),
                "app.loans".into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap();
        assert!(
            confirm.await.unwrap().is_ack(),
            "RabbitMQ refused a message"
        );
    }
}

async fn ready(channel: &Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .unwrap()
        .message_count()
}

/// Runs `serve` until the queue is drained and the dead letters are in, then stops it.
async fn serve_until_drained(w: &World, channel: &Channel, names: &Names, dead_letters: u32) {
    let child = w
        .cmd(&["serve"])
        .env(PASSWORD_VAR, "guest")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dead_letter_queue = format!("{}.dead-letter", names.queue);
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let dead = if dead_letters > 0 {
            ready(channel, &dead_letter_queue).await
        } else {
            0
        };
        if ready(channel, &names.queue).await == 0 && dead >= dead_letters {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "serve did not drain {}",
            names.queue
        );
    }
    // Drained means delivered; give the last acknowledgements a moment, then stop cleanly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn stored_samples(w: &World) -> Vec<(String, String)> {
    let out = w
        .cmd(&["query", "loans_imported", "--from", "0", "--format", "csv"])
        .env(PASSWORD_VAR, "guest")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .skip(1)
        .map(|l| {
            let mut parts = l.rsplitn(3, ',');
            let value = parts.next().unwrap().to_string();
            let time = parts.next().unwrap().to_string();
            (time, value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_while_stopped_is_stored_once_and_poison_is_dead_lettered() {
    let (connection, channel) = channel().await;
    let base = format!("periscope-e2e-{}", std::process::id());
    let names = Names {
        exchange: format!("{base}.x"),
        queue: format!("{base}.q"),
    };
    prepare(&channel, &names).await;
    let w = World::new(&format!(
        "[store]\ndir = \"metrics\"\ncommit_window = \"2ms\"\n\n\
         [receiver.apps]\nkind = \"rabbitmq\"\nurl = \"{URL_WITHOUT_PASSWORD}\"\n\
         password_env = \"{PASSWORD_VAR}\"\nexchange = \"{}\"\n\
         routing_keys = [\"app.#\"]\nqueue = \"{}\"\nformat = \"prometheus\"\n",
        names.exchange, names.queue
    ));

    // Periscope is not running: 20 messages and one poison message wait in the queue.
    let now = model::Clock::now(&model::SystemClock).as_millis();
    let t0 = now - 20 * 60_000;
    let bodies: Vec<String> = (0..20)
        .map(|i| {
            format!(
                "loans_imported{{batch=\"nightly\"}} {} {}\n",
                i * 10,
                t0 + i * 60_000
            )
        })
        .collect();
    publish(&channel, &names, &bodies[..10]).await;
    publish(
        &channel,
        &names,
        &["loans_imported{batch=\"nightly\" 1\n".to_string()],
    )
    .await;
    publish(&channel, &names, &bodies[10..]).await;

    serve_until_drained(&w, &channel, &names, 1).await;
    let stored = stored_samples(&w);
    assert_eq!(stored.len(), 20, "every message stored once: {stored:?}");
    assert_eq!(stored[0].1, "0");
    assert_eq!(stored[19].1, "190");

    // The poison message waits in the dead-letter queue with the reason.
    let dead = channel
        .basic_get(
            format!("{}.dead-letter", names.queue).as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
        .expect("a dead letter");
    let headers = dead.properties.headers().clone().expect("headers");
    let reason = match headers.inner().get("x-periscope-error") {
        Some(lapin::types::AMQPValue::LongString(text)) => {
            String::from_utf8_lossy(text.as_bytes()).into_owned()
        }
        other => panic!("no x-periscope-error header: {other:?}"),
    };
    assert!(reason.contains("line 1"), "reason names the line: {reason}");

    // Redelivered messages (a publisher retrying after a lost confirm) change nothing.
    publish(&channel, &names, &bodies).await;
    serve_until_drained(&w, &channel, &names, 0).await;
    assert_eq!(
        stored_samples(&w),
        stored,
        "redelivery stored nothing twice"
    );

    for queue in [names.queue.clone(), format!("{}.dead-letter", names.queue)] {
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = channel
        .exchange_delete(names.exchange.as_str().into(), Default::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
}
