//! The registry of hooks, deciders, handlers and server actions, built once at start-up.

use super::{ConfigCheck, GatewayDecider, Hook, ServerAction, ServiceTaskHandler};
use crate::app::AppSpec;
use crate::bpmn::elements::ServiceTask;
use crate::bpmn::{DeployTarget, Diagnostic, Pos};
use crate::ids::AppId;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How jobs of one service task type are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandlerConfig {
    /// Attempts before an incident. Default 5.
    pub max_attempts: u32,
    /// Timeout of one attempt. Default 30 s.
    pub timeout: Duration,
    /// First retry delay; doubles per attempt, capped at `max_backoff`. Default 1 s.
    pub initial_backoff: Duration,
    /// Default 5 min.
    pub max_backoff: Duration,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            max_attempts: 5,
            timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl HandlerConfig {
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }
}

#[derive(Clone)]
pub(crate) struct HandlerEntry {
    pub handler: Option<Arc<dyn ServiceTaskHandler>>,
    pub config: HandlerConfig,
}

/// Which app a registration applies to.
type Scope = Option<AppId>;

/// Events a transition can emit to subscribers (webhooks), by their CloudEvents type suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// `instance.created`
    InstanceCreated,
    /// `task.started`
    TaskStarted,
    /// `task.ended` (completed or abandoned)
    TaskEnded,
    /// `process.ended`
    ProcessEnded,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::InstanceCreated,
        EventKind::TaskStarted,
        EventKind::TaskEnded,
        EventKind::ProcessEnded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::InstanceCreated => "instance.created",
            EventKind::TaskStarted => "task.started",
            EventKind::TaskEnded => "task.ended",
            EventKind::ProcessEnded => "process.ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// A subscription: events of one app become jobs of `job_type` in the transition's commit.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub app: AppId,
    pub job_type: String,
    pub events: Vec<EventKind>,
}

/// Everything registered, read-only once built.
#[derive(Clone, Default)]
pub struct Registry {
    hooks: Vec<(Scope, Arc<dyn Hook>)>,
    deciders: HashMap<(AppId, String), Arc<dyn GatewayDecider>>,
    handlers: HashMap<String, HandlerEntry>,
    server_actions: HashMap<(Scope, String), Arc<dyn ServerAction>>,
    subscriptions: Vec<Subscription>,
    hook_timeout: Duration,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("hooks", &self.hooks.len())
            .field("deciders", &self.deciders.keys().collect::<Vec<_>>())
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            registry: Registry {
                hook_timeout: Duration::from_secs(5),
                ..Registry::default()
            },
        }
    }

    /// Hooks for `app`, global ones and the app's own, in registration order.
    pub fn hooks_for<'a>(&'a self, app: &'a AppId) -> impl Iterator<Item = &'a Arc<dyn Hook>> + 'a {
        self.hooks
            .iter()
            .filter(move |(scope, _)| scope.as_ref().is_none_or(|s| s == app))
            .map(|(_, h)| h)
    }

    pub fn decider(&self, app: &AppId, gateway_id: &str) -> Option<&Arc<dyn GatewayDecider>> {
        self.deciders.get(&(app.clone(), gateway_id.to_string()))
    }

    /// The subscriptions of `app` that want `event`.
    pub fn subscribers<'a>(
        &'a self,
        app: &'a AppId,
        event: EventKind,
    ) -> impl Iterator<Item = &'a Subscription> + 'a {
        self.subscriptions
            .iter()
            .filter(move |s| &s.app == app && s.events.contains(&event))
    }

    pub fn server_action(&self, app: &AppId, action: &str) -> Option<&Arc<dyn ServerAction>> {
        self.server_actions
            .get(&(Some(app.clone()), action.to_string()))
            .or_else(|| self.server_actions.get(&(None, action.to_string())))
    }

    pub(crate) fn handler(&self, task_type: &str) -> Option<&HandlerEntry> {
        self.handlers.get(task_type)
    }

    /// Whether a type is run by external workers (`POST /jobs/activate`).
    pub fn is_external(&self, task_type: &str) -> bool {
        self.handlers
            .get(task_type)
            .is_some_and(|h| h.handler.is_none())
    }

    pub fn handler_config(&self, task_type: &str) -> HandlerConfig {
        self.handlers
            .get(task_type)
            .map(|h| h.config)
            .unwrap_or_default()
    }

    pub fn service_task_types(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// The timeout of one hook call.
    pub fn hook_timeout(&self) -> Duration {
        self.hook_timeout
    }

    /// What an app can run, for deploy-time validation; `apps` are the apps this server knows,
    /// `deployed` the latest version of each that has one, and the process it starts.
    pub fn target_for<'a>(
        &'a self,
        app: &'a AppSpec,
        apps: &'a HashMap<AppId, Arc<AppSpec>>,
        deployed: &'a HashMap<AppId, (u32, String)>,
    ) -> impl DeployTarget + 'a {
        AppTarget {
            registry: self,
            app,
            apps,
            deployed,
        }
    }
}

struct AppTarget<'a> {
    registry: &'a Registry,
    app: &'a AppSpec,
    apps: &'a HashMap<AppId, Arc<AppSpec>>,
    deployed: &'a HashMap<AppId, (u32, String)>,
}

impl DeployTarget for AppTarget<'_> {
    fn has_service_task_handler(&self, task_type: &str) -> bool {
        self.registry.handlers.contains_key(task_type)
    }

    fn has_gateway_decider(&self, gateway_id: &str) -> bool {
        self.registry.decider(&self.app.id, gateway_id).is_some()
    }

    fn has_data_type(&self, data_type: &str) -> Option<bool> {
        Some(self.app.open_data_types || self.app.data_type(data_type).is_some())
    }

    fn app_has_data_type(&self, app: &AppId, data_type: &str) -> Option<bool> {
        let spec = self.apps.get(app)?;
        Some(spec.open_data_types || spec.data_type(data_type).is_some())
    }

    /// Another app's process is the one its definition starts (`process` in its app.toml, or
    /// its deployed latest version's). An app hosted here without a deployed definition yet
    /// (start-up deploys apps one after the other) is checked by what its app.toml names.
    fn called_process(
        &self,
        app: &AppId,
        process: &str,
        version: Option<u32>,
    ) -> Result<(), String> {
        let Some(spec) = self.apps.get(app) else {
            return Err(format!("this server hosts no app `{app}`"));
        };
        match self.deployed.get(app) {
            Some((latest, _)) if version.is_some_and(|v| v > *latest) => Err(format!(
                "`{app}` has no version {} (its latest is {latest})",
                version.unwrap_or_default()
            )),
            Some((latest, starts)) if version.is_none_or(|v| v == *latest) && starts != process => {
                Err(format!(
                    "version {latest} of `{app}` starts process `{starts}`"
                ))
            }
            Some(_) => Ok(()),
            None if version.is_some() => Err(format!("`{app}` has no deployed definition yet")),
            None => match &spec.process {
                Some(starts) if starts != process => {
                    Err(format!("`{app}` starts process `{starts}` (its app.toml)"))
                }
                _ => Ok(()),
            },
        }
    }

    fn check_service_task(
        &self,
        element_id: &str,
        pos: Pos,
        task: &ServiceTask,
    ) -> Vec<Diagnostic> {
        let check = ConfigCheck {
            app: self.app,
            element_id,
            pos,
            task,
            apps: self.apps,
        };
        task.task_type
            .as_deref()
            .and_then(|t| self.registry.handlers.get(t))
            .and_then(|h| h.handler.as_ref())
            .map(|h| h.check_config(&check))
            .unwrap_or_default()
    }
}

/// Builds a [`Registry`]. Registration order is the order hooks run in.
#[derive(Default)]
pub struct RegistryBuilder {
    registry: Registry,
}

impl std::fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.registry.fmt(f)
    }
}

impl RegistryBuilder {
    /// A hook for every app.
    pub fn hook(mut self, hook: impl Hook) -> Self {
        self.registry.hooks.push((None, Arc::new(hook)));
        self
    }

    /// A hook for one app.
    pub fn app_hook(mut self, app: AppId, hook: impl Hook) -> Self {
        self.registry.hooks.push((Some(app), Arc::new(hook)));
        self
    }

    /// The decider of one exclusive gateway of one app.
    pub fn gateway(
        mut self,
        app: AppId,
        gateway_id: impl Into<String>,
        decider: impl GatewayDecider,
    ) -> Self {
        self.registry
            .deciders
            .insert((app, gateway_id.into()), Arc::new(decider));
        self
    }

    /// The handler of a service task type, with default retry settings.
    pub fn service_task(
        self,
        task_type: impl Into<String>,
        handler: impl ServiceTaskHandler,
    ) -> Self {
        self.service_task_with(task_type, handler, HandlerConfig::default())
    }

    pub fn service_task_with(
        mut self,
        task_type: impl Into<String>,
        handler: impl ServiceTaskHandler,
        config: HandlerConfig,
    ) -> Self {
        self.registry.handlers.insert(
            task_type.into(),
            HandlerEntry {
                handler: Some(Arc::new(handler)),
                config,
            },
        );
        self
    }

    /// A service task type run by external workers that poll `POST /jobs/activate`.
    pub fn external_service_task(
        mut self,
        task_type: impl Into<String>,
        config: HandlerConfig,
    ) -> Self {
        self.registry.handlers.insert(
            task_type.into(),
            HandlerEntry {
                handler: None,
                config,
            },
        );
        self
    }

    /// A server action for every app (`None`) or one app.
    pub fn server_action(
        mut self,
        app: Option<AppId>,
        action: impl Into<String>,
        run: impl ServerAction,
    ) -> Self {
        self.registry
            .server_actions
            .insert((app, action.into()), Arc::new(run));
        self
    }

    /// Events of `app` become jobs of `job_type` (register a handler for that type, e.g. a
    /// webhook delivery), created in the same commit as the transition that emitted them.
    pub fn subscribe(
        mut self,
        app: AppId,
        job_type: impl Into<String>,
        events: Vec<EventKind>,
    ) -> Self {
        self.registry.subscriptions.push(Subscription {
            app,
            job_type: job_type.into(),
            events,
        });
        self
    }

    /// Timeout of one hook call (default 5 s).
    pub fn hook_timeout(mut self, timeout: Duration) -> Self {
        self.registry.hook_timeout = timeout;
        self
    }

    /// Adds everything registered in `other` after what is here.
    pub fn merge(mut self, other: Registry) -> Self {
        self.registry.hooks.extend(other.hooks);
        self.registry.deciders.extend(other.deciders);
        self.registry.handlers.extend(other.handlers);
        self.registry.server_actions.extend(other.server_actions);
        self.registry.subscriptions.extend(other.subscriptions);
        self
    }

    pub fn build(self) -> Registry {
        self.registry
    }

    /// Service task types registered so far (external ones included).
    pub fn types(&self) -> HashSet<String> {
        self.registry.handlers.keys().cloned().collect()
    }
}
