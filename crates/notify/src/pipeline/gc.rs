//! Garbage collection: what [`RETENTION`] lets go is forgotten in memory and deleted from the
//! state database, so neither grows without end.

use std::collections::HashSet;

use model::Timestamp;
use model::alert::DocumentWrite;

use super::{Pipeline, RETENTION};

impl Pipeline {
    /// Forgets silences expired more than [`RETENTION`] ago and the log entries of groups
    /// that vanished that long ago, in memory and in the state database.
    pub(super) fn gc(&mut self, now: Timestamp) {
        for id in self.silences.gc(now, RETENTION) {
            self.writes.push(DocumentWrite::Delete {
                kind: crate::silence::DOCUMENT_KIND.into(),
                key: id,
            });
        }
        let active: HashSet<&str> = self
            .dispatcher
            .groups()
            .map(|(_, g)| g.key.as_str())
            .collect();
        let deleted = self.nflog.gc(now, RETENTION, &|key| active.contains(key));
        self.writes.extend(deleted);
    }
}
