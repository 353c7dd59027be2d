//! The operator's view of an app's pending timers: its schedules (timer start events) and the
//! armed timers of its instances (catch and boundary events), soonest first, in bounded pages.
//!
//! Armed timers are read from the timers' own due index (soonest first), keeping the timer jobs
//! of this app (a timer armed by a server from before that index existed, still waiting in the
//! in-process jobs' index, fires but is not listed here): one page reads at most [`SCAN_BUDGET`] index entries, so a server
//! with a million timers of other apps answers in bounded time (a page may then hold fewer
//! than asked and still carry a cursor).

use super::{Error, Runtime};
use crate::ids::{AppId, ElementId, InstanceId, JobKey, PartyId};
use crate::model::{JobKind, Schedule};
use crate::time::Timestamp;

/// Index entries one page reads at most.
pub const SCAN_BUDGET: usize = 10_000;

/// What a pending timer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerSort {
    /// An intermediate catch event: a token waits at it.
    Catch,
    /// A boundary event on a task.
    Boundary,
}

/// One armed timer of an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTimer {
    pub instance: InstanceId,
    pub party: PartyId,
    pub element: ElementId,
    pub sort: TimerSort,
    /// For boundary events: the task they watch.
    pub attached_to: Option<ElementId>,
    pub due: Timestamp,
    pub job: JobKey,
}

/// Where a page of pending timers continues: after this index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerCursor {
    pub due: Timestamp,
    pub job: JobKey,
}

impl std::fmt::Display for TimerCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.due.millis(), self.job)
    }
}

impl std::str::FromStr for TimerCursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a continuation token of this list");
        let (due, job) = s.split_once('.').ok_or_else(bad)?;
        Ok(TimerCursor {
            due: Timestamp::from_millis(due.parse().map_err(|_| bad())?),
            job: JobKey::from_uuid(uuid::Uuid::parse_str(job).map_err(|_| bad())?),
        })
    }
}

/// A page of an app's pending timers.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTimers {
    /// The app's schedules (all of them: one per timer start event), soonest first.
    pub schedules: Vec<Schedule>,
    pub timers: Vec<PendingTimer>,
    pub next: Option<TimerCursor>,
}

impl Runtime {
    /// A page of at most `limit` armed timers of `app`'s instances after `after`, with the app's
    /// schedules.
    pub fn pending_timers(
        &self,
        app: &AppId,
        after: Option<TimerCursor>,
        limit: usize,
    ) -> Result<PendingTimers, Error> {
        self.app(app)?;
        let schedules = self.schedules(app)?;
        let store = &self.inner.store;
        let mut timers = Vec::new();
        let mut scanned = 0usize;
        let mut from = after;
        let mut last: Option<TimerCursor> = None;
        let mut exhausted = false;
        'scan: while timers.len() < limit && scanned < SCAN_BUDGET {
            let chunk = store.timers_by_due(from.map(|c| (c.due, c.job)), 256)?;
            if chunk.is_empty() {
                exhausted = true;
                break;
            }
            for (due, key) in chunk {
                scanned += 1;
                let here = TimerCursor { due, job: key };
                from = Some(here);
                last = Some(here);
                if let Some(timer) = self.pending_timer(app, key)? {
                    timers.push(timer);
                    if timers.len() == limit {
                        break 'scan;
                    }
                }
                if scanned >= SCAN_BUDGET {
                    break 'scan;
                }
            }
        }
        let next = if exhausted {
            None
        } else {
            // Something may follow: the caller asks again from here (an empty last page is
            // possible when the page ended exactly at the end).
            last
        };
        Ok(PendingTimers {
            schedules,
            timers,
            next,
        })
    }

    fn pending_timer(&self, app: &AppId, key: JobKey) -> Result<Option<PendingTimer>, Error> {
        let store = &self.inner.store;
        let Some((_, job)) = store.job(key)? else {
            return Ok(None);
        };
        if job.kind != JobKind::Timer || &job.app != app {
            return Ok(None);
        }
        let Some(instance) = store.instance(job.instance)? else {
            return Ok(None);
        };
        let found = instance
            .process
            .armed_timers()
            .into_iter()
            .find(|(_, t)| t.job == key)
            .map(|(task, t)| PendingTimer {
                instance: instance.id,
                party: instance.owner.party_id,
                element: t.element.clone(),
                sort: if task.is_some() {
                    TimerSort::Boundary
                } else {
                    TimerSort::Catch
                },
                attached_to: task.map(|task| task.element_id.clone()),
                due: t.due,
                job: key,
            });
        Ok(found)
    }
}
