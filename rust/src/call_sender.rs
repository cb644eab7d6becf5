//! Sends calls to the leading master from a thread of its own, so that the
//! loop never waits on the network and no call needs a Python object.
//!
//! Effects are queued as they are (the loop does not even encode them); the
//! sender thread encodes each for the current subscription (framework id,
//! encoding), writes them pipelined on one kept-alive connection (HTTP/1.1
//! answers in order, so a second thread reads the answers and pairs them
//! with the calls), and reports anything but 202. Calls made while no
//! subscription is up are dropped, as Mesos would drop them: the
//! reconciliation that follows every subscription repairs what they would
//! have done.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};

use crate::calls::{self, EncodedCall, Encoding};
use crate::effects::Effect;
use crate::http;

pub const API: &str = "/api/v1/scheduler";
/// Calls written in one go, at most.
const BATCH: usize = 512;
/// A master that cannot be reached, or stops reading, costs the sender this
/// long at most: then the calls are dropped (reconciliation repairs them) and
/// the sender stays able to stop.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// Where calls go: the subscription a stream set up.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub stream_id: String,
    pub framework_id: String,
    pub encoding: Encoding,
    /// Sent with every call (authentication).
    pub headers: Vec<(String, String)>,
}

/// How it went, for metrics and tests.
#[derive(Debug, Default)]
pub struct Counters {
    pub written: AtomicU64,
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub dropped: AtomicU64,
    pub unencodable: AtomicU64,
}

/// Called with a line to log when a call fails (never on the hot path).
pub type Report = Box<dyn Fn(String) + Send + Sync>;

enum Job {
    Effects(Vec<Effect>),
    /// Answered once everything queued before it was written.
    Flush(Sender<()>),
    Stop,
}

struct Shared {
    target: Mutex<Option<Target>>,
    counters: Counters,
    report: Report,
}

pub struct CallSender {
    shared: Arc<Shared>,
    jobs: Sender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl CallSender {
    pub fn new(report: Report) -> Self {
        let shared = Arc::new(Shared {
            target: Mutex::new(None),
            counters: Counters::default(),
            report,
        });
        let (jobs, rx) = unbounded();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ark-calls".into())
            .spawn(move || Writer::new(worker).run(rx))
            .expect("a thread can be spawned");
        CallSender {
            shared,
            jobs,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Send calls to this subscription from now on.
    pub fn connect(&self, target: Target) {
        *self.shared.target.lock().unwrap() = Some(target);
    }

    /// Drop calls until the next `connect`.
    pub fn disconnect(&self) {
        *self.shared.target.lock().unwrap() = None;
    }

    pub fn target(&self) -> Option<Target> {
        self.shared.target.lock().unwrap().clone()
    }

    /// Queue effects; never blocks. `Timer` and `Unreconciled` are not
    /// calls and are reported and dropped.
    pub fn send(&self, effects: Vec<Effect>) {
        if !effects.is_empty() {
            let _ = self.jobs.send(Job::Effects(effects));
        }
    }

    /// Wait until everything queued so far is written (or dropped).
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = unbounded();
        if self.jobs.send(Job::Flush(tx)).is_err() {
            return true;
        }
        rx.recv_timeout(timeout).is_ok()
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Write what is queued, then stop the thread.
    pub fn close(&self) {
        let _ = self.jobs.send(Job::Stop);
        if let Some(thread) = self.thread.lock().unwrap().take() {
            let _ = thread.join();
        }
    }
}

impl Drop for CallSender {
    fn drop(&mut self) {
        self.close();
    }
}

/// One kept-alive connection and the thread that reads its answers.
struct Connection {
    host: String,
    port: u16,
    stream: TcpStream,
    /// Kinds of the calls written and not yet answered, oldest first.
    in_flight: Arc<Mutex<VecDeque<&'static str>>>,
    reader: Option<JoinHandle<()>>,
}

impl Connection {
    fn open(target: &Target, shared: &Arc<Shared>) -> io::Result<Connection> {
        let address =
            std::net::ToSocketAddrs::to_socket_addrs(&(target.host.as_str(), target.port))?
                .next()
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no address for the master")
                })?;
        let stream = TcpStream::connect_timeout(&address, NETWORK_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(NETWORK_TIMEOUT))?;
        let in_flight = Arc::new(Mutex::new(VecDeque::new()));
        let reading = stream.try_clone()?;
        let (pending, shared) = (Arc::clone(&in_flight), Arc::clone(shared));
        let reader = std::thread::Builder::new()
            .name("ark-call-answers".into())
            .spawn(move || read_answers(reading, pending, shared))?;
        Ok(Connection {
            host: target.host.clone(),
            port: target.port,
            stream,
            in_flight,
            reader: Some(reader),
        })
    }

    fn close(mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn read_answers(
    stream: TcpStream,
    in_flight: Arc<Mutex<VecDeque<&'static str>>>,
    shared: Arc<Shared>,
) {
    let mut reader = http::Reader::new(stream);
    let counters = &shared.counters;
    while let Ok(Some(head)) = reader.head() {
        let body = match head.content_length() {
            Some(n) => reader.body(n),
            None => Ok(Vec::new()),
        };
        let kind = in_flight.lock().unwrap().pop_front().unwrap_or("call");
        if head.status == 202 || head.status == 200 {
            counters.accepted.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            let text = body.unwrap_or_default();
            let text = String::from_utf8_lossy(&text[..text.len().min(300)]).into_owned();
            (shared.report)(format!("{kind} answered {}: {text}", head.status));
        }
    }
    let lost = std::mem::take(&mut *in_flight.lock().unwrap());
    if !lost.is_empty() {
        counters
            .dropped
            .fetch_add(lost.len() as u64, Ordering::Relaxed);
        (shared.report)(format!(
            "{} calls got no answer: the connection to the master closed",
            lost.len()
        ));
    }
}

struct Writer {
    shared: Arc<Shared>,
    connection: Option<Connection>,
    buffer: Vec<u8>,
    kinds: Vec<&'static str>,
    /// Calls dropped since the last report of it.
    dropped_unreported: u64,
}

impl Writer {
    fn new(shared: Arc<Shared>) -> Self {
        Writer {
            shared,
            connection: None,
            buffer: Vec::with_capacity(256 * 1024),
            kinds: Vec::with_capacity(BATCH),
            dropped_unreported: 0,
        }
    }

    fn run(mut self, jobs: Receiver<Job>) {
        let mut flushes = Vec::new();
        'outer: while let Ok(first) = jobs.recv() {
            let target = self.shared.target.lock().unwrap().clone();
            let mut job = Some(first);
            let mut count = 0;
            while let Some(current) = job.take() {
                match current {
                    Job::Stop => {
                        self.write(target.as_ref());
                        break 'outer;
                    }
                    Job::Flush(done) => flushes.push(done),
                    Job::Effects(effects) => {
                        for effect in &effects {
                            count += 1;
                            self.add(target.as_ref(), effect);
                        }
                    }
                }
                if count < BATCH {
                    job = jobs.try_recv().ok();
                }
            }
            self.write(target.as_ref());
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
        if let Some(connection) = self.connection.take() {
            connection.close();
        }
    }

    fn add(&mut self, target: Option<&Target>, effect: &Effect) {
        let Some(target) = target else {
            self.dropped_unreported += 1;
            return;
        };
        match calls::encode(effect, &target.framework_id, target.encoding) {
            Ok(call) => self.add_encoded(target, &call),
            Err(e) => {
                self.shared
                    .counters
                    .unencodable
                    .fetch_add(1, Ordering::Relaxed);
                (self.shared.report)(format!("{} not sent: {e}", calls::kind(effect)));
            }
        }
    }

    fn add_encoded(&mut self, target: &Target, call: &EncodedCall) {
        let mut headers = Vec::with_capacity(target.headers.len() + 2);
        headers.push(("Content-Type".to_owned(), call.media_type.to_owned()));
        headers.push(("Mesos-Stream-Id".to_owned(), target.stream_id.clone()));
        headers.extend(target.headers.iter().cloned());
        let host = format!("{}:{}", target.host, target.port);
        http::post(&mut self.buffer, &host, API, &headers, &call.body);
        self.kinds.push(call.kind);
    }

    /// Write the buffered calls; on a failed write, once more on a new
    /// connection (a kept-alive connection the master closed), then drop.
    fn write(&mut self, target: Option<&Target>) {
        let shared = Arc::clone(&self.shared);
        let counters = &shared.counters;
        if self.dropped_unreported > 0 {
            counters
                .dropped
                .fetch_add(self.dropped_unreported, Ordering::Relaxed);
            (self.shared.report)(format!(
                "{} calls dropped: no subscription",
                self.dropped_unreported
            ));
            self.dropped_unreported = 0;
        }
        let (Some(target), false) = (target, self.kinds.is_empty()) else {
            self.buffer.clear();
            self.kinds.clear();
            return;
        };
        let mut last_error = None;
        for _ in 0..2 {
            match self.write_once(target) {
                Ok(()) => {
                    counters
                        .written
                        .fetch_add(self.kinds.len() as u64, Ordering::Relaxed);
                    last_error = None;
                    break;
                }
                Err(e) => {
                    if let Some(connection) = self.connection.take() {
                        connection.close();
                    }
                    last_error = Some(e);
                }
            }
        }
        if let Some(e) = last_error {
            counters
                .dropped
                .fetch_add(self.kinds.len() as u64, Ordering::Relaxed);
            (self.shared.report)(format!(
                "{} calls not sent to {}:{}: {e}",
                self.kinds.len(),
                target.host,
                target.port
            ));
        }
        self.buffer.clear();
        self.kinds.clear();
    }

    fn write_once(&mut self, target: &Target) -> io::Result<()> {
        let stale = self
            .connection
            .as_ref()
            .is_some_and(|c| c.host != target.host || c.port != target.port);
        if stale {
            if let Some(connection) = self.connection.take() {
                connection.close();
            }
        }
        if self.connection.is_none() {
            self.connection = Some(Connection::open(target, &self.shared)?);
        }
        let connection = self.connection.as_mut().expect("opened above");
        connection
            .in_flight
            .lock()
            .unwrap()
            .extend(self.kinds.iter().copied());
        connection.stream.write_all(&self.buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A master that answers every request with `status` and hands the
    /// bodies it read to the test.
    fn master(status: u16) -> (u16, mpsc::Receiver<(String, Vec<u8>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            loop {
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    headers.push(line);
                }
                let length: usize = headers
                    .iter()
                    .find_map(|h| h.strip_prefix("Content-Length: "))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap();
                let stream_id = headers
                    .iter()
                    .find_map(|h| h.strip_prefix("Mesos-Stream-Id: "))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                tx.send((stream_id, body)).unwrap();
                write!(writer, "HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nno").unwrap();
            }
        });
        (port, rx)
    }

    fn target(port: u16) -> Target {
        Target {
            host: "127.0.0.1".into(),
            port,
            stream_id: "s1".into(),
            framework_id: "f1".into(),
            encoding: Encoding::Json,
            headers: vec![],
        }
    }

    #[test]
    fn calls_are_pipelined_in_order_with_the_stream_id() {
        let (port, bodies) = master(202);
        let sender = CallSender::new(Box::new(|line| panic!("unexpected report: {line}")));
        sender.connect(target(port));
        sender.send(vec![Effect::Suppress, Effect::Revive, Effect::Suppress]);
        assert!(sender.flush(Duration::from_secs(5)));
        let kinds: Vec<String> = (0..3)
            .map(|_| {
                let (stream_id, body) = bodies.recv_timeout(Duration::from_secs(5)).unwrap();
                assert_eq!(stream_id, "s1");
                let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                value["type"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(kinds, ["SUPPRESS", "REVIVE", "SUPPRESS"]);
        sender.close();
        assert_eq!(sender.counters().written.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn refused_calls_are_reported() {
        let (port, bodies) = master(400);
        let (tx, reports) = mpsc::channel();
        let tx = Mutex::new(tx);
        let sender = CallSender::new(Box::new(move |line| {
            let _ = tx.lock().unwrap().send(line);
        }));
        sender.connect(target(port));
        sender.send(vec![Effect::Revive]);
        bodies.recv_timeout(Duration::from_secs(5)).unwrap();
        let line = reports.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(line.starts_with("REVIVE answered 400"), "{line}");
    }

    #[test]
    fn calls_without_a_subscription_are_dropped_and_reported() {
        let (tx, reports) = mpsc::channel();
        let tx = Mutex::new(tx);
        let sender = CallSender::new(Box::new(move |line| {
            let _ = tx.lock().unwrap().send(line);
        }));
        sender.send(vec![Effect::Revive, Effect::Suppress]);
        assert!(sender.flush(Duration::from_secs(5)));
        assert_eq!(sender.counters().dropped.load(Ordering::Relaxed), 2);
        let line = reports.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(line, "2 calls dropped: no subscription");
    }
}
