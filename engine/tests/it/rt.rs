//! A harness for runtime tests: a runtime on a chosen store, an app, a deployed definition.
#![allow(dead_code)]

use flyt_engine::app::AppSpec;
use flyt_engine::hooks::{HandlerConfig, Registry};
use flyt_engine::ids::{AppId, InstanceId};
use flyt_engine::model::{Actor, Instance, InstanceOwner, Party};
use flyt_engine::runtime::{CreateInstance, Error, Next, Runtime, RuntimeConfig};
use flyt_engine::store::Store;
use flyt_engine::time::{Clock, ManualClock, Timestamp};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Harness {
    pub rt: Runtime,
    pub app: AppId,
    pub clock: ManualClock,
}

pub fn app_id() -> AppId {
    "ttd/test".parse().unwrap()
}

pub fn user() -> Actor {
    Actor::user("01017012345")
}

/// The elements of the instance's active scopes (embedded and event sub-processes).
pub fn scope_elements(i: &Instance) -> Vec<String> {
    i.process
        .scopes
        .iter()
        .map(|s| s.element.to_string())
        .collect()
}

pub fn owner() -> InstanceOwner {
    InstanceOwner::new(Party::person("01017012345").unwrap())
}

impl Harness {
    pub async fn new(bpmn: &str) -> Harness {
        Self::with(
            bpmn,
            Store::memory(),
            Registry::builder().build(),
            AppSpec::open(app_id()),
        )
        .await
    }

    pub async fn with(bpmn: &str, store: Store, registry: Registry, app: AppSpec) -> Harness {
        Self::with_config(bpmn, store, registry, app, RuntimeConfig::default()).await
    }

    /// As [`Harness::with`], with a runtime configuration of the test's own.
    pub async fn with_config(
        bpmn: &str,
        store: Store,
        registry: Registry,
        app: AppSpec,
        config: RuntimeConfig,
    ) -> Harness {
        let clock = ManualClock::new(Timestamp::from_millis(1_764_000_000_000));
        let rt = Runtime::with(
            store,
            registry,
            Arc::new(clock.clone()) as Arc<dyn Clock>,
            config,
        );
        let id = app.id.clone();
        rt.register_app(app);
        rt.deploy(&id, bpmn.as_bytes(), "test")
            .await
            .expect("deploy");
        Harness { rt, app: id, clock }
    }

    pub async fn create(&self) -> Instance {
        self.create_with(BTreeMap::new()).await
    }

    pub async fn create_with(
        &self,
        data: BTreeMap<flyt_engine::ids::DataTypeId, serde_json::Value>,
    ) -> Instance {
        self.rt
            .create_instance(CreateInstance {
                app: self.app.clone(),
                owner: owner(),
                actor: user(),
                data,
                start_event: None,
                idempotency: None,
            })
            .await
            .expect("create")
            .instance
    }

    pub async fn next(
        &self,
        id: InstanceId,
        action: Option<&str>,
        task: Option<&str>,
    ) -> Result<Instance, Error> {
        self.rt
            .next(Next {
                instance: id,
                action: action.map(str::to_string),
                task: task.map(str::to_string),
                actor: user(),
                expected_version: None,
                on_behalf_of: None,
            })
            .await
    }

    /// A harness whose app has the external job type `never`, which no worker in these tests
    /// runs: a service task of that type keeps its token where it is.
    pub async fn with_idle_job_type(bpmn: &str) -> Harness {
        let registry = Registry::builder()
            .external_service_task("never", HandlerConfig::default())
            .build();
        Self::with(bpmn, Store::memory(), registry, AppSpec::open(app_id())).await
    }

    /// The instance once its active tasks are exactly `want` (in any order); fails after 10 s.
    pub async fn until_active(&self, id: InstanceId, want: &[&str]) -> Instance {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let i = self.rt.instance(id).unwrap();
            if self.active(&i) == want {
                return i;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waiting for {want:?}: {:?}",
                i.process
            );
            tokio::task::yield_now().await;
        }
    }

    pub fn active(&self, instance: &Instance) -> Vec<String> {
        let mut v: Vec<String> = instance
            .process
            .active_tasks()
            .map(|t| t.element_id.to_string())
            .collect();
        v.sort();
        v
    }

    pub fn events(&self, id: InstanceId) -> Vec<String> {
        self.rt
            .history(id)
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e.event_type.as_str(),
                    e.element_id
                        .as_ref()
                        .map(|x| x.to_string())
                        .unwrap_or_default()
                )
            })
            .collect()
    }
}
