//! The on-disk key layout: the one place that decides where everything lives.
//!
//! Every key starts with a one-byte table tag. Integers are big-endian so that byte order is
//! numeric order; ids are their 16 raw bytes; app ids are `org/app` followed by a 0 byte.
//!
//! | tag | key                                         | value                          |
//! |-----|---------------------------------------------|--------------------------------|
//! | `M` | `M` `format`                                | format version (u32 BE)        |
//! | `d` | `d` app                                     | revisioned [`DefinitionHead`]  |
//! | `D` | `D` app `\0` version:u32                    | [`DefinitionRecord`]           |
//! | `I` | `I` instance:16 `0x00`                      | revisioned `Instance`          |
//! | `I` | `I` instance:16 `0x01` seq:u32              | one transition's `HistoryEvent`s, from `seq` |
//! | `I` | `I` instance:16 `0x02` dataType             | the data's JSON                |
//! | `O` | `O` app `\0` party:u64 instance:16          | empty (owner index, listing)   |
//! | `J` | `J` job:16                                  | revisioned `Job`               |
//! | `Q` | `Q` class:u8 due:u64 job:16                 | empty (when to look at a job)  |
//! | `W` | `W` type `\0` app `\0` due:u64 job:16        | empty (external jobs by type and app) |
//! | `K` | `K` app `\0` caller `\0` idempotency key     | `IdempotencyRecord`            |
//! | `X` | `X` job:16                                  | `CancelledJob` (a tombstone)   |
//! | `x` | `x` keep_until:u64 job:16                   | empty (when a tombstone goes)  |
//! | `S` | `S` app `\0` element                        | revisioned `Schedule` (timer start events) |
//! | `m` | `m` app `\0` len name len key since:u64 instance:16 token:u32 | `SubscriptionRecord` ([`super::messages`]) |
//! | `b` | `b` app `\0` len name len key published:u64 messageId | `BufferedMessage` |
//! | `n` | `n` app `\0` messageId                      | `PublishRecord` (first answer) |
//! | `g` | `g` app `\0` len name instance:16 token:u32 element | `SignalSubscription` ([`super::signals`]) |
//! | `G` | `G` app `\0` broadcast:16 [seq:u32]         | `Broadcast` record, then its pending `Delivery`s |
//! | `N` | `N` app `\0` signalId                       | `PublishRecord` (first answer) |
//! | `C` | `C` child:16 kind:u8                        | a pending `CallDelivery` of a call activity ([`super::calls`]) |
//!
//! Everything of one instance shares the prefix `I` + its id, so a transition's writes (the
//! record, new history events, changed data) land on one or two adjacent B-tree leaves instead
//! of three scattered ones: copy-on-write stores (redb) then copy far fewer pages per commit.
//! With time-ordered ids, the instances being worked on cluster at the end of the key space.
//!
//! The due index has a class byte: 0 for jobs run in-process, 1 for jobs run by external
//! workers, 2 for timers, so that each kind of worker scans only its own queue: a million timers
//! falling due together do not stand in front of a service task's job, and the timer firer reads
//! only due timers. Timers written before class 2 existed (they sat in class 0) stay readable:
//! the in-process worker fires one it finds there, and every delete or move of a timer's entry
//! removes both classes' keys ([`due_classes_of`]).
//!
//! External jobs are also indexed by job type and app (`W`, since format 3), so that a worker
//! asking for type Y finds a due Y job at once however many older jobs of other types, or of
//! apps it does not serve, are due before it.
//!
//! Instance ids are UUID v7 (time-ordered), so an owner's instances list oldest first.
//! Values start with a format byte ([`super::codec::FORMAT`]); revisioned values then carry
//! their revision (u64 BE) so that an optimistic check is a byte-prefix comparison.
//!
//! [`DefinitionHead`]: super::DefinitionHead
//! [`DefinitionRecord`]: super::DefinitionRecord

use crate::ids::{AppId, DataTypeId, InstanceId, JobKey, PartyId};
use crate::model::{Job, JobKind};
use crate::time::Timestamp;

pub const META: u8 = b'M';
pub const DEFINITION_HEAD: u8 = b'd';
pub const DEFINITION: u8 = b'D';
pub const INSTANCE: u8 = b'I';
/// Sub-tags under an instance's prefix.
pub const INSTANCE_RECORD: u8 = 0x00;
pub const HISTORY: u8 = 0x01;
pub const DATA: u8 = 0x02;
pub const OWNER_INDEX: u8 = b'O';
pub const JOB: u8 = b'J';
pub const DUE: u8 = b'Q';
pub const IDEMPOTENCY: u8 = b'K';
pub const WORK_QUEUE: u8 = b'W';
pub const SCHEDULE: u8 = b'S';
pub const CANCELLED: u8 = b'X';
pub const CANCELLED_EXPIRY: u8 = b'x';

/// The tombstone of a cancelled job.
pub fn cancelled(key: JobKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(CANCELLED);
    k.extend_from_slice(key.as_bytes());
    k
}

/// When a tombstone may go.
pub fn cancelled_expiry(until: Timestamp, key: JobKey) -> Vec<u8> {
    let mut k = cancelled_expiry_until(until);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The key just past every tombstone expiring before `at`.
pub fn cancelled_expiry_until(at: Timestamp) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.push(CANCELLED_EXPIRY);
    k.extend_from_slice(&u64::try_from(at.millis().max(0)).unwrap_or(0).to_be_bytes());
    k
}

/// Decodes a tombstone-expiry key.
pub fn parse_cancelled_expiry(key: &[u8]) -> Option<(Timestamp, JobKey)> {
    let ms: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    let job: [u8; 16] = key.get(9..25)?.try_into().ok()?;
    let ms = i64::try_from(u64::from_be_bytes(ms)).ok()?;
    Some((Timestamp::from_millis(ms), JobKey::from_bytes(job)))
}

/// A timer start event's schedule.
pub fn schedule(app: &AppId, element: &str) -> Vec<u8> {
    let mut key = with_app(SCHEDULE, app);
    key.extend_from_slice(element.as_bytes());
    key
}

/// The schedules of one app (`Some`) or of every app.
pub fn schedules_of(app: Option<&AppId>) -> Vec<u8> {
    match app {
        Some(app) => with_app(SCHEDULE, app),
        None => vec![SCHEDULE],
    }
}

pub(super) fn with_app(tag: u8, app: &AppId) -> Vec<u8> {
    let app = app.to_string();
    let mut key = Vec::with_capacity(app.len() + 2);
    key.push(tag);
    key.extend_from_slice(app.as_bytes());
    key.push(0);
    key
}

pub fn format_version() -> Vec<u8> {
    b"Mformat".to_vec()
}

pub fn definition_head(app: &AppId) -> Vec<u8> {
    let mut key = with_app(DEFINITION_HEAD, app);
    key.pop();
    key
}

pub fn definition(app: &AppId, version: u32) -> Vec<u8> {
    let mut key = with_app(DEFINITION, app);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

pub fn definitions_of(app: &AppId) -> Vec<u8> {
    with_app(DEFINITION, app)
}

fn instance_prefix(id: InstanceId, sub: u8) -> Vec<u8> {
    let mut key = Vec::with_capacity(24);
    key.push(INSTANCE);
    key.extend_from_slice(id.as_bytes());
    key.push(sub);
    key
}

pub fn instance(id: InstanceId) -> Vec<u8> {
    instance_prefix(id, INSTANCE_RECORD)
}

/// Whether a key under `I` is an instance record (rather than its history or data).
pub fn is_instance_record(key: &[u8]) -> bool {
    key.len() == 18 && key[0] == INSTANCE && key[17] == INSTANCE_RECORD
}

pub fn history(id: InstanceId, seq: u32) -> Vec<u8> {
    let mut key = history_of(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub fn history_of(id: InstanceId) -> Vec<u8> {
    instance_prefix(id, HISTORY)
}

pub fn data(id: InstanceId, data_type: &DataTypeId) -> Vec<u8> {
    let mut key = data_of(id);
    key.extend_from_slice(data_type.as_str().as_bytes());
    key
}

pub fn data_of(id: InstanceId) -> Vec<u8> {
    instance_prefix(id, DATA)
}

pub fn owner_index(app: &AppId, party: PartyId, id: InstanceId) -> Vec<u8> {
    let mut key = owner_index_of(app, Some(party));
    key.extend_from_slice(id.as_bytes());
    key
}

/// All instances of an app (`party` None) or of one owner in it.
pub fn owner_index_of(app: &AppId, party: Option<PartyId>) -> Vec<u8> {
    let mut key = with_app(OWNER_INDEX, app);
    if let Some(party) = party {
        key.extend_from_slice(&party.0.to_be_bytes());
    }
    key
}

/// The instance id at the end of an owner-index key.
pub fn instance_of_owner_key(key: &[u8]) -> Option<InstanceId> {
    let start = key.len().checked_sub(16)?;
    let bytes: [u8; 16] = key.get(start..)?.try_into().ok()?;
    Some(InstanceId::from_bytes(bytes))
}

pub fn job(key: JobKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(JOB);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The due-index class of jobs run in-process (service tasks, events).
pub const DUE_IN_PROCESS: u8 = 0;
/// The due-index class of jobs run by external workers.
pub const DUE_EXTERNAL: u8 = 1;
/// The due-index class of timers.
pub const DUE_TIMER: u8 = 2;

/// The due-index class of a worker's queue (timers aside).
pub fn due_class(external: bool) -> u8 {
    if external {
        DUE_EXTERNAL
    } else {
        DUE_IN_PROCESS
    }
}

/// The due-index class a job is written under.
pub fn due_class_of(job: &Job) -> u8 {
    match job.kind {
        JobKind::Timer => DUE_TIMER,
        _ => due_class(job.external),
    }
}

/// Every class a job's due entry may sit under: a timer written before class 2 existed sits in
/// class 0, so removing a timer's entry removes both keys (deleting an absent key is a no-op).
pub fn due_classes_of(job: &Job) -> &'static [u8] {
    match job.kind {
        JobKind::Timer => &[DUE_TIMER, DUE_IN_PROCESS],
        _ if job.external => &[DUE_EXTERNAL],
        _ => &[DUE_IN_PROCESS],
    }
}

pub fn due(class: u8, at: Timestamp, key: JobKey) -> Vec<u8> {
    let mut k = due_until(class, at);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The start of one class of the due index.
pub fn due_start(class: u8) -> Vec<u8> {
    vec![DUE, class]
}

/// The key just past everything of `class` due before `at`.
pub fn due_until(class: u8, at: Timestamp) -> Vec<u8> {
    let mut k = Vec::with_capacity(26);
    k.push(DUE);
    k.push(class);
    k.extend_from_slice(&u64::try_from(at.millis().max(0)).unwrap_or(0).to_be_bytes());
    k
}

/// Decodes a due-index key.
pub fn parse_due(key: &[u8]) -> Option<(Timestamp, JobKey)> {
    let ms: [u8; 8] = key.get(2..10)?.try_into().ok()?;
    let job: [u8; 16] = key.get(10..26)?.try_into().ok()?;
    let ms = i64::try_from(u64::from_be_bytes(ms)).ok()?;
    Some((Timestamp::from_millis(ms), JobKey::from_bytes(job)))
}

/// An idempotency key of one caller (`Actor::identity`): keys of different callers never meet.
/// The start of the external work queue of one job type and app.
pub fn work_queue_of(job_type: &str, app: &AppId) -> Vec<u8> {
    let app = app.to_string();
    let mut k = Vec::with_capacity(job_type.len() + app.len() + 3 + 24);
    k.push(WORK_QUEUE);
    k.extend_from_slice(job_type.as_bytes());
    k.push(0);
    k.extend_from_slice(app.as_bytes());
    k.push(0);
    k
}

/// An external job in the work queue of its type and app, due at `at`.
pub fn work_queue(job_type: &str, app: &AppId, at: Timestamp, key: JobKey) -> Vec<u8> {
    let mut k = work_queue_of(job_type, app);
    k.extend_from_slice(&u64::try_from(at.millis().max(0)).unwrap_or(0).to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

/// The key just past every entry of one type and app due before `at`.
pub fn work_queue_until(job_type: &str, app: &AppId, at: Timestamp) -> Vec<u8> {
    let mut k = work_queue_of(job_type, app);
    k.extend_from_slice(&u64::try_from(at.millis().max(0)).unwrap_or(0).to_be_bytes());
    k
}

/// Decodes the due time and job of a work-queue key (its last 24 bytes).
pub fn parse_work_queue(key: &[u8]) -> Option<(Timestamp, JobKey)> {
    let start = key.len().checked_sub(24)?;
    let ms: [u8; 8] = key.get(start..start + 8)?.try_into().ok()?;
    let job: [u8; 16] = key.get(start + 8..)?.try_into().ok()?;
    let ms = i64::try_from(u64::from_be_bytes(ms)).ok()?;
    Some((Timestamp::from_millis(ms), JobKey::from_bytes(job)))
}

pub fn idempotency(app: &AppId, caller: &str, key: &str) -> Vec<u8> {
    let mut k = with_app(IDEMPOTENCY, app);
    k.extend_from_slice(caller.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// An idempotency key as stores of format 2 wrote it, shared by every caller of the app. Still
/// read (for its creator only); never written. Keys are visible ASCII, so they hold no 0 byte
/// and cannot be mistaken for a caller-scoped key.
pub fn idempotency_unscoped(app: &AppId, key: &str) -> Vec<u8> {
    let mut k = with_app(IDEMPOTENCY, app);
    k.extend_from_slice(key.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_by_time_and_parse_back() {
        let a = JobKey::new_random();
        let early = due(0, Timestamp::from_millis(5), a);
        let late = due(0, Timestamp::from_millis(300), JobKey::new_random());
        assert!(early < late);
        assert!(early < due_until(0, Timestamp::from_millis(6)));
        assert!(
            due(1, Timestamp::from_millis(0), a) > late,
            "classes do not mix"
        );
        assert_eq!(parse_due(&early), Some((Timestamp::from_millis(5), a)));
    }

    #[test]
    fn work_queue_keys_sort_by_time_within_type_and_app_and_parse_back() {
        let app: AppId = "ttd/a".parse().unwrap();
        let other: AppId = "ttd/a2".parse().unwrap();
        let a = JobKey::new_random();
        let early = work_queue("send", &app, Timestamp::from_millis(5), a);
        let late = work_queue("send", &app, Timestamp::from_millis(300), a);
        assert!(early < late);
        assert!(late < work_queue_until("send", &app, Timestamp::from_millis(301)));
        assert!(
            !work_queue("send", &other, Timestamp::from_millis(1), a)
                .starts_with(&work_queue_of("send", &app))
        );
        assert!(
            !work_queue("sendx", &app, Timestamp::from_millis(1), a)
                .starts_with(&work_queue_of("send", &app))
        );
        assert_eq!(
            parse_work_queue(&early),
            Some((Timestamp::from_millis(5), a))
        );
    }

    #[test]
    fn an_instances_keys_are_adjacent() {
        let id = InstanceId::new_random();
        let (record, event, data_key) = (
            instance(id),
            history(id, 0),
            data(id, &DataTypeId::new("model")),
        );
        assert!(
            is_instance_record(&record)
                && !is_instance_record(&event)
                && !is_instance_record(&data_key)
        );
        assert!(record < event && event < data_key);
        let next = InstanceId::from_bytes({
            let mut b = *id.as_bytes();
            b[15] = b[15].wrapping_add(1);
            b
        });
        if next > id {
            assert!(
                data_key < instance(next),
                "nothing of another instance sits between"
            );
        }
    }

    #[test]
    fn app_prefixes_do_not_overlap() {
        let a: AppId = "ttd/app".parse().unwrap();
        let b: AppId = "ttd/app2".parse().unwrap();
        let id = InstanceId::new_random();
        let key_b = owner_index(&b, PartyId(1), id);
        assert!(!key_b.starts_with(&owner_index_of(&a, None)));
        assert_eq!(instance_of_owner_key(&key_b), Some(id));
    }
}
