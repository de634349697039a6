//! Settling a delivered entry: the notification log records what it told, so the same news
//! is not told again before its repeat interval.

use model::Timestamp;

use super::{Entry, Pipeline, Settles};

impl Pipeline {
    /// Records in the log what a delivered entry told.
    pub(super) fn settle(&mut self, entry: &Entry, reference: Option<String>, now: Timestamp) {
        match &entry.settles {
            Settles::Group(plan) => {
                let write = self.nflog.record(
                    &entry.integration,
                    &entry.group_key,
                    &plan.to_plan(),
                    reference,
                    now,
                );
                self.writes.push(write);
            }
            Settles::Digest(plans) => {
                for (group_key, plan) in plans {
                    let write = self.nflog.record(
                        &entry.integration,
                        group_key,
                        &plan.to_plan(),
                        None,
                        now,
                    );
                    self.writes.push(write);
                }
            }
            Settles::Nothing => {}
        }
    }
}
