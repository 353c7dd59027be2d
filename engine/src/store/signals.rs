//! Signal subscriptions, broadcasts and their pending deliveries, and `signalId` records: keys,
//! values, and the typed reads and writes of them.
//!
//! | tag | key                                                          | value                 |
//! |-----|--------------------------------------------------------------|-----------------------|
//! | `g` | `g` app `\0` len:u32 name instance:16 token:u32 element      | [`SignalSubscription`] |
//! | `G` | `G` app `\0` broadcast:16                                    | [`Broadcast`]         |
//! | `G` | `G` app `\0` broadcast:16 seq:u32                            | [`Delivery`]          |
//! | `N` | `N` app `\0` signalId                                        | [`PublishRecord`] (first answer) |
//!
//! The subscriptions of one (app, name) share a prefix: a broadcast reads them with one range
//! read. A broadcast's record and its deliveries share the broadcast's prefix (the record
//! first); each delivery is deleted in the commit that delivers it, and the record with the
//! last one, so what is left under `G` after a crash is exactly what is still to deliver.

use super::backend::{Check, prefix_end};
use super::codec;
use super::layout::with_app;
use super::messages::PublishRecord;
use super::typed::{Store, StoreError, Txn};
use crate::ids::{AppId, BroadcastId, ElementId, InstanceId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

pub const SUBSCRIPTION: u8 = b'g';
pub const BROADCAST: u8 = b'G';
pub const SIGNAL_ID: u8 = b'N';

/// An open signal subscription: a token waiting at a signal catch event (`token` is the
/// token), or a signal boundary event armed on a task (`token` is the task's token) or on a
/// sub-process (`token` is the scope instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignalSubscription {
    pub app: AppId,
    pub signal: String,
    pub instance: InstanceId,
    pub token: u32,
    /// The catch or boundary event.
    pub element: ElementId,
}

/// One signal thrown by an instance or published through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Broadcast {
    pub id: BroadcastId,
    pub app: AppId,
    pub signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    pub thrown: Timestamp,
    /// Who published it through the API (`None`: thrown by an instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<crate::model::Actor>,
    /// The instance whose throw event threw it (`None`: published through the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thrown_by: Option<InstanceId>,
    /// How many deliveries it was written with.
    pub deliveries: u32,
}

/// Where one delivery of a broadcast goes: a subscription open when it was thrown, or a
/// signal start event (a new instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "camelCase")]
pub enum Target {
    Subscription(SignalSubscription),
    #[serde(rename_all = "camelCase")]
    Start {
        element: ElementId,
    },
}

/// One pending delivery of a broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub broadcast: BroadcastId,
    pub app: AppId,
    pub seq: u32,
    pub target: Target,
}

fn name_prefix(app: &AppId, name: &str) -> Vec<u8> {
    let mut k = with_app(SUBSCRIPTION, app);
    let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

fn subscription_key(s: &SignalSubscription) -> Vec<u8> {
    let mut k = name_prefix(&s.app, &s.signal);
    k.extend_from_slice(s.instance.as_bytes());
    k.extend_from_slice(&s.token.to_be_bytes());
    k.extend_from_slice(s.element.as_str().as_bytes());
    k
}

fn broadcast_key(app: &AppId, id: BroadcastId) -> Vec<u8> {
    let mut k = with_app(BROADCAST, app);
    k.extend_from_slice(id.as_bytes());
    k
}

fn delivery_key(d: &Delivery) -> Vec<u8> {
    let mut k = broadcast_key(&d.app, d.broadcast);
    k.extend_from_slice(&d.seq.to_be_bytes());
    k
}

fn signal_id_key(app: &AppId, signal_id: &str) -> Vec<u8> {
    let mut k = with_app(SIGNAL_ID, app);
    k.extend_from_slice(signal_id.as_bytes());
    k
}

fn corrupt(what: &'static str) -> impl Fn(codec::DecodeError) -> StoreError {
    move |e| StoreError::Corrupt { what, detail: e.0 }
}

/// What is left of one broadcast: its record and its pending deliveries with their stored
/// bytes (for the check that consumes one).
#[derive(Debug, Clone)]
pub struct PendingBroadcast {
    pub broadcast: Broadcast,
    pub deliveries: Vec<(Vec<u8>, Delivery)>,
}

impl Store {
    /// The open subscriptions of `signal` in `app`, at most `limit`.
    pub fn signal_subscriptions_for(
        &self,
        app: &AppId,
        signal: &str,
        limit: usize,
    ) -> Result<Vec<SignalSubscription>, StoreError> {
        let prefix = name_prefix(app, signal);
        self.backend()
            .range(&prefix, &prefix_end(&prefix), limit)?
            .into_iter()
            .map(|(_, v)| codec::decode(&v).map_err(corrupt("signal subscription")))
            .collect()
    }

    /// Every open signal subscription of an app (by name, then instance), at most `limit`.
    pub fn signal_subscriptions_of(
        &self,
        app: &AppId,
        limit: usize,
    ) -> Result<Vec<SignalSubscription>, StoreError> {
        let prefix = with_app(SUBSCRIPTION, app);
        self.backend()
            .range(&prefix, &prefix_end(&prefix), limit)?
            .into_iter()
            .map(|(_, v)| codec::decode(&v).map_err(corrupt("signal subscription")))
            .collect()
    }

    /// A broadcast still being delivered, with its pending deliveries (`None`: delivered).
    pub fn pending_broadcast(
        &self,
        app: &AppId,
        id: BroadcastId,
    ) -> Result<Option<PendingBroadcast>, StoreError> {
        let prefix = broadcast_key(app, id);
        let mut rows = self
            .backend()
            .range(&prefix, &prefix_end(&prefix), usize::MAX)?
            .into_iter();
        let Some((k, v)) = rows.next() else {
            return Ok(None);
        };
        if k != prefix {
            return Err(StoreError::Corrupt {
                what: "signal broadcast",
                detail: format!("broadcast {id} has deliveries but no record"),
            });
        }
        let broadcast = codec::decode(&v).map_err(corrupt("signal broadcast"))?;
        let deliveries = rows
            .map(|(_, v)| {
                let d = codec::decode(&v).map_err(corrupt("signal delivery"))?;
                Ok((v, d))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(PendingBroadcast {
            broadcast,
            deliveries,
        }))
    }

    /// The broadcasts of every app still being delivered (oldest first), at most `limit`.
    pub fn pending_broadcasts(
        &self,
        limit: usize,
    ) -> Result<Vec<(AppId, BroadcastId)>, StoreError> {
        let mut out = Vec::new();
        for (k, v) in self
            .backend()
            .range(&[BROADCAST], &[BROADCAST + 1], usize::MAX)?
        {
            if out.len() >= limit {
                break;
            }
            // A record's key ends with the broadcast id right after the app's 0 byte; a
            // delivery's has its sequence number after that.
            let is_record = k
                .iter()
                .position(|&b| b == 0)
                .is_some_and(|z| k.len() == z + 1 + 16);
            if is_record {
                let b: Broadcast = codec::decode(&v).map_err(corrupt("signal broadcast"))?;
                out.push((b.app, b.id));
            }
        }
        Ok(out)
    }

    /// The first answer to a `signalId` published to `app`.
    pub fn signal_id_record(
        &self,
        app: &AppId,
        signal_id: &str,
    ) -> Result<Option<PublishRecord>, StoreError> {
        self.backend()
            .get(&signal_id_key(app, signal_id))?
            .map(|b| codec::decode(&b))
            .transpose()
            .map_err(corrupt("signal id record"))
    }
}

impl Txn {
    /// Opens a signal subscription.
    pub fn put_signal_subscription(&mut self, s: &SignalSubscription) -> &mut Self {
        self.unit_mut().put(subscription_key(s), codec::encode(s));
        self
    }

    /// Closes a signal subscription.
    pub fn delete_signal_subscription(&mut self, s: &SignalSubscription) -> &mut Self {
        self.unit_mut().delete(subscription_key(s));
        self
    }

    /// Writes a broadcast's record and its deliveries.
    pub fn put_broadcast(&mut self, b: &Broadcast, deliveries: &[Delivery]) -> &mut Self {
        self.unit_mut()
            .put(broadcast_key(&b.app, b.id), codec::encode(b));
        for d in deliveries {
            self.unit_mut().put(delivery_key(d), codec::encode(d));
        }
        self
    }

    /// Consumes a delivery: fails the unit unless it is still stored as `stored` (so it is
    /// delivered once however many deliverers race or resume).
    pub fn consume_delivery(&mut self, d: &Delivery, stored: &[u8]) -> &mut Self {
        let key = delivery_key(d);
        self.unit_mut().check(Check::Prefix {
            key: key.clone(),
            prefix: stored.to_vec(),
        });
        self.unit_mut().delete(key);
        self
    }

    /// Removes a broadcast's record (with its last delivery, or when it has none).
    pub fn delete_broadcast(&mut self, app: &AppId, id: BroadcastId) -> &mut Self {
        self.unit_mut().delete(broadcast_key(app, id));
        self
    }

    /// Records the first answer to a `signalId`; fails the unit if the id was used already.
    pub fn put_signal_id_record(
        &mut self,
        app: &AppId,
        signal_id: &str,
        record: &PublishRecord,
    ) -> &mut Self {
        let key = signal_id_key(app, signal_id);
        self.unit_mut().check(Check::Absent(key.clone()));
        self.unit_mut().put(key, codec::encode(record));
        self
    }
}
