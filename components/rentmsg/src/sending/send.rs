//! One outbound send pass: take due outbox rows, re-check them, and send
//! them within the pace budget through the SMS and email providers.
//!
//! For each row, in order:
//! 1. **Lease** it (`outbox::lease_next`, one atomic statement).
//! 2. **Cheap checks** (no budget spent): a notice whose tenant settled the
//!    balance, fell below the minimum, moved to a new billing cycle, is no
//!    longer active or is paused is cancelled; a later stage being due
//!    cancels it too (the next scan queues that one); outside the
//!    schedule's send window it is deferred to the window's next opening.
//! 3. **Pace**: claim a slot from the shared budget ([`crate::sending::pacing`]) and
//!    wait for it; a spent minute gives the row back and ends the pass.
//! 4. **Compliance**, right before sending: block / defer are recorded on
//!    the row with their rules.
//! 5. **Render** the template (the payment and unsubscribe links are
//!    signed for the row's random link id).
//! 6. **Intent**: one transaction moves the row to `sending` (attempt + 1)
//!    and writes the contact-log row (status `sending`). Only then:
//! 7. **Provider call** (the request is built before the intent, so nothing
//!    stands between the two). The call is started, not awaited: the pass
//!    goes on to the next row while it is in flight.
//! 8. **Outcome**, when the answer comes in: one transaction records it on
//!    the row and the contact log: `sent` with the provider id; a refusal `failed` with the
//!    provider's reason (an opt-out code also records the STOP, an
//!    invalid-number code marks the number); 429 / 5xx / not delivered back
//!    to `queued` with backoff; no answer at all `unknown` (it may have been
//!    sent, so it is not sent again).
//!
//! Calls in flight: a provider answers in 150-250 ms, while the pace can
//! want a call every 13 ms (4,500 a minute), so one pass keeps as many calls
//! in flight as the pace and the latency make (rate / 60 × latency), up to
//! [`MAX_IN_FLIGHT`]. Concurrency never sets the pace: a call starts only at
//! its claimed slot, so starts stay 60 s / rate apart; while it waits for a
//! slot the pass records the answers that come in. Every database step
//! (lease, intent, outcome) runs on the pass's one thread, in the order
//! above for each row; only the network wait overlaps
//! ([`HttpClient::start`] and [`HttpClient::collect`]). When the pass stops
//! taking rows (nothing due, budget spent, deadline) it waits for the
//! answers still out, each bounded by the client's own timeouts as a single
//! call always was, and records them. Near the deadline a call starts only
//! if an answer as slow as the slowest of the pass so far would still come
//! before it, so a pass started by the every-minute tick is done when the
//! next tick comes.
//!
//! At most once: the provider is only called after the intent is committed,
//! and a row whose intent is committed is never handed to a provider again
//! except after an answer that says it was not taken (429, 5xx, a request
//! that never left). A crash between the call and step 8 leaves the row (every
//! row in flight) in `sending`; when its lease expires the next pass marks it `unknown`
//! ([`crate::notices::outbox::reconcile_stale`]). Twilio has no idempotency key and
//! looking a message up by recipient and date is unreliable, so an unknown
//! row waits for a person (the contact log and Twilio's own logs say what
//! happened) rather than risking a duplicate; Postmark emails carry the
//! row's reference in `Metadata.notice_id` and the `X-Rentmsg-Notice`
//! header for the same look-up.

use crate::base::channel::Channel;
use crate::compliance::{CheckError, CheckRequest, ComplianceCheck, Verdict};
use crate::records::contact_log::{self, Direction, NewContact};
use crate::base::db::{self, Db};
use crate::base::error::{Error, Result};
use crate::notices::links::{self, Purpose};
use crate::notices::outbox::{self, DecisionUpdate, Leased, OutboxState};
use crate::sending::pacing::{Clock, Counter, Pacer, Slot};
use crate::sending::providers::{self, CallId, EmailConfig, HttpClient, HttpRequest, HttpResponse, Outcome, SmsConfig, Started, TransportError};
use crate::notices::schedule::{self, Schedule};
use crate::base::locale::{Currency, Language};
use crate::notices::templates::{self, RenderContext, Rendered};
use crate::base::time;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;
use std::str::FromStr;

/// Provider attempts before a message is marked failed.
pub const MAX_ATTEMPTS: i64 = 6;
/// How long a lease holds a row before the send intent (slot wait and checks).
pub const LEASE_SECONDS: i64 = 90;
/// How long a row in `sending` is left alone before it counts as stranded:
/// longer than any provider call may take.
pub const INTENT_LEASE_SECONDS: i64 = 120;
/// Provider calls one pass keeps in flight at most: 4,500 a minute at 1 s
/// each needs 75. A pass at the limit waits for an answer before the next
/// slot, and the pacer then skips the slots it missed (never a burst).
pub const MAX_IN_FLIGHT: usize = 128;

/// Settings of a pass.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// `public_base_url`: links are built on it.
    pub public_base_url: String,
    /// `link_key`: signs the links.
    pub link_key: String,
    /// SMS provider, when configured.
    pub sms: Option<SmsConfig>,
    /// Email provider, when configured.
    pub email: Option<EmailConfig>,
    /// `send_rate_per_minute`.
    pub rate_per_minute: i64,
}

/// Why the send settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("link_key is not configured")]
    MissingLinkKey,
    #[error("send_rate_per_minute must be a whole number from 1 to 100000, not `{0}`")]
    BadRate(String),
}

impl SendConfig {
    /// The settings from the Spin variables, looked up by `var` (trimmed,
    /// empty when unset). A channel whose provider settings are incomplete
    /// is left out: its messages wait, and the pass's report says so.
    pub fn from_variables(var: impl Fn(&str) -> String) -> std::result::Result<SendConfig, ConfigError> {
        let public_base_url = var("public_base_url");
        let sms = match (var("sms_account_sid"), var("sms_auth_token"), var("sms_from")) {
            (sid, token, from) if !sid.is_empty() && !token.is_empty() && !from.is_empty() => Some(SmsConfig {
                api_base: var("sms_api_base"),
                account_sid: sid,
                auth_token: token,
                from,
                status_callback: format!("{}/webhooks/sms/status", public_base_url.trim_end_matches('/')),
            }),
            _ => None,
        };
        let email = match (var("email_api_token"), var("email_from")) {
            (token, from) if !token.is_empty() && !from.is_empty() => {
                Some(EmailConfig { api_base: var("email_api_base"), server_token: token, from, message_stream: "outbound".into() })
            }
            _ => None,
        };
        let link_key = var("link_key");
        if link_key.is_empty() {
            return Err(ConfigError::MissingLinkKey);
        }
        let rate_per_minute = parse_rate(&var("send_rate_per_minute"))?;
        Ok(SendConfig { public_base_url, link_key, sms, email, rate_per_minute })
    }
}

/// What a pass runs against.
pub struct SendEnv<'a> {
    /// The database.
    pub db: &'a dyn Db,
    /// Compliance (the component's WIT import in production).
    pub checker: &'a dyn ComplianceCheck,
    /// Outbound HTTP (several calls in flight when the client can).
    pub http: &'a dyn HttpClient,
    /// The shared budget counters (key-value).
    pub counter: &'a dyn Counter,
    /// Time.
    pub clock: &'a dyn Clock,
    /// Settings.
    pub config: &'a SendConfig,
    /// This pass's lease owner id (random).
    pub owner: &'a str,
    /// Stop taking rows at this time.
    pub deadline: DateTime<Utc>,
    /// Structured log sink (no addresses, bodies or tokens are given to it).
    pub log: &'a dyn Fn(&serde_json::Value),
}

/// Why a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Nothing due is left.
    #[default]
    Idle,
    /// This minute's budget is spent.
    Budget,
    /// The pass reached its deadline.
    Deadline,
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendReport {
    /// Accepted by a provider.
    pub sent: usize,
    /// Refused by a provider for good (and template failures).
    pub failed: usize,
    /// Refused because the recipient opted out at the carrier (STOP recorded).
    pub opted_out: usize,
    /// Handed back for a later retry (429, 5xx, not delivered).
    pub retried: usize,
    /// No answer from the provider: may have been sent, not retried.
    pub unknown: usize,
    /// Blocked by compliance at send time.
    pub blocked: usize,
    /// Deferred (compliance or the send window).
    pub deferred: usize,
    /// Cancelled (balance settled, new cycle, later stage, paused...).
    pub cancelled: usize,
    /// Rows found stranded in `sending` and marked unknown.
    pub reconciled_unknown: usize,
    /// Texts sent in more than one segment.
    pub multi_segment_texts: usize,
    /// Segments of all texts sent.
    pub segments: usize,
    /// Channels skipped: not configured, or credentials refused.
    pub channels_unavailable: Vec<String>,
    /// Why the pass ended.
    pub stopped: StopReason,
}

/// Facts about a row's tenant at send time.
struct TenantNow {
    name: String,
    unit: Option<String>,
    status: String,
    facility: String,
    zone: Tz,
    facility_zone: Tz,
    balance_cents: Option<i64>,
    oldest: Option<chrono::NaiveDate>,
    last_payment: Option<chrono::NaiveDate>,
    paused_until: Option<String>,
    /// The language the tenant reads, and the property's (template fallback).
    language: Language,
    property_language: Language,
    currency: Currency,
}

fn tenant_now(db: &dyn Db, tenant_id: &str, now: DateTime<Utc>) -> Result<Option<TenantNow>> {
    let rows = db.execute(
        "SELECT t.name, t.unit, t.status, t.time_zone AS tenant_zone, p.name AS facility, p.time_zone AS property_zone,
                t.language, p.state AS property_state, p.country AS property_country, p.currency,
                b.balance_cents, b.oldest_unpaid_due_date, b.last_payment_date,
                (SELECT paused_until FROM notice_pauses np WHERE np.tenant_id = t.tenant_id AND np.paused_until > ?2) AS paused_until
         FROM tenants t JOIN properties p ON p.property_id = t.property_id
         LEFT JOIN tenant_balances b ON b.tenant_id = t.tenant_id
         WHERE t.tenant_id = ?1",
        &[tenant_id.into(), time::timestamp(now).into()],
    )?;
    let Some(r) = rows.first() else { return Ok(None) };
    let property_zone = r.opt_str("property_zone")?.and_then(|z| Tz::from_str(z).ok());
    let zone = r.opt_str("tenant_zone")?.and_then(|z| Tz::from_str(z).ok()).or(property_zone).unwrap_or(chrono_tz::UTC);
    let date = |c: &str| -> Result<Option<chrono::NaiveDate>> {
        r.opt_str(c)?.map(|s| time::parse_date(s).map_err(Error::Corrupt)).transpose()
    };
    let property_language = Language::for_property(r.opt_str("property_state")?, r.opt_str("property_country")?);
    Ok(Some(TenantNow {
        language: r.opt_str("language")?.and_then(|l| l.parse().ok()).unwrap_or(property_language),
        property_language,
        currency: r.str("currency")?.parse().unwrap_or_default(),
        name: r.string("name")?,
        unit: r.opt_string("unit")?,
        status: r.string("status")?,
        facility: r.string("facility")?,
        zone,
        facility_zone: property_zone.unwrap_or(zone),
        balance_cents: r.opt_i64("balance_cents")?,
        oldest: date("oldest_unpaid_due_date")?,
        last_payment: date("last_payment_date")?,
        paused_until: r.opt_string("paused_until")?,
    }))
}

/// Backoff before retry `attempt` (1-based): 1, 2, 4, 8, 16 minutes, at most
/// an hour; a provider's Retry-After wins when longer.
pub fn backoff(attempt: i64, retry_after_seconds: Option<i64>) -> Duration {
    let exp = attempt.clamp(1, 7) - 1;
    let base = Duration::minutes(1i64 << exp).min(Duration::hours(1));
    base.max(Duration::seconds(retry_after_seconds.unwrap_or(0)))
}

/// What happened to one leased row.
enum Step {
    Next,
    Stop(StopReason),
}

/// A step either hands its result to the next one or has finished the
/// row's turn (settled it, released it, or ended the pass).
enum Flow<T> {
    Go(T),
    Done(Step),
}

/// Unwrap a [`Flow`]: the value, or return the finished row's [`Step`].
macro_rules! go {
    ($flow:expr) => {
        match $flow {
            Flow::Go(v) => v,
            Flow::Done(step) => return Ok(step),
        }
    };
}

/// What one pass carries from row to row.
struct Pass<'p> {
    pacer: Pacer<'p>,
    schedule: Schedule,
    expiry_days: i64,
    /// Templates read so far, by stage, channel, reader's and property's
    /// language (None: there is none).
    templates: HashMap<(i64, Channel, Language, Language), Option<templates::Template>>,
    /// Channels still taking messages this pass.
    channels: Vec<Channel>,
    report: SendReport,
    /// Calls started whose answers are not recorded yet.
    in_flight: HashMap<CallId, InFlight>,
    /// The id of the next call.
    next_call: CallId,
    /// The most calls in flight at once.
    max_in_flight: usize,
    /// The longest a provider took to answer in this pass: a call is only
    /// started when its answer can be expected before the deadline.
    slowest_answer: Duration,
    /// Re-check compliance as a person's contact (a staff reply), not an automatic one.
    manual: bool,
}

/// A row whose intent is committed and whose call is out.
struct InFlight {
    row: Leased,
    started: DateTime<Utc>,
    attempt: i64,
    log_id: i64,
    address: String,
    rendered: Rendered,
}

/// Run one pass. Returns what it did; an `Err` means the database (or
/// compliance data) failed mid-way: rows already handled are recorded, a row
/// in flight is left for the lease and reconciliation rules.
pub fn run_pass(env: &SendEnv<'_>) -> Result<SendReport> {
    let start = env.clock.now();
    crate::schema::migrate(env.db, start)?;
    let mut report = SendReport::default();
    let stale = outbox::reconcile_stale(env.db, start)?;
    report.reconciled_unknown = stale.len();
    for id in &stale {
        (env.log)(&serde_json::json!({ "event": "reconciled_unknown", "outbox_id": id }));
    }
    let pacer = Pacer::new(env.counter, env.config.rate_per_minute);
    pacer.cleanup(start);
    let mut channels: Vec<Channel> = Vec::new();
    match &env.config.sms {
        Some(_) => channels.push(Channel::Text),
        None => report.channels_unavailable.push("text: SMS provider not configured".into()),
    }
    match &env.config.email {
        Some(_) => channels.push(Channel::Email),
        None => report.channels_unavailable.push("email: email provider not configured".into()),
    }
    let mut pass = Pass {
        pacer,
        schedule: schedule::load(env.db)?,
        expiry_days: links::expiry_days(env.db)?,
        templates: HashMap::new(),
        channels,
        report,
        in_flight: HashMap::new(),
        next_call: 0,
        max_in_flight: 0,
        slowest_answer: Duration::zero(),
        manual: false,
    };
    let taking = take_rows(env, &mut pass);
    // The answers still out are recorded even when taking rows failed (say
    // compliance was unavailable): a call that went out keeps its answer.
    let drained = drain(env, &mut pass);
    (env.log)(&serde_json::json!({ "event": "calls", "max_in_flight": pass.max_in_flight, "unrecorded": pass.in_flight.len() }));
    taking?;
    drained?;
    Ok(pass.report)
}

/// Send one named row now, as a pass would (lease, checks, a slot of the
/// shared budget, compliance, intent, call, outcome), for a staff reply
/// answered from the console. `manual`: compliance re-checks it as a
/// person's contact, as it was decided when staff wrote it. A spent
/// minute or a slot past `env.deadline` leaves the row queued for the next
/// pass (the report's `stopped` says which).
pub fn send_row(env: &SendEnv<'_>, id: i64, manual: bool) -> Result<SendReport> {
    let start = env.clock.now();
    let mut channels: Vec<Channel> = Vec::new();
    if env.config.sms.is_some() {
        channels.push(Channel::Text);
    }
    if env.config.email.is_some() {
        channels.push(Channel::Email);
    }
    let mut pass = Pass {
        pacer: Pacer::new(env.counter, env.config.rate_per_minute),
        schedule: schedule::load(env.db)?,
        expiry_days: links::expiry_days(env.db)?,
        templates: HashMap::new(),
        channels,
        report: SendReport::default(),
        in_flight: HashMap::new(),
        next_call: 0,
        max_in_flight: 0,
        slowest_answer: Duration::zero(),
        manual,
    };
    let Some(row) = outbox::lease_one(env.db, id, env.owner, start + Duration::seconds(LEASE_SECONDS), start)? else {
        return Ok(pass.report);
    };
    if !pass.channels.contains(&row.channel) {
        outbox::release(env.db, row.id, env.owner, start)?;
        pass.report.channels_unavailable.push(format!("{}: provider not configured", row.channel.as_str()));
        return Ok(pass.report);
    }
    let taking = process(env, &mut pass, row).map(|step| {
        if let Step::Stop(reason) = step {
            pass.report.stopped = reason;
        }
    });
    let drained = drain(env, &mut pass);
    taking?;
    drained?;
    Ok(pass.report)
}

/// Lease and send rows until nothing is due, the budget is spent or the
/// deadline comes.
fn take_rows(env: &SendEnv<'_>, pass: &mut Pass<'_>) -> Result<()> {
    loop {
        // At the limit, wait for an answer (a client that has none has lost its calls).
        while pass.in_flight.len() >= MAX_IN_FLIGHT && collect(env, pass, None)? > 0 {}
        let now = env.clock.now();
        if now >= env.deadline {
            pass.report.stopped = StopReason::Deadline;
            return Ok(());
        }
        let until = now + Duration::seconds(LEASE_SECONDS);
        let Some(row) = outbox::lease_next(env.db, env.owner, until, &pass.channels, now)? else {
            pass.report.stopped = StopReason::Idle;
            return Ok(());
        };
        if let Step::Stop(reason) = process(env, pass, row)? {
            pass.report.stopped = reason;
            return Ok(());
        }
    }
}

/// Record the answers that come in by `until` (`None`: at least one).
/// Every answer collected is recorded even if one fails to be; the first
/// failure is returned.
fn collect(env: &SendEnv<'_>, pass: &mut Pass<'_>, until: Option<DateTime<Utc>>) -> Result<usize> {
    // The client waits on its own timer: the pass's clock says how long.
    let wait = until.map(|t| (t - env.clock.now()).to_std().unwrap_or_default());
    let answers = env.http.collect(wait);
    let n = answers.len();
    let mut first_error = None;
    for (id, answer) in answers {
        let Some(call) = pass.in_flight.remove(&id) else { continue };
        if let Err(e) = record_answer(env, pass, &call, answer) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(n), Err)
}

/// Wait for every call still out and record its answer. A client that
/// returns nothing while calls are out has lost them: their rows stay in
/// `sending` and become `unknown` when the intent lease runs out.
fn drain(env: &SendEnv<'_>, pass: &mut Pass<'_>) -> Result<()> {
    let mut first_error = None;
    while !pass.in_flight.is_empty() {
        match collect(env, pass, None) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Wait until `at`, recording answers as they come in meanwhile.
fn wait_until(env: &SendEnv<'_>, pass: &mut Pass<'_>, at: DateTime<Utc>) -> Result<()> {
    while !pass.in_flight.is_empty() && env.clock.now() < at {
        collect(env, pass, Some(at))?;
    }
    env.clock.sleep_until(at);
    Ok(())
}

fn record_answer(env: &SendEnv<'_>, pass: &mut Pass<'_>, call: &InFlight, answer: std::result::Result<HttpResponse, TransportError>) -> Result<()> {
    pass.slowest_answer = pass.slowest_answer.max(env.clock.now() - call.started);
    let sent = Sent { row: &call.row, attempt: call.attempt, log_id: call.log_id, address: &call.address, rendered: &call.rendered };
    record_outcome(env, pass, &sent, read_answer(call.row.channel, answer))
}

fn settle(env: &SendEnv<'_>, row: &Leased, d: DecisionUpdate<'_>) -> Result<()> {
    outbox::settle_leased(env.db, row.id, env.owner, &d, env.clock.now())?;
    // Rule names only: reasons in words can quote addresses; they stay on the row.
    let rules: Vec<&str> = d
        .reasons
        .and_then(|r| r.as_array())
        .map(|a| a.iter().filter_map(|x| x["rule"].as_str()).collect())
        .unwrap_or_default();
    (env.log)(&serde_json::json!({
        "event": d.state.as_str(), "outbox_id": row.id, "tenant_id": row.tenant_id, "channel": row.channel.as_str(), "rules": rules,
    }));
    Ok(())
}

/// Settle the row without sending: `state` for `reason`, not before `at`,
/// with compliance's verdict and rules when it was asked.
#[allow(clippy::too_many_arguments)]
fn settle_as<T>(
    env: &SendEnv<'_>,
    row: &Leased,
    state: OutboxState,
    reason: &str,
    decision: Option<(Verdict, &serde_json::Value)>,
    at: DateTime<Utc>,
) -> Result<Flow<T>> {
    settle(
        env,
        row,
        DecisionUpdate {
            state,
            state_reason: Some(reason),
            decision: decision.map(|(v, _)| v),
            reasons: decision.map(|(_, r)| r),
            not_before: at,
            address: None,
        },
    )?;
    Ok(Flow::Done(Step::Next))
}

fn cancel<T>(env: &SendEnv<'_>, row: &Leased, reason: &str, report: &mut SendReport) -> Result<Flow<T>> {
    report.cancelled += 1;
    settle_as(env, row, OutboxState::Cancelled, reason, None, env.clock.now())
}

/// Give the row back untouched and end its turn with `step`.
fn release<T>(env: &SendEnv<'_>, row: &Leased, step: Step) -> Result<Flow<T>> {
    outbox::release(env.db, row.id, env.owner, env.clock.now())?;
    Ok(Flow::Done(step))
}

/// One leased row, from its lease to its call: the steps of the module
/// docs, in order; the answer is recorded when it comes in.
fn process(env: &SendEnv<'_>, pass: &mut Pass<'_>, row: Leased) -> Result<Step> {
    let row = &row;
    let Some(tenant) = tenant_now(env.db, &row.tenant_id, env.clock.now())? else {
        go!(cancel::<()>(env, row, "the tenant no longer exists", &mut pass.report)?);
        return Ok(Step::Next);
    };
    let days_past_due = go!(still_wanted(env, pass, row, &tenant)?);
    go!(take_budget_slot(env, pass, row)?);
    let address = go!(recheck_compliance(env, pass, row, &tenant)?);
    let message = go!(render(env, pass, row, &tenant, days_past_due)?);
    let request = go!(provider_request(env, pass, row, &address, &message)?);
    let Some((attempt, log_id)) = record_intent(env, row, &address, &message, env.clock.now())? else {
        // The lease was lost (expired and taken): the other holder sends it.
        return Ok(Step::Next);
    };
    let id = pass.next_call;
    pass.next_call += 1;
    let call = InFlight { row: row.clone(), started: env.clock.now(), attempt, log_id, address, rendered: message.rendered };
    match env.http.start(id, &request) {
        Started::Answered(answer) => record_answer(env, pass, &call, answer)?,
        Started::InFlight => {
            pass.in_flight.insert(id, call);
            pass.max_in_flight = pass.max_in_flight.max(pass.in_flight.len());
        }
    }
    Ok(Step::Next)
}

/// Step 2, the cheap checks (no budget spent): is this notice still wanted
/// now? Goes on with the days past due (0 for a supplemental message).
fn still_wanted(env: &SendEnv<'_>, pass: &mut Pass<'_>, row: &Leased, tenant: &TenantNow) -> Result<Flow<i64>> {
    if row.kind != "notice" {
        return Ok(Flow::Go(0));
    }
    let now = env.clock.now();
    let report = &mut pass.report;
    let schedule = &pass.schedule;
    if tenant.status != "active" {
        return cancel(env, row, &format!("the tenant's status is {}", tenant.status), report);
    }
    if let Some(until) = &tenant.paused_until {
        return cancel(env, row, &format!("notices are paused until {until}"), report);
    }
    let balance = tenant.balance_cents.unwrap_or(0);
    if balance <= 0 {
        return cancel(env, row, "balance settled", report);
    }
    if balance < schedule.spec.min_balance_cents {
        return cancel(env, row, "the balance is below the schedule's minimum", report);
    }
    let Some(oldest) = tenant.oldest else { return cancel(env, row, "nothing is past due", report) };
    let standing = schedule.standing(oldest, tenant.last_payment, time::local_date(now, tenant.zone));
    if row.cycle.as_deref() != Some(standing.cycle.as_str()) {
        return cancel(env, row, "the billing cycle changed (a payment covered the charge it was about)", report);
    }
    match schedule.due_stage(standing.days_past_due) {
        Some(s) if Some(s.stage) == row.stage => {}
        Some(s) => return cancel(env, row, &format!("stage {} is due now; the next scan queues it", s.stage), report),
        None => return cancel(env, row, "no stage is due", report),
    }
    if !schedule.allows(now, tenant.facility_zone) {
        report.deferred += 1;
        let at = schedule.next_send_time(now, tenant.facility_zone).unwrap_or(now + Duration::days(1));
        return settle_as(env, row, OutboxState::Deferred, "outside the schedule's send window (facility's local time)", None, at);
    }
    Ok(Flow::Go(standing.days_past_due))
}

/// Step 3, pace: claim a slot of the shared budget and wait for it. A spent
/// minute, or a slot whose answer would come after the deadline (as slow as
/// the slowest answer so far), gives the row back and ends the pass: the
/// pass then ends by its deadline, before the next tick is due, with every
/// answer recorded.
fn take_budget_slot(env: &SendEnv<'_>, pass: &mut Pass<'_>, row: &Leased) -> Result<Flow<()>> {
    let slot = match pass.pacer.claim(env.clock.now()) {
        Ok(s) => s,
        Err(e) => {
            release::<()>(env, row, Step::Next)?;
            return Err(Error::BudgetUnavailable(e));
        }
    };
    match slot {
        Slot::Exhausted(_) => release(env, row, Step::Stop(StopReason::Budget)),
        Slot::At(at) if at + pass.slowest_answer >= env.deadline => release(env, row, Step::Stop(StopReason::Deadline)),
        Slot::At(at) => {
            if let Err(e) = wait_until(env, pass, at) {
                release::<()>(env, row, Step::Next)?;
                return Err(e);
            }
            Ok(Flow::Go(()))
        }
    }
}

/// Step 4, compliance right before sending: block and defer are recorded
/// on the row with their rules. Goes on with the address to send to.
fn recheck_compliance(env: &SendEnv<'_>, pass: &mut Pass<'_>, row: &Leased, tenant: &TenantNow) -> Result<Flow<String>> {
    let now = env.clock.now();
    let request = CheckRequest { tenant_id: row.tenant_id.clone(), channel: row.channel, address: row.address.clone(), at: now, manual: pass.manual };
    let decision = match env.checker.check(&request) {
        Ok(d) => d,
        Err(CheckError::UnknownTenant(m)) => return cancel(env, row, &m, &mut pass.report),
        Err(CheckError::Invalid(m)) => {
            pass.report.blocked += 1;
            let reasons = serde_json::json!([{ "rule": "request.invalid", "detail": m }]);
            return settle_as(env, row, OutboxState::Blocked, &m, Some((Verdict::Block, &reasons)), now);
        }
        Err(CheckError::Unavailable(m)) => {
            release::<()>(env, row, Step::Next)?;
            return Err(Error::ComplianceUnavailable(m));
        }
    };
    let reasons = serde_json::to_value(&decision.reasons).unwrap_or_default();
    let summary = || crate::notices::scan::summarize(&decision.reasons);
    match decision.verdict {
        Verdict::Allow => {}
        Verdict::Block => {
            pass.report.blocked += 1;
            return settle_as(env, row, OutboxState::Blocked, &summary(), Some((Verdict::Block, &reasons)), now);
        }
        Verdict::Defer => {
            pass.report.deferred += 1;
            let until = decision.defer_until.unwrap_or(now + Duration::hours(1));
            // A notice also waits for the schedule's window.
            let at = if row.kind == "notice" { pass.schedule.next_send_time(until, tenant.facility_zone).unwrap_or(until) } else { until };
            return settle_as(env, row, OutboxState::Deferred, &summary(), Some((Verdict::Defer, &reasons)), at);
        }
    }
    match decision.address.clone().or_else(|| row.address.clone()) {
        Some(address) => Ok(Flow::Go(address)),
        None => cancel(env, row, "no address to send to", &mut pass.report),
    }
}

/// A rendered message and the links in it.
struct Message {
    /// The row's random link id the links are signed for.
    link_id: String,
    /// When the links expire (kept on the row: short tokens do not carry it).
    expires: DateTime<Utc>,
    rendered: Rendered,
    unsubscribe_url: String,
    /// The language of its opt-out line and amounts.
    language: Language,
}

/// Step 5, render: sign the payment and unsubscribe links for the row's
/// link id and fill its template. A template that cannot be rendered fails
/// the row.
fn render(env: &SendEnv<'_>, pass: &mut Pass<'_>, row: &Leased, tenant: &TenantNow, days_past_due: i64) -> Result<Flow<Message>> {
    let now = env.clock.now();
    let link_id = match &row.link_id {
        Some(id) => id.clone(),
        None => links::new_link_id().map_err(|e| Error::RandomUnavailable(e.to_string()))?,
    };
    let expires = links::expiry_from(now, pass.expiry_days);
    let sign = |p: Purpose| links::sign(&env.config.link_key, p, &link_id);
    let (pay_token, unsub_token) = match (sign(Purpose::Pay), sign(Purpose::Unsubscribe)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            release::<()>(env, row, Step::Next)?;
            return Err(Error::LinkSigning(e));
        }
    };
    let unsubscribe_url = links::url(&env.config.public_base_url, Purpose::Unsubscribe, &unsub_token);
    let balance_cents = tenant.balance_cents.unwrap_or(0);
    // A supplemental message keeps the language it was written in; the
    // rest speak the tenant's language of today.
    let language = row.language.unwrap_or(tenant.language);
    let ctx = RenderContext {
        tenant_name: tenant.name.clone(),
        unit: tenant.unit.clone().unwrap_or_default(),
        facility: tenant.facility.clone(),
        balance_cents,
        balance: crate::base::money::format_amount(balance_cents, language, tenant.currency),
        days_past_due,
        due_date: tenant.oldest.map(time::date_string).unwrap_or_default(),
        stage: row.stage.unwrap_or(0),
        payment_link: links::url(&env.config.public_base_url, Purpose::Pay, &pay_token),
        unsubscribe_url: if row.channel == Channel::Email { unsubscribe_url.clone() } else { String::new() },
        opt_out: templates::opt_out_line_in(row.channel, language, Some(&unsubscribe_url)),
    };
    let source = if row.kind == "notice" {
        let key = (row.stage.unwrap_or(0), row.channel, tenant.language, tenant.property_language);
        if let std::collections::hash_map::Entry::Vacant(e) = pass.templates.entry(key) {
            e.insert(templates::find(env.db, key.0, key.1, key.2, key.3)?);
        }
        pass.templates.get(&key).cloned().flatten().map(|t| (t.subject, t.body))
    } else {
        row.custom_body.clone().map(|b| (row.custom_subject.clone(), b))
    };
    let rendered = match source {
        None => Err(format!("no {} template for stage {}", row.channel.as_str(), row.stage.unwrap_or(0))),
        Some((subject, body)) => templates::render(row.channel, subject.as_deref(), &body, &ctx).map_err(|e| e.to_string()),
    };
    match rendered {
        Ok(rendered) => Ok(Flow::Go(Message { link_id, expires, rendered, unsubscribe_url, language })),
        Err(reason) => {
            pass.report.failed += 1;
            settle_as(env, row, OutboxState::Failed, &reason, None, now)
        }
    }
}

/// The provider request for the row's channel. Built before the intent is
/// recorded, so that nothing can stop the call once it is. A channel
/// without a provider is never leased; should one be, the row goes back and
/// the channel rests for the pass.
fn provider_request(env: &SendEnv<'_>, pass: &mut Pass<'_>, row: &Leased, address: &str, m: &Message) -> Result<Flow<HttpRequest>> {
    let request = match (row.channel, &env.config.sms, &env.config.email) {
        (Channel::Text, Some(cfg), _) => Some(providers::twilio_request(cfg, address, &m.rendered.body)),
        (Channel::Email, _, Some(cfg)) => Some(providers::postmark_request(
            cfg,
            &providers::Email {
                to: address,
                subject: m.rendered.subject.as_deref().unwrap_or_default(),
                text_body: &m.rendered.body,
                unsubscribe_url: &m.unsubscribe_url,
                notice_ref: &format!("outbox-{}", row.id),
            },
        )),
        _ => None,
    };
    match request {
        Some(r) => Ok(Flow::Go(r)),
        None => {
            pass.channels.retain(|c| *c != row.channel);
            release(env, row, Step::Next)
        }
    }
}

/// Step 7's result: the provider's answer, or the text of why none came
/// (it may have been sent).
fn read_answer(channel: Channel, answer: std::result::Result<HttpResponse, TransportError>) -> std::result::Result<Outcome, String> {
    match answer {
        Ok(resp) if channel == Channel::Text => Ok(providers::parse_twilio(&resp)),
        Ok(resp) => Ok(providers::parse_postmark(&resp)),
        Err(TransportError::NotSent(m)) => Ok(Outcome::Retry { reason: format!("not delivered to the provider: {m}"), after_seconds: None }),
        Err(TransportError::NoAnswer(m)) => Err(m),
    }
}

/// A row whose send intent is committed.
struct Sent<'a> {
    row: &'a Leased,
    attempt: i64,
    log_id: i64,
    address: &'a str,
    rendered: &'a Rendered,
}

/// Step 8, record the answer on the row and its contact-log row, in one
/// transaction with what it implies about the recipient (a STOP, an invalid
/// number).
fn record_outcome(env: &SendEnv<'_>, pass: &mut Pass<'_>, s: &Sent<'_>, answer: std::result::Result<Outcome, String>) -> Result<()> {
    let now = env.clock.now();
    let (row, attempt, log_id) = (s.row, s.attempt, s.log_id);
    let report = &mut pass.report;
    let outcome = match answer {
        Ok(o) => o,
        Err(m) => {
            report.unknown += 1;
            let reason = format!("no answer from the provider ({m}); it may have been sent, so it is not sent again");
            return record_result(env, row, attempt, log_id, OutboxState::Unknown, &reason, None, None, now);
        }
    };
    match outcome {
        Outcome::Accepted { provider_id, status } => {
            report.sent += 1;
            if let Some(m) = s.rendered.measure {
                report.segments += m.segments;
                if m.segments > 1 {
                    report.multi_segment_texts += 1;
                }
            }
            let pid = (!provider_id.is_empty()).then_some(provider_id.as_str());
            record_result(env, row, attempt, log_id, OutboxState::Sent, &status, pid, Some(&status), now)?;
        }
        Outcome::OptedOut { code, reason } => {
            report.opted_out += 1;
            let why = format!("the carrier reports the recipient opted out (error {code}): {reason}");
            db::transaction(env.db, |tx| -> Result<()> {
                finish(tx, row, attempt, log_id, OutboxState::Failed, &why, None, None, now)?;
                crate::records::exclusions::set_customer_opt_out_in_tx(
                    tx,
                    s.address,
                    now,
                    None,
                    &format!("carrier reports the recipient opted out (error {code})"),
                )?;
                Ok(())
            })?;
        }
        Outcome::InvalidNumber { code, reason } => {
            // As a status callback with the same code would: the number is
            // marked (audited) with the failure, in one transaction.
            report.failed += 1;
            let why = format!("the provider refused it: the number cannot receive texts (error {code}): {reason}");
            db::transaction(env.db, |tx| -> Result<()> {
                finish(tx, row, attempt, log_id, OutboxState::Failed, &why, None, None, now)?;
                crate::records::number_states::mark_invalid_in_tx(tx, s.address, &code, None, now)?;
                Ok(())
            })?;
        }
        Outcome::Rejected { code, reason } => {
            report.failed += 1;
            let why = match code {
                Some(c) => format!("the provider refused it (error {c}): {reason}"),
                None => format!("the provider refused it: {reason}"),
            };
            record_result(env, row, attempt, log_id, OutboxState::Failed, &why, None, None, now)?;
        }
        Outcome::Retry { reason, after_seconds } => {
            if attempt >= MAX_ATTEMPTS {
                report.failed += 1;
                let why = format!("gave up after {attempt} attempts: {reason}");
                record_result(env, row, attempt, log_id, OutboxState::Failed, &why, None, None, now)?;
            } else {
                report.retried += 1;
                let at = now + backoff(attempt, after_seconds);
                retry(env, row, attempt, log_id, &reason, at, true, now)?;
            }
        }
        Outcome::AuthFailed { reason } => {
            // Nothing was sent; the configuration is wrong. The row goes
            // back as it was and the channel rests for the rest of the pass.
            retry(env, row, attempt, log_id, &format!("provider credentials refused: {reason}"), now, false, now)?;
            pass.channels.retain(|c| *c != row.channel);
            report.channels_unavailable.push(format!("{}: provider refused the credentials", row.channel.as_str()));
        }
    }
    Ok(())
}

/// Step 6: move the leased row to `sending` and write its contact-log row,
/// in one transaction. None when this owner no longer holds the row.
fn record_intent(
    env: &SendEnv<'_>,
    row: &Leased,
    address: &str,
    message: &Message,
    now: DateTime<Utc>,
) -> Result<Option<(i64, i64)>> {
    let Message { link_id, expires: link_expires, rendered, .. } = message;
    let stamp = time::timestamp(now);
    let logged_body = match &rendered.subject {
        Some(s) => format!("Subject: {s}\n\n{}", rendered.body),
        None => rendered.body.clone(),
    };
    db::transaction(env.db, |tx| -> Result<Option<(i64, i64)>> {
        let rows = tx.execute(
            "UPDATE outbox SET state = 'sending', state_reason = NULL, attempts = attempts + 1, link_id = ?, link_expires_at = ?, address = ?,
                    subject = ?, body = ?, encoding = ?, segments = ?, intent_at = ?, leased_until = ?, updated_at = ?
             WHERE id = ? AND lease_owner = ? AND state IN ('queued', 'deferred') RETURNING attempts",
            &[
                link_id.as_str().into(),
                time::timestamp(*link_expires).into(),
                address.into(),
                rendered.subject.as_deref().into(),
                rendered.body.as_str().into(),
                rendered.measure.map(|m| m.encoding.as_str()).into(),
                rendered.measure.map(|m| m.segments as i64).into(),
                stamp.as_str().into(),
                time::timestamp(now + Duration::seconds(INTENT_LEASE_SECONDS)).into(),
                stamp.as_str().into(),
                row.id.into(),
                env.owner.into(),
            ],
        )?;
        let Some(attempt) = rows.first().map(|r| r.i64("attempts")).transpose()? else { return Ok(None) };
        let detail = serde_json::json!({
            "outbox_id": row.id,
            "kind": row.kind,
            "stage": row.stage,
            "cycle": row.cycle,
            "attempt": attempt,
            "language": message.language,
            "encoding": rendered.measure.map(|m| m.encoding.as_str()),
            "segments": rendered.measure.map(|m| m.segments),
        });
        let log_id = contact_log::record(
            tx,
            &NewContact {
                tenant_id: Some(&row.tenant_id),
                channel: row.channel,
                direction: Direction::Outbound,
                address,
                body: &logged_body,
                status: "sending",
                at: now,
                provider_id: None,
                detail: Some(&detail),
            },
        )?;
        tx.execute("UPDATE outbox SET contact_log_id = ? WHERE id = ?", &[log_id.into(), row.id.into()])?;
        Ok(Some((attempt, log_id)))
    })
    .inspect(|r| {
        if let Some((attempt, _)) = r {
            (env.log)(&serde_json::json!({ "event": "sending", "outbox_id": row.id, "tenant_id": row.tenant_id, "channel": row.channel.as_str(), "attempt": attempt }));
        }
    })
}

/// Write a final answer on the row (matched by attempt, so a late answer
/// still lands on a row reconciled to `unknown`) and on its contact-log row.
#[allow(clippy::too_many_arguments)]
fn finish(
    tx: &dyn Db,
    row: &Leased,
    attempt: i64,
    log_id: i64,
    state: OutboxState,
    reason: &str,
    provider_id: Option<&str>,
    provider_status: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let stamp = time::timestamp(now);
    let sent = state == OutboxState::Sent;
    let sent_at = sent.then(|| stamp.clone());
    tx.execute(
        "UPDATE outbox SET state = ?, state_reason = ?, provider_id = ?, provider_status = ?, sent_at = ?,
                lease_owner = NULL, leased_until = NULL, updated_at = ?
         WHERE id = ? AND attempts = ? AND state IN ('sending', 'unknown')",
        &[
            state.as_str().into(),
            (!sent).then_some(reason).into(),
            provider_id.into(),
            provider_status.into(),
            sent_at.into(),
            stamp.as_str().into(),
            row.id.into(),
            attempt.into(),
        ],
    )?;
    let log_status = if sent { provider_status.unwrap_or("sent") } else { state.as_str() };
    tx.execute(
        "UPDATE contact_log SET status = ?, provider_id = ?,
                detail = json_set(CASE WHEN json_valid(detail) THEN detail ELSE '{}' END, '$.result', ?)
         WHERE id = ?",
        &[log_status.into(), provider_id.into(), reason.into(), log_id.into()],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn record_result(
    env: &SendEnv<'_>,
    row: &Leased,
    attempt: i64,
    log_id: i64,
    state: OutboxState,
    reason: &str,
    provider_id: Option<&str>,
    provider_status: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    db::transaction(env.db, |tx| finish(tx, row, attempt, log_id, state, reason, provider_id, provider_status, now))?;
    // No provider message in logs: some quote the recipient's number.
    (env.log)(&serde_json::json!({
        "event": state.as_str(), "outbox_id": row.id, "tenant_id": row.tenant_id, "channel": row.channel.as_str(),
        "attempt": attempt, "provider_status": provider_status,
    }));
    Ok(())
}

/// The provider did not take it: back to `queued` for `at`; the attempt's
/// contact-log row says it failed and why.
#[allow(clippy::too_many_arguments)]
fn retry(
    env: &SendEnv<'_>,
    row: &Leased,
    attempt: i64,
    log_id: i64,
    reason: &str,
    at: DateTime<Utc>,
    counts: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let stamp = time::timestamp(now);
    db::transaction(env.db, |tx| -> Result<()> {
        // A refusal of our credentials is not an attempt at the message.
        tx.execute(
            "UPDATE outbox SET state = 'queued', state_reason = ?, not_before = ?, lease_owner = NULL, leased_until = NULL, updated_at = ?,
                    attempts = attempts - ?
             WHERE id = ? AND attempts = ? AND state = 'sending'",
            &[
                format!("attempt {attempt} not taken: {reason}; retry at {}", time::timestamp(at)).into(),
                time::timestamp(at).into(),
                stamp.as_str().into(),
                i64::from(!counts).into(),
                row.id.into(),
                attempt.into(),
            ],
        )?;
        tx.execute(
            "UPDATE contact_log SET status = 'failed',
                    detail = json_set(CASE WHEN json_valid(detail) THEN detail ELSE '{}' END, '$.result', ?, '$.retry_at', ?)
             WHERE id = ?",
            &[reason.into(), time::timestamp(at).into(), log_id.into()],
        )?;
        Ok(())
    })?;
    (env.log)(&serde_json::json!({
        "event": "retry", "outbox_id": row.id, "tenant_id": row.tenant_id, "channel": row.channel.as_str(),
        "attempt": attempt, "retry_at": time::timestamp(at),
    }));
    Ok(())
}

/// Parse `send_rate_per_minute` (a whole number, 1 to 100,000).
fn parse_rate(raw: &str) -> std::result::Result<i64, ConfigError> {
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(ConfigError::BadRate(raw.to_owned())),
    }
}

/// The end of the minute `now` is in, less half a second: a pass started by
/// the every-minute cron tick ends before the next tick is due.
pub fn default_deadline(now: DateTime<Utc>) -> DateTime<Utc> {
    let minute = now.timestamp().div_euclid(60);
    chrono::TimeZone::timestamp_opt(&Utc, (minute + 1) * 60, 0).single().unwrap_or(now) - Duration::milliseconds(500)
}
