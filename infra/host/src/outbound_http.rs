//! Outbound HTTP (`wasi:http/outgoing-handler`) restricted to the component's
//! `allowed_outbound_hosts`, as Spin does: a denied request is the error value
//! `HTTP-request-denied` for the guest, never a crash.
//!
//! Three kinds of destination, as in Spin:
//! - the app itself: a relative URL (`/api/x`, which Spin SDKs send with the
//!   authority `:80` or `:443`) or host `self.alt`, allowed by a
//!   `http://self` (or `*`) rule and routed like any incoming request;
//! - another component: `http://<component>.spin.internal/...` (service
//!   chaining), sent straight to that component, private routes included;
//! - anything else goes out to the network.
//!
//! Both in-app kinds need the HTTP trigger: from a cron tick there is no
//! origin to send to, and Spin answers with an error, so this host does too.

use std::sync::Arc;

use http_body_util::BodyExt;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView};

use crate::app::AppShared;
use crate::grants::{Grants, Isolation};
use crate::state::HostState;

/// The authority Spin gives a relative URL: requests to it go to the app itself.
pub const SELF_AUTHORITY: &str = "self.alt";

/// What started the instance (decides whether in-app requests can be served).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An HTTP request.
    Http,
    /// A cron tick.
    Cron,
}

/// The wasi-http hooks of one instance.
pub struct OutboundHooks {
    /// Grants of the code running now (changes while a dependency runs).
    grants: Arc<Grants>,
    /// The app (for requests to itself).
    app: Arc<AppShared>,
    /// What started the instance.
    trigger: Trigger,
}

impl OutboundHooks {
    /// Hooks enforcing `grants`.
    pub fn new(grants: Arc<Grants>, app: Arc<AppShared>, trigger: Trigger) -> Self {
        OutboundHooks { grants, app, trigger }
    }

    /// Switch to the grants of the code now running.
    pub fn set_grants(&mut self, grants: Arc<Grants>) {
        self.grants = grants;
    }
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn std::future::Future<Output = Result<(), Error>> + Send>,
)>;

/// Where a request is going.
enum Destination {
    /// The app's own routes.
    App,
    /// One component, by id (service chaining).
    Component(String),
    /// The network.
    Network,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn std::future::Future<Output = SendResult> + Send> {
        // The guest's report of trouble reading the response: nothing to do with it here.
        let _ = fut;
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or("https").to_string();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let component = self.grants.component_id.clone();
        let isolation = self.grants.isolation;
        // Spin SDKs give a relative URL the authority `:80` or `:443`: no host.
        let destination = if host == SELF_AUTHORITY || host.is_empty() {
            Destination::App
        } else if let Some(target) = spin_host_config::outbound::service_chaining_target(&host) {
            Destination::Component(target.to_string())
        } else {
            Destination::Network
        };
        let allowed = match destination {
            Destination::App => self.grants.allowed_hosts.allows_self(),
            _ => self.grants.allowed_hosts.allows_parts(&scheme, &host, uri.port_u16()),
        };
        let trigger = self.trigger;
        let app = self.app.clone();
        Box::new(async move {
            if isolation == Isolation::Isolated {
                // Spin's deny-all adapter stands in for the outgoing handler.
                return refuse(request, Error::InternalError(Some("\"wasi:http/outgoing-handler\" is not permitted".into()))).await;
            }
            if !allowed {
                let shown = match destination {
                    Destination::App => "self".to_string(),
                    _ => format!("{scheme}://{host}"),
                };
                tracing::warn!(component, destination = %shown, "outbound request denied by allowed_outbound_hosts");
                return refuse(request, Error::HttpRequestDenied).await;
            }
            match destination {
                Destination::App | Destination::Component(_) if trigger != Trigger::Http => {
                    tracing::warn!(component, "request to the app itself from a cron tick: only HTTP-triggered instances can make one");
                    let error = match destination {
                        Destination::App => Error::HttpRequestUriInvalid,
                        _ => Error::DnsError { rcode: Some("address not available".into()), info_code: Some(0) },
                    };
                    refuse(request, error).await
                }
                Destination::App => app.send_to_app(request, None).await,
                Destination::Component(target) => {
                    if !app.has_component(&target) {
                        return refuse(request, Error::HttpRequestDenied).await;
                    }
                    app.send_to_app(request, Some(target)).await
                }
                Destination::Network => {
                    // Some servers refuse a Host header the client did not need
                    // to send; hyper sets the right one from the URI.
                    request.headers_mut().remove(http::header::HOST);
                    let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
                    Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>))
                }
            }
        })
    }
}

/// How long a refused request's body may take to arrive before the refusal
/// is reported anyway.
const REFUSED_BODY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Answer a request that will not be sent with `error`, after reading (and
/// discarding) its body. The decision is made in a task that can finish
/// before the guest has written its body; dropping the body then would make
/// the guest's write fail with "stream closed" instead of the refusal it
/// should see when it awaits the response.
async fn refuse(request: http::Request<WasiBody>, error: Error) -> SendResult {
    let _ = tokio::time::timeout(REFUSED_BODY_WAIT, request.into_body().collect()).await;
    Err(error)
}

/// Replace wasi-http's `outgoing-handler.handle` with one that accepts a
/// relative URL, as Spin does: wasmtime rejects a request without an
/// authority, so give it Spin's self authority first.
pub fn add_relative_url_support(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let mut instance = linker.instance(OUTGOING_HANDLER)?;
    instance.func_wrap(
        "handle",
        |mut store: wasmtime::StoreContextMut<'_, HostState>,
         (request, options): (Resource<HostOutgoingRequest>, Option<Resource<RequestOptions>>)|
         -> wasmtime::Result<(Result<Resource<HostFutureIncomingResponse>, ErrorCode>,)> {
            let state = store.data_mut();
            let outgoing = state.table.get_mut(&request)?;
            if outgoing.authority.as_deref().is_none_or(str::is_empty) {
                outgoing.authority = Some(SELF_AUTHORITY.to_string());
            }
            let mut view = state.http();
            match wasmtime_wasi_http::p2::bindings::http::outgoing_handler::Host::handle(&mut view, request, options) {
                Ok(future) => Ok((Ok(future),)),
                Err(e) => Ok((Err(e.downcast()?),)),
            }
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The outgoing-handler interface as wasmtime-wasi-http 48 defines it (guests
/// importing any other 0.2.x version link to it by semver).
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";
