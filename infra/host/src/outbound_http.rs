//! Outbound HTTP (`wasi:http/outgoing-handler`) restricted to the component's
//! `allowed_outbound_hosts`, as Spin does: a denied request is an error value
//! (`HTTP-request-denied`) for the guest, never a crash.

use std::sync::Arc;

use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use crate::app::AppShared;
use crate::grants::Grants;

/// The wasi-http hooks of one instance.
pub struct OutboundHooks {
    /// Grants of the code running now (changes while a dependency runs).
    grants: Arc<Grants>,
    /// The app (for requests to `self`).
    app: Arc<AppShared>,
}

impl OutboundHooks {
    /// Hooks enforcing `grants`.
    pub fn new(grants: Arc<Grants>, app: Arc<AppShared>) -> Self {
        OutboundHooks { grants, app }
    }

    /// Switch to the grants of the code now running.
    pub fn set_grants(&mut self, grants: Arc<Grants>) {
        self.grants = grants;
    }
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
)>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<dyn std::future::Future<Output = SendResult> + Send> {
        let _ = fut;
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or("https").to_string();
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16();
        let allowed = self.grants.allowed_hosts.allows_parts(&scheme, &host, port);
        let component = self.grants.component_id.clone();
        let app = self.app.clone();
        Box::new(async move {
            if !allowed {
                tracing::warn!(component, destination = %format!("{scheme}://{host}"), "outbound request denied by allowed_outbound_hosts");
                return Err(wasmtime_wasi_http::Error::from(ErrorCode::HttpRequestDenied));
            }
            if host == "self" {
                return app.send_to_self(request).await;
            }
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}
