//! The client-side half of the persistent MQTT session, which this receiver never needs to keep.
//!
//! `rumqttc-next` refuses to publish or subscribe on a broker-resumed session unless it can
//! restore the client's own session state (its in-flight outgoing packet ids), because resuming
//! blind could reuse a packet id the broker still considers in flight. After a Periscope restart
//! there is no such state in memory, yet resuming the broker's session is the whole point: it
//! holds the messages queued while Periscope was down.
//!
//! For this receiver the client's state is empty by construction, so it can be stated rather
//! than stored: the only flows the client starts are QoS 1 (dead-letter publishes and
//! subscribes), and a broker keeps no state for a client's QoS 1 packets once it has answered
//! them; an unanswered dead-letter publish needs no replay either, because its poison message
//! was not acknowledged and comes back from the broker. Incoming QoS 2 is never subscribed to.
//! So `load` hands every new event loop that empty checkpoint, and `save`/`clear` keep nothing.

use std::pin::Pin;

use rumqttc::{
    PersistedAckMode, PersistedSession, SessionStore, SessionStoreError, SessionStoreKey,
};

/// What the [`SessionStore`] methods return (the crate does not export its alias).
type SessionStoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, SessionStoreError>> + Send + 'a>>;

/// The checkpoint format `rumqttc-next` 0.34 restores.
const FORMAT_VERSION: u16 = 1;

/// A [`SessionStore`] whose every checkpoint is "nothing in flight" (see the module docs).
#[derive(Debug)]
pub(super) struct NothingInFlight {
    pub(super) session_expiry: u32,
}

impl SessionStore for NothingInFlight {
    fn load<'a>(
        &'a self,
        key: &'a SessionStoreKey,
    ) -> SessionStoreFuture<'a, Option<PersistedSession>> {
        let session = PersistedSession {
            format_version: FORMAT_VERSION,
            client_id: key.client_id().to_string(),
            clean_start: false,
            session_expiry_interval: Some(self.session_expiry),
            outgoing_inflight_upper_limit: None,
            ack_mode: PersistedAckMode::Manual,
            last_pkid: 0,
            last_puback: 0,
            replay: Vec::new(),
            incoming_qos2: Vec::new(),
        };
        Box::pin(async move { Ok(Some(session)) })
    }

    fn save<'a>(
        &'a self,
        _key: &'a SessionStoreKey,
        _session: &'a PersistedSession,
    ) -> SessionStoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn clear<'a>(&'a self, _key: &'a SessionStoreKey) -> SessionStoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}
