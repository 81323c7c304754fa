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
//!
//! The policy is the `WasiHttpHooks` of the instance's [`OutboundHooks`];
//! the app's linker gives a relative URL the authority [`SELF_AUTHORITY`].

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::app::{AppShared, OutboundHooks, Trigger, SELF_AUTHORITY};

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
        let isolated = self.grants.is_isolated();
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
            if isolated {
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
                Destination::App => send_to_app(&app, request, None).await,
                Destination::Component(target) => {
                    if !app.has_component(&target) {
                        return refuse(request, Error::HttpRequestDenied).await;
                    }
                    send_to_app(&app, request, Some(target)).await
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

/// A request a component sent to the app itself (`target: None`, routed
/// by path) or to one of its components (service chaining): run it inside
/// the app without touching the network.
async fn send_to_app(
    shared: &AppShared,
    mut request: http::Request<wasmtime_wasi_http::WasiBody>,
    target: Option<String>,
) -> wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
)> {
    use wasmtime_wasi_http::Error;
    let (Some(app), Some(origin)) = (shared.app(), shared.origin()) else {
        return Err(Error::HttpRequestUriInvalid);
    };
    let path = request.uri().path().to_string();
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let full_url = format!("http://{origin}{path_and_query}");
    *request.uri_mut() = http::Uri::try_from(full_url.as_str()).map_err(|_| Error::HttpRequestUriInvalid)?;
    if let Ok(host) = http::HeaderValue::try_from(origin.to_string()) {
        request.headers_mut().insert(http::header::HOST, host);
    }
    let route = match &target {
        Some(component) => spin_host_config::routes::RouteMatch::synthetic(component, &path),
        None => match app.router.route(&path) {
            Some(route) => route,
            None => return Ok((empty_response(http::StatusCode::NOT_FOUND), no_io())),
        },
    };
    // Spin's chained requests come from 0.0.0.0:0; self requests from the loopback.
    let client = if target.is_some() { "0.0.0.0:0" } else { "127.0.0.1:0" };
    match super::http::dispatch(&app, request, route, &full_url, client).await {
        Ok(resp) => Ok((resp, no_io())),
        Err(e) => {
            tracing::error!("request to {path} inside the app failed: {e:#}");
            Ok((empty_response(http::StatusCode::INTERNAL_SERVER_ERROR), no_io()))
        }
    }
}

/// A bodiless answer to an in-app request.
fn empty_response(status: http::StatusCode) -> http::Response<wasmtime_wasi_http::WasiBody> {
    use http_body_util::BodyExt as _;
    let mut resp = http::Response::new(http_body_util::Empty::new().map_err(|never| match never {}).boxed_unsync());
    *resp.status_mut() = status;
    resp
}

/// The connection task of an in-app request: there is none.
fn no_io() -> Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send> {
    Box::new(async { Ok(()) })
}
