//! Master seeds: any `u64`. TOML integers are signed 64-bit, so a seed
//! above `i64::MAX` is read from its digits and written back as a string
//! (`seed = "18446744073709551615"`); smaller seeds stay integers.

use std::borrow::Cow;

use serde::{de, Deserializer, Serializer};

/// The text with a top-level `seed = <digits>` above `i64::MAX` quoted
/// (line numbers unchanged).
pub(crate) fn quote_large(text: &str) -> Cow<'_, str> {
    for (start, line) in line_starts(text) {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            break; // the top-level keys end at the first table
        }
        let Some(rest) = trimmed.strip_prefix("seed") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let digits: &str = &value[..value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len())];
        let after = value[digits.len()..].trim_start();
        let large = digits.parse::<u64>().is_ok_and(|v| v > i64::MAX as u64);
        if large && (after.is_empty() || after.starts_with('#')) {
            let at = start + (line.len() - value.len());
            let mut quoted = String::with_capacity(text.len() + 2);
            quoted.push_str(&text[..at]);
            quoted.push('"');
            quoted.push_str(digits);
            quoted.push('"');
            quoted.push_str(&text[at + digits.len()..]);
            return Cow::Owned(quoted);
        }
    }
    Cow::Borrowed(text)
}

/// Each line with the byte offset where it starts.
fn line_starts(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |offset, line| {
        let start = *offset;
        *offset += line.len();
        Some((start, line.trim_end_matches(['\n', '\r'])))
    })
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Seed;
    impl de::Visitor<'_> for Seed {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a seed: a whole number from 0 to 18446744073709551615")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.parse::<u64>()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
    deserializer.deserialize_any(Seed)
}

pub(crate) fn serialize<S: Serializer>(seed: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    if *seed > i64::MAX as u64 {
        serializer.serialize_str(&seed.to_string())
    } else {
        serializer.serialize_u64(*seed)
    }
}
