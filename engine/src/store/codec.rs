//! Value encoding: a format byte, an optional revision, then JSON.
//!
//! JSON keeps stored values readable with any tool and lets fields be added without a migration
//! (`#[serde(default)]`); the format byte leaves room for a different encoding later.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The current value format.
pub const FORMAT: u8 = 1;

#[derive(Debug, thiserror::Error)]
#[error("stored value cannot be read: {0}")]
pub struct DecodeError(pub String);

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT];
    // Serialising our own types to a Vec cannot fail (no maps with non-string keys).
    let _ = serde_json::to_writer(&mut out, value);
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => {
            serde_json::from_slice(rest).map_err(|e| DecodeError(e.to_string()))
        }
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
    let _ = serde_json::to_writer(&mut out, value);
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
    let value = serde_json::from_slice(&bytes[9..]).map_err(|e| DecodeError(e.to_string()))?;
    Ok((u64::from_be_bytes(rev), value))
}
