//! Value encoding: a format byte, an optional revision, then the payload: JSON, or JSON
//! compressed with LZ4.
//!
//! JSON keeps stored values readable with any tool and lets fields be added without a migration
//! (`#[serde(default)]`); the format byte leaves room for a different encoding later.
//!
//! Payloads of at least [`COMPRESS_FROM`] bytes are stored LZ4-compressed when that makes them
//! smaller: an instance record shrinks by about 40%, which keeps a parked instance well under
//! 2 KB on disk. A compressed payload starts with a 0 byte, which no JSON text does, so values
//! written before compression existed read as they always did, and a revisioned value still
//! starts with format byte and revision (the optimistic check is a byte-prefix comparison and
//! never looks at the payload).
//!
//! LZ4 rather than zstd: on these small values zstd (level 1) saves another ~100 bytes per
//! record but costs 4× the CPU to compress and 7× to decompress, which showed as a fifth of
//! the workers' time in the in-process benchmark (see BENCHMARKS.md).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The current value format.
pub const FORMAT: u8 = 1;

/// JSON payloads at least this long are compressed (shorter ones rarely shrink).
pub const COMPRESS_FROM: usize = 256;

/// First byte of a compressed payload; then the JSON length (u32, little-endian), then an LZ4
/// block.
const COMPRESSED: u8 = 0;

/// The largest payload a compressed value may claim to expand to, so a damaged value cannot
/// make a read allocate without bound.
const MAX_EXPANDED: usize = 256 * 1024 * 1024;

/// An LZ4 block expands at most about 255-fold; a claimed length beyond that is damage.
const MAX_RATIO: usize = 255;

/// The zstd frame magic. For about an hour of development (never released) values were
/// zstd-compressed; such a value is named as what it is rather than reported as bad JSON.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

#[derive(Debug, thiserror::Error)]
#[error("stored value cannot be read: {0}")]
pub struct DecodeError(pub String);

/// Appends `value`'s payload to `out`; returns the length of its JSON (before compression).
fn put_payload<T: Serialize>(out: &mut Vec<u8>, value: &T) -> usize {
    let start = out.len();
    // Serialising our own types to a Vec cannot fail (no maps with non-string keys).
    let _ = serde_json::to_writer(&mut *out, value);
    let json_len = out.len() - start;
    let Ok(len) = u32::try_from(json_len) else {
        return json_len; // over 4 GiB: stays plain (and no store takes values that large anyway)
    };
    if !(COMPRESS_FROM..=MAX_EXPANDED).contains(&json_len) {
        return json_len; // too short to shrink, or too long to be read back compressed: plain
    }
    let block = lz4_flex::block::compress(&out[start..]);
    if block.len() + 5 < json_len {
        out.truncate(start);
        out.push(COMPRESSED);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&block);
    }
    json_len
}

/// Reads a payload written by [`put_payload`].
fn read_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    let Some((&COMPRESSED, rest)) = payload.split_first() else {
        if payload.starts_with(&ZSTD_MAGIC) {
            return Err(DecodeError(
                "a zstd-compressed value, written by an unreleased development build of flyt; \
                 this build reads plain and LZ4-compressed values only: recreate the store"
                    .into(),
            ));
        }
        return serde_json::from_slice(payload).map_err(|e| DecodeError(e.to_string()));
    };
    let (len, block) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| DecodeError("a compressed value is truncated".into()))?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_EXPANDED || len > block.len().saturating_mul(MAX_RATIO) + 16 {
        return Err(DecodeError(format!(
            "a compressed value of {} bytes claims {len} bytes expanded (at most {MAX_EXPANDED}, \
             and at most {MAX_RATIO}-fold)",
            block.len()
        )));
    }
    let json = lz4_flex::block::decompress(block, len)
        .map_err(|e| DecodeError(format!("a compressed value is damaged: {e}")))?;
    if json.len() != len {
        return Err(DecodeError(format!(
            "a compressed value is damaged: it claims {len} bytes and expands to {}",
            json.len()
        )));
    }
    serde_json::from_slice(&json).map_err(|e| DecodeError(e.to_string()))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    encode_sized(value).0
}

/// [`encode`], also returning the length of the value's JSON (what a data element's `size`
/// reports), so a caller needing both serialises once.
pub fn encode_sized<T: Serialize>(value: &T) -> (Vec<u8>, usize) {
    let mut out = vec![FORMAT];
    let json_len = put_payload(&mut out, value);
    (out, json_len)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => read_payload(rest),
        Some((other, _)) => Err(DecodeError(format!("unknown value format {other}"))),
        None => Err(DecodeError("empty value".into())),
    }
}

/// The bytes a revisioned value starts with; used as a `Check::Prefix`.
pub fn revision_prefix(revision: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    out.push(FORMAT);
    out.extend_from_slice(&revision.to_be_bytes());
    out
}

pub fn encode_revisioned<T: Serialize>(revision: u64, value: &T) -> Vec<u8> {
    let mut out = revision_prefix(revision);
    let _json_len = put_payload(&mut out, value);
    out
}

pub fn decode_revisioned<T: DeserializeOwned>(bytes: &[u8]) -> Result<(u64, T), DecodeError> {
    if bytes.first() != Some(&FORMAT) {
        return Err(DecodeError(format!(
            "unknown value format {:?}",
            bytes.first()
        )));
    }
    let rev: [u8; 8] = bytes
        .get(1..9)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| DecodeError("truncated revision".into()))?;
    let value = read_payload(&bytes[9..])?;
    Ok((u64::from_be_bytes(rev), value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn big() -> Value {
        json!({"text": "a claim for a train ticket ".repeat(40), "amount": 120})
    }

    #[test]
    fn small_values_stay_plain_json_and_large_ones_shrink() {
        let small = encode(&json!({"amount": 1}));
        assert_eq!(&small[1..], br#"{"amount":1}"#);
        let large = encode(&big());
        assert_eq!(large[1], COMPRESSED);
        assert!(large.len() < serde_json::to_vec(&big()).unwrap().len() / 4);
        assert_eq!(decode::<Value>(&large).unwrap(), big());
        let (sized, json_len) = encode_sized(&big());
        assert_eq!(sized, large);
        assert_eq!(json_len, serde_json::to_vec(&big()).unwrap().len());
        assert_eq!(encode_sized(&json!({"amount": 1})).1, 12);
        let rev = encode_revisioned(7, &big());
        assert!(rev.starts_with(&revision_prefix(7)));
        assert_eq!(decode_revisioned::<Value>(&rev).unwrap(), (7, big()));
    }

    #[test]
    fn incompressible_values_stay_plain() {
        // xorshift noise over 64 symbols: practically no 4-byte repeats for LZ4 to use.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let noise: String = (0..400)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(alphabet[(x % 64) as usize])
            })
            .collect();
        let v = json!(noise);
        let encoded = encode(&v);
        assert_ne!(encoded[1], COMPRESSED, "noise was stored compressed");
        assert_eq!(&encoded[1..], serde_json::to_vec(&v).unwrap().as_slice());
        assert_eq!(decode::<Value>(&encoded).unwrap(), v);
    }

    #[test]
    fn a_zstd_value_from_the_development_build_is_named() {
        let mut old = vec![FORMAT];
        old.extend_from_slice(&ZSTD_MAGIC);
        old.extend_from_slice(&[0x20, 0x05, 0x29, 0x00]);
        let e = decode::<Value>(&old).unwrap_err();
        assert!(e.0.contains("zstd"), "{e}");
    }

    #[test]
    fn a_length_that_does_not_match_the_block_is_damage() {
        let good = encode(&big());
        let claimed = u32::from_le_bytes(good[2..6].try_into().unwrap());
        let mut longer = good.clone();
        longer[2..6].copy_from_slice(&(claimed + 1).to_le_bytes());
        assert!(decode::<Value>(&longer).is_err());
        let mut bigger = good.clone();
        bigger[2..6].copy_from_slice(&(200u32 << 20).to_le_bytes());
        let e = decode::<Value>(&bigger).unwrap_err();
        assert!(e.0.contains("fold"), "{e}");
    }

    #[test]
    fn values_written_before_compression_still_read() {
        let mut old = vec![FORMAT];
        old.extend(serde_json::to_vec(&big()).unwrap());
        assert_eq!(decode::<Value>(&old).unwrap(), big());
        let mut old = revision_prefix(3);
        old.extend(serde_json::to_vec(&big()).unwrap());
        assert_eq!(decode_revisioned::<Value>(&old).unwrap(), (3, big()));
    }

    #[test]
    fn a_damaged_or_oversized_value_is_an_error_not_a_panic() {
        let good = encode(&big());
        for cut in [2, 5, 6, good.len() / 2, good.len() - 1] {
            assert!(decode::<Value>(&good[..cut]).is_err(), "cut at {cut}");
        }
        for i in 2..good.len() {
            let mut flipped = good.clone();
            flipped[i] ^= 0xff;
            let _ = decode::<Value>(&flipped); // an error or other JSON: never a panic
        }
        let mut huge = vec![FORMAT, COMPRESSED];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0x10, b'x']);
        let e = decode::<Value>(&huge).unwrap_err();
        assert!(e.0.contains("claims"), "{e}");
    }
}
