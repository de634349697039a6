//! One built schedule and the question it answers: who is on call at an instant, and over a
//! window.
//!
//! The final schedule is composed pointwise, as PagerDuty does: an override beats every layer,
//! and among the layers the top-most one (the last written) that has somebody at that instant
//! wins; a layer has nobody before its start and outside its `restrict` period, so lower layers
//! show through there. Everything is computed from the configuration and the instant asked
//! about; nothing is precomputed, so a schedule answers for any date without a table that
//! could run out.

use jiff::tz::TimeZone;
use model::Timestamp;
use model::time_period::TimePeriod;

use super::rotation::{NEVER_AFTER, NEVER_BEFORE, Rotation};

/// How far from the instant asked about a stretch of one person is followed. A rotation of one
/// person never hands over; its stretch is reported up to this far instead of forever.
const HORIZON_MS: i64 = 366 * 86_400_000;
/// How many constant pieces a walk visits at most, so no configuration makes it loop long.
const MAX_PIECES: usize = 20_000;

/// Someone's stretch on call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    /// Who is on call.
    pub person: String,
    /// The layer that puts them on call, `None` for an override. When a stretch joins pieces
    /// from several layers or overrides, this is the one at the instant asked about
    /// ([`Schedule::who`]) or at the stretch's start ([`Schedule::shifts`]).
    pub layer: Option<String>,
    /// When the stretch began.
    pub from: Timestamp,
    /// When it ends: somebody else (or nobody) is on call from then.
    pub until: Timestamp,
    /// The override's reason, when an override puts them on call and gave one.
    pub reason: Option<String>,
}

/// A built on-call schedule. See [`OnCall`](super::OnCall).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub(super) name: String,
    pub(super) zone_name: String,
    pub(super) zone: TimeZone,
    /// Bottom first: a later layer sits on top of the earlier ones.
    pub(super) layers: Vec<Layer>,
    /// Sorted by start; they never overlap (the build rejects that).
    pub(super) overrides: Vec<Override>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Layer {
    pub(super) name: String,
    pub(super) people: Vec<String>,
    pub(super) rotation: Rotation,
    pub(super) restrict: Option<TimePeriod>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Override {
    pub(super) person: String,
    pub(super) from: Timestamp,
    pub(super) until: Timestamp,
    pub(super) reason: Option<String>,
}

/// Who puts somebody on call during a piece.
#[derive(Clone, Copy, Debug)]
enum Source<'a> {
    Layer(&'a Layer, &'a str),
    Override(&'a Override),
}

impl Source<'_> {
    fn person(&self) -> &str {
        match self {
            Source::Layer(_, person) => person,
            Source::Override(o) => &o.person,
        }
    }

    fn shift(&self, from: Timestamp, until: Timestamp) -> Shift {
        let (layer, reason) = match self {
            Source::Layer(layer, _) => (Some(layer.name.clone()), None),
            Source::Override(o) => (None, o.reason.clone()),
        };
        Shift {
            person: self.person().to_string(),
            layer,
            from,
            until,
            reason,
        }
    }
}

/// An interval `[from, until)` over which the final schedule does not change.
struct Piece<'a> {
    who: Option<Source<'a>>,
    from: Timestamp,
    until: Timestamp,
}

impl Piece<'_> {
    fn person(&self) -> Option<&str> {
        self.who.as_ref().map(Source::person)
    }
}

impl Schedule {
    /// The schedule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The time zone its handoffs and dates are read in, as written.
    pub fn time_zone(&self) -> &str {
        &self.zone_name
    }

    /// The layer names, bottom first.
    pub fn layers(&self) -> impl Iterator<Item = &str> {
        self.layers.iter().map(|l| l.name.as_str())
    }

    /// Who is on call at `at`, with the whole stretch they are on call for (followed up to a
    /// year either way), or `None` when nobody is.
    pub fn who(&self, at: Timestamp) -> Option<Shift> {
        let here = self.piece(at);
        let source = here.who?;
        let person = source.person();
        let same = |p: &Piece| p.person() == Some(person);
        let mut until = here.until;
        let last = at.plus_millis(HORIZON_MS);
        for _ in 0..MAX_PIECES {
            if until >= last || until == NEVER_AFTER {
                break;
            }
            let next = self.piece(until);
            if !same(&next) {
                break;
            }
            until = next.until;
        }
        let mut from = here.from;
        let first = at.plus_millis(-HORIZON_MS);
        for _ in 0..MAX_PIECES {
            if from <= first || from == NEVER_BEFORE {
                break;
            }
            let before = self.piece(from.plus_millis(-1));
            if !same(&before) {
                break;
            }
            from = before.from;
        }
        Some(source.shift(from, until))
    }

    /// The next instant after `at` at which the person on call changes (to somebody else, to
    /// nobody, or from nobody to somebody), looking up to a year ahead; `None` when it does not
    /// change in that time.
    pub fn next_handoff(&self, at: Timestamp) -> Option<Timestamp> {
        let here = self.piece(at);
        let person = here.person();
        let last = at.plus_millis(HORIZON_MS);
        let mut t = here.until;
        for _ in 0..MAX_PIECES {
            if t > last || t == NEVER_AFTER {
                return None;
            }
            let next = self.piece(t);
            if next.person() != person {
                return Some(t);
            }
            t = next.until;
        }
        None
    }

    /// The final schedule over `[from, to)`: who is on call when, cut to the window, with
    /// adjacent stretches of the same person joined and times with nobody left out.
    pub fn shifts(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        let mut out: Vec<Shift> = Vec::new();
        let mut t = from;
        let mut pieces = 0;
        while t < to && pieces < MAX_PIECES * 10 {
            pieces += 1;
            let piece = self.piece(t);
            let end = piece.until.min(to);
            if let Some(source) = piece.who {
                match out.last_mut() {
                    Some(last) if last.person == source.person() && last.until == t => {
                        last.until = end;
                    }
                    _ => out.push(source.shift(t, end)),
                }
            }
            t = piece.until;
        }
        out
    }

    /// The final schedule's piece around `at`. Its bounds are the nearest changes of any
    /// input, so a piece may be shorter than the person's stretch; callers join pieces.
    fn piece(&self, at: Timestamp) -> Piece<'_> {
        let (mut from, mut until) = (NEVER_BEFORE, NEVER_AFTER);
        for o in &self.overrides {
            if o.from <= at && at < o.until {
                return Piece {
                    who: Some(Source::Override(o)),
                    from: o.from,
                    until: o.until,
                };
            }
            if o.until <= at {
                from = from.max(o.until);
            } else {
                until = until.min(o.from);
            }
        }
        let mut who = None;
        for layer in &self.layers {
            let (person, a, b) = layer.piece(at);
            from = from.max(a);
            until = until.min(b);
            // Later layers sit on top, so the last one with somebody wins.
            if let Some(person) = person {
                who = Some(Source::Layer(layer, person));
            }
        }
        Piece { who, from, until }
    }
}

impl Layer {
    /// Who this layer has at `at`, and the interval around `at` over which that holds.
    fn piece(&self, at: Timestamp) -> (Option<&str>, Timestamp, Timestamp) {
        let (mut who, mut from, mut until) = match self.rotation.shift_at(at) {
            Some((k, from, until)) => {
                let n = self.people.len().max(1) as i64;
                let person = self.people.get(k.rem_euclid(n) as usize);
                (person.map(String::as_str), from, until)
            }
            None => (
                None,
                NEVER_BEFORE,
                self.rotation.handoff(0).unwrap_or(NEVER_AFTER),
            ),
        };
        if let Some(period) = &self.restrict {
            let (a, b) = period_bounds(period, at);
            from = from.max(a);
            until = until.min(b);
            if !period.contains(at) {
                who = None;
            }
        }
        (who, from, until)
    }
}

/// The interval around `at` over which `period` gives the same answer: the last change at or
/// before `at` (looked for up to about a year back) and the next change after it.
fn period_bounds(period: &TimePeriod, at: Timestamp) -> (Timestamp, Timestamp) {
    let until = period.next_change(at).unwrap_or(NEVER_AFTER);
    let mut from = NEVER_BEFORE;
    // `TimePeriod` only looks forward, so look forward from ever earlier instants until a
    // change at or before `at` shows up, then step to the last such change.
    for days in [1, 8, 64, 400] {
        let start = at.plus_millis(-days * 86_400_000);
        match period.next_change(start) {
            Some(mut change) if change <= at => {
                while let Some(next) = period.next_change(change) {
                    if next > at {
                        break;
                    }
                    change = next;
                }
                from = change;
                break;
            }
            _ => {}
        }
    }
    (from, until)
}
