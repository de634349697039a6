//! Test helpers shared by Periscope's crates (dev-dependency only).
//!
//! The decision behind it: tests drive time and the outside world explicitly, so a test of
//! hours of behaviour runs in milliseconds and a real protocol exchange needs no external server.

mod clock;
mod rng;
mod smtp;

pub use clock::ManualClock;
pub use rng::Rng;
pub use smtp::{ReceivedMail, SinkOptions, SinkTls, SmtpSink, test_ca_file, unrelated_ca_pem};
