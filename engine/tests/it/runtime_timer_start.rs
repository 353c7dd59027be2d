//! Timer start events with a manual clock: instances on a schedule, one per tick, owned by the
//! app's service owner; the schedule is durable (a restart on redb fires an overdue tick once and
//! the cycle continues from then), two firings of one tick start one instance, a deploy replaces
//! the schedules, and a process with only timer start events refuses API instantiation.

use crate::rt::*;
use crate::support::{doc, line_of};
use flyt_engine::app::AppSpec;
use flyt_engine::bpmn::{self, Code, Options};
use flyt_engine::hooks::Registry;
use flyt_engine::model::{Instance, InstanceOwner, Party, Schedule};
use flyt_engine::runtime::Error;
use flyt_engine::runtime::worker::Worker;
use flyt_engine::store::Store;
use flyt_engine::time::Clock;
use std::time::{Duration, Instant};

const SERVICE_OWNER: &str = "974760673";

fn process(starts: &str) -> String {
    doc(&format!(
        r#"{starts}
<task id="Report"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
<endEvent id="e"/>
<sequenceFlow id="f2" sourceRef="Report" targetRef="e"/>"#
    ))
}

fn timer_start(id: &str, kind: &str, value: &str) -> String {
    format!(
        r#"<startEvent id="{id}"><timerEventDefinition><{kind}>{value}</{kind}></timerEventDefinition></startEvent>
<sequenceFlow id="from_{id}" sourceRef="{id}" targetRef="Report"/>"#
    )
}

fn none_start() -> String {
    r#"<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="Report"/>"#.into()
}

fn app() -> AppSpec {
    AppSpec::open(app_id()).with_service_owner(Party::organisation(SERVICE_OWNER).unwrap())
}

async fn harness(bpmn: &str, store: Store) -> Harness {
    Harness::with(bpmn, store, Registry::builder().build(), app()).await
}

fn instances(h: &Harness) -> Vec<Instance> {
    let page = h.rt.list_instances(&h.app, None, None, 1000).unwrap();
    page.instances
        .iter()
        .map(|(_, id)| h.rt.instance(*id).unwrap())
        .collect()
}

fn schedule(h: &Harness) -> Option<Schedule> {
    h.rt.schedules(&h.app).unwrap().into_iter().next()
}

/// Polls (yielding, never sleeping) until `check` holds; fails after 10 s of real time.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::task::yield_now().await;
    }
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_cycle_starts_one_instance_per_tick_owned_by_the_service_owner() {
    let bpmn = process(&format!(
        "{}\n{}",
        none_start(),
        timer_start("Hourly", "timeCycle", "R3/PT1H")
    ));
    let h = harness(&bpmn, Store::memory()).await;
    let deployed_at = h.clock.now();
    assert_eq!(
        schedule(&h).map(|s| (s.due, s.remaining)),
        Some((deployed_at.plus(HOUR), Some(2)))
    );
    let worker = Worker::spawn(h.rt.clone());
    // The none start event still takes API instantiation.
    let by_api = h.create().await;
    assert_eq!(by_api.process.start_event.as_ref().unwrap().as_str(), "s");
    for tick in 1..=3usize {
        h.clock.advance(HOUR);
        eventually(&format!("tick {tick}"), || {
            (instances(&h).len() == tick + 1).then_some(())
        })
        .await;
    }
    assert_eq!(
        schedule(&h),
        None,
        "R3: three ticks, then the schedule is gone"
    );
    let scheduled: Vec<Instance> = instances(&h)
        .into_iter()
        .filter(|i| i.id != by_api.id)
        .collect();
    assert_eq!(scheduled.len(), 3);
    for i in &scheduled {
        assert_eq!(
            i.owner,
            InstanceOwner::new(Party::organisation(SERVICE_OWNER).unwrap())
        );
        assert_eq!(i.process.start_event.as_ref().unwrap().as_str(), "Hourly");
        assert_eq!(h.active(i), vec!["Report".to_string()]);
    }
    // Nothing more, however long it waits.
    h.clock.advance(HOUR * 10);
    let (started, next) = h.rt.fire_due_schedules().await.unwrap();
    assert_eq!((started, next), (0, None));
    assert_eq!(instances(&h).len(), 4);
    worker.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn two_firings_of_one_tick_start_one_instance() {
    let bpmn = process(&timer_start("Hourly", "timeCycle", "R/PT1H"));
    let h = harness(&bpmn, Store::memory()).await;
    h.clock.advance(HOUR);
    // Two servers (or a worker pass racing another) look at the same due tick.
    let (a, b) = tokio::join!(h.rt.fire_due_schedules(), h.rt.fire_due_schedules());
    assert_eq!(a.unwrap().0 + b.unwrap().0, 1);
    assert_eq!(instances(&h).len(), 1);
    let s = schedule(&h).unwrap();
    assert_eq!((s.ticks, s.due), (1, h.clock.now().plus(HOUR)));
    assert_eq!(s.last_instance, Some(instances(&h)[0].id));
}

#[tokio::test]
async fn ticks_due_while_down_start_one_instance_after_a_restart_on_redb() {
    let dir = tempfile::tempdir().unwrap();
    let bpmn = process(&timer_start("Hourly", "timeCycle", "R/PT1H"));
    let open = || {
        Store::open(
            flyt_engine::store::open::BackendKind::Redb,
            dir.path(),
            8 << 20,
            flyt_engine::store::group::GroupConfig::default(),
        )
        .unwrap()
    };
    let first_due = {
        let h = harness(&bpmn, open()).await;
        let due = schedule(&h).unwrap().due;
        h.rt.store().shutdown();
        due
    };
    // "Down" for five hours: five ticks fell due; the same file at start-up keeps the schedule.
    let h = harness(&bpmn, open()).await;
    assert_eq!(
        schedule(&h).unwrap().due,
        first_due,
        "the schedule is durable"
    );
    h.clock.advance(HOUR * 5);
    let worker = Worker::spawn(h.rt.clone());
    let s = eventually("the overdue tick", || schedule(&h).filter(|s| s.ticks == 1)).await;
    // Fired once; the cycle goes on from now, not from the missed ticks.
    assert_eq!(s.due, h.clock.now().plus(HOUR));
    assert_eq!(instances(&h).len(), 1);
    worker.stop(Duration::from_secs(1)).await;
    let tick = h.events(instances(&h)[0].id);
    assert_eq!(
        tick.first().map(String::as_str),
        Some("process_StartEvent Hourly")
    );
}

#[tokio::test]
async fn a_deploy_replaces_the_schedules() {
    let h = harness(
        &process(&timer_start("Hourly", "timeCycle", "R/PT1H")),
        Store::memory(),
    )
    .await;
    h.clock.advance(Duration::from_secs(60));
    h.rt.deploy(
        &h.app,
        process(&timer_start("Daily", "timeCycle", "R/P1D")).as_bytes(),
        "test",
    )
    .await
    .unwrap();
    let all = h.rt.schedules(&h.app).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].element.as_str(), "Daily");
    assert_eq!(all[0].due, h.clock.now().plus(HOUR * 24));
    assert_eq!(all[0].definition_version, 2);
    h.rt.deploy(&h.app, process(&none_start()).as_bytes(), "test")
        .await
        .unwrap();
    assert!(h.rt.schedules(&h.app).unwrap().is_empty());
    // A date already past at deploy is never scheduled; a duration fires once after the deploy.
    h.rt.deploy(
        &h.app,
        process(&format!(
            "{}\n{}",
            timer_start("Past", "timeDate", "2020-01-01T00:00:00Z"),
            timer_start("Once", "timeDuration", "PT2H")
        ))
        .as_bytes(),
        "test",
    )
    .await
    .unwrap();
    let all = h.rt.schedules(&h.app).unwrap();
    assert_eq!(
        all.iter()
            .map(|s| (s.element.as_str(), s.due, s.remaining))
            .collect::<Vec<_>>(),
        vec![("Once", h.clock.now().plus(HOUR * 2), Some(0))]
    );
}

#[tokio::test]
async fn only_timer_start_events_refuse_api_instantiation() {
    let h = harness(
        &process(&timer_start(
            "Monthly",
            "timeCycle",
            "R/2027-01-01T00:00:00Z/P1M",
        )),
        Store::memory(),
    )
    .await;
    let err =
        h.rt.create_instance(flyt_engine::runtime::CreateInstance {
            app: h.app.clone(),
            owner: owner(),
            actor: user(),
            data: Default::default(),
            start_event: None,
            idempotency: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::StartsOnSchedule { starts, .. } if starts == &["Monthly".to_string()]),
        "{err:?}"
    );
    let named =
        h.rt.create_instance(flyt_engine::runtime::CreateInstance {
            app: h.app.clone(),
            owner: owner(),
            actor: user(),
            data: Default::default(),
            start_event: Some("Monthly".into()),
            idempotency: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(named, Error::BadRequest(_)), "{named:?}");
    assert!(instances(&h).is_empty());
}

#[tokio::test]
async fn a_timer_start_event_needs_a_service_owner() {
    let rt_app = AppSpec::open(app_id());
    let h = Harness::with(
        &process(&none_start()),
        Store::memory(),
        Registry::builder().build(),
        rt_app,
    )
    .await;
    let err =
        h.rt.deploy(
            &h.app,
            process(&timer_start("Hourly", "timeCycle", "R/PT1H")).as_bytes(),
            "test",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest(m) if m.contains("`Hourly`") && m.contains("service_owner")),
        "{err:?}"
    );
    assert!(h.rt.schedules(&h.app).unwrap().is_empty());
    assert_eq!(
        h.rt.latest_definition(&h.app).unwrap().0,
        1,
        "nothing deployed"
    );
}

#[test]
fn timer_start_validation_is_line_exact() {
    let bad = process(&format!(
        "{}\n{}",
        timer_start("Broken", "timeCycle", "every month"),
        timer_start("Expr", "timeDate", r#"["dataModel", "when"]"#)
    ));
    let rejected = bpmn::compile(bad.as_bytes(), &Options::default()).unwrap_err();
    let at = |element: &str| {
        rejected
            .diagnostics
            .iter()
            .find(|d| d.code == Code::InvalidTimer && d.element_id.as_deref() == Some(element))
            .unwrap_or_else(|| panic!("{element} in {:?}", rejected.diagnostics))
    };
    assert_eq!(at("Broken").pos().line, line_of(&bad, "every month"));
    assert!(at("Broken").message.contains("`every month`"));
    assert_eq!(at("Expr").pos().line, line_of(&bad, "dataModel"));
    assert!(
        at("Expr").message.contains("start event"),
        "{}",
        at("Expr").message
    );
}

#[tokio::test]
async fn operators_see_pending_timers_soonest_first_in_pages() {
    let bpmn = doc(r#"<startEvent id="s"/>
<startEvent id="Hourly"><timerEventDefinition><timeCycle>R/PT1H</timeCycle></timerEventDefinition></startEvent>
<intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>PT2H</timeDuration></timerEventDefinition></intermediateCatchEvent>
<task id="Report"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
<boundaryEvent id="late" attachedToRef="Report"><timerEventDefinition><timeDuration>PT1M</timeDuration></timerEventDefinition></boundaryEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
<sequenceFlow id="f0" sourceRef="Hourly" targetRef="Report"/>
<sequenceFlow id="f2" sourceRef="wait" targetRef="Report"/>
<sequenceFlow id="f3" sourceRef="Report" targetRef="e"/>
<sequenceFlow id="f4" sourceRef="late" targetRef="e"/>"#);
    let h = harness(&bpmn, Store::memory()).await;
    let waiting = h.create().await; // waits at `wait` for two hours
    h.clock.advance(HOUR);
    assert_eq!(h.rt.fire_due_schedules().await.unwrap().0, 1); // at Report, `late` armed
    let now = h.clock.now();
    let page = h.rt.pending_timers(&h.app, None, 1).unwrap();
    assert_eq!(page.schedules.len(), 1);
    assert_eq!(page.schedules[0].due, now.plus(HOUR));
    assert_eq!(page.timers.len(), 1);
    let first = &page.timers[0];
    assert_eq!(
        (
            first.element.as_str(),
            first.sort,
            first.attached_to.as_ref().map(|a| a.as_str()),
            first.due
        ),
        (
            "late",
            flyt_engine::runtime::TimerSort::Boundary,
            Some("Report"),
            now.plus(Duration::from_secs(60))
        )
    );
    let cursor = page.next.expect("more");
    let again: flyt_engine::runtime::TimerCursor = cursor.to_string().parse().unwrap();
    let page = h.rt.pending_timers(&h.app, Some(again), 10).unwrap();
    assert_eq!(page.timers.len(), 1);
    assert_eq!(page.timers[0].instance, waiting.id);
    assert_eq!(page.timers[0].sort, flyt_engine::runtime::TimerSort::Catch);
    assert_eq!(page.timers[0].due, now.plus(HOUR));
    assert!(page.next.is_none());
    assert!("12.x".parse::<flyt_engine::runtime::TimerCursor>().is_err());
}
