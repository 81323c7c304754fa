//! The process's stdout and stderr, as guests and the host's own log use
//! them: written by a host thread per stream instead of by the caller.
//!
//! With the streams inherited directly, every guest write is a `write(2)` on
//! an async runtime thread: when whatever reads the host's output (a pipe to
//! a log collector, a terminal) falls behind, the runtime thread blocks, and
//! each line wakes the reader once. Here a write is appended to an
//! in-process queue (each write kept whole and in order) and a writer
//! thread drains the queue with as few `write(2)` calls as it can. The
//! host's log ([`HostStderr`]) goes through the same stderr queue, so guest
//! output and host log lines keep their order. The queue is bounded
//! ([`QUEUE_BYTES`]): a guest that outruns the reader waits for room
//! asynchronously, holding no runtime thread.
//!
//! A guest's flush returns once its bytes are queued, not written: the
//! queue is drained continuously and on exit ([`drain`]); output still
//! queued when the process is killed is lost.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Condvar, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Most bytes queued per stream before guests wait for the writer.
pub const QUEUE_BYTES: usize = 1 << 20;

/// Most bytes one guest write may hand over (what `check-write` grants).
const WRITE_GRANT: usize = 64 * 1024;

/// Which of the host's streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The host's stdout.
    Stdout,
    /// The host's stderr.
    Stderr,
}

/// One stream's queue and its writer thread's signals.
struct Queue {
    /// Thread name.
    name: &'static str,
    /// Where batches go (blocking).
    sink: fn(&[u8]),
    state: Mutex<QueueState>,
    /// Wakes the writer thread (data queued) and [`drain`] (queue written).
    changed: Condvar,
    /// Wakes guests waiting for room.
    room: tokio::sync::Notify,
}

#[derive(Default)]
struct QueueState {
    /// Bytes not yet handed to the writer.
    bytes: Vec<u8>,
    /// The writer is writing a batch.
    writing: bool,
    /// The writer thread is running.
    started: bool,
    /// The writer sleeps until woken (the stream was idle); otherwise it
    /// looks at the queue every [`BATCH_INTERVAL`] by itself.
    parked: bool,
}

/// While output keeps coming, the writer looks for more this often instead
/// of being woken per write: under load, one `write(2)` and no cross-thread
/// wake-up per batch of lines, not per line (a wake-up per guest log line
/// was about 5% of a STOP webhook's CPU). Output reaches the stream at most
/// this much later.
const BATCH_INTERVAL: Duration = Duration::from_millis(2);

/// Empty looks in a row after which the writer parks until woken.
const IDLE_LOOKS: u32 = 50;

/// Queued bytes that wake the writer at once, whatever its mode.
const WAKE_BYTES: usize = 64 * 1024;

static STDOUT: LazyLock<Queue> = LazyLock::new(|| {
    // Nowhere to report a failure to: the guest's write already succeeded.
    Queue::new("stdout-writer", |bytes| drop(std::io::stdout().lock().write_all(bytes)))
});
static STDERR: LazyLock<Queue> =
    LazyLock::new(|| Queue::new("stderr-writer", |bytes| drop(std::io::stderr().lock().write_all(bytes))));

fn queue(stream: Stream) -> &'static Queue {
    match stream {
        Stream::Stdout => &STDOUT,
        Stream::Stderr => &STDERR,
    }
}

impl Queue {
    fn new(name: &'static str, sink: fn(&[u8])) -> Self {
        Queue { name, sink, state: Mutex::new(QueueState::default()), changed: Condvar::new(), room: tokio::sync::Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A writer that panicked left the queue consistent (plain bytes).
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bytes a guest may queue now.
    fn grant(&self) -> usize {
        QUEUE_BYTES.saturating_sub(self.lock().bytes.len()).min(WRITE_GRANT)
    }

    /// Queue `bytes` whole, after what is queued already.
    fn push(&'static self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut state = self.lock();
        state.bytes.extend_from_slice(bytes);
        let wake = state.parked || state.bytes.len() >= WAKE_BYTES;
        if !state.started {
            state.started = true;
            if std::thread::Builder::new().name(self.name.into()).spawn(move || self.run()).is_err() {
                // No thread: write here (what inheriting the stream did).
                state.started = false;
                let pending = std::mem::take(&mut state.bytes);
                drop(state);
                (self.sink)(&pending);
                return;
            }
        }
        drop(state);
        if wake {
            self.changed.notify_all();
        }
    }

    /// The writer thread: write whatever is queued, as one batch, until the process ends.
    fn run(&'static self) {
        let mut batch = Vec::new();
        let mut idle_looks = 0;
        loop {
            {
                let mut state = self.lock();
                state.writing = false;
                self.changed.notify_all();
                while state.bytes.is_empty() {
                    if idle_looks < IDLE_LOOKS {
                        // Busy lately: look again shortly, unwoken.
                        idle_looks += 1;
                        state = match self.changed.wait_timeout(state, BATCH_INTERVAL) {
                            Ok((s, _)) => s,
                            Err(poisoned) => poisoned.into_inner().0,
                        };
                    } else {
                        state.parked = true;
                        state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
                        state.parked = false;
                        idle_looks = 0;
                    }
                }
                std::mem::swap(&mut batch, &mut state.bytes);
                state.writing = true;
            }
            idle_looks = 0;
            self.room.notify_waiters();
            (self.sink)(&batch);
            batch.clear();
        }
    }

    /// Wait (up to `until`) until everything queued has been written.
    fn drain(&self, until: Instant) {
        let mut state = self.lock();
        while (!state.bytes.is_empty() || state.writing) && state.started {
            let Some(left) = until.checked_duration_since(Instant::now()) else { return };
            state = match self.changed.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// Wait up to `timeout` for all guest output queued so far to be written.
pub fn drain(timeout: Duration) {
    let until = Instant::now() + timeout;
    STDOUT.drain(until);
    STDERR.drain(until);
}

/// A guest's stdout or stderr (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct GuestOutput(pub Stream);

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        match self.0 {
            Stream::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
            Stream::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(Writer(queue(self.0)))
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(Writer(queue(self.0)))
    }
}

/// A guest's handle on a queue.
struct Writer(&'static Queue);

impl OutputStream for Writer {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.0.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(self.0.grant())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Writer {
    async fn ready(&mut self) {
        loop {
            let room = self.0.room.notified();
            if self.0.grant() > 0 {
                return;
            }
            room.await;
        }
    }
}

impl tokio::io::AsyncWrite for Writer {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let queue = self.0;
        // Created before the check, so a batch taken in between still wakes it.
        let room = queue.room.notified();
        let n = queue.grant().min(buf.len());
        if n == 0 && !buf.is_empty() {
            // Full: come back once the writer has taken a batch.
            let waker = cx.waker().clone();
            tokio::spawn(async move {
                room.await;
                waker.wake();
            });
            return Poll::Pending;
        }
        self.0.push(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The host's own log writer (for `tracing_subscriber`): the stderr queue,
/// in order with guest output.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostStderr;

impl std::io::Write for HostStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The host's log is never held back: it may exceed the bound.
        STDERR.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for HostStderr {
    type Writer = HostStderr;

    fn make_writer(&'a self) -> Self::Writer {
        HostStderr
    }
}

#[cfg(test)]
mod tests {
    use super::Queue;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    static WRITTEN: Mutex<Vec<u8>> = Mutex::new(Vec::new());

    #[test]
    fn writes_stay_whole_and_in_order() {
        let queue: &'static Queue = Box::leak(Box::new(Queue::new("test-output", |bytes| {
            std::thread::sleep(Duration::from_micros(50));
            WRITTEN.lock().unwrap().extend_from_slice(bytes);
        })));
        let writers: Vec<_> = (0..4)
            .map(|w| std::thread::spawn(move || (0..500).for_each(|i| queue.push(format!("w{w} line {i:04}\n").as_bytes()))))
            .collect();
        writers.into_iter().for_each(|t| t.join().unwrap());
        queue.drain(Instant::now() + Duration::from_secs(10));
        let text = String::from_utf8(WRITTEN.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2000);
        for w in 0..4 {
            let mine: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("w{w} "))).collect();
            let expected: Vec<String> = (0..500).map(|i| format!("w{w} line {i:04}")).collect();
            assert_eq!(mine, expected);
        }
    }

    static BATCHED: Mutex<(usize, Vec<u8>)> = Mutex::new((0, Vec::new()));

    #[test]
    fn lines_written_in_a_burst_share_batches_and_a_parked_writer_wakes() {
        let queue: &'static Queue = Box::leak(Box::new(Queue::new("test-batches", |bytes| {
            let mut seen = BATCHED.lock().unwrap();
            seen.0 += 1;
            seen.1.extend_from_slice(bytes);
        })));
        // A steady stream, a line every 100 µs (a busy host's log).
        for i in 0..200 {
            queue.push(format!("line {i}\n").as_bytes());
            std::thread::sleep(Duration::from_micros(100));
        }
        queue.drain(Instant::now() + Duration::from_secs(10));
        let (batches, lines) = {
            let seen = BATCHED.lock().unwrap();
            (seen.0, String::from_utf8(seen.1.clone()).unwrap().lines().count())
        };
        assert_eq!(lines, 200);
        assert!(batches < 100, "{batches} writes for 200 lines");
        // Idle long enough, the writer sleeps until a write wakes it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !queue.lock().parked {
            assert!(Instant::now() < deadline, "the writer never parked");
            std::thread::sleep(Duration::from_millis(10));
        }
        queue.push(b"after a pause\n");
        queue.drain(Instant::now() + Duration::from_secs(10));
        assert!(String::from_utf8(BATCHED.lock().unwrap().1.clone()).unwrap().ends_with("after a pause\n"));
    }
}
