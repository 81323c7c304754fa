//! HTTP trigger: serve the app's routes on a listener, one fresh instance
//! per request from the pre-instantiated component.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use crate::app::App;

/// Serve `app` on `listener` until the task is cancelled.
pub async fn serve(app: Arc<App>, listener: TcpListener) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    loop {
        let (stream, client) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Running out of file descriptors and the like: back off, keep serving.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(app, req, local, client).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection from {client}: {e}");
            }
        });
    }
}

fn plain(status: StatusCode, text: &str) -> Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(text.to_string())).map_err(|never| match never {}).boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// Route one request and run its component.
async fn handle(
    app: Arc<App>,
    mut req: Request<hyper::body::Incoming>,
    local: SocketAddr,
    client: SocketAddr,
) -> Response<HyperOutgoingBody> {
    let path = req.uri().path().to_string();
    // Spin's own endpoints, answered by the host.
    if path == "/.well-known/spin/health" {
        return plain(StatusCode::OK, "OK");
    }
    if path == "/.well-known/spin/info" {
        let info = serde_json::json!({ "name": app.manifest.name, "version": app.manifest.version });
        return plain(StatusCode::OK, &info.to_string());
    }
    let authority = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| local.to_string());
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let full_url = format!("http://{authority}{path_and_query}");
    match http::Uri::try_from(full_url.as_str()) {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "invalid request URI"),
    }
    match dispatch(&app, req, &path, &full_url, &client.to_string()).await {
        Ok(resp) => resp,
        Err(Dispatch::NotFound) => plain(StatusCode::NOT_FOUND, "Not Found"),
        Err(Dispatch::Failed(e)) => {
            tracing::error!("request to {path} failed: {e:#}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// Why a request got no response from a component.
pub enum Dispatch {
    /// No route matched.
    NotFound,
    /// The component trapped or never answered.
    Failed(anyhow::Error),
}

/// Run the component routed for `path` on `req` (whose URI is absolute).
pub async fn dispatch<B>(
    app: &Arc<App>,
    mut req: Request<B>,
    path: &str,
    full_url: &str,
    client: &str,
) -> Result<Response<HyperOutgoingBody>, Dispatch>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let Some(route) = app.router.route(path) else {
        return Err(Dispatch::NotFound);
    };
    let component = app.component(route.component).map_err(Dispatch::Failed)?;
    for (name, value) in spin_host_config::routes::spin_headers(&route, full_url, &app.manifest.http_base, client) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            req.headers_mut().insert(name, value);
        }
    }
    drop(route);
    let Some(proxy) = component.proxy.clone() else {
        return Err(Dispatch::Failed(anyhow::anyhow!("component {:?} has no HTTP entry point", component.id)));
    };
    let mut store = app.new_store(&component).await.map_err(Dispatch::Failed)?;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let setup = (|| {
        let request = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        anyhow::Ok((request, outparam))
    })();
    let (request, outparam) = setup.map_err(Dispatch::Failed)?;
    let id = component.id.clone();
    let task = tokio::spawn(async move {
        let proxy = proxy.instantiate_async(&mut store).await?;
        proxy.wasi_http_incoming_handler().call_handle(&mut store, request, outparam).await
    });
    match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(code)) => Err(Dispatch::Failed(anyhow::anyhow!("component {id:?} answered with error {code:?}"))),
        Err(_) => {
            let failure = match task.await {
                Ok(Ok(())) => anyhow::anyhow!("component {id:?} returned without setting a response"),
                Ok(Err(trap)) => anyhow::anyhow!("component {id:?} trapped: {trap:?}"),
                Err(join) => anyhow::anyhow!("component {id:?} task failed: {join}"),
            };
            Err(Dispatch::Failed(failure))
        }
    }
}
