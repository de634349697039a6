//! [`Tiered`]: a value that depends on the time ("critical above 4 s during business hours,
//! above 10 s otherwise"), as an ordered list of tiers where the first whose period contains
//! the instant wins.
//!
//! In TOML each tier is a table with an optional `during` and the value's own keys beside it,
//! so the value type keeps its own strict field checks:
//!
//! ```toml
//! [[when]]
//! during = "weekdays 08:00-18:00 Europe/London"
//! critical = 4.0
//! [[when]]
//! critical = 10.0   # otherwise
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{RawTimePeriod, TimePeriod, TimePeriods};
use crate::Timestamp;

/// One entry of a [`Tiered`] value.
#[derive(Clone, Debug, PartialEq)]
pub struct Tier<T> {
    /// When this tier applies; `None` is "otherwise" and must be the last tier.
    pub during: Option<TimePeriod>,
    /// The value while it applies.
    pub value: T,
}

/// A value chosen by time: the first [`Tier`] whose period contains the instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Tiered<T> {
    tiers: Vec<Tier<T>>,
}

/// Why a list of tiers was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TieredError(String);

impl fmt::Display for TieredError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TieredError {}

impl<T> Tiered<T> {
    /// Checked tiers: at least one, and only the last may lack a period (a tier after an
    /// "otherwise" could never be chosen, which is always a mistake in the config).
    pub fn new(tiers: Vec<Tier<T>>) -> Result<Self, TieredError> {
        if tiers.is_empty() {
            return Err(TieredError(
                "no tiers: give at least one entry (one without `during` applies always)".into(),
            ));
        }
        if let Some(i) = tiers.iter().position(|t| t.during.is_none())
            && i + 1 < tiers.len()
        {
            return Err(TieredError(format!(
                "entry {} has no `during`, so it applies always and the {} entr{} after it \
                 can never apply: move it last",
                i + 1,
                tiers.len() - i - 1,
                if tiers.len() - i - 1 == 1 { "y" } else { "ies" }
            )));
        }
        Ok(Tiered { tiers })
    }

    /// The same value at every instant.
    pub fn constant(value: T) -> Self {
        Tiered {
            tiers: vec![Tier {
                during: None,
                value,
            }],
        }
    }

    /// The tiers in order.
    pub fn tiers(&self) -> &[Tier<T>] {
        &self.tiers
    }

    /// The tier that applies at `ts` (with its index, for explanations), or `None` when no
    /// period contains `ts` and there is no "otherwise".
    pub fn tier_at(&self, ts: Timestamp) -> Option<(usize, &Tier<T>)> {
        self.tiers
            .iter()
            .enumerate()
            .find(|(_, t)| t.during.as_ref().is_none_or(|p| p.contains(ts)))
    }

    /// The value that applies at `ts`.
    pub fn at(&self, ts: Timestamp) -> Option<&T> {
        self.tier_at(ts).map(|(_, t)| &t.value)
    }

    /// The first instant after `ts` at which the chosen tier may change (the earliest change of
    /// any tier's period), or `None` when it never changes.
    pub fn next_change(&self, ts: Timestamp) -> Option<Timestamp> {
        self.tiers
            .iter()
            .filter_map(|t| t.during.as_ref()?.next_change(ts))
            .min()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tiered<T> {
    /// An array of tables, each with an optional `during` and the value's own keys.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tiers = Vec::<Tier<T>>::deserialize(deserializer)?;
        Tiered::new(tiers).map_err(de::Error::custom)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tier<T> {
    /// A table: `during` (a time period, optional) plus the keys of `T`, which `T` checks.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (during, value) = deserializer.deserialize_map(TierVisitor(PhantomData))?;
        Ok(Tier { during, value })
    }
}

/// Tiers as written, whose `during` may name periods defined elsewhere
/// (`during = "business_hours"`); [`build`](Self::build) looks the names up.
#[derive(Clone, Debug)]
pub struct RawTiered<T> {
    tiers: Vec<RawTier<T>>,
}

/// One tier as written.
#[derive(Clone, Debug)]
struct RawTier<T> {
    during: Option<RawTimePeriod>,
    value: T,
}

impl<T> RawTiered<T> {
    /// The tiers with their periods resolved against `periods`.
    pub fn build(self, periods: &TimePeriods) -> Result<Tiered<T>, TieredError> {
        let tiers =
            self.tiers
                .into_iter()
                .enumerate()
                .map(|(i, raw)| {
                    let during =
                        match raw.during {
                            Some(p) => Some(periods.resolve(&p).map_err(|e| {
                                TieredError(format!("entry {}: `during`: {e}", i + 1))
                            })?),
                            None => None,
                        };
                    Ok(Tier {
                        during,
                        value: raw.value,
                    })
                })
                .collect::<Result<Vec<_>, TieredError>>()?;
        Tiered::new(tiers)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for RawTiered<T> {
    /// The same shape as [`Tiered`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tiers = Vec::<RawTier<T>>::deserialize(deserializer)?;
        if tiers.is_empty() {
            return Err(de::Error::custom(
                "no tiers: give at least one entry (one without `during` applies always)",
            ));
        }
        Ok(RawTiered { tiers })
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for RawTier<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (during, value) = deserializer.deserialize_map(TierVisitor(PhantomData))?;
        Ok(RawTier { during, value })
    }
}

/// Reads one tier table into its `during` (of type `P`) and its value.
struct TierVisitor<P, T>(PhantomData<(P, T)>);

impl<'de, P: Deserialize<'de>, T: Deserialize<'de>> Visitor<'de> for TierVisitor<P, T> {
    type Value = (Option<P>, T);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table with an optional `during` time period and the tier's values")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut during = None;
        let value = T::deserialize(de::value::MapAccessDeserializer::new(TakeDuring {
            inner: map,
            during: &mut during,
        }))?;
        Ok((during, value))
    }
}

/// The tier's table as `T` sees it: every key except `during`, which is taken aside. This
/// keeps `T`'s `deny_unknown_fields` working, which `#[serde(flatten)]` would silently lose.
struct TakeDuring<'a, A, P> {
    inner: A,
    during: &'a mut Option<P>,
}

impl<'de, A: MapAccess<'de>, P: Deserialize<'de>> MapAccess<'de> for TakeDuring<'_, A, P> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.inner.next_key::<String>()? else {
                return Ok(None);
            };
            if key == "during" {
                if self.during.is_some() {
                    return Err(de::Error::duplicate_field("during"));
                }
                *self.during = Some(self.inner.next_value()?);
                continue;
            }
            return seed.deserialize(key.into_deserializer()).map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}
