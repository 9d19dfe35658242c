//! Arrays of numbers inside a router file of format 2: a [`Column`] is the
//! array's element type, its length and its little-endian bytes in a zlib
//! stream (deflate with an Adler-32 checksum, RFC 1950), base64-encoded
//! (RFC 4648, standard alphabet, padded).
//!
//! In Python: `numpy.frombuffer(zlib.decompress(base64.b64decode(c["zlib"])),
//! dtype="<f8")` for a column `c` of type `f64` (`"<u2"` for `u16`, …).
//!
//! Reading checks everything before it trusts it: the type is the one the
//! column may have, the base64 text is canonical, the declared length is
//! one the compressed bytes can hold (deflate expands at most 1032-fold, so
//! a small file cannot claim gigabytes), the stream inflates without error
//! with a matching checksum and no bytes after it, and to exactly
//! `len × width` bytes.

use std::io::{Read, Write};

use base64::Engine;
use serde::{Deserialize, Serialize};

/// Element type of a column (little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Element {
    /// Unsigned 8-bit integers.
    U8,
    /// Unsigned 16-bit integers.
    U16,
    /// Unsigned 32-bit integers.
    U32,
    /// IEEE 754 binary64.
    F64,
}

impl Element {
    /// Bytes per element.
    pub(crate) fn width(self) -> usize {
        match self {
            Element::U8 => 1,
            Element::U16 => 2,
            Element::U32 => 4,
            Element::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Element::U8 => "u8",
            Element::U16 => "u16",
            Element::U32 => "u32",
            Element::F64 => "f64",
        }
    }

    /// The narrowest unsigned type holding `max`.
    fn holding(max: u32) -> Element {
        if max <= u8::MAX as u32 {
            Element::U8
        } else if max <= u16::MAX as u32 {
            Element::U16
        } else {
            Element::U32
        }
    }
}

/// The unsigned types a column of integers below 2³² may have.
pub(crate) const ANY_UNSIGNED: &[Element] = &[Element::U8, Element::U16, Element::U32];

/// An upper bound on deflate's expansion (its largest ratio is 1032:1).
const MAX_INFLATE_RATIO: u64 = 1032;
/// Bytes of a zlib stream besides the deflate data (header and checksum).
const ZLIB_OVERHEAD: u64 = 6;

/// One array of numbers (module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Column {
    /// Element type.
    #[serde(rename = "type")]
    element: Element,
    /// Number of elements.
    len: u64,
    /// The little-endian bytes, zlib-compressed and base64-encoded.
    zlib: String,
}

/// How hard the writer compresses (deflate level 1 of 9: most of the gain
/// on tree arrays at a fraction of the time).
fn level() -> flate2::Compression {
    flate2::Compression::fast()
}

impl Column {
    fn from_bytes(element: Element, len: usize, bytes: &[u8]) -> Column {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::with_capacity(bytes.len() / 2 + 64), level());
        // Writing to a vector cannot fail.
        let compressed = match encoder.write_all(bytes).and_then(|()| encoder.finish()) {
            Ok(compressed) => compressed,
            Err(e) => unreachable!("deflating into memory failed: {e}"),
        };
        Column {
            element,
            len: len as u64,
            zlib: base64::engine::general_purpose::STANDARD.encode(compressed),
        }
    }

    /// Unsigned integers in the narrowest type that holds their largest.
    pub(crate) fn unsigned(values: &[u32]) -> Column {
        let element = Element::holding(values.iter().copied().max().unwrap_or(0));
        Column::unsigned_as(values, element)
    }

    /// Unsigned integers as `element` (which must hold every value).
    pub(crate) fn unsigned_as(values: &[u32], element: Element) -> Column {
        let mut bytes = Vec::with_capacity(values.len() * element.width());
        for &v in values {
            match element {
                Element::U8 => bytes.push(v as u8),
                Element::U16 => bytes.extend_from_slice(&(v as u16).to_le_bytes()),
                Element::U32 => bytes.extend_from_slice(&v.to_le_bytes()),
                Element::F64 => unreachable!("an integer column"),
            }
        }
        Column::from_bytes(element, values.len(), &bytes)
    }

    /// Floats, bit for bit.
    pub(crate) fn floats(values: &[f64]) -> Column {
        let mut bytes = Vec::with_capacity(values.len() * 8);
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        Column::from_bytes(Element::F64, values.len(), &bytes)
    }

    /// The declared number of elements.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The bytes the declared elements take once decoded (saturating).
    pub(crate) fn decoded_bytes(&self) -> u64 {
        self.len.saturating_mul(self.element.width() as u64)
    }

    /// Checks that the declared length is one the base64 text can hold
    /// (before anything is decoded or allocated).
    pub(crate) fn check_declared(&self) -> std::result::Result<(), String> {
        let compressed = self.zlib.len() as u64 / 4 * 3;
        self.check_ratio(compressed)
    }

    fn check_ratio(&self, compressed: u64) -> std::result::Result<(), String> {
        let most = compressed
            .saturating_sub(ZLIB_OVERHEAD)
            .saturating_mul(MAX_INFLATE_RATIO);
        let expected = self.decoded_bytes();
        if expected > most || expected >= usize::MAX as u64 / 2 {
            return Err(format!(
                "declares {} {} entries, more than its {compressed} compressed bytes can hold",
                self.len,
                self.element.name(),
            ));
        }
        Ok(())
    }

    /// The decoded little-endian bytes, after every check of the module
    /// docs; `allowed` lists the types the column may have.
    fn bytes(&self, allowed: &[Element]) -> std::result::Result<Vec<u8>, String> {
        if !allowed.contains(&self.element) {
            let names: Vec<&str> = allowed.iter().map(|e| e.name()).collect();
            return Err(format!(
                "has type {}, expected {}",
                self.element.name(),
                names.join(" or ")
            ));
        }
        let compressed = base64::engine::general_purpose::STANDARD
            .decode(&self.zlib)
            .map_err(|e| format!("`zlib` is not valid base64 ({e})"))?;
        self.check_ratio(compressed.len() as u64)?;
        let expected = self.decoded_bytes() as usize;
        let mut decoder = flate2::bufread::ZlibDecoder::new(compressed.as_slice());
        let mut bytes = Vec::with_capacity(expected);
        (&mut decoder)
            .take(expected as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("`zlib` is not a valid zlib stream ({e})"))?;
        if bytes.len() > expected {
            return Err(format!(
                "holds more bytes than its {} {} entries take ({expected})",
                self.len,
                self.element.name()
            ));
        }
        if bytes.len() < expected {
            return Err(format!(
                "holds {} bytes, but its {} {} entries take {expected}",
                bytes.len(),
                self.len,
                self.element.name()
            ));
        }
        if !decoder.into_inner().is_empty() {
            return Err("`zlib` has bytes after the end of its zlib stream".into());
        }
        Ok(bytes)
    }

    /// Unsigned integers, of one of the `allowed` types.
    pub(crate) fn decode_unsigned(
        &self,
        allowed: &[Element],
    ) -> std::result::Result<Vec<u32>, String> {
        let bytes = self.bytes(allowed)?;
        Ok(match self.element {
            Element::U8 => bytes.iter().map(|&b| b as u32).collect(),
            Element::U16 => bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32)
                .collect(),
            Element::U32 => bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Element::F64 => unreachable!("`bytes` checked the type"),
        })
    }

    /// Floats (`f64`), every one finite.
    pub(crate) fn decode_finite(&self) -> std::result::Result<Vec<f64>, String> {
        let bytes = self.bytes(&[Element::F64])?;
        let values: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        match values.iter().position(|v| !v.is_finite()) {
            Some(i) => Err(format!("entry {i} is {}, not a finite number", values[i])),
            None => Ok(values),
        }
    }
}

#[cfg(test)]
impl Column {
    /// The base64 text (for tests that damage it).
    pub(crate) fn zlib_text(&self) -> &str {
        &self.zlib
    }

    /// This column with another base64 text.
    pub(crate) fn with_zlib_text(&self, zlib: String) -> Column {
        Column {
            zlib,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_bit_for_bit_in_the_narrowest_type() {
        let small = [0u32, 3, 255];
        let column = Column::unsigned(&small);
        assert_eq!(column.element, Element::U8);
        assert_eq!(column.decode_unsigned(ANY_UNSIGNED).unwrap(), small);
        let wide = [0u32, 65_536, u32::MAX];
        let column = Column::unsigned(&wide);
        assert_eq!(column.element, Element::U32);
        assert_eq!(column.decode_unsigned(ANY_UNSIGNED).unwrap(), wide);
        assert_eq!(Column::unsigned(&[65_535]).element, Element::U16);
        let floats = [0.1, -0.0, 1e-310, f64::MAX, -3.5];
        let back = Column::floats(&floats).decode_finite().unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&floats));
        assert!(Column::floats(&[]).decode_finite().unwrap().is_empty());
    }

    #[test]
    fn damaged_columns_are_refused_with_the_reason() {
        let good = Column::floats(&(0..100).map(|i| i as f64 * 0.37).collect::<Vec<_>>());
        let err = |c: &Column| c.decode_finite().unwrap_err();
        // Wrong type for the column.
        assert!(good
            .decode_unsigned(&[Element::U8])
            .unwrap_err()
            .contains("has type f64, expected u8"));
        // Not base64.
        let mut c = good.clone();
        c.zlib.insert(3, '!');
        assert!(err(&c).contains("not valid base64"));
        // Truncated stream (still valid base64).
        let mut c = good.clone();
        c.zlib.truncate(c.zlib.len() / 8 * 4);
        assert!(err(&c).contains("zlib"), "{}", err(&c));
        // A flipped bit inside the data: the checksum or the stream fails.
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&good.zlib)
            .unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x10;
        let mut c = good.clone();
        c.zlib = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert!(err(&c).contains("not a valid zlib stream"), "{}", err(&c));
        // Lengths that disagree with the data.
        let mut c = good.clone();
        c.len = 99;
        assert!(err(&c).contains("more bytes"), "{}", err(&c));
        c.len = 101;
        assert!(err(&c).contains("800 bytes"), "{}", err(&c));
        c.len = 1 << 40;
        assert!(err(&c).contains("more than its"), "{}", err(&c));
        assert!(c.check_declared().unwrap_err().contains("more than its"));
        good.check_declared().unwrap();
        // Bytes after the stream.
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&good.zlib)
            .unwrap();
        bytes.push(0);
        let mut c = good.clone();
        c.zlib = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert!(err(&c).contains("after the end"), "{}", err(&c));
        // Non-finite values.
        let c = Column::floats(&[1.0, f64::NAN]);
        assert!(err(&c).contains("entry 1 is NaN"), "{}", err(&c));
    }
}
