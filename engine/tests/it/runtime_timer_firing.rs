//! Due timers fired without leases, many at once: each fires exactly once in its own commit,
//! and a timer stored before timers had their own due queue (in the in-process jobs' queue)
//! still fires. The clock is advanced; nothing sleeps.

use crate::rt::*;
use crate::support::doc;
use flyt_engine::ids::InstanceId;
use flyt_engine::runtime::worker::Worker;
use flyt_engine::store::{Unit, layout};
use flyt_engine::testing::consistency;
use flyt_engine::time::Clock;
use std::time::{Duration, Instant};

fn catch_process() -> String {
    doc(r#"<startEvent id="s"/>
<intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>PT15M</timeDuration></timerEventDefinition></intermediateCatchEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
<sequenceFlow id="f2" sourceRef="wait" targetRef="e"/>"#)
}

/// Polls (yielding, never sleeping) until every instance has ended; fails after 20 s.
async fn until_ended(h: &Harness, ids: &[InstanceId]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ended = ids
            .iter()
            .filter(|id| h.rt.instance(**id).is_ok_and(|i| i.is_ended()))
            .count();
        if ended == ids.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ended} of {} instances ended",
            ids.len()
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_timers_due_together_each_fire_once() {
    let h = Harness::new(&catch_process()).await;
    let mut ids = Vec::new();
    for _ in 0..700 {
        ids.push(h.create().await.id);
    }
    assert!(
        h.rt.store()
            .due_jobs(false, h.clock.now().plus(Duration::from_secs(3600)), 10)
            .unwrap()
            .is_empty(),
        "timers are not in the in-process jobs' queue"
    );
    let worker = Worker::spawn(h.rt.clone());
    h.clock.advance(Duration::from_secs(900));
    until_ended(&h, &ids).await;
    for id in &ids {
        let fired = h
            .events(*id)
            .iter()
            .filter(|e| *e == "flyt_TimerFired wait")
            .count();
        assert_eq!(fired, 1, "{id}");
    }
    assert_eq!(h.rt.store().next_due_timer().unwrap(), None);
    let problems = consistency::check(h.rt.store()).unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_timer_stored_in_the_old_due_queue_still_fires() {
    let h = Harness::new(&catch_process()).await;
    let i = h.create().await;
    let job = i.process.armed_timers()[0].1.clone();
    // Where a timer's due entry sat before timers had a class of their own.
    let mut unit = Unit::new();
    unit.delete(layout::due(layout::DUE_TIMER, job.due, job.job));
    unit.put(
        layout::due(layout::DUE_IN_PROCESS, job.due, job.job),
        Vec::new(),
    );
    h.rt.store().backend().apply(&[unit]).unwrap();
    assert_eq!(h.rt.store().next_due_timer().unwrap(), None);

    let worker = Worker::spawn(h.rt.clone());
    h.clock.advance(Duration::from_secs(900));
    until_ended(&h, &[i.id]).await;
    assert_eq!(
        h.rt.store().next_due(false).unwrap(),
        None,
        "its old entry went with it"
    );
    let problems = consistency::check(h.rt.store()).unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    worker.stop(Duration::from_secs(1)).await;
}
