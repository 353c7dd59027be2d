//! The one cloneable state every handler gets (`with_state`); no globals.

use crate::apps::App;
use crate::auth::{Caller, Verifier};
use crate::authority::DevAuthority;
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::HttpMetrics;
use axum::extract::FromRef;
use flyt_engine::ids::AppId;
use flyt_engine::model::InstanceOwner;
use flyt_engine::runtime::Runtime;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared server state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Shared>,
}

pub struct Shared {
    pub runtime: Runtime,
    pub apps: BTreeMap<AppId, Arc<App>>,
    pub verifier: Arc<Verifier>,
    pub authority: Option<Arc<DevAuthority>>,
    pub config: ServerConfig,
    pub metrics: HttpMetrics,
    pub ready: AtomicBool,
    pub limiter: crate::middleware::RateLimiter,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("apps", &self.apps.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("apps", &self.inner.apps.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.inner.verifier.clone()
    }
}

impl AppState {
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }

    /// The app at `/{org}/{app}`, or 404.
    pub fn app(&self, org: &str, app: &str) -> Result<Arc<App>, ApiError> {
        let id = AppId::new(org, app)
            .map_err(|e| ApiError::NotFound(format!("no app {org}/{app}: {e}")))?;
        self.inner
            .apps
            .get(&id)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("no app {id} on this server")))
    }

    /// Refuses unless the policy lets `caller` do `action` on `instance` where it is now: at any
    /// task it is at (so a rule scoped to `ManagerSign` lets a manager read the instance while it
    /// waits there, and not before or after, and a Deny scoped to a task refuses only there), or
    /// at the end event it ended at, or nowhere before it starts.
    pub fn authorize_instance(
        &self,
        app: &App,
        caller: &Caller,
        action: &str,
        instance: &flyt_engine::model::Instance,
    ) -> Result<(), ApiError> {
        let owner = Some(&instance.owner);
        let tasks: Vec<&str> = instance
            .process
            .active_tasks()
            .map(|t| t.element_id.as_str())
            .collect();
        let place = match tasks.first() {
            Some(first) => {
                if let Some(allowed) = tasks
                    .iter()
                    .find(|t| app.policy.allows(caller, action, owner, Some(t)))
                {
                    return self.authorize(app, caller, action, owner, Some(allowed));
                }
                Some(*first)
            }
            None => instance.process.end_event.as_ref().map(|e| e.as_str()),
        };
        self.authorize(app, caller, action, owner, place)
    }

    /// Refuses unless `app`'s policy lets `caller` do `action` (deny by default).
    pub fn authorize(
        &self,
        app: &App,
        caller: &Caller,
        action: &str,
        owner: Option<&InstanceOwner>,
        task: Option<&str>,
    ) -> Result<(), ApiError> {
        if app.policy.allows(caller, action, owner, task) {
            return Ok(());
        }
        let who = match caller {
            Caller::User(_) => "this user".to_string(),
            Caller::Organisation(o) => format!("organisation {}", o.organisation_number),
        };
        let on = match task {
            Some(t) => format!(" at `{t}`"),
            None => String::new(),
        };
        Err(ApiError::Forbidden(format!(
            "the policy of {} does not let {who} `{action}`{on}",
            app.id
        )))
    }
}
