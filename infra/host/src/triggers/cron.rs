//! Cron trigger: the world of Spin's cron trigger plugin
//! (`fermyon:spin-cron@2.0.0`, see `wit/spin-cron.wit`), fired on each
//! component's six-field schedule (seconds first).

use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context as _;
use wasmtime::component::{ComponentType, Lift, Lower};

use crate::app::{App, Trigger};

/// The function a cron component exports.
pub const HANDLER_EXPORT: &str = "handle-cron-event";

/// `fermyon:spin-cron/cron-types.metadata`.
#[derive(ComponentType, Lift, Lower, Clone, Copy, Debug)]
#[component(record)]
struct Metadata {
    /// Seconds since the Unix epoch at which the tick fired.
    timestamp: u64,
}

/// `fermyon:spin-cron/cron-types.error`.
#[derive(ComponentType, Lift, Lower, Clone, Debug)]
#[component(variant)]
enum CronError {
    /// The handler's own failure message.
    #[component(name = "other")]
    Other(String),
}

/// Parse a six-field (seconds first) cron expression as the plugin does.
pub fn parse_schedule(expression: &str) -> anyhow::Result<cron::Schedule> {
    let fields = expression.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        anyhow::bail!(
            "cron_expression {expression:?} has {fields} fields; Spin's cron trigger wants six (sec min hour day month weekday), e.g. \"0 */15 * * * *\""
        );
    }
    cron::Schedule::from_str(expression).map_err(|e| anyhow::anyhow!("cron_expression {expression:?}: {e}"))
}

/// Check the app's cron triggers at load: each schedule parses and each
/// cron component exports the handler.
pub fn check(app: &App) -> anyhow::Result<()> {
    for t in &app.manifest.cron_triggers {
        let component = app.component(&t.component)?;
        if component.pre.component().get_export_index(None, HANDLER_EXPORT).is_none() {
            anyhow::bail!(
                "component {:?} has a cron trigger but does not export `{HANDLER_EXPORT}` (world fermyon:spin-cron/spin-cron@2.0.0)",
                t.component
            );
        }
    }
    for t in &app.manifest.cron_triggers {
        parse_schedule(&t.cron_expression).with_context(|| format!("cron trigger for component {:?}", t.component))?;
    }
    Ok(())
}

/// Run `component`'s cron handler once, now.
pub async fn fire(app: &App, component_id: &str) -> anyhow::Result<()> {
    let component = app.component(component_id)?;
    let timestamp = chrono::Utc::now().timestamp().max(0) as u64;
    let mut store = app.new_store(&component, Trigger::Cron).await?;
    let instance = component.pre.instantiate_async(&mut store).await?;
    let handler = instance
        .get_typed_func::<(Metadata,), (Result<(), CronError>,)>(&mut store, HANDLER_EXPORT)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("component {component_id:?} does not export {HANDLER_EXPORT}"))?;
    let (outcome,) = handler.call_async(&mut store, (Metadata { timestamp },)).await?;
    outcome.map_err(|CronError::Other(message)| anyhow::anyhow!("cron handler failed: {message}"))
}

/// Start one task per cron trigger; each fires its component on schedule,
/// one tick at a time (a slow tick delays the next rather than overlapping it).
pub fn start(app: Arc<App>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for trigger in app.manifest.cron_triggers.clone() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let schedule = match parse_schedule(&trigger.cron_expression) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("{e:#}");
                    return;
                }
            };
            loop {
                let Some(next) = schedule.upcoming(chrono::Utc).next() else { return };
                let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
                let started = std::time::Instant::now();
                match fire(&app, &trigger.component).await {
                    Ok(()) => tracing::info!(component = %trigger.component, elapsed_ms = started.elapsed().as_millis() as u64, "cron tick"),
                    Err(e) => tracing::error!(component = %trigger.component, "cron tick failed: {e:#}"),
                }
            }
        }));
    }
    tasks
}
