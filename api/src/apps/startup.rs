//! Start-up: every app is registered with the runtime and its folder's definition deployed
//! (a new version only when the file changed since start-up last stored it).

use super::App;
use crate::server::StartError;
use flyt_engine::ids::AppId;
use flyt_engine::runtime::Runtime;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Registers and deploys `apps`; every invalid definition is reported at once.
pub(crate) async fn deploy(
    runtime: &Runtime,
    apps: Vec<App>,
) -> Result<BTreeMap<AppId, Arc<App>>, StartError> {
    let mut failed = Vec::new();
    let mut by_id: BTreeMap<AppId, Arc<App>> = BTreeMap::new();
    // Every app is registered before any is deployed: a call activity of one may call
    // another's process, which its deploy checks against the hosted apps.
    for app in &apps {
        runtime.register_app(app.spec.clone());
    }
    for app in apps {
        for w in &app.warnings {
            tracing::warn!(app = %app.id, "{w}");
        }
        match runtime
            .deploy_from_source(&app.id, &app.bpmn, "startup")
            .await
        {
            Ok(deployed) => {
                for w in &deployed.warnings {
                    tracing::warn!("{}", w.render(&app.bpmn_path.display().to_string()));
                }
                tracing::info!(app = %app.id, version = deployed.version, unchanged = deployed.unchanged, "definition deployed");
            }
            Err(flyt_engine::runtime::Error::InvalidDefinition(r)) => {
                failed.push((app.bpmn_path.display().to_string(), r))
            }
            Err(flyt_engine::runtime::Error::Store(e)) => return Err(StartError::Store(e)),
            Err(e) => return Err(StartError::Other(format!("{}: {e}", app.id))),
        }
        by_id.insert(app.id.clone(), Arc::new(app));
    }
    if !failed.is_empty() {
        runtime.store().shutdown();
        return Err(StartError::Definitions(failed));
    }
    Ok(by_id)
}
