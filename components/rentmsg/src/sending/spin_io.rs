//! The send pass's outside world inside a Spin component (feature `spin`):
//! outbound HTTP over `wasi:http` with timeouts ([`WasiHttp`]) and the pace
//! budget over `wasi:keyvalue` atomics ([`KvCounter`]); with the
//! compliance component as well (feature `compliance-client`), a whole send
//! step's environment ([`SpinSend`]).

use crate::sending::pacing::Counter;
use crate::sending::providers::{CallId, Collected, HttpClient, HttpRequest, HttpResponse, Started, TransportError};
use spin_sdk::wit::wasi::http0_2_0::outgoing_handler;
use spin_sdk::wit::wasi::http0_2_0::types::{ErrorCode, Fields, FutureIncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use spin_sdk::wit::wasi::keyvalue::{atomics, store};
use std::cell::RefCell;

/// Outbound HTTP through `wasi:http/outgoing-handler`, with connect and
/// read timeouts: one request at a time with `send`, or several in flight
/// with `start` and `collect` (one `wasi:io/poll` over their pollables).
pub struct WasiHttp {
    pub connect_timeout: std::time::Duration,
    /// Time to the first byte of the answer, and between bytes.
    pub read_timeout: std::time::Duration,
    /// Started calls whose answers have not been collected.
    pending: RefCell<Vec<(CallId, FutureIncomingResponse)>>,
}

impl Default for WasiHttp {
    fn default() -> Self {
        WasiHttp {
            connect_timeout: std::time::Duration::from_secs(10),
            read_timeout: std::time::Duration::from_secs(30),
            pending: RefCell::new(Vec::new()),
        }
    }
}

/// Errors raised before anything was sent: safe to retry.
fn never_sent(e: &ErrorCode) -> bool {
    matches!(
        e,
        ErrorCode::DnsTimeout
            | ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTimeout
            | ErrorCode::TlsProtocolError
            | ErrorCode::TlsCertificateError
            | ErrorCode::TlsAlertReceived(_)
            | ErrorCode::HttpRequestDenied
            | ErrorCode::HttpRequestUriInvalid
            | ErrorCode::HttpRequestMethodInvalid
    )
}

fn transport(e: ErrorCode) -> TransportError {
    if never_sent(&e) {
        TransportError::NotSent(format!("{e:?}"))
    } else {
        TransportError::NoAnswer(format!("{e:?}"))
    }
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl WasiHttp {
    /// Hand the request to the host and write its body; the answer is the
    /// returned future's.
    fn dispatch(&self, r: &HttpRequest) -> Result<FutureIncomingResponse, TransportError> {
        let bad = |m: &str| TransportError::NotSent(m.to_owned());
        let (scheme, rest) = r.url.split_once("://").ok_or_else(|| bad("the URL has no scheme"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let headers = Fields::new();
        for (k, v) in r.wire_headers() {
            headers.append(&k, v.as_bytes()).map_err(|e| bad(&format!("header {k}: {e:?}")))?;
        }
        let request = OutgoingRequest::new(headers);
        let method = match r.method.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            other => Method::Other(other.to_owned()),
        };
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_owned()),
        };
        request.set_method(&method).map_err(|_| bad("method"))?;
        request.set_scheme(Some(&scheme)).map_err(|_| bad("scheme"))?;
        request.set_authority(Some(authority)).map_err(|_| bad("authority"))?;
        request.set_path_with_query(Some(path)).map_err(|_| bad("path"))?;
        let body = request.body().map_err(|_| bad("request body"))?;
        let options = RequestOptions::new();
        // A host that does not support a timeout keeps its own default.
        let _ = options.set_connect_timeout(Some(nanos(self.connect_timeout)));
        let _ = options.set_first_byte_timeout(Some(nanos(self.read_timeout)));
        let _ = options.set_between_bytes_timeout(Some(nanos(self.read_timeout)));
        // Dispatch first, then stream the body (as the Spin SDK does).
        let pending = outgoing_handler::handle(request, Some(options)).map_err(transport)?;
        {
            let stream = body.write().map_err(|_| bad("request body stream"))?;
            for chunk in r.body.chunks(4096) {
                stream.blocking_write_and_flush(chunk).map_err(|e| TransportError::NoAnswer(format!("writing the body: {e:?}")))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(|e| TransportError::NoAnswer(format!("finishing the body: {e:?}")))?;
        Ok(pending)
    }

    /// Read the answer of a future that is ready. Its body is read with
    /// blocking reads: a provider's answer is small and follows its headers.
    fn receive(pending: &FutureIncomingResponse) -> Result<HttpResponse, TransportError> {
        let response = match pending.get() {
            Some(Ok(Ok(resp))) => resp,
            Some(Ok(Err(e))) => return Err(transport(e)),
            Some(Err(())) | None => return Err(TransportError::NoAnswer("the response was lost".into())),
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response.consume().map_err(|_| TransportError::NoAnswer("response body".into()))?;
        let stream = incoming.stream().map_err(|_| TransportError::NoAnswer("response body stream".into()))?;
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > 1024 * 1024 {
                        break;
                    }
                }
                Err(wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(TransportError::NoAnswer(format!("reading the answer: {e:?}"))),
            }
        }
        Ok(HttpResponse { status, headers, body: bytes })
    }
}

impl HttpClient for WasiHttp {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let pending = self.dispatch(r)?;
        pending.subscribe().block();
        Self::receive(&pending)
    }

    fn start(&self, id: CallId, r: &HttpRequest) -> Started {
        match self.dispatch(r) {
            Ok(pending) => {
                self.pending.borrow_mut().push((id, pending));
                Started::InFlight
            }
            Err(e) => Started::Answered(Err(e)),
        }
    }

    fn collect(&self, wait: Option<std::time::Duration>) -> Vec<Collected> {
        let mut pending = self.pending.borrow_mut();
        if pending.is_empty() {
            return Vec::new();
        }
        let ready: Vec<u32> = {
            // Pollables are children of their futures: dropped before them.
            let mut pollables: Vec<wasi::io::poll::Pollable> = pending.iter().map(|(_, f)| f.subscribe()).collect();
            if let Some(w) = wait {
                pollables.push(wasi::clocks::monotonic_clock::subscribe_duration(nanos(w)));
            }
            let refs: Vec<&wasi::io::poll::Pollable> = pollables.iter().collect();
            wasi::io::poll::poll(&refs)
        };
        let mut done: Vec<usize> = ready.into_iter().filter_map(|i| usize::try_from(i).ok()).filter(|i| *i < pending.len()).collect();
        done.sort_unstable();
        done.dedup();
        let mut out = Vec::with_capacity(done.len());
        for i in done.into_iter().rev() {
            let (id, future) = pending.remove(i);
            out.push((id, Self::receive(&future)));
        }
        out
    }
}

/// [`Counter`] over `wasi:keyvalue/atomics` on one store.
pub struct KvCounter {
    /// The open store.
    bucket: store::Bucket,
}

impl KvCounter {
    /// Open the store with this label (listed in `key_value_stores`).
    pub fn open(label: &str) -> Result<Self, String> {
        store::open(label).map(|bucket| KvCounter { bucket }).map_err(|e| format!("key-value store {label}: {e:?}"))
    }
}

impl Counter for KvCounter {
    fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        atomics::increment(&self.bucket, key, delta).map_err(|e| format!("{e:?}"))
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.bucket.delete(key).map_err(|e| format!("{e:?}"))
    }
}


/// Why a Spin component cannot set up a send step.
#[cfg(feature = "compliance-client")]
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] crate::sending::send::ConfigError),
    #[error("{0}")]
    KeyValue(String),
    #[error("random source: {0}")]
    Random(getrandom::Error),
}

/// Everything a send step needs from a Spin component: the settings from
/// its variables, the pace budget in the `default` key-value store, this
/// run's lease owner, outbound HTTP and the compliance component. The send
/// pass and a staff reply's immediate send both run through it.
#[cfg(feature = "compliance-client")]
pub struct SpinSend {
    component: &'static str,
    config: crate::sending::send::SendConfig,
    counter: KvCounter,
    owner: String,
    http: WasiHttp,
}

#[cfg(feature = "compliance-client")]
impl SpinSend {
    /// Read the variables and open the store; `component` names the log lines.
    pub fn open(component: &'static str) -> Result<SpinSend, SetupError> {
        let var = |name: &str| spin_sdk::variables::get(name).unwrap_or_default().trim().to_owned();
        Ok(SpinSend {
            component,
            config: crate::sending::send::SendConfig::from_variables(var)?,
            counter: KvCounter::open("default").map_err(SetupError::KeyValue)?,
            owner: crate::notices::links::new_link_id().map_err(SetupError::Random)?,
            http: WasiHttp::default(),
        })
    }

    /// Run `step` on `db` with the deadline `deadline` gives for the time now.
    pub fn run<R>(
        &self,
        db: &dyn crate::base::db::Db,
        deadline: impl FnOnce(chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc>,
        step: impl FnOnce(&crate::sending::send::SendEnv<'_>) -> R,
    ) -> R {
        use crate::sending::pacing::Clock as _;
        let clock = crate::sending::pacing::SystemClock;
        let log = |v: &serde_json::Value| crate::base::log::line(self.component, v);
        let env = crate::sending::send::SendEnv {
            db,
            checker: &crate::compliance::client::ComponentChecker,
            http: &self.http,
            counter: &self.counter,
            clock: &clock,
            config: &self.config,
            owner: &self.owner,
            deadline: deadline(clock.now()),
            log: &log,
        };
        step(&env)
    }
}
