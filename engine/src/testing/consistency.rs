//! Checks that a store is internally consistent: every instance exactly before or after a
//! transition (history and state agree, every waiting service task has its job, every job and
//! due-index entry belongs to something), used after crashes.

use crate::ids::InstanceId;
use crate::model::{EventType, Instance, JobState, TokenAt};
use crate::store::backend::prefix_end;
use crate::store::{Store, codec, layout};
use std::collections::{BTreeMap, BTreeSet};

/// Every inconsistency found (empty when the store is consistent).
pub fn check(store: &Store) -> Result<Vec<String>, crate::store::StoreError> {
    let backend = store_backend(store);
    let mut problems = Vec::new();
    let mut instances: BTreeMap<InstanceId, Instance> = BTreeMap::new();
    let start = vec![layout::INSTANCE];
    for (key, value) in backend.range(&start, &prefix_end(&start), usize::MAX)? {
        if !layout::is_instance_record(&key) {
            continue; // history and data live under the same prefix
        }
        match codec::decode_revisioned::<Instance>(&value) {
            Ok((rev, instance)) => {
                if rev != instance.version {
                    problems.push(format!(
                        "{}: header revision {rev} != version {}",
                        instance.id, instance.version
                    ));
                }
                instances.insert(instance.id, instance);
            }
            Err(e) => problems.push(format!("undecodable instance at {key:?}: {e}")),
        }
    }
    for instance in instances.values() {
        check_instance(store, instance, &mut problems)?;
    }
    // Jobs: each belongs to a waiting token, and the due index agrees with its state.
    let jobs_start = vec![layout::JOB];
    let mut due_expected = BTreeSet::new();
    let mut work_expected = BTreeSet::new();
    for (_, value) in backend.range(&jobs_start, &prefix_end(&jobs_start), usize::MAX)? {
        let Ok((_, job)) = codec::decode_revisioned::<crate::model::Job>(&value) else {
            problems.push("undecodable job".into());
            continue;
        };
        match instances.get(&job.instance) {
            None => problems.push(format!(
                "job {} belongs to missing instance {}",
                job.key, job.instance
            )),
            Some(i) => {
                let waiting = i.process.job_tokens().any(|(_, _, k)| k == job.key);
                if !waiting {
                    problems.push(format!(
                        "job {} is orphaned: instance {} has no token waiting on it",
                        job.key, i.id
                    ));
                }
            }
        }
        if let Some(due) = job.due() {
            due_expected.insert(layout::due(layout::due_class_of(&job), due, job.key));
            if job.external {
                work_expected.insert(layout::work_queue(&job.task_type, &job.app, due, job.key));
            }
        }
        if job.state == JobState::Incident {
            let raised = instances
                .get(&job.instance)
                .is_some_and(|i| i.process.incidents.iter().any(|x| x.job == job.key));
            if !raised {
                problems.push(format!(
                    "job {} is in incident but its instance shows none",
                    job.key
                ));
            }
        }
    }
    let due_start = vec![layout::DUE];
    let due_found: BTreeSet<Vec<u8>> = backend
        .range(&due_start, &prefix_end(&due_start), usize::MAX)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for missing in due_expected.difference(&due_found) {
        problems.push(format!(
            "due-index entry missing for job {:?}",
            layout::parse_due(missing)
        ));
    }
    for extra in due_found.difference(&due_expected) {
        problems.push(format!(
            "due-index entry without a job: {:?}",
            layout::parse_due(extra)
        ));
    }
    let work_start = vec![layout::WORK_QUEUE];
    let work_found: BTreeSet<Vec<u8>> = backend
        .range(&work_start, &prefix_end(&work_start), usize::MAX)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for missing in work_expected.difference(&work_found) {
        problems.push(format!(
            "work-queue entry missing for job {:?}",
            layout::parse_work_queue(missing)
        ));
    }
    for extra in work_found.difference(&work_expected) {
        problems.push(format!(
            "work-queue entry without a job: {:?}",
            layout::parse_work_queue(extra)
        ));
    }
    Ok(problems)
}

fn check_instance(
    store: &Store,
    instance: &Instance,
    problems: &mut Vec<String>,
) -> Result<(), crate::store::StoreError> {
    let id = instance.id;
    let history = store.history(id, 0, usize::MAX)?;
    if history.len() != instance.history_len as usize {
        problems.push(format!(
            "{id}: {} history events stored, history_len is {}",
            history.len(),
            instance.history_len
        ));
    }
    for (i, event) in history.iter().enumerate() {
        if event.seq as usize != i {
            problems.push(format!(
                "{id}: history gap at {i} (found seq {})",
                event.seq
            ));
            break;
        }
    }
    // Replaying history gives the active tasks; they must be exactly the task tokens.
    let mut open: BTreeMap<String, i64> = BTreeMap::new();
    let mut ended = false;
    for event in &history {
        let Some(el) = event.element_id.as_ref().map(|e| e.to_string()) else {
            continue;
        };
        match event.event_type {
            EventType::StartTask => *open.entry(el).or_default() += 1,
            EventType::EndTask | EventType::AbandonTask => *open.entry(el).or_default() -= 1,
            EventType::EndEvent => ended = true,
            _ => {}
        }
    }
    let mut from_history: Vec<String> = open
        .into_iter()
        .flat_map(|(k, n)| std::iter::repeat_n(k, usize::try_from(n.max(0)).unwrap_or(0)))
        .collect();
    from_history.sort();
    let mut from_tokens: Vec<String> = instance
        .process
        .active_tasks()
        .map(|t| t.element_id.to_string())
        .collect();
    from_tokens.sort();
    if from_history != from_tokens {
        problems.push(format!(
            "{id}: history says tasks {from_history:?} are active, tokens say {from_tokens:?}"
        ));
    }
    if ended != instance.process.ended.is_some() {
        problems.push(format!(
            "{id}: history ended={ended}, state ended={}",
            instance.process.ended.is_some()
        ));
    }
    for token in &instance.process.tokens {
        if let TokenAt::ServiceTask { job, task } = &token.at {
            match store.job(*job)? {
                None => problems.push(format!(
                    "{id}: waits at {} on job {job}, which does not exist (lost job)",
                    task.element_id
                )),
                Some((_, j)) if j.instance != id || j.element_id != task.element_id => {
                    problems.push(format!(
                        "{id}: job {job} belongs to {}/{}",
                        j.instance, j.element_id
                    ));
                }
                Some(_) => {}
            }
        }
    }
    // A token at a call activity: its child exists, or its `Start` record is still pending.
    for token in &instance.process.tokens {
        if let TokenAt::Call { child, element, .. } = &token.at
            && store.instance(*child)?.is_none()
        {
            let pending = store.pending_calls(usize::MAX)?.into_iter().any(|(_, d)| {
                matches!(d, crate::store::calls::CallDelivery::Start { child: c, .. } if c == *child)
            });
            if !pending {
                problems.push(format!(
                    "{id}: waits at call activity {element} for child {child}, which neither exists nor is pending (lost child)"
                ));
            }
        }
    }
    for data_type in instance.data.keys() {
        if store.data(id, data_type)?.is_none() {
            problems.push(format!("{id}: data `{data_type}` is listed but missing"));
        }
    }
    Ok(())
}

fn store_backend(store: &Store) -> std::sync::Arc<dyn crate::store::Backend> {
    store.backend().clone()
}
