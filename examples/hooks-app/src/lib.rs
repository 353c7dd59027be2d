//! An example of Rust hooks compiled into a flyt server, for the `shop/orders` app in
//! `processes/shop/orders/`. `main.rs` is `flyt serve` plus [`register`].
//!
//! | what                                   | how                                    | kind                    |
//! |----------------------------------------|----------------------------------------|-------------------------|
//! | compute the order's `total`            | [`order_total`], a closure hook        | `instance_created` + `data_written` (enrich) |
//! | refuse an order over the credit limit  | [`CreditLimit`], a [`Hook`] impl       | `task_ending` (veto)    |
//! | route the `Route` gateway              | [`route`], a closure decider           | [`GatewayDecider`](flyt_hooks::GatewayDecider) |
//! | reserve stock                          | [`ReserveStock`], a handler impl       | [`ServiceTaskHandler`]  |
//! | apply a discount without moving on     | [`apply_discount`], a closure action   | [`ServerAction`](flyt_hooks::ServerAction) |
//!
//! The hooks are pure computations on the instance's data: they run before the commit and may
//! run again, so they have no outside side effects. The one side effect (reserving stock) is
//! the service task, which runs after the commit, at least once, and is made exactly-once by the
//! job's idempotency key.

use async_trait::async_trait;
use flyt_engine::ids::{AppId, DataTypeId};
use flyt_hooks::hook_fn::{FnDecider, FnHook, FnServerAction};
use flyt_hooks::{
    Completion, Hook, HookContext, HookError, HookResult, Issue, JobContext, RegistryBuilder,
    ServiceTaskHandler, ServiceTaskOutcome, TaskRef, gateway_fn, hook_fn, server_action_fn,
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// The app these hooks belong to.
pub const APP: &str = "shop/orders";
/// Orders above this total need a review (kroner).
pub const REVIEW_FROM: i64 = 10_000;
/// The default credit limit (kroner).
pub const CREDIT_LIMIT: i64 = 50_000;
/// The service task type of `Reserve`.
pub const RESERVE_STOCK: &str = "reserveStock";

/// Registers everything this example adds, for `app` only (another app on the same server sees
/// none of it, except the service task type, which is global by nature).
pub fn register(registry: RegistryBuilder, app: &AppId) -> RegistryBuilder {
    registry
        .app_hook(app.clone(), order_total())
        .app_hook(
            app.clone(),
            CreditLimit {
                limit: CREDIT_LIMIT,
            },
        )
        .gateway(app.clone(), "Route", route())
        .service_task(RESERVE_STOCK, ReserveStock::default())
        .server_action(Some(app.clone()), "apply-discount", apply_discount())
}

/// Where the example's apps are (used when the configuration does not name a folder).
pub fn processes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("processes")
}

/// The sum of the order's lines, less its discount (whole kroner, rounded down).
pub fn total(order: &Value) -> i64 {
    let lines = order["lines"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let sum: i64 = lines
        .iter()
        .map(|l| l["quantity"].as_i64().unwrap_or(0) * l["unitPrice"].as_i64().unwrap_or(0))
        .sum();
    let discount = order["discountPercent"].as_i64().unwrap_or(0).clamp(0, 100);
    sum * (100 - discount) / 100
}

/// Writes `order.total` (when there is an order).
fn fill_total(ctx: &mut HookContext<'_>) -> HookResult {
    if let Some(order) = ctx.data("order")? {
        let mut order = order.clone();
        order["total"] = json!(total(&order));
        ctx.set_data("order", order);
    }
    Ok(())
}

/// Enrichment: keeps `order.total` in step with the lines, both for the order given at creation
/// and for every later write (the schema is checked after the hook, so the total is too).
pub fn order_total() -> FnHook {
    hook_fn("order-total")
        .on_instance_created(fill_total)
        .on_data_written(|ctx, data_type| match data_type {
            "order" => fill_total(ctx),
            _ => Ok(()),
        })
}

/// Validation: the order cannot be submitted (the `Order` task cannot end) when its total is
/// over the credit limit. The refusal is a 409 with an issue at `order.total`, and the instance
/// stays as it was.
#[derive(Debug, Clone)]
pub struct CreditLimit {
    pub limit: i64,
}

#[async_trait]
impl Hook for CreditLimit {
    fn name(&self) -> &str {
        "credit-limit"
    }

    async fn task_ending(
        &self,
        ctx: &mut HookContext<'_>,
        task: &TaskRef,
        _action: &str,
    ) -> HookResult {
        if task.element_id != "Order" {
            return Ok(());
        }
        let total = ctx.data("order")?.map(total).unwrap_or(0);
        if total > self.limit {
            return Err(HookError::Rejected(vec![Issue {
                field: Some("order.total".into()),
                message: format!(
                    "the total {total} is over the credit limit of {}",
                    self.limit
                ),
                code: Some("over-credit-limit".into()),
            }]));
        }
        Ok(())
    }
}

/// The `Route` gateway has no conditions: orders from [`REVIEW_FROM`] go to review, the others
/// straight to stock reservation.
pub fn route() -> FnDecider {
    gateway_fn(|ctx| {
        let total = ctx.data("order").map(total).unwrap_or(0);
        Ok(if total >= REVIEW_FROM {
            "Flow_review"
        } else {
            "Flow_auto"
        }
        .into())
    })
}

/// The server action `apply-discount`: 10 % off, recomputes the total, answers it. It does not
/// move the process. (Data a server action writes does not pass through `data_written` hooks,
/// so it computes the total itself.)
pub fn apply_discount() -> FnServerAction {
    server_action_fn(|ctx, _task| {
        let Some(order) = ctx.data("order")? else {
            return Err(HookError::rejected(Issue::at(
                "order",
                "there is no order yet",
            )));
        };
        let mut order = order.clone();
        order["discountPercent"] = json!(10);
        let total = total(&order);
        order["total"] = json!(total);
        ctx.set_data("order", order);
        Ok(json!({ "discountPercent": 10, "total": total }))
    })
}

/// The `reserveStock` service task: reserves the order's lines in a (pretend, in-memory)
/// warehouse. It runs after the commit that reached the task, at least once; the warehouse
/// keys reservations by the job's idempotency key, so a second attempt returns the first
/// reservation instead of reserving twice.
#[derive(Debug, Default, Clone)]
pub struct ReserveStock {
    reservations: Arc<Mutex<HashMap<String, String>>>,
}

impl ReserveStock {
    /// How many distinct reservations were made.
    pub fn reservations(&self) -> usize {
        self.reservations.lock().len()
    }
}

#[async_trait]
impl ServiceTaskHandler for ReserveStock {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        let Some(order) = ctx.data.get(&DataTypeId::new("order")) else {
            return ServiceTaskOutcome::fail("the instance has no order");
        };
        let lines = order["lines"].as_array().map_or(0, Vec::len);
        let reference = {
            let mut made = self.reservations.lock();
            let next = made.len() + 1;
            made.entry(ctx.idempotency_key.clone())
                .or_insert_with(|| format!("RES-{next:05}"))
                .clone()
        };
        ServiceTaskOutcome::Completed(Completion {
            data: BTreeMap::from([(
                DataTypeId::new("reservation"),
                json!({ "reference": reference, "lines": lines }),
            )]),
            details: Some(json!({ "reservation": reference })),
            ..Completion::default()
        })
    }
}
