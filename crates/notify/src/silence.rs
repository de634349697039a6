//! Silences: "mute alerts matching these labels from then until then, because...", made by a
//! person through the API or `periscope silence`, kept in memory and persisted as JSON by the
//! state database.
//!
//! The rules are Alertmanager's, so people who know `amtool` are not surprised: a silence needs
//! a matcher that requires a label value, an author and a comment; it is pending before it
//! starts, active until it ends and expired after; editing an active silence's matchers
//! expires it and creates a new one (the record of what was muted when stays true); expired
//! silences linger for a while ([`Silences::gc`]) so one can be looked up and recreated.
//!
//! Ids are sixteen hex digits of FNV-1a over what the silence was made from and a counter, so
//! they are reproducible in tests and need no random source.

mod index;

use std::collections::BTreeMap;
use std::time::Duration;

use model::{Labels, MatchOp, Timestamp};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::matcher::{self, MatcherError, Matchers, Show};
use crate::mute::{MuteReason, Muter};
use index::Index;

/// The kind under which silences are kept in the state database, one JSON [`Silence`] per
/// document keyed by its id.
pub const DOCUMENT_KIND: &str = "silence";

/// One silence, as stored and as shown by the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Sixteen hex digits.
    pub id: String,
    /// The matchers as written (`service="db"`, `instance=~"db[0-9]+"`); an alert is muted when
    /// it matches all of them.
    pub matchers: Vec<String>,
    /// When muting starts.
    pub starts_at: Timestamp,
    /// When muting ends (exclusive).
    pub ends_at: Timestamp,
    /// Who made or last changed it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was last changed (expiring counts).
    pub updated_at: Timestamp,
}

/// Where a silence is in its life at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// It has not started yet.
    Pending,
    /// It mutes matching alerts now.
    Active,
    /// It has ended; it is kept for a while so it can be looked up.
    Expired,
}

impl SilenceState {
    /// `pending`, `active` or `expired`, as Alertmanager's API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    /// Pending before `starts_at`, active from `starts_at` until just before `ends_at`,
    /// expired from `ends_at` on.
    pub fn state(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }
}

/// A silence as a person asks for it (API body, CLI flags).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// The matchers, as written; at least one must require a label value.
    pub matchers: Vec<String>,
    /// When muting starts; a time in the past means now.
    pub starts_at: Timestamp,
    /// When muting ends; after `starts_at` and after now.
    pub ends_at: Timestamp,
    /// Who is silencing.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

/// Why a silence could not be made, changed or found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// No matcher given.
    #[error("a silence needs at least one matcher, e.g. alertname=\"DiskFull\"")]
    NoMatchers,
    /// A matcher that does not parse.
    #[error("silence matcher {index}: {error}")]
    BadMatcher {
        /// Its position in the list, from 0.
        index: usize,
        /// What is wrong with it.
        error: MatcherError,
    },
    /// Every matcher also matches an absent label.
    #[error(
        "every matcher in {matchers} also matches alerts that lack the label, so the silence \
         would mute alerts nobody meant; add one that requires a value, e.g. alertname=\"DiskFull\""
    )]
    MatchesEverything {
        /// The matchers, normalized.
        matchers: String,
    },
    /// `ends_at` is not after `starts_at`.
    #[error(
        "the silence would end ({ends_at}) before it starts ({starts_at}); ends_at must be later"
    )]
    EndsBeforeStart {
        /// As asked.
        starts_at: Timestamp,
        /// As asked.
        ends_at: Timestamp,
    },
    /// `ends_at` is not after now.
    #[error("the silence's end {ends_at} is already past (now is {now}); ends_at must be later")]
    EndsInPast {
        /// As asked.
        ends_at: Timestamp,
        /// The present.
        now: Timestamp,
    },
    /// `created_by` is empty.
    #[error("created_by is empty: say who is silencing")]
    NoAuthor,
    /// `comment` is empty.
    #[error("comment is empty: say why these alerts are silenced")]
    NoComment,
    /// No silence has this id.
    #[error("no silence with id {0:?}")]
    NotFound(String),
    /// Expiring a silence that has already ended.
    #[error("silence {id} has already expired (it ended at {ends_at})")]
    AlreadyExpired {
        /// The silence.
        id: String,
        /// When it ended.
        ends_at: Timestamp,
    },
    /// A stored silence that cannot be used any more.
    #[error("stored silence {id}: {error}")]
    Restore {
        /// The stored silence's id.
        id: String,
        /// What is wrong with it.
        error: Box<SilenceError>,
    },
}

/// A silence and its parsed matchers.
#[derive(Clone, Debug)]
struct Entry {
    silence: Silence,
    matchers: Matchers,
}

/// All silences, indexed for muting (see [`index`](self) for how a check avoids most of them).
#[derive(Clone, Debug, Default)]
pub struct Silences {
    by_id: BTreeMap<String, Entry>,
    index: Index,
    /// Makes ids of silences made from the same input at the same instant differ.
    counter: u64,
}

impl Silences {
    /// No silences.
    pub fn new() -> Self {
        Silences::default()
    }

    /// How many silences are held, expired ones included.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no silence is held.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Makes a silence and returns its id. A start in the past becomes `now`.
    pub fn add(&mut self, new: NewSilence, now: Timestamp) -> Result<String, SilenceError> {
        let matchers = validate(&new, now)?;
        Ok(self.insert_new(new, matchers, now))
    }

    fn insert_new(&mut self, new: NewSilence, matchers: Matchers, now: Timestamp) -> String {
        let id = self.fresh_id(now, &new.created_by, &new.matchers);
        let silence = Silence {
            id: id.clone(),
            matchers: new.matchers,
            starts_at: new.starts_at.max(now),
            ends_at: new.ends_at,
            created_by: new.created_by,
            comment: new.comment,
            created_at: now,
            updated_at: now,
        };
        self.index.insert(&id, &matchers);
        self.by_id.insert(id.clone(), Entry { silence, matchers });
        id
    }

    /// Changes silence `id` and returns the id that now stands for it.
    ///
    /// As in Alertmanager, the silence is changed in place (same id) when the matchers stay
    /// the same and the change does not rewrite history: an active silence keeps its start
    /// and may not end in the past, a pending one may not start in the past. Otherwise the old
    /// silence is expired (unless it already was) and a new one made, whose id is returned.
    pub fn update(
        &mut self,
        id: &str,
        new: NewSilence,
        now: Timestamp,
    ) -> Result<String, SilenceError> {
        let matchers = validate(&new, now)?;
        let entry = self
            .by_id
            .get_mut(id)
            .ok_or_else(|| SilenceError::NotFound(id.to_string()))?;
        let state = entry.silence.state(now);
        let in_place = normalized(&entry.matchers) == normalized(&matchers)
            && match state {
                SilenceState::Active => new.starts_at == entry.silence.starts_at,
                SilenceState::Pending => new.starts_at >= now,
                SilenceState::Expired => false,
            };
        if in_place {
            let s = &mut entry.silence;
            s.matchers = new.matchers;
            s.starts_at = new.starts_at;
            s.ends_at = new.ends_at;
            s.created_by = new.created_by;
            s.comment = new.comment;
            s.updated_at = now;
            // Reordered matchers may file the silence under a different pair.
            self.index.remove(id, &entry.matchers);
            self.index.insert(id, &matchers);
            entry.matchers = matchers;
            return Ok(id.to_string());
        }
        if state != SilenceState::Expired {
            self.expire(id, now)?;
        }
        Ok(self.insert_new(new, matchers, now))
    }

    /// Ends silence `id` at `now`. A pending silence ends before it ever starts.
    pub fn expire(&mut self, id: &str, now: Timestamp) -> Result<(), SilenceError> {
        let entry = self
            .by_id
            .get_mut(id)
            .ok_or_else(|| SilenceError::NotFound(id.to_string()))?;
        let s = &mut entry.silence;
        match s.state(now) {
            SilenceState::Expired => {
                return Err(SilenceError::AlreadyExpired {
                    id: id.to_string(),
                    ends_at: s.ends_at,
                });
            }
            SilenceState::Pending => s.starts_at = now,
            SilenceState::Active => {}
        }
        s.ends_at = now;
        s.updated_at = now;
        Ok(())
    }

    /// The silence with this id.
    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.by_id.get(id).map(|e| &e.silence)
    }

    /// The silences whose matchers satisfy `filter`, as Alertmanager's API filters them: each
    /// silence reads as the labels its matchers name, with the values as written (so
    /// `service="db"` finds silences with the matcher `service="db"`). Active ones first (ending
    /// soonest first), then pending (starting soonest first), then, when asked for, expired
    /// (most recently ended first).
    pub fn list(
        &self,
        filter: Option<&Matchers>,
        include_expired: bool,
        now: Timestamp,
    ) -> Vec<&Silence> {
        let mut out: Vec<&Silence> = self
            .by_id
            .values()
            .filter(|e| include_expired || e.silence.state(now) != SilenceState::Expired)
            .filter(|e| filter.is_none_or(|f| f.matches(&as_labels(&e.matchers))))
            .map(|e| &e.silence)
            .collect();
        out.sort_by_key(|s| match s.state(now) {
            SilenceState::Active => (0, s.ends_at.0),
            SilenceState::Pending => (1, s.starts_at.0),
            SilenceState::Expired => (2, s.ends_at.0.saturating_neg()),
        });
        out
    }

    /// The active silences that mute an alert with `labels` at `now`, longest-lasting first.
    pub fn silencing(&self, labels: &Labels, now: Timestamp) -> Vec<&Silence> {
        let mut out: Vec<&Silence> = self
            .index
            .candidates(labels)
            .filter_map(|id| self.by_id.get(id))
            .filter(|e| e.silence.state(now) == SilenceState::Active && e.matchers.matches(labels))
            .map(|e| &e.silence)
            .collect();
        out.sort_by(|a, b| b.ends_at.cmp(&a.ends_at).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Puts back silences read from the state database, replacing any held under the same id.
    /// Times are not checked (expired silences are restored as expired); a silence whose
    /// matchers no longer read, or would mute alerts nobody meant, is left out and returned
    /// as a problem for the log.
    pub fn restore(&mut self, silences: Vec<Silence>) -> Vec<SilenceError> {
        let mut problems = Vec::new();
        for silence in silences {
            let matchers = match parse_matchers(&silence.matchers) {
                Ok(m) => m,
                Err(error) => {
                    problems.push(SilenceError::Restore {
                        id: silence.id,
                        error: Box::new(error),
                    });
                    continue;
                }
            };
            self.remove(&silence.id);
            self.index.insert(&silence.id, &matchers);
            self.by_id
                .insert(silence.id.clone(), Entry { silence, matchers });
        }
        problems
    }

    /// Forgets silences that expired at least `keep_expired_for` before `now`; returns their
    /// ids, sorted, so the state database can delete them too.
    pub fn gc(&mut self, now: Timestamp, keep_expired_for: Duration) -> Vec<String> {
        let keep = i64::try_from(keep_expired_for.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.plus_millis(keep.saturating_neg());
        let old: Vec<String> = self
            .by_id
            .values()
            .filter(|e| e.silence.state(now) == SilenceState::Expired)
            .filter(|e| e.silence.ends_at <= cutoff)
            .map(|e| e.silence.id.clone())
            .collect();
        for id in &old {
            self.remove(id);
        }
        old
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id) {
            self.index.remove(id, &old.matchers);
        }
    }

    /// An id no held silence has.
    fn fresh_id(&mut self, now: Timestamp, by: &str, matchers: &[String]) -> String {
        loop {
            self.counter = self.counter.wrapping_add(1);
            let id = format!("{:016x}", fnv1a(now, by, matchers, self.counter));
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }
}

impl Muter for Silences {
    /// The active silence that lasts longest among those matching.
    fn mute(&self, alert: &Alert, now: Timestamp) -> Option<MuteReason> {
        let silence = self.silencing(&alert.labels, now).into_iter().next()?;
        Some(MuteReason::Silenced {
            id: silence.id.clone(),
            comment: silence.comment.clone(),
            by: silence.created_by.clone(),
        })
    }
}

/// Alertmanager's checks on a silence being made or changed; the parsed matchers when it
/// passes.
fn validate(new: &NewSilence, now: Timestamp) -> Result<Matchers, SilenceError> {
    let matchers = parse_matchers(&new.matchers)?;
    if new.ends_at <= new.starts_at {
        return Err(SilenceError::EndsBeforeStart {
            starts_at: new.starts_at,
            ends_at: new.ends_at,
        });
    }
    if new.ends_at <= now {
        return Err(SilenceError::EndsInPast {
            ends_at: new.ends_at,
            now,
        });
    }
    if new.created_by.trim().is_empty() {
        return Err(SilenceError::NoAuthor);
    }
    if new.comment.trim().is_empty() {
        return Err(SilenceError::NoComment);
    }
    Ok(matchers)
}

/// The matchers of a silence, each checked, with at least one that needs a label value.
fn parse_matchers(texts: &[String]) -> Result<Matchers, SilenceError> {
    let mut all = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        let parsed =
            matcher::parse(text).map_err(|error| SilenceError::BadMatcher { index, error })?;
        all.extend(parsed.0);
    }
    if all.is_empty() {
        return Err(SilenceError::NoMatchers);
    }
    let matchers = Matchers(all);
    if matchers.0.iter().all(|m| m.matches_empty()) {
        return Err(SilenceError::MatchesEverything {
            matchers: matchers.to_string(),
        });
    }
    Ok(matchers)
}

/// The matchers in one canonical spelling, order aside, to tell whether an edit changed what a
/// silence selects.
fn normalized(matchers: &Matchers) -> Vec<String> {
    let mut out: Vec<String> = matchers.0.iter().map(|m| Show(m).to_string()).collect();
    out.sort();
    out.dedup();
    out
}

/// A silence's matchers read as labels, value as written, for filtering lists.
fn as_labels(matchers: &Matchers) -> Labels {
    matchers
        .0
        .iter()
        .map(|m| {
            let value = match &m.op {
                MatchOp::Equal(v) | MatchOp::NotEqual(v) => v.as_str(),
                MatchOp::Regex(r) | MatchOp::NotRegex(r) => r.as_str(),
            };
            (m.name.clone(), value.to_string())
        })
        .collect()
}

/// FNV-1a over the creation time, author, matchers and counter, parts separated by bytes
/// UTF-8 never contains so no two inputs run together.
fn fnv1a(created_at: Timestamp, by: &str, matchers: &[String], counter: u64) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    eat(&created_at.0.to_le_bytes());
    eat(by.as_bytes());
    eat(&[0xFF]);
    for m in matchers {
        eat(m.as_bytes());
        eat(&[0xFE]);
    }
    eat(&[0xFF]);
    eat(&counter.to_le_bytes());
    hash
}

#[cfg(test)]
mod tests;
