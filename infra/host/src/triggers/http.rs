//! HTTP trigger: serve the app's routes on a listener, one fresh instance
//! per request from the pre-instantiated component.
//!
//! As in Spin: `/.well-known/spin/health` and `/.well-known/spin/info` are
//! answered by the host; an unmatched path is a 404 with an empty body; a
//! component that traps or returns without a response is a 500 with an empty
//! body and an error log naming the component; every method (HEAD and
//! OPTIONS included) reaches the component, and hyper leaves the body out of
//! a HEAD answer. Request bodies have no size limit, but a client that stops
//! sending for 10 minutes gets its request failed (Spin's between-bytes
//! timeout). A request whose client goes away before the component set its
//! response stops the component; after that, the component runs to its end. On shutdown the listener closes and
//! requests in flight get [`SHUTDOWN_GRACE`] to finish.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::rt::TokioIo;
use spin_host_config::routes::RouteMatch;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use crate::app::{App, Trigger};

/// How long requests in flight may run after shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a request body may go without a byte before the request fails (Spin's figure).
const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(600);

/// Connections the kernel may hold ready for [`serve`] to accept (capped by
/// the system's `somaxconn`). The standard library's 128 dropped the SYNs
/// of a burst of new connections past it: a provider opening a few hundred
/// connections at once saw some of them wait a second for TCP to retry.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Listen on `addr` (`host:port`; port 0 picks a free one) with
/// [`LISTEN_BACKLOG`].
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for resolved in tokio::net::lookup_host(addr).await? {
        let socket = if resolved.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        // As the standard library does: a restart can take the port back
        // while the old connections sit in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        match socket.bind(resolved).and_then(|()| socket.listen(LISTEN_BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr} resolves to no address"))))
}

/// Serve `app` on `listener` until `shutdown` completes, then let requests
/// in flight finish (up to [`SHUTDOWN_GRACE`]).
pub async fn serve(app: Arc<App>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    app.shared.set_origin(local);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(app, req, local, client).await) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection from {client}: {e}");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting up to {}s for requests in flight", SHUTDOWN_GRACE.as_secs());
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after {}s; stopping them", SHUTDOWN_GRACE.as_secs());
    }
    Ok(())
}

fn empty(status: StatusCode) -> Response<HyperOutgoingBody> {
    let mut resp = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    *resp.status_mut() = status;
    resp
}

fn full(content_type: &'static str, body: impl Into<Bytes>) -> Response<HyperOutgoingBody> {
    let mut resp = Response::new(Full::new(body.into()).map_err(|never| match never {}).boxed_unsync());
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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
    if let Some(endpoint) = path.strip_prefix("/.well-known/spin/") {
        return match endpoint {
            "health" => full("text/plain", "OK"),
            "info" => {
                let mut info = serde_json::json!({ "name": app.manifest.name });
                if !app.manifest.version.is_empty() {
                    info["version"] = app.manifest.version.clone().into();
                }
                full("application/json", serde_json::to_vec_pretty(&info).unwrap_or_default())
            }
            _ => empty(StatusCode::NOT_FOUND),
        };
    }
    let Some(route) = app.router.route(&path) else {
        return empty(StatusCode::NOT_FOUND);
    };
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
        Err(_) => return empty(StatusCode::BAD_REQUEST),
    }
    let req = req.map(|body| BetweenBytesTimeout::new(body, BETWEEN_BYTES_TIMEOUT));
    match dispatch(&app, req, route, &full_url, &client.to_string()).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!("request to {path} failed: {e:#}");
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// A guest handling one request: instantiation and the `handle` call, as one future.
type Guest = Pin<Box<dyn Future<Output = wasmtime::Result<()>> + Send>>;

/// Run `route`'s component on `req` (whose URI is absolute).
///
/// The guest runs inside the caller's task (the connection's), not a task of
/// its own: first until it sets its response, then, inside the response body,
/// as hyper pulls the body. No thread hand-offs per request; a client that
/// goes away before the response drops the guest and its instance.
pub async fn dispatch<B>(
    app: &Arc<App>,
    mut req: Request<B>,
    route: RouteMatch,
    full_url: &str,
    client: &str,
) -> anyhow::Result<Response<HyperOutgoingBody>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let component = app.component(&route.component)?;
    for (name, value) in spin_host_config::routes::spin_headers(&route, full_url, &app.manifest.http_base, client) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            req.headers_mut().insert(name, value);
        }
    }
    let Some(proxy) = component.proxy.clone() else {
        anyhow::bail!("component {:?} has no HTTP entry point", component.id);
    };
    let mut store = app.new_store(&component, Trigger::Http).await?;
    let (sender, mut receiver) = tokio::sync::oneshot::channel();
    let request = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
    let outparam = store.data_mut().http().new_response_outparam(sender)?;
    let id = component.id.clone();
    let mut guest: Option<Guest> = Some(Box::pin(async move {
        let proxy = proxy.instantiate_async(&mut store).await?;
        proxy.wasi_http_incoming_handler().call_handle(&mut store, request, outparam).await
    }));
    let mut finished: Option<wasmtime::Result<()>> = None;
    let answer = std::future::poll_fn(|cx| {
        if let Poll::Ready(answer) = Pin::new(&mut receiver).poll(cx) {
            return Poll::Ready(answer.ok());
        }
        if let Some(running) = guest.as_mut() {
            if let Poll::Ready(outcome) = running.as_mut().poll(cx) {
                guest = None;
                finished = Some(outcome);
                // The guest may have answered just before returning.
                return Poll::Ready(receiver.try_recv().ok());
            }
            return Poll::Pending;
        }
        Poll::Ready(None)
    })
    .await;
    match answer {
        Some(Ok(response)) => Ok(response.map(|body| {
            match (guest, finished) {
                (Some(running), _) => GuestBody { inner: body, guest: Some(running), component: id }.boxed_unsync(),
                (None, Some(Err(e))) => {
                    tracing::error!("component {id:?} failed after setting its response: {e:?}");
                    body
                }
                (None, _) => body,
            }
        })),
        Some(Err(code)) => Err(anyhow::anyhow!("component {id:?} answered with error {code:?}")),
        None => Err(match finished {
            Some(Ok(())) | None => anyhow::anyhow!("component {id:?} returned without setting a response"),
            Some(Err(trap)) => anyhow::anyhow!("component {id:?} trapped: {trap:?}"),
        }),
    }
}

/// A response body whose guest is still running: polling the body runs the
/// guest too, so it can write the body. When the body ends or is dropped
/// before the guest finishes, the rest of the guest runs as a task of its own.
struct GuestBody {
    /// The body the guest writes.
    inner: HyperOutgoingBody,
    /// The guest, until it finishes.
    guest: Option<Guest>,
    /// Component id, for logs.
    component: String,
}

impl GuestBody {
    /// Let the rest of the guest run as a task of its own.
    fn detach(&mut self) {
        if let (Some(rest), Ok(runtime)) = (self.guest.take(), tokio::runtime::Handle::try_current()) {
            let component = self.component.clone();
            runtime.spawn(async move {
                if let Err(e) = rest.await {
                    tracing::error!("component {component:?} failed after its response: {e:?}");
                }
            });
        }
    }

    fn poll_guest(&mut self, cx: &mut Context<'_>) {
        if let Some(guest) = self.guest.as_mut() {
            if let Poll::Ready(outcome) = guest.as_mut().poll(cx) {
                self.guest = None;
                if let Err(e) = outcome {
                    tracing::error!("component {:?} failed after its response started: {e:?}", self.component);
                }
            }
        }
    }
}

impl Body for GuestBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        this.poll_guest(cx);
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            // Usually the guest is just returning: let it, before giving it a task.
            this.poll_guest(cx);
            this.detach();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for GuestBody {
    /// The body is done with (a HEAD answer, or the client left mid-body):
    /// the guest carries on, as on Spin, and finds its writes refused.
    fn drop(&mut self) {
        self.detach();
    }
}

/// A request body that fails when no byte arrives for `timeout`.
struct BetweenBytesTimeout {
    /// The body as it arrives.
    inner: hyper::body::Incoming,
    /// Armed while waiting for the next frame.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The longest allowed wait.
    timeout: Duration,
}

impl BetweenBytesTimeout {
    fn new(inner: hyper::body::Incoming, timeout: Duration) -> Self {
        BetweenBytesTimeout { inner, sleep: None, timeout }
    }
}

impl Body for BetweenBytesTimeout {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.sleep = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
