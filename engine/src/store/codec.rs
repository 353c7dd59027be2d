//! Value encoding: a format byte, an optional revision, then the payload: JSON, or a zstd frame
//! holding JSON.
//!
//! JSON keeps stored values readable with any tool and lets fields be added without a migration
//! (`#[serde(default)]`); the format byte leaves room for a different encoding later.
//!
//! Payloads of at least [`COMPRESS_FROM`] bytes are stored zstd-compressed when that makes them
//! smaller: an instance record shrinks to about half, which is most of what keeps a parked
//! instance under 2 KB on disk. The two are told apart by the zstd magic number: no JSON text
//! starts with its first byte (`(`), so values written before compression existed read as they
//! always did, and a revisioned value still starts with format byte and revision (the
//! optimistic check is a byte-prefix comparison and never looks at the payload).

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;

/// The current value format.
pub const FORMAT: u8 = 1;

/// JSON payloads at least this long are compressed (shorter ones rarely shrink).
pub const COMPRESS_FROM: usize = 256;

/// zstd level: the fastest; higher levels gain a few bytes on values this small.
const LEVEL: i32 = 1;

/// The largest payload a stored frame may claim to expand to, so a damaged value cannot make a
/// read allocate without bound.
const MAX_EXPANDED: u64 = 256 * 1024 * 1024;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

#[derive(Debug, thiserror::Error)]
#[error("stored value cannot be read: {0}")]
pub struct DecodeError(pub String);

thread_local! {
    // Contexts are reused per thread: creating one costs more than compressing a small value.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Appends `value`'s payload to `out`.
fn put_payload<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    let start = out.len();
    // Serialising our own types to a Vec cannot fail (no maps with non-string keys).
    let _ = serde_json::to_writer(&mut *out, value);
    let json_len = out.len() - start;
    if json_len < COMPRESS_FROM {
        return;
    }
    let compressed = COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        c.as_mut()?.compress(&out[start..]).ok()
    });
    if let Some(frame) = compressed
        && frame.len() < json_len
    {
        out.truncate(start);
        out.extend_from_slice(&frame);
    }
}

/// Reads a payload written by [`put_payload`].
fn read_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    if !payload.starts_with(&ZSTD_MAGIC) {
        return serde_json::from_slice(payload).map_err(|e| DecodeError(e.to_string()));
    }
    let size = match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(size)) if size <= MAX_EXPANDED => size,
        Ok(Some(size)) => {
            return Err(DecodeError(format!(
                "a compressed value claims {size} bytes, more than {MAX_EXPANDED}"
            )));
        }
        _ => return Err(DecodeError("a compressed value has no valid size".into())),
    };
    let json = DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new().map_err(|e| DecodeError(e.to_string()))?);
        }
        let d = d
            .as_mut()
            .ok_or_else(|| DecodeError("no zstd context".into()))?;
        #[allow(clippy::cast_possible_truncation)] // bounded by MAX_EXPANDED above
        d.decompress(payload, size as usize)
            .map_err(|e| DecodeError(format!("a compressed value is damaged: {e}")))
    })?;
    serde_json::from_slice(&json).map_err(|e| DecodeError(e.to_string()))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT];
    put_payload(&mut out, value);
    out
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
    put_payload(&mut out, value);
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
        assert!(large[1..].starts_with(&ZSTD_MAGIC));
        assert!(large.len() < serde_json::to_vec(&big()).unwrap().len() / 4);
        assert_eq!(decode::<Value>(&large).unwrap(), big());
        let rev = encode_revisioned(7, &big());
        assert!(rev.starts_with(&revision_prefix(7)));
        assert_eq!(decode_revisioned::<Value>(&rev).unwrap(), (7, big()));
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
    fn a_damaged_or_oversized_frame_is_an_error_not_a_panic() {
        let good = encode(&big());
        let mut damaged = good.clone();
        let n = damaged.len();
        damaged.truncate(n - 5);
        assert!(decode::<Value>(&damaged).is_err());
        let mut flipped = good;
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0xff;
        let _ = decode::<Value>(&flipped); // an error or, rarely, other JSON: never a panic
        // A frame header claiming 1 TiB of content.
        let mut huge = vec![FORMAT];
        huge.extend_from_slice(&ZSTD_MAGIC);
        huge.extend_from_slice(&[0xE0]); // frame header: 8-byte content size, single segment
        huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let e = decode::<Value>(&huge).unwrap_err();
        assert!(e.0.contains("claims") || e.0.contains("size"), "{e}");
    }
}
