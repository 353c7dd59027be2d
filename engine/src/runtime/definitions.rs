//! Definition versions per app: deploy (validate, then store with a monotonically increasing
//! version and a content hash), and a cache so each version is parsed once per process.

use super::{Error, Inner};
use crate::bpmn::{self, Options, ProcessDefinition};
use crate::ids::AppId;
use crate::store::{CommitError, DefinitionRecord, Store, Txn};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// The result of a deploy.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub version: u32,
    pub hash: String,
    /// The same content was already the latest version: nothing was stored.
    pub unchanged: bool,
    pub warnings: Vec<bpmn::Diagnostic>,
    /// Warnings left out of `warnings` ([`bpmn::Limits::max_diagnostics`]).
    pub warnings_omitted: usize,
}

/// A dry-run validation: the diagnostics shown, and the totals.
#[derive(Debug, Clone)]
pub struct Checked {
    /// At most [`bpmn::Limits::max_diagnostics`], errors first when not all fit.
    pub diagnostics: Vec<bpmn::Diagnostic>,
    /// Errors in the file, shown or not.
    pub errors: usize,
    /// Warnings in the file, shown or not.
    pub warnings: usize,
    /// Diagnostics left out of `diagnostics`.
    pub omitted: usize,
}

/// When a deploy stores nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The content equals the latest version (an API deploy: deploying twice is a no-op).
    IfSameAsLatest,
    /// The content equals the latest version, or the last version the same `deployed_by`
    /// stored. For a source that re-deploys on every start (the app folder's file): a version
    /// deployed since through the API stays the latest until the file itself changes.
    IfSameAsLastFrom,
}

/// The newest version (at most `head`) that `deployed_by` stored. Walks back from the head;
/// definitions are deployed by hand, so there are few versions to read.
fn last_deployed_by(
    store: &Store,
    app: &AppId,
    head: u32,
    deployed_by: &str,
) -> Result<Option<DefinitionRecord>, Error> {
    for version in (1..=head).rev() {
        if let Some(record) = store.definition(app, version)?
            && record.deployed_by == deployed_by
        {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// Parses and validates `bytes` for `app` against this server (its handlers, gateway hooks and
/// apps) on the blocking thread pool, at most [`RuntimeConfig::compile_concurrency`] at once:
/// a 5 MB file takes a core for a while, and must not hold up the async workers that answer
/// every other request (health checks included). Callers beyond the limit wait their turn.
///
/// [`RuntimeConfig::compile_concurrency`]: super::RuntimeConfig::compile_concurrency
pub(crate) async fn compile_off_thread(
    rt: &Inner,
    app: &AppId,
    bytes: &[u8],
) -> Result<Result<bpmn::Compiled, bpmn::Rejected>, Error> {
    let apps = rt.apps.read().clone();
    let spec = apps
        .get(app)
        .cloned()
        .ok_or_else(|| Error::AppNotFound(app.clone()))?;
    // What a call activity may call: each hosted app's latest version and the process it
    // starts (an app without a deployed definition yet is left out).
    let deployed: HashMap<AppId, (u32, String)> = apps
        .keys()
        .filter_map(|a| {
            let (version, def) = rt.definitions.latest(&rt.store, a).ok()?;
            Some((a.clone(), (version, def.process_id().to_string())))
        })
        .collect();
    let (registry, limits, bytes) = (rt.registry.clone(), rt.config.bpmn_limits, bytes.to_vec());
    // The semaphore is never closed, so acquiring only fails if it were; treat that as busy.
    let _permit = rt
        .compiles
        .acquire()
        .await
        .map_err(|_| Error::Internal("the compile queue is closed".into()))?;
    tokio::task::spawn_blocking(move || {
        let target = registry.target_for(&spec, &apps, &deployed);
        bpmn::compile(
            &bytes,
            &Options::default()
                .with_limits(limits)
                .with_target(&target)
                .with_process(spec.process.as_deref()),
        )
    })
    .await
    .map_err(|e| Error::Internal(format!("validating the definition failed: {e}")))
}

#[derive(Debug)]
pub(crate) struct Definitions {
    cache: RwLock<HashMap<(AppId, u32), Arc<ProcessDefinition>>>,
    latest: RwLock<HashMap<AppId, u32>>,
    /// On a shared store (several nodes): each app's definition head as last read, its revision
    /// and version. A create uses it without reading the head and checks the revision in its
    /// own commit ([`Txn::guard_definition_head`]), so a deploy acknowledged through any node
    /// since makes that commit fail, and the create reads the head again
    /// ([`Definitions::forget_head`]) and runs again.
    heads: RwLock<HashMap<AppId, (u64, u32)>>,
    /// Other processes of a version's file that call activities run, by process id.
    called: RwLock<HashMap<(AppId, u32, String), Arc<ProcessDefinition>>>,
    /// The limits deploys were checked against; stored versions are re-read with the same.
    limits: bpmn::Limits,
}

impl Definitions {
    pub(crate) fn new(limits: bpmn::Limits) -> Self {
        Definitions {
            cache: RwLock::default(),
            latest: RwLock::default(),
            heads: RwLock::default(),
            called: RwLock::default(),
            limits,
        }
    }

    /// Validates `bytes` against what this server can run and stores it as the next version,
    /// unless it is identical to the latest version — or, with [`Skip::IfSameAsLastFrom`],
    /// identical to the last version `deployed_by` itself stored.
    pub(crate) async fn deploy(
        &self,
        rt: &Inner,
        app: &AppId,
        bytes: &[u8],
        deployed_by: &str,
        skip: Skip,
    ) -> Result<Deployed, Error> {
        let (store, now) = (&rt.store, rt.clock.now());
        let compiled = compile_off_thread(rt, app, bytes)
            .await?
            .map_err(Error::InvalidDefinition)?;
        let hash = compiled.definition.hash().to_string();
        // The process instances start in: recorded with the version, so re-reading the stored
        // file picks the same one whatever the app says later.
        let process = rt
            .apps
            .read()
            .get(app)
            .and_then(|spec| spec.process.clone());
        let head = store.definition_head(app)?;
        if let Some((_, head)) = &head
            && head.hash == hash
            && store
                .definition(app, head.version)?
                .is_some_and(|r| r.process == process)
        {
            return Ok(Deployed {
                version: head.version,
                hash,
                unchanged: true,
                warnings: compiled.warnings,
                warnings_omitted: compiled.warnings_omitted,
            });
        }
        if skip == Skip::IfSameAsLastFrom
            && let Some((_, head)) = &head
            && let Some(last) = last_deployed_by(store, app, head.version, deployed_by)?
            && last.hash == hash
            && last.process == process
        {
            return Ok(Deployed {
                version: last.version,
                hash,
                unchanged: true,
                warnings: compiled.warnings,
                warnings_omitted: compiled.warnings_omitted,
            });
        }
        let version = head.as_ref().map_or(1, |(_, h)| h.version + 1);
        let record = DefinitionRecord {
            version,
            hash: hash.clone(),
            deployed: now,
            deployed_by: deployed_by.to_string(),
            bpmn: String::from_utf8_lossy(bytes).into_owned(),
            process,
        };
        let mut txn = Txn::new();
        txn.deploy_definition(app, head.as_ref().map(|(rev, _)| *rev), &record);
        // The new version's timer start events replace the app's schedules, in the same commit.
        let spec = rt
            .apps
            .read()
            .get(app)
            .cloned()
            .ok_or_else(|| Error::AppNotFound(app.clone()))?;
        let schedules = super::schedules::schedules_for(&spec, version, &compiled.definition, now)?;
        super::schedules::replace_schedules(store, app, &schedules, &mut txn)?;
        crate::failpoint!("deploy.before_commit");
        match store.commit(txn).await {
            Ok(()) => {
                crate::failpoint!("deploy.after_commit");
                if !schedules.is_empty() {
                    rt.wake_workers(); // the workers look at the new schedules
                }
            }
            // Someone deployed at the same moment: their version stands; the caller may retry.
            Err(CommitError::Conflict(_)) => return Err(Error::Conflict),
            Err(CommitError::Store(e)) => return Err(Error::Store(e)),
        }
        self.cache
            .write()
            .insert((app.clone(), version), Arc::new(compiled.definition));
        self.latest.write().insert(app.clone(), version);
        self.forget_head(app);
        Ok(Deployed {
            version,
            hash,
            unchanged: false,
            warnings: compiled.warnings,
            warnings_omitted: compiled.warnings_omitted,
        })
    }

    /// The latest version of an app's definition.
    pub(crate) fn latest(
        &self,
        store: &Store,
        app: &AppId,
    ) -> Result<(u32, Arc<ProcessDefinition>), Error> {
        // Several nodes on one store: another node may have deployed since, so the head is
        // read every time (one point read); the parsed versions stay cached.
        let cached = if store.is_shared() {
            None
        } else {
            self.latest.read().get(app).copied()
        };
        let version = match cached {
            Some(v) => v,
            None => {
                let (_, head) = store
                    .definition_head(app)?
                    .ok_or_else(|| Error::NoDefinition(app.clone()))?;
                self.latest.write().insert(app.clone(), head.version);
                head.version
            }
        };
        Ok((version, self.get(store, app, version)?))
    }

    /// The latest version for a create. On a shared store, the head this node last read and its
    /// revision, which the create must check in its commit ([`Txn::guard_definition_head`])
    /// instead of reading the head each time (a point read per create saved); elsewhere as
    /// [`latest`](Self::latest), with no revision to check.
    pub(crate) fn latest_for_create(
        &self,
        store: &Store,
        app: &AppId,
    ) -> Result<(u32, Arc<ProcessDefinition>, Option<u64>), Error> {
        if !store.is_shared() {
            let (version, def) = self.latest(store, app)?;
            return Ok((version, def, None));
        }
        let cached = self.heads.read().get(app).copied();
        let (revision, version) = match cached {
            Some(head) => head,
            None => {
                let (revision, head) = store
                    .definition_head(app)?
                    .ok_or_else(|| Error::NoDefinition(app.clone()))?;
                self.heads
                    .write()
                    .insert(app.clone(), (revision, head.version));
                (revision, head.version)
            }
        };
        Ok((version, self.get(store, app, version)?, Some(revision)))
    }

    /// Forgets the head cached for `app`: the next create reads it again.
    pub(crate) fn forget_head(&self, app: &AppId) {
        self.heads.write().remove(app);
    }

    /// Process `process` of a version's file (`None`: the one instances start in). Parsed
    /// once, then cached.
    pub(crate) fn get_process(
        &self,
        store: &Store,
        app: &AppId,
        version: u32,
        process: Option<&str>,
    ) -> Result<Arc<ProcessDefinition>, Error> {
        let main = self.get(store, app, version)?;
        let Some(process) = process.filter(|p| *p != main.process_id().as_str()) else {
            return Ok(main);
        };
        let key = (app.clone(), version, process.to_string());
        if let Some(def) = self.called.read().get(&key) {
            return Ok(def.clone());
        }
        let def = Arc::new(self.compile_stored(store, app, version, Some(process))?);
        self.called.write().insert(key, def.clone());
        Ok(def)
    }

    /// Compiles stored version `version` of `app`, starting at `process` (`None`: the process
    /// the version names). It passed validation when deployed; compiled without a target
    /// (registrations may have changed since, which must not make running instances
    /// unreadable).
    fn compile_stored(
        &self,
        store: &Store,
        app: &AppId,
        version: u32,
        process: Option<&str>,
    ) -> Result<ProcessDefinition, Error> {
        let record =
            store
                .definition(app, version)?
                .ok_or_else(|| Error::DefinitionVersionNotFound {
                    app: app.clone(),
                    version,
                })?;
        let options = Options::default()
            .with_limits(self.limits)
            .with_process(process.or(record.process.as_deref()));
        let compiled =
            bpmn::compile(record.bpmn.as_bytes(), &options).map_err(Error::InvalidDefinition)?;
        Ok(compiled.definition)
    }

    /// A specific version (an instance's pinned one). Parsed once, then cached.
    pub(crate) fn get(
        &self,
        store: &Store,
        app: &AppId,
        version: u32,
    ) -> Result<Arc<ProcessDefinition>, Error> {
        if let Some(def) = self.cache.read().get(&(app.clone(), version)) {
            return Ok(def.clone());
        }
        let def = Arc::new(self.compile_stored(store, app, version, None)?);
        self.cache
            .write()
            .insert((app.clone(), version), def.clone());
        Ok(def)
    }
}
