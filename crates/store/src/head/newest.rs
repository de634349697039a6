//! The newest timestamp of every series, readable without the head's locks.
//!
//! The append-time check of a sample newer than everything its series holds (nearly every
//! sample) needs this one number. It used to live in the series' samples behind the head's
//! `data` lock, which the WAL thread holds for a whole commit while applying it: appenders on
//! the other core waited for every apply. Here each series has an atomic in fixed-size pages
//! that never move, so an appender keeps a snapshot of the page list ([`NewestView`]) and
//! reads without a lock. The atomic is the only copy and only grows (`fetch_max`), so a reader
//! sees either the value before or after an apply, as it did under the lock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// Series per page.
const PAGE: usize = 1024;

type Page = Arc<[AtomicI64]>;

/// The newest timestamp per series id (`i64::MIN` before the first sample).
#[derive(Debug, Default)]
pub struct Newest {
    current: RwLock<NewestView>,
}

impl Newest {
    /// Makes room for series `id` (ids are created in order, from 0).
    pub fn add(&self, id: u32) {
        let mut view = self.current.write().unwrap_or_else(|p| p.into_inner());
        let id = id as usize;
        while view.pages.len() <= id / PAGE {
            view.pages
                .push((0..PAGE).map(|_| AtomicI64::new(i64::MIN)).collect());
        }
        view.series = view.series.max(id + 1);
    }

    /// The newest timestamp of series `id` (`i64::MIN` when unknown).
    pub fn get(&self, id: u32) -> i64 {
        let view = self.current.read().unwrap_or_else(|p| p.into_inner());
        view.of(id).map_or(i64::MIN, |a| a.load(Ordering::Acquire))
    }

    /// The pages as they are now; series added later need a new view.
    pub fn view(&self) -> NewestView {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A snapshot of the page list: every series that existed when it was taken.
#[derive(Clone, Debug, Default)]
pub struct NewestView {
    pages: Vec<Page>,
    /// Series ids below this exist; the rest of the last page is room for later ones.
    series: usize,
}

impl NewestView {
    /// The atomic of series `id`, `None` when the series is newer than the view.
    #[inline]
    pub fn of(&self, id: u32) -> Option<&AtomicI64> {
        let id = id as usize;
        if id >= self.series {
            return None;
        }
        self.pages.get(id / PAGE).map(|p| &p[id % PAGE])
    }
}

/// Raises `newest` to `ts`.
#[inline]
pub fn raise(newest: &AtomicI64, ts: i64) {
    newest.fetch_max(ts, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_sees_raises_after_it_was_taken_and_only_the_series_it_knew() {
        let newest = Newest::default();
        for id in 0..1500 {
            newest.add(id);
        }
        let view = newest.view();
        assert_eq!(newest.get(1499), i64::MIN);
        assert!(
            view.of(1500).is_none(),
            "an id not added yet, though its page exists"
        );
        raise(view.of(1499).unwrap(), 7);
        raise(view.of(1499).unwrap(), 5);
        assert_eq!(newest.get(1499), 7, "a raise never lowers");
        newest.add(PAGE as u32 * 2);
        assert!(view.of(PAGE as u32 * 2).is_none());
        assert!(newest.view().of(PAGE as u32 * 2).is_some());
        assert_eq!(newest.get(PAGE as u32 * 2), i64::MIN);
    }
}
