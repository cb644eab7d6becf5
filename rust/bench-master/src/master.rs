//! The master: one thread per connection reads pipelined requests and
//! answers them; the framework's event stream has a writer thread of its own
//! fed through a channel, so that no request (an ACCEPT whose launches must
//! be answered with updates, a storm of a million updates) ever waits on a
//! client that is slow to read its stream.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::calls::{self, Call};
use crate::events::{self, Encoding, Event, Status};
use crate::http::{self, Parsed, Request};
use crate::ledger::{Ledger, Update};

const API: &str = "/api/v1/scheduler";
const VERSION: &str = "1.12.0";
/// A stream whose client takes no bytes for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// A paced storm sends a slice of its updates this often.
const PACE: Duration = Duration::from_millis(10);

/// What the stream's writer thread is handed.
enum Out {
    Bytes(Vec<u8>),
    /// End the stream (after a failover or a TEARDOWN).
    Close,
}

/// The framework's subscription: one at a time, as one framework has one.
#[derive(Clone)]
struct Stream {
    id: String,
    framework_id: String,
    encoding: Encoding,
    out: mpsc::Sender<Out>,
}

impl Stream {
    /// Encodes events as chunked RecordIO records and hands them to the writer.
    fn send<'a>(&self, events: impl IntoIterator<Item = Event<'a>>) {
        let mut buf = Vec::new();
        for event in events {
            http::chunked_record(&mut buf, &events::encode(&event, self.encoding));
        }
        // A closed channel is a stream already gone: nothing to send it to.
        let _ = self.out.send(Out::Bytes(buf));
    }
}

/// The harness's state, shared by every connection thread.
pub struct Master {
    ledger: Mutex<Ledger>,
    stream: Mutex<Option<Stream>>,
    heartbeat_seconds: f64,
    address: SocketAddr,
    started: Instant,
    id: String,
    random: Random,
}

impl Master {
    pub fn new(address: SocketAddr, heartbeat_seconds: f64) -> Master {
        let random = Random::new();
        Master {
            ledger: Mutex::new(Ledger::default()),
            stream: Mutex::new(None),
            heartbeat_seconds,
            address,
            started: Instant::now(),
            id: uuid_text(random.uuid()),
            random,
        }
    }

    /// Serves one connection until the client closes it.
    pub fn serve(self: &Arc<Self>, mut socket: TcpStream) {
        // Small answers go out at once; a pipelining client batches itself.
        let _ = socket.set_nodelay(true);
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut out: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let mut start = 0;
            loop {
                match http::parse(&buf[start..]) {
                    Parsed::Request(request, used) => {
                        start += used;
                        let close = request.close;
                        if let Some(subscribe) = self.handle(request, &mut out) {
                            if socket.write_all(&out).is_err() {
                                return;
                            }
                            self.hold_stream(socket, subscribe);
                            return;
                        }
                        if close {
                            let _ = socket.write_all(&out);
                            return;
                        }
                    }
                    Parsed::Incomplete => break,
                    Parsed::Invalid(status, reason) => {
                        http::respond(&mut out, status, "text/plain", reason.as_bytes(), true);
                        let _ = socket.write_all(&out);
                        return;
                    }
                }
            }
            buf.drain(..start);
            if !out.is_empty() {
                if socket.write_all(&out).is_err() {
                    return;
                }
                out.clear();
            }
            match socket.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends a HEARTBEAT on the stream every `--heartbeat-seconds`, forever.
    pub fn heartbeats(&self) {
        loop {
            std::thread::sleep(Duration::from_secs_f64(self.heartbeat_seconds));
            if let Some(stream) = self.current() {
                stream.send([Event::Heartbeat]);
            }
        }
    }

    /// Answers one request into `out`; a SUBSCRIBE is answered by the stream
    /// that the caller opens with what this returns.
    fn handle(&self, request: Request, out: &mut Vec<u8>) -> Option<Subscribe> {
        let close = request.close;
        let reply = |out: &mut Vec<u8>, status: u16, body: Value| {
            http::respond(
                out,
                status,
                "application/json",
                body.to_string().as_bytes(),
                close,
            );
        };
        let param = |key: &str, default: Option<f64>| -> Result<f64, String> {
            match http::query_param(&request.query, key) {
                Some(text) => text
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("{key}={text:?} is not a number >= 0")),
                None => default.ok_or_else(|| format!("{key} is required")),
            }
        };
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", API) => return self.call(&request, out),
            ("GET", "/version") => reply(
                out,
                200,
                json!({"version": VERSION, "build_user": "ark-bench-master", "git_sha": ""}),
            ),
            ("GET", "/master/state" | "/state" | "/state.json") => reply(out, 200, self.state()),
            ("GET", "/bench/stats") => reply(out, 200, self.stats()),
            ("POST", "/bench/reset") => {
                self.books().reset();
                reply(out, 200, json!({"reset": true}));
            }
            ("POST", "/bench/storm") => {
                let rate = match http::query_param(&request.query, "rate") {
                    Some(_) => param("rate", None).map(Some),
                    None => Ok(None),
                };
                match (param("n", None), rate) {
                    (Ok(n), Ok(rate)) => match self.storm(n as usize, rate) {
                        Ok(body) => reply(out, 200, body),
                        Err(e) => reply(out, 409, json!({"error": e})),
                    },
                    (Err(e), _) | (_, Err(e)) => reply(out, 400, json!({"error": e})),
                }
            }
            ("POST", "/bench/offers") => {
                let params = (|| {
                    let agents = param("agents", None)? as usize;
                    Ok::<_, String>((
                        agents,
                        [
                            param("cpus", None)?,
                            param("mem", None)?,
                            param("disk", Some(0.0))?,
                        ],
                        param("ports", Some(0.0))? as u64,
                        (param("per_event", Some(agents as f64))? as usize).max(1),
                    ))
                })();
                match params {
                    Ok((agents, [cpus, mem, disk], ports, per_event)) => {
                        match self.offers(agents, cpus, mem, disk, ports, per_event) {
                            Ok(body) => reply(out, 200, body),
                            Err(e) => reply(out, 409, json!({"error": e})),
                        }
                    }
                    Err(e) => reply(out, 400, json!({"error": e})),
                }
            }
            ("POST", "/bench/tasks") => match (param("n", None), param("agents", Some(1.0))) {
                (Ok(n), Ok(agents)) => {
                    self.books().known_tasks(n as usize, agents as usize);
                    reply(out, 200, json!({"tasks": n as usize}));
                }
                (Err(e), _) | (_, Err(e)) => reply(out, 400, json!({"error": e})),
            },
            (_, path) => reply(out, 404, json!({"error": format!("no {path} here")})),
        }
        None
    }

    /// A call to the scheduler API: decoded, checked, accounted for.
    fn call(&self, request: &Request, out: &mut Vec<u8>) -> Option<Subscribe> {
        let close = request.close;
        let refuse = |out: &mut Vec<u8>, status: u16, why: &str| {
            http::respond(out, status, "text/plain", why.as_bytes(), close);
        };
        let media_type = request.content_type.as_deref().unwrap_or("");
        let Some(encoding) = Encoding::of_media_type(media_type) else {
            self.books().unknown_call();
            refuse(
                out,
                415,
                &format!("unsupported Content-Type {media_type:?}"),
            );
            return None;
        };
        let call = match calls::decode(&request.body, encoding) {
            Ok(call) => call,
            Err(why) => {
                self.books().unknown_call();
                refuse(out, 400, &format!("Failed to parse body: {why}"));
                return None;
            }
        };
        if let Call::Subscribe { framework_id } = call {
            let accept = match request.accept.as_deref() {
                None | Some("*/*") => Some(encoding),
                Some(accept) => accept.split(',').find_map(Encoding::of_media_type),
            };
            let Some(accept) = accept else {
                refuse(
                    out,
                    406,
                    "Accept neither application/json nor application/x-protobuf",
                );
                return None;
            };
            return Some(Subscribe {
                framework_id,
                encoding: accept,
            });
        }
        let Some(stream) = self
            .current()
            .filter(|s| Some(s.id.as_str()) == request.stream_id.as_deref())
        else {
            self.books().bad_stream_id();
            refuse(
                out,
                400,
                "the call's Mesos-Stream-Id is not the subscribed stream's",
            );
            return None;
        };
        let now = wall_now();
        let answer = self.books().call(&call, now, &mut || self.random.uuid());
        if !answer.updates.is_empty() {
            stream.send(answer.updates.iter().map(|u| Event::Update(status(u, now))));
            if matches!(call, Call::Reconcile { .. }) {
                self.books().reconcile_answered(wall_now());
            }
        }
        if answer.teardown {
            self.end_stream(&stream.id, None);
        }
        http::respond(out, 202, "", b"", close);
        None
    }

    /// Makes `socket` the framework's stream (ending any other with a
    /// failover ERROR, as Mesos does) and reads it until the client closes it.
    fn hold_stream(self: &Arc<Self>, socket: TcpStream, subscribe: Subscribe) {
        let Ok(writer) = socket.try_clone() else {
            return;
        };
        let _ = writer.set_write_timeout(Some(WRITE_TIMEOUT));
        let framework_id = subscribe
            .framework_id
            .unwrap_or_else(|| format!("bench-{}", uuid_text(self.random.uuid())));
        let (tx, rx) = mpsc::channel();
        let stream = Stream {
            id: uuid_text(self.random.uuid()),
            framework_id,
            encoding: subscribe.encoding,
            out: tx,
        };
        let _ = stream.out.send(Out::Bytes(http::stream_head(
            stream.encoding.media_type(),
            &stream.id,
        )));
        stream.send([Event::Subscribed {
            framework_id: &stream.framework_id,
            heartbeat_seconds: self.heartbeat_seconds,
        }]);
        let master = Arc::clone(self);
        let id = stream.id.clone();
        std::thread::spawn(move || master.write_stream(writer, &id, &rx));
        let old = self.streams().replace(stream.clone());
        if let Some(old) = old {
            old.send([Event::Error("Framework failed over")]);
            let _ = old.out.send(Out::Close);
        }
        self.books().subscribed();
        // Whatever the client sends on its stream's connection is not a call; EOF ends it.
        let mut reader = socket;
        let mut sink = [0u8; 4096];
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
        self.end_stream(&stream.id, Some(&reader));
    }

    fn write_stream(&self, mut socket: TcpStream, id: &str, rx: &mpsc::Receiver<Out>) {
        while let Ok(Out::Bytes(bytes)) = rx.recv() {
            if socket.write_all(&bytes).is_err() {
                self.end_stream(id, None);
                break;
            }
        }
        let _ = socket.write_all(http::LAST_CHUNK);
        let _ = socket.shutdown(Shutdown::Both);
    }

    /// Forgets stream `id` if it is still the framework's, and closes it.
    fn end_stream(&self, id: &str, socket: Option<&TcpStream>) {
        let mut current = self.streams();
        if current.as_ref().is_some_and(|s| s.id == id) {
            if let Some(stream) = current.take() {
                let _ = stream.out.send(Out::Close);
            }
        }
        drop(current);
        if let Some(socket) = socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Sends `n` TASK_RUNNING updates, encoded before the clock starts, all at once or `rate` a second.
    fn storm(&self, n: usize, rate: Option<f64>) -> Result<Value, String> {
        let stream = self.current().ok_or("no framework is subscribed")?;
        let encode_start = Instant::now();
        let updates = self.books().storm(n, &mut || self.random.uuid());
        let now = wall_now();
        let per_slice = match rate {
            Some(rate) => ((rate * PACE.as_secs_f64()).ceil() as usize).max(1),
            None => n.max(1),
        };
        let slices: Vec<Vec<u8>> = updates
            .chunks(per_slice)
            .map(|slice| {
                let mut buf = Vec::new();
                for u in slice {
                    let event = Event::Update(status(u, now));
                    http::chunked_record(&mut buf, &events::encode(&event, stream.encoding));
                }
                buf
            })
            .collect();
        let encode_seconds = encode_start.elapsed().as_secs_f64();
        {
            let mut books = self.books();
            books.sent(n, wall_now());
            books.cpu_at_first_update(cpu_seconds());
        }
        let paced = rate.is_some();
        let out = stream.out.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            for (i, slice) in slices.into_iter().enumerate() {
                if paced {
                    let due = PACE * u32::try_from(i).unwrap_or(u32::MAX);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
                if out.send(Out::Bytes(slice)).is_err() {
                    return;
                }
            }
        });
        Ok(json!({"updates": n, "encode_seconds": encode_seconds}))
    }

    fn offers(
        &self,
        agents: usize,
        cpus: f64,
        mem: f64,
        disk: f64,
        ports: u64,
        per_event: usize,
    ) -> Result<Value, String> {
        let stream = self.current().ok_or("no framework is subscribed")?;
        let offers = self
            .books()
            .offers(agents, &stream.framework_id, cpus, mem, disk, ports);
        let events = offers.chunks(per_event).map(Event::Offers);
        let count = offers.len().div_ceil(per_event);
        stream.send(events);
        Ok(json!({"offers": agents, "events": count}))
    }

    fn stats(&self) -> Value {
        let mut stats = self.books().stats();
        let stream = self.current();
        stats["stream_encoding"] = stream.as_ref().map(|s| s.encoding.name()).into();
        stats["framework_id"] = stream.as_ref().map(|s| s.framework_id.clone()).into();
        stats["cpu_seconds"] = cpu_seconds().into();
        stats["wall_seconds"] = self.started.elapsed().as_secs_f64().into();
        stats
    }

    fn state(&self) -> Value {
        let pid = format!("master@{}", self.address);
        let frameworks: Vec<Value> = self
            .current()
            .map(|s| json!({"id": s.framework_id, "active": true}))
            .into_iter()
            .collect();
        json!({
            "version": VERSION,
            "id": self.id,
            "pid": pid,
            "leader": pid,
            "hostname": self.address.ip().to_string(),
            "activated_slaves": 0,
            "frameworks": frameworks,
        })
    }

    fn current(&self) -> Option<Stream> {
        self.streams().clone()
    }

    // A thread that panicked holding a lock left consistent counters behind
    // (each update is one statement), so a poisoned lock is still used.
    fn books(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn streams(&self) -> MutexGuard<'_, Option<Stream>> {
        self.stream.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A SUBSCRIBE to answer with a stream.
struct Subscribe {
    framework_id: Option<String>,
    encoding: Encoding,
}

fn status(u: &Update, now: f64) -> Status<'_> {
    Status {
        task_id: &u.task_id,
        agent_id: u.agent_id.as_deref(),
        state: u.state,
        source: u.source,
        reason: u.reason,
        uuid: u.uuid,
        timestamp: now,
    }
}

/// Unix time in seconds, what the stats' `*_at` fields hold.
pub fn wall_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The process's CPU time, user and system, in seconds.
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return f64::NAN;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Random uuids for updates and stream ids: splitmix64 over a counter,
/// seeded from the standard library's per-process random hasher keys.
struct Random {
    seed: u64,
    counter: AtomicU64,
}

impl Random {
    fn new() -> Random {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Random {
            seed: hasher.finish(),
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut z = self
            .seed
            .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uuid(&self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes());
        // Version 4, variant 1: a random UUID, as Mesos makes them.
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        bytes
    }
}

fn uuid_text(b: [u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_distinct_and_well_formed() {
        let random = Random::new();
        let a = random.uuid();
        let b = random.uuid();
        assert_ne!(a, b);
        let text = uuid_text(a);
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
    }

    #[test]
    fn cpu_time_is_measured() {
        assert!(cpu_seconds() >= 0.0);
    }
}
