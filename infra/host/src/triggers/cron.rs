//! Cron trigger: the world of Spin's cron trigger plugin
//! (`fermyon:spin-cron@2.0.0`, see `wit/spin-cron.wit`), fired on each
//! component's six-field schedule (seconds first).

use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
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
    let timestamp = Utc::now().timestamp().max(0) as u64;
    let mut store = app.new_store(&component, Trigger::Cron).await?;
    let instance = component.pre.instantiate_async(&mut store).await?;
    let handler = instance
        .get_typed_func::<(Metadata,), (Result<(), CronError>,)>(&mut store, HANDLER_EXPORT)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("component {component_id:?} does not export {HANDLER_EXPORT}"))?;
    let (outcome,) = handler.call_async(&mut store, (Metadata { timestamp },)).await?;
    outcome.map_err(|CronError::Other(message)| anyhow::anyhow!("cron handler failed: {message}"))
}

/// When to fire next, given the scheduled time of the tick that last fired
/// (None before the first) and the time now: the next scheduled time, or
/// now when that time passed while the last tick was still running. Ticks
/// missed that way are fired once, not once each (a pass started late must
/// not be followed by a burst of passes). Returns the moment to fire and
/// the scheduled time it stands for.
pub fn next_fire(schedule: &cron::Schedule, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let Some(last) = last else {
        let next = schedule.after(&now).next()?;
        return Some((next, next));
    };
    let next = schedule.after(&last).next()?;
    if next > now {
        return Some((next, next));
    }
    let latest_missed = schedule.after(&last).take_while(|t| *t <= now).last().unwrap_or(next);
    Some((now, latest_missed))
}

/// Start one task per cron trigger; each fires its component on schedule,
/// one tick at a time: a tick that runs past the next scheduled time
/// delays that tick (it fires as soon as the last one ends) rather than
/// overlapping or skipping it.
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
            let mut last = None;
            loop {
                let Some((at, scheduled)) = next_fire(&schedule, last, Utc::now()) else { return };
                tokio::time::sleep((at - Utc::now()).to_std().unwrap_or_default()).await;
                last = Some(scheduled);
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(h: u32, m: u32, s: u32, ms: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, h, m, s).single().map(|t| t + chrono::Duration::milliseconds(i64::from(ms))).unwrap_or_default()
    }

    #[test]
    fn a_tick_that_runs_past_the_next_minute_delays_it_and_never_skips_or_bursts() {
        let every_minute = parse_schedule("0 * * * * *").unwrap();
        // First tick: the next whole minute.
        assert_eq!(next_fire(&every_minute, None, at(9, 0, 20, 0)), Some((at(9, 1, 0, 0), at(9, 1, 0, 0))));
        // The 09:01 tick ended in time: 09:02 on schedule.
        assert_eq!(next_fire(&every_minute, Some(at(9, 1, 0, 0)), at(9, 1, 59, 600)), Some((at(9, 2, 0, 0), at(9, 2, 0, 0))));
        // The 09:01 tick ended at 09:02:00.4: the 09:02 tick fires at once.
        assert_eq!(next_fire(&every_minute, Some(at(9, 1, 0, 0)), at(9, 2, 0, 400)), Some((at(9, 2, 0, 400), at(9, 2, 0, 0))));
        // A tick that ran three minutes: one catch-up tick, then 09:05 on schedule.
        assert_eq!(next_fire(&every_minute, Some(at(9, 1, 0, 0)), at(9, 4, 10, 0)), Some((at(9, 4, 10, 0), at(9, 4, 0, 0))));
        assert_eq!(next_fire(&every_minute, Some(at(9, 4, 0, 0)), at(9, 4, 10, 50)), Some((at(9, 5, 0, 0), at(9, 5, 0, 0))));
    }
}
