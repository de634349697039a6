//! Deserializing a set of pairs without a `String` per name and value: every string is
//! appended to one staging buffer, and the set is built from it once it is complete.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error, Visitor};

use super::Pairs;

/// Names and values read so far, in the order they came.
pub(crate) struct Staging {
    text: String,
    /// Per pair: where its name starts, where its value starts, where its value ends.
    spans: Vec<[usize; 3]>,
}

/// What to do about a name that came more than once.
#[derive(Clone, Copy)]
pub(crate) enum Repeats {
    /// Refuse the set, naming the repeated name (label sets: a name is there once).
    Reject,
    /// Keep the value that came last (as a map does).
    LastWins,
}

impl Staging {
    /// Room for `pairs` pairs (a format's size hint, capped: it comes from the input).
    pub(crate) fn with_capacity(pairs: Option<usize>) -> Self {
        Staging {
            text: String::new(),
            spans: Vec::with_capacity(pairs.unwrap_or(0).min(1024)),
        }
    }

    /// Where the next string read will start.
    pub(crate) fn mark(&self) -> usize {
        self.text.len()
    }

    /// A seed that reads one string onto the end of the buffer.
    pub(crate) fn string(&mut self) -> StrSeed<'_> {
        StrSeed(&mut self.text)
    }

    /// Records the pair whose name was read from `name_start` and value from `value_start`
    /// up to the end of the buffer.
    pub(crate) fn push(&mut self, name_start: usize, value_start: usize) {
        self.spans.push([name_start, value_start, self.text.len()]);
    }

    /// The set, sorted by name, with repeated names handled as `repeats` says.
    pub(crate) fn finish<E: Error>(mut self, repeats: Repeats) -> Result<Pairs, E> {
        let text = &self.text;
        let name = |s: &[usize; 3]| &text[s[0]..s[1]];
        // Stable: of one name's pairs, the one read last stays last.
        self.spans.sort_by(|a, b| name(a).cmp(name(b)));
        let spans = &self.spans;
        let last_of_name = |i: usize| {
            spans
                .get(i + 1)
                .is_none_or(|next| name(next) != name(&spans[i]))
        };
        if let Repeats::Reject = repeats
            && let Some(i) = (0..spans.len()).find(|&i| !last_of_name(i))
        {
            return Err(E::custom(format_args!(
                "label name {:?} appears more than once in one label set (each name may be set \
                 only once)",
                name(&spans[i])
            )));
        }
        let unique = (0..spans.len()).filter(|&i| last_of_name(i)).map(|i| {
            let [n, v, end] = spans[i];
            (&text[n..v], &text[v..end])
        });
        Ok(Pairs::from_sorted_unique(unique))
    }
}

/// Reads one string and appends it to a buffer.
pub(crate) struct StrSeed<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for StrSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for StrSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
}
