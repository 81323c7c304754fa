//! A small headless-Chromium driver for tests: what a person would see.
//!
//! Starts Debian's `chromium` (or `$CHROMIUM`) headless with a fresh
//! profile and talks the Chrome DevTools Protocol over its WebSocket
//! (`tungstenite`, blocking). One browser, one page (tab); every console
//! error, uncaught exception and browser log error is collected so a test
//! can assert there were none.
//!
//! A missing browser is an error that says how to install it: tests using
//! this fail clearly, they never skip.
//!
//! ```no_run
//! let mut b = e2e::browser::Browser::launch().unwrap();
//! b.phone_viewport().unwrap();
//! b.open("http://127.0.0.1:3000/pay/abc").unwrap();
//! assert!(b.text().unwrap().contains("Balance"));
//! b.screenshot("pay-page").unwrap();
//! assert!(b.console_errors().is_empty());
//! ```

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tungstenite::{stream::MaybeTlsStream, Message, WebSocket};

/// How long one protocol command or page load may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The Chromium flags every run uses: headless, no sandbox (containers run
/// as root), nothing that talks to the network on its own.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--remote-debugging-port=0",
];

/// Where the browser binary is: `$CHROMIUM`, else the first of
/// `/usr/bin/chromium`, `/usr/bin/chromium-browser` that exists.
pub fn chromium_path() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("CHROMIUM") {
        let p = PathBuf::from(p);
        if p.exists() {
            return Ok(p);
        }
        bail!("CHROMIUM={} does not exist", p.display());
    }
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).exists() {
            return Ok(PathBuf::from(p));
        }
    }
    bail!("headless browser missing: install Debian's chromium (`apt-get install -y chromium`, as `cargo xtask test` does when it can) or set CHROMIUM")
}

/// A running headless Chromium with one page.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Events read while waiting for replies, not yet looked at.
    pending: Vec<Value>,
    errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start the browser with a fresh profile and open a blank page.
    pub fn launch() -> Result<Browser> {
        let path = chromium_path()?;
        let profile = tempfile::tempdir()?;
        let mut child = Command::new(&path)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", path.display()))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        // Chromium prints `DevTools listening on ws://...` on stderr; keep
        // draining it afterwards so the browser never blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                if !sent {
                    if let Some(i) = line.find("ws://") {
                        let _ = tx.send(line[i..].trim().to_owned());
                        sent = true;
                    }
                }
            }
        });
        let url = match rx.recv_timeout(TIMEOUT) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                bail!("{} did not report its DevTools address within {TIMEOUT:?}", path.display());
            }
        };
        let (ws, _) = tungstenite::connect(url.as_str()).context("connecting to the DevTools WebSocket")?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
        }
        let mut b =
            Browser { child, ws, session: String::new(), next_id: 0, pending: Vec::new(), errors: Vec::new(), _profile: profile };
        let target = b.call_browser("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target["targetId"].as_str().ok_or_else(|| anyhow!("no targetId"))?.to_owned();
        let attached = b.call_browser("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }))?;
        b.session = attached["sessionId"].as_str().ok_or_else(|| anyhow!("no sessionId"))?.to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"] {
            b.call(domain, json!({}))?;
        }
        Ok(b)
    }

    fn send(&mut self, method: &str, params: Value, session: Option<String>) -> Result<u64> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string()))?;
        Ok(id)
    }

    /// Read one message (None on a read timeout).
    fn read(&mut self) -> Result<Option<Value>> {
        match self.ws.read() {
            Ok(Message::Text(t)) => Ok(Some(serde_json::from_str(t.as_str())?)),
            Ok(_) => Ok(None),
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Note errors the page reports; keep events for `wait_event`.
    fn note(&mut self, event: Value) {
        let method = event["method"].as_str().unwrap_or_default();
        let p = &event["params"];
        match method {
            "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v["value"].as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect())
                    .unwrap_or_default();
                self.errors.push(format!("console.error: {}", args.join(" ")));
            }
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                let text = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("exception");
                self.errors.push(format!("uncaught: {text}"));
            }
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                self.errors.push(format!(
                    "log: {} {}",
                    p["entry"]["text"].as_str().unwrap_or_default(),
                    p["entry"]["url"].as_str().unwrap_or_default()
                ));
            }
            _ => {}
        }
        self.pending.push(event);
    }

    fn wait_reply(&mut self, id: u64) -> Result<Value> {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let Some(msg) = self.read()? else { continue };
            if msg["id"].as_u64() == Some(id) {
                if let Some(e) = msg.get("error") {
                    bail!("DevTools error: {e}");
                }
                return Ok(msg["result"].clone());
            }
            if msg.get("method").is_some() {
                self.note(msg);
            }
        }
        bail!("no DevTools reply within {TIMEOUT:?}")
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.send(method, params, None)?;
        self.wait_reply(id)
    }

    /// Send a DevTools command to the page and return its result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.send(method, params, Some(self.session.clone()))?;
        self.wait_reply(id).with_context(|| method.to_owned())
    }

    /// Wait for an event named `method` (one already received counts).
    pub fn wait_event(&mut self, method: &str) -> Result<Value> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = self.pending.iter().position(|e| e["method"] == method) {
                return Ok(self.pending.remove(i));
            }
            if Instant::now() >= deadline {
                bail!("no {method} within {TIMEOUT:?}");
            }
            if let Some(msg) = self.read()? {
                if msg.get("method").is_some() {
                    self.note(msg);
                }
            }
        }
    }

    /// A phone-sized viewport (390 × 844 CSS pixels, touch, mobile).
    pub fn phone_viewport(&mut self) -> Result<()> {
        self.viewport(390, 844, true)
    }

    /// Set the viewport size; `mobile` also turns on touch emulation.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) -> Result<()> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": if mobile { 2 } else { 1 }, "mobile": mobile }),
        )?;
        self.call("Emulation.setTouchEmulationEnabled", json!({ "enabled": mobile }))?;
        Ok(())
    }

    /// Turn JavaScript off (or on) for the pages opened after.
    pub fn javascript(&mut self, enabled: bool) -> Result<()> {
        self.call("Emulation.setScriptExecutionDisabled", json!({ "value": !enabled }))?;
        Ok(())
    }

    /// Drop events seen so far (before a navigation we wait for).
    fn forget_events(&mut self) {
        self.pending.clear();
    }

    /// Open `url` and wait until it has loaded.
    pub fn open(&mut self, url: &str) -> Result<()> {
        self.forget_events();
        let r = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(e) = r["errorText"].as_str() {
            bail!("navigating to {url}: {e}");
        }
        self.wait_event("Page.loadEventFired")?;
        Ok(())
    }

    /// Evaluate a JavaScript expression in the page; its value as JSON.
    /// (Works with page scripts disabled: this is the debugger, not the page.)
    pub fn eval(&mut self, expression: &str) -> Result<Value> {
        let r = self.call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }))?;
        if let Some(e) = r.get("exceptionDetails") {
            bail!("evaluating `{expression}`: {e}");
        }
        Ok(r["result"]["value"].clone())
    }

    /// The text a person sees (`document.body.innerText`: hidden elements excluded).
    pub fn text(&mut self) -> Result<String> {
        Ok(self.eval("document.body ? document.body.innerText : ''")?.as_str().unwrap_or_default().to_owned())
    }

    /// Wait up to 20 s until `condition` (a script expression) is neither
    /// null nor false, and return its value; on time-out, panic with `what`,
    /// the page's text and its console errors (tests want the page, not an
    /// error value, when a wait fails).
    pub fn wait_for(&mut self, what: &str, condition: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.eval(condition).unwrap_or(Value::Null);
            if v != Value::Null && v != json!(false) {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.text().unwrap_or_default();
                panic!("timed out waiting for {what}; the page shows:\n{text}\nerrors: {:?}", self.console_errors());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The page's URL now.
    pub fn url(&mut self) -> Result<String> {
        Ok(self.eval("location.href")?.as_str().unwrap_or_default().to_owned())
    }

    /// The page title.
    pub fn title(&mut self) -> Result<String> {
        Ok(self.eval("document.title")?.as_str().unwrap_or_default().to_owned())
    }

    /// Whether an element matching `selector` is shown (has a box in the layout).
    pub fn visible(&mut self, selector: &str) -> Result<bool> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; const r = e.getBoundingClientRect(); \
             return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; }})()",
            json!(selector)
        );
        Ok(self.eval(&js)?.as_bool().unwrap_or(false))
    }

    /// The centre of the element matching `selector`, scrolled into view.
    fn centre(&mut self, selector: &str) -> Result<(f64, f64)> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            json!(selector)
        );
        let v = self.eval(&js)?;
        let xy = v.as_array().ok_or_else(|| anyhow!("no element matches {selector}"))?;
        Ok((xy[0].as_f64().unwrap_or(0.0), xy[1].as_f64().unwrap_or(0.0)))
    }

    /// Click (mouse press and release) in the middle of the element.
    pub fn click(&mut self, selector: &str) -> Result<()> {
        let (x, y) = self.centre(selector)?;
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )?;
        }
        Ok(())
    }

    /// Click the element and wait for the page it leads to to load.
    pub fn click_and_wait(&mut self, selector: &str) -> Result<()> {
        self.forget_events();
        self.click(selector)?;
        self.wait_event("Page.loadEventFired")?;
        Ok(())
    }

    /// Focus the field and type `text` into it (replacing what it held).
    pub fn type_into(&mut self, selector: &str, text: &str) -> Result<()> {
        self.click(selector)?;
        let js = format!("(() => {{ const e = document.querySelector({}); e.focus(); e.select && e.select(); return true; }})()", json!(selector));
        self.eval(&js)?;
        self.call("Input.insertText", json!({ "text": text }))?;
        Ok(())
    }

    /// Set a field's value directly (date inputs, selects).
    pub fn set_value(&mut self, selector: &str, value: &str) -> Result<()> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = {}; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
            json!(selector),
            json!(value)
        );
        if self.eval(&js)? != json!(true) {
            bail!("no element matches {selector}");
        }
        Ok(())
    }

    /// Save a full-page PNG screenshot as `test-artifacts/<name>.png` under
    /// the workspace root (gitignored); returns its path.
    pub fn screenshot(&mut self, name: &str) -> Result<PathBuf> {
        let r = self.call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true }))?;
        let data = r["data"].as_str().ok_or_else(|| anyhow!("no screenshot data"))?;
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD.decode(data)?;
        let dir = crate::workspace_root().join("test-artifacts");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Collect events for a moment, then return every error the page
    /// reported so far (console errors, uncaught exceptions, failed loads).
    pub fn console_errors(&mut self) -> Vec<String> {
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            match self.read() {
                Ok(Some(msg)) if msg.get("method").is_some() => self.note(msg),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        self.errors.clone()
    }

    /// HTTP status of the main document of the last navigation, if seen.
    pub fn last_document_status(&self) -> Option<u64> {
        self.pending
            .iter()
            .rev()
            .find(|e| e["method"] == "Network.responseReceived" && e["params"]["type"] == "Document")
            .and_then(|e| e["params"]["response"]["status"].as_u64())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call_browser("Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
