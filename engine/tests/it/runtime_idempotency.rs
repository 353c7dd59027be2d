//! Idempotency keys are per caller, and keys written before that (format 2, shared by every
//! caller of an app) still replay for the caller that used them, and for nobody else.

use crate::rt::*;
use crate::support::doc;
use flyt_engine::model::{Actor, InstanceOwner, Party};
use flyt_engine::runtime::{CreateInstance, Error};
use flyt_engine::store::{Unit, layout};
use std::collections::BTreeMap;

fn process() -> String {
    doc(r#"<startEvent id="s"/>
<task id="t"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<sequenceFlow id="f2" sourceRef="t" targetRef="e"/>"#)
}

fn request(actor: Actor, pid: &str, key: &str, hash: &str) -> CreateInstance {
    CreateInstance {
        app: app_id(),
        owner: InstanceOwner::new(Party::person(pid).unwrap()),
        actor,
        data: BTreeMap::new(),
        start_event: None,
        idempotency: Some((key.into(), hash.into())),
    }
}

#[tokio::test]
async fn the_same_key_from_two_callers_makes_two_instances() {
    let h = Harness::new(&process()).await;
    let (alice, bob) = (Actor::user("01017012345"), Actor::user("02027012345"));
    let a =
        h.rt.create_instance(request(alice.clone(), "01017012345", "k", "h1"))
            .await
            .unwrap();
    let b =
        h.rt.create_instance(request(bob.clone(), "02027012345", "k", "h2"))
            .await
            .unwrap();
    assert!(a.created && b.created);
    assert_ne!(a.instance.id, b.instance.id);
    let again =
        h.rt.create_instance(request(alice.clone(), "01017012345", "k", "h1"))
            .await
            .unwrap();
    assert_eq!((again.created, again.instance.id), (false, a.instance.id));
    let clash =
        h.rt.create_instance(request(alice, "01017012345", "k", "other"))
            .await;
    assert!(
        matches!(clash, Err(Error::IdempotencyKeyReused(_))),
        "{clash:?}"
    );
}

#[tokio::test]
async fn a_key_stored_before_keys_were_per_caller_replays_only_for_its_creator() {
    let h = Harness::new(&process()).await;
    let alice = Actor::user("01017012345");
    let first =
        h.rt.create_instance(request(alice.clone(), "01017012345", "old", "h"))
            .await
            .unwrap();
    // Rewrite the record the way a format-2 store holds it: unscoped.
    let backend = h.rt.store().backend().clone();
    let scoped = layout::idempotency(&app_id(), &alice.identity(), "old");
    let value = backend.get(&scoped).unwrap().expect("the scoped record");
    let mut unit = Unit::new();
    unit.delete(scoped);
    unit.put(layout::idempotency_unscoped(&app_id(), "old"), value);
    backend.apply(&[unit]).unwrap();

    let replay =
        h.rt.create_instance(request(alice, "01017012345", "old", "h"))
            .await
            .unwrap();
    assert_eq!(
        (replay.created, replay.instance.id),
        (false, first.instance.id)
    );
    let bob = Actor::user("02027012345");
    let bobs =
        h.rt.create_instance(request(bob, "02027012345", "old", "other"))
            .await
            .unwrap();
    assert!(bobs.created, "another caller's old key is not Bob's");
    assert_ne!(bobs.instance.id, first.instance.id);
}
