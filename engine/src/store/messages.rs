//! Message subscriptions, buffered messages and publish records: their keys, values and the
//! typed reads and writes of them.
//!
//! | tag | key                                                             | value                 |
//! |-----|-----------------------------------------------------------------|-----------------------|
//! | `m` | `m` app `\0` len:u32 name len:u32 key since:u64 instance:16 token:u32 | [`SubscriptionRecord`] |
//! | `b` | `b` app `\0` len:u32 name len:u32 key published:u64 messageId    | [`BufferedMessage`]   |
//! | `n` | `n` app `\0` messageId                                          | [`PublishRecord`]     |
//!
//! Name and key are length-prefixed, so the subscriptions of one (app, name, key) share a
//! prefix and "the oldest open subscription" is the first entry of one range read (they sort
//! by the time they opened, then instance and token). Buffered messages of one (app, name, key)
//! likewise sort oldest first.

use super::backend::{Check, prefix_end};
use super::codec;
use super::layout::with_app;
use super::typed::{Store, StoreError, Txn};
use crate::ids::{AppId, ElementId, InstanceId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

pub const SUBSCRIPTION: u8 = b'm';
pub const BUFFERED: u8 = b'b';
pub const PUBLISHED: u8 = b'n';

/// An open message subscription: a token waiting at a message catch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    pub app: AppId,
    pub message: String,
    pub correlation_key: String,
    pub since: Timestamp,
    pub instance: InstanceId,
    pub token: u32,
    pub element: ElementId,
}

/// A message published while no subscription waited, kept until `expires`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BufferedMessage {
    pub app: AppId,
    pub message: String,
    pub correlation_key: String,
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    pub published: Timestamp,
    pub expires: Timestamp,
}

/// The first answer to a `messageId`, and a fingerprint of the content it was published with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishRecord {
    pub fingerprint: String,
    /// The answer as JSON (`crate::runtime::Published`).
    pub answer: String,
}

fn message_prefix(tag: u8, app: &AppId, name: &str, key: &str) -> Vec<u8> {
    let mut k = with_app(tag, app);
    for part in [name, key] {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        k.extend_from_slice(&len.to_be_bytes());
        k.extend_from_slice(part.as_bytes());
    }
    k
}

/// The key of one subscription.
pub fn subscription_key(s: &SubscriptionRecord) -> Vec<u8> {
    let mut k = message_prefix(SUBSCRIPTION, &s.app, &s.message, &s.correlation_key);
    k.extend_from_slice(
        &u64::try_from(s.since.millis().max(0))
            .unwrap_or(0)
            .to_be_bytes(),
    );
    k.extend_from_slice(s.instance.as_bytes());
    k.extend_from_slice(&s.token.to_be_bytes());
    k
}

fn buffered_key(m: &BufferedMessage) -> Vec<u8> {
    let mut k = message_prefix(BUFFERED, &m.app, &m.message, &m.correlation_key);
    k.extend_from_slice(
        &u64::try_from(m.published.millis().max(0))
            .unwrap_or(0)
            .to_be_bytes(),
    );
    k.extend_from_slice(m.message_id.as_bytes());
    k
}

fn published_key(app: &AppId, message_id: &str) -> Vec<u8> {
    let mut k = with_app(PUBLISHED, app);
    k.extend_from_slice(message_id.as_bytes());
    k
}

fn corrupt(what: &'static str) -> impl Fn(codec::DecodeError) -> StoreError {
    move |e| StoreError::Corrupt { what, detail: e.0 }
}

impl Store {
    fn scan<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &[u8],
        limit: usize,
        what: &'static str,
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        self.backend()
            .range(prefix, &prefix_end(prefix), limit)?
            .into_iter()
            .map(|(k, v)| Ok((k, codec::decode(&v).map_err(corrupt(what))?)))
            .collect()
    }

    /// The open subscriptions for (app, name, key), oldest first, at most `limit`.
    pub fn subscriptions_for(
        &self,
        app: &AppId,
        name: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let prefix = message_prefix(SUBSCRIPTION, app, name, key);
        Ok(self
            .scan(&prefix, limit, "message subscription")?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// Every open subscription of an app (by name and key, then age), at most `limit`.
    pub fn subscriptions_of(
        &self,
        app: &AppId,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let prefix = with_app(SUBSCRIPTION, app);
        Ok(self
            .scan(&prefix, limit, "message subscription")?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// The buffered messages for (app, name, key), oldest first, with their stored bytes (for
    /// the check that consumes one), at most `limit`; expired ones included.
    pub fn buffered_for(
        &self,
        app: &AppId,
        name: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, BufferedMessage)>, StoreError> {
        let prefix = message_prefix(BUFFERED, app, name, key);
        self.backend()
            .range(&prefix, &prefix_end(&prefix), limit)?
            .into_iter()
            .map(|(_, v)| {
                let m = codec::decode(&v).map_err(corrupt("buffered message"))?;
                Ok((v, m))
            })
            .collect()
    }

    /// Every buffered message of an app (by name and key, then age), at most `limit`;
    /// expired ones included.
    pub fn buffered_of(
        &self,
        app: &AppId,
        limit: usize,
    ) -> Result<Vec<BufferedMessage>, StoreError> {
        let prefix = with_app(BUFFERED, app);
        Ok(self
            .scan(&prefix, limit, "buffered message")?
            .into_iter()
            .map(|(_, m)| m)
            .collect())
    }

    /// Buffered messages of every app, in key order, from key `from` (inclusive; empty: the
    /// first), at most `limit`, with their keys: one page of the expiry sweep.
    pub fn buffered_page(
        &self,
        from: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, BufferedMessage)>, StoreError> {
        let family = [BUFFERED];
        let start = if from.is_empty() { &family[..] } else { from };
        self.backend()
            .range(start, &prefix_end(&family), limit)?
            .into_iter()
            .map(|(k, v)| Ok((k, codec::decode(&v).map_err(corrupt("buffered message"))?)))
            .collect()
    }

    /// The record of a `messageId` published to `app`.
    pub fn publish_record(
        &self,
        app: &AppId,
        message_id: &str,
    ) -> Result<Option<PublishRecord>, StoreError> {
        self.backend()
            .get(&published_key(app, message_id))?
            .map(|b| codec::decode(&b))
            .transpose()
            .map_err(corrupt("publish record"))
    }
}

impl Txn {
    /// Opens a subscription.
    pub fn put_subscription(&mut self, s: &SubscriptionRecord) -> &mut Self {
        self.unit_mut().put(subscription_key(s), codec::encode(s));
        self
    }

    /// Closes a subscription (its token moved on or ended).
    pub fn delete_subscription(&mut self, s: &SubscriptionRecord) -> &mut Self {
        self.unit_mut().delete(subscription_key(s));
        self
    }

    /// Buffers a message until it expires.
    pub fn put_buffered(&mut self, m: &BufferedMessage) -> &mut Self {
        self.unit_mut().put(buffered_key(m), codec::encode(m));
        self
    }

    /// Consumes a buffered message: fails the unit unless it is still stored as `stored` (so
    /// two subscriptions opening at once cannot both take it).
    pub fn consume_buffered(&mut self, m: &BufferedMessage, stored: &[u8]) -> &mut Self {
        let key = buffered_key(m);
        self.unit_mut().check(Check::Prefix {
            key: key.clone(),
            prefix: stored.to_vec(),
        });
        self.unit_mut().delete(key);
        self
    }

    /// Removes an expired buffered message (no check: removing it twice is harmless).
    pub fn delete_buffered(&mut self, m: &BufferedMessage) -> &mut Self {
        self.unit_mut().delete(buffered_key(m));
        self
    }

    /// Records the first answer to a `messageId`; fails the unit if the id was used already.
    pub fn put_publish_record(
        &mut self,
        app: &AppId,
        message_id: &str,
        record: &PublishRecord,
    ) -> &mut Self {
        let key = published_key(app, message_id);
        self.unit_mut().check(Check::Absent(key.clone()));
        self.unit_mut().put(key, codec::encode(record));
        self
    }
}
