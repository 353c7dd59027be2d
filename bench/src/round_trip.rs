//! The round trip A → B → A across two servers (issue 16), end to end: users submit `n`
//! applications in A (`acme/grant-application`), whose createInstance jobs create B's cases
//! (`acme/grant-case`); case handlers then decide every case over HTTP (the data field and the
//! `complete` action), and B's message end events send `caseDecided` back to A, which
//! correlates each on its instance id and moves on to the applicant's confirmation. A loop is
//! complete when B's send job has A's `correlated` answer (each on A's disk before it answers).
//!
//! The two halves are timed one after the other (all submissions and creations, then all
//! decisions and answers), so the loops/s figure is `n` over both; each half's rate is printed
//! too, the first being the `multi-app` scenario's A→B creations/s in the same run.

use super::Row;
use super::multi_app::{http, start, submit, until_count};
use flyt_engine::ids::AppId;
use flyt_engine::store::PageCursor;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;

/// The grants department's case handlers (role DAGL of the organisation owning B's cases).
const CASE_ROLE: &str = "991825827:DAGL";

pub async fn run(
    processes: &Path,
    dir: &Path,
    n: usize,
    clients: usize,
) -> Result<Vec<Row>, String> {
    let servers = start(&dir.join("round-trip"), processes).await?;
    let clients = clients.max(1);
    let started = Instant::now();
    submit(&servers, n, clients).await?;
    let b = servers.b.runtime();
    until_count(&b.metrics().instances_created, n, "B cases were created").await?;
    let created = started.elapsed().as_secs_f64();

    // Every case of B, by its Altinn id.
    let app: AppId = "acme/grant-case".parse().map_err(|e| format!("{e:?}"))?;
    let mut cases = Vec::with_capacity(n);
    let mut after: Option<PageCursor> = None;
    loop {
        let page = b
            .list_instances(&app, None, after.as_ref(), 1000)
            .map_err(|e| e.to_string())?;
        for &(party, id) in &page.instances {
            let instance = b.instance(id).map_err(|e| e.to_string())?;
            cases.push(instance.altinn_id());
            after = Some(PageCursor {
                party,
                instance: id,
            });
        }
        if page.next.is_none() || page.instances.is_empty() {
            break;
        }
    }
    if cases.len() != n {
        return Err(format!("B has {} cases for {n} applications", cases.len()));
    }

    let deciding = Instant::now();
    let http = http()?;
    let per = n.div_ceil(clients);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mine: Vec<String> = cases.iter().skip(c * per).take(per).cloned().collect();
        let (http, base, issuer) = (http.clone(), servers.b_url.clone(), servers.issuer.clone());
        tasks.push(tokio::spawn(async move {
            let pid = format!("{:011}", 30_000_000_000u64 + c as u64);
            let r = http
                .post(format!("{issuer}/user-token"))
                .json(&json!({ "pid": pid, "roles": [CASE_ROLE] }))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let token = r.json::<Value>().await.map_err(|e| e.to_string())?["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for case in mine {
                let url = format!("{base}/acme/grant-case/instances/{case}");
                let r = http
                    .get(format!("{url}/data/case"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("read the case: {}", r.status()));
                }
                let mut data: Value = r.json().await.map_err(|e| e.to_string())?;
                data["decision"] = json!("granted");
                data["note"] = json!("benchmark");
                let r = http
                    .put(format!("{url}/data/case"))
                    .bearer_auth(&token)
                    .json(&data)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!(
                        "write the decision: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ));
                }
                let r = http
                    .put(format!("{url}/process/next"))
                    .bearer_auth(&token)
                    .json(&json!({ "action": "complete" }))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!(
                        "decide: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ));
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    // B's send jobs complete once A has answered `correlated`.
    until_count(
        &b.metrics().jobs_completed,
        n,
        "answers were correlated in A",
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let answered = deciding.elapsed().as_secs_f64();
    let failed = flyt_engine::runtime::Metrics::get(&b.metrics().incidents);
    servers.stop().await;
    if failed > 0 {
        return Err(format!("B raised {failed} incidents sending the answers"));
    }
    let v = format!("redb, {clients} users");
    Ok(vec![
        Row::new(
            "round-trip",
            v.clone(),
            "A→B→A loops/s",
            n as f64 / elapsed,
            "1/s",
        ),
        Row::new(
            "round-trip",
            v.clone(),
            "A→B creations/s",
            n as f64 / created,
            "1/s",
        ),
        Row::new(
            "round-trip",
            v,
            "B decisions → A correlations/s",
            n as f64 / answered,
            "1/s",
        ),
    ])
}
