//! The serialized form of [`Labels`]: a sequence of `[name, value]` pairs in name order, as a
//! derived `Labels(Vec<(String, String)>)` wrote it (records in the state database were written
//! that way). Reading sorts the pairs and refuses a name given twice.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::Labels;
use crate::pairs::de::{Repeats, Staging};

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct("Labels", &PairSeq(self))
    }
}

/// The pairs as a sequence of 2-tuples.
struct PairSeq<'a>(&'a Labels);

impl Serialize for PairSeq<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for pair in self.0.iter() {
            seq.serialize_element(&pair)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct("Labels", LabelsVisitor)
    }
}

struct LabelsVisitor;

impl<'de> Visitor<'de> for LabelsVisitor {
    type Value = Labels;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a label set: a sequence of [name, value] pairs")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Labels, D::Error> {
        PairSeqSeed.deserialize(d)
    }

    /// Formats that write a newtype struct as a sequence of its one field.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Labels, A::Error> {
        seq.next_element_seed(PairSeqSeed)?
            .ok_or_else(|| de::Error::invalid_length(0, &self))
    }
}

/// Reads the sequence of pairs.
struct PairSeqSeed;

impl<'de> DeserializeSeed<'de> for PairSeqSeed {
    type Value = Labels;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Labels, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairSeqSeed {
    type Value = Labels;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of [name, value] label pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Labels, A::Error> {
        let mut staging = Staging::with_capacity(seq.size_hint());
        while seq.next_element_seed(PairSeed(&mut staging))?.is_some() {}
        Ok(Labels(staging.finish(Repeats::Reject)?))
    }
}

/// Reads one `[name, value]` pair into the staging buffer.
struct PairSeed<'a>(&'a mut Staging);

impl<'de> DeserializeSeed<'de> for PairSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for PairSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a label pair [name, value]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let name_start = self.0.mark();
        if seq.next_element_seed(self.0.string())?.is_none() {
            return Err(de::Error::invalid_length(0, &"a label pair [name, value]"));
        }
        let value_start = self.0.mark();
        if seq.next_element_seed(self.0.string())?.is_none() {
            return Err(de::Error::invalid_length(1, &"a label pair [name, value]"));
        }
        self.0.push(name_start, value_start);
        Ok(())
    }
}
