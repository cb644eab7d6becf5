//! The SUBSCRIBE stream, read in Rust: from the socket through chunked
//! transfer coding, RecordIO and the event lift (either encoding) into the
//! inbox, with no Python object and no GIL on the way.
//!
//! Opening the stream (which master, redirects, the fall back to JSON,
//! backoff) stays with the Python driver, which decides from the response
//! head this module returns. Once the stream is up, SUBSCRIBED points the
//! call sender at this subscription *before* the event reaches the loop, so
//! no call the loop makes in answer to it is dropped, and sets the heartbeat
//! watchdog: a read that waits longer than `heartbeat_misses` heartbeat
//! intervals ends the stream.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use crate::call_sender::{CallSender, Target, API};
use crate::calls::{Encoding, JSON, PROTOBUF};
use crate::http::{self, Head};
use crate::inbox::Closed;
use crate::messages::Message;
use crate::recordio::{Dechunker, RecordReader};
use crate::{json, protobuf};

/// What the loop's inbox must offer the stream.
pub trait Sink {
    /// Push one encoded message; `Err` once the inbox is closed.
    fn push(&self, message: Vec<u8>) -> Result<(), Closed>;
}

/// A request that was answered: its head, and the stream if it is one.
pub struct Opened {
    pub head: Head,
    /// The start of the body (at most 4 KiB) of an answer other than 200.
    pub text: Vec<u8>,
    pub stream: Option<EventStream>,
}

/// How a stream ended.
#[derive(Debug, Default, PartialEq)]
pub struct Ended {
    /// It got as far as SUBSCRIBED.
    pub subscribed: bool,
    pub framework_id: Option<String>,
    /// The message of an ERROR event: the master removed or refused the framework.
    pub error: Option<String>,
    /// Why reading stopped, for the logs.
    pub reason: String,
    pub events: u64,
    /// Records that could not be lifted and were skipped, with why.
    pub malformed: Vec<String>,
}

pub struct EventStream {
    reader: http::Reader<TcpStream>,
    chunked: bool,
    encoding: Encoding,
    host: String,
    port: u16,
    stream_id: Option<String>,
}

/// Connect, send one SUBSCRIBE, and read the answer's head.
pub fn open(
    host: &str,
    port: u16,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<Opened> {
    let address = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}")))?;
    let mut socket = TcpStream::connect_timeout(&address, timeout)?;
    socket.set_read_timeout(Some(timeout))?;
    socket.set_nodelay(true)?;
    let mut request = Vec::with_capacity(body.len() + 256);
    http::post(&mut request, &format!("{host}:{port}"), API, headers, body);
    socket.write_all(&request)?;
    let mut reader = http::Reader::new(socket);
    let head = reader
        .head()?
        .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
    if head.status != 200 {
        let length = head.content_length().unwrap_or(0).min(4096);
        let text = reader.body(length).unwrap_or_default();
        return Ok(Opened {
            head,
            text,
            stream: None,
        });
    }
    let media_type = head.header("Content-Type").unwrap_or(JSON);
    let encoding = if media_type.split(';').next().unwrap_or("").trim() == PROTOBUF {
        Encoding::Protobuf
    } else {
        Encoding::Json
    };
    let stream = EventStream {
        chunked: head.chunked(),
        stream_id: head.header("Mesos-Stream-Id").map(str::to_owned),
        reader,
        encoding,
        host: host.to_owned(),
        port,
    };
    Ok(Opened {
        head,
        text: Vec::new(),
        stream: Some(stream),
    })
}

impl EventStream {
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// A handle that ends `run` from another thread.
    pub fn closer(&self) -> io::Result<TcpStream> {
        self.reader.get_ref().try_clone()
    }

    /// Read events into `sink` until the stream ends, an ERROR arrives, or
    /// the watchdog fires. `calls` is pointed at the subscription on
    /// SUBSCRIBED and disconnected at the end.
    pub fn run(
        mut self,
        sink: &dyn Sink,
        calls: Option<&CallSender>,
        call_headers: &[(String, String)],
        heartbeat_misses: f64,
    ) -> Ended {
        let mut ended = Ended::default();
        let mut dechunker = Dechunker::default();
        let mut records = RecordReader::default();
        let lift = match self.encoding {
            Encoding::Protobuf => protobuf::decode_event,
            Encoding::Json => json::decode_event,
        };
        // What the head's read already took past the head.
        let mut pending = std::mem::take(&mut self.reader.buffer);
        'read: loop {
            if self.chunked {
                if let Err(e) = dechunker.feed(&pending, records.buffer()) {
                    ended.reason = format!("bad chunked framing: {}", e.0);
                    break;
                }
            } else {
                records.extend(&pending);
            }
            loop {
                let record = match records.next_record() {
                    Ok(Some(record)) => record,
                    Ok(None) => break,
                    Err(e) => {
                        ended.reason = format!("bad RecordIO framing: {}", e.0);
                        break 'read;
                    }
                };
                let (tag, data) = match lift(record) {
                    Ok(Some(lifted)) => lifted,
                    Ok(None) => continue,
                    Err(e) => {
                        if ended.malformed.len() < 100 {
                            let shown = &record[..record.len().min(200)];
                            ended
                                .malformed
                                .push(format!("{e}: {}", String::from_utf8_lossy(shown)));
                        }
                        continue;
                    }
                };
                ended.events += 1;
                match tag {
                    "Subscribed" => {
                        if let Ok(Message::Subscribed {
                            framework_id,
                            heartbeat_interval_seconds,
                        }) = Message::decode(&data)
                        {
                            self.subscribed(
                                &mut ended,
                                framework_id.to_string(),
                                heartbeat_interval_seconds,
                                heartbeat_misses,
                                calls,
                                call_headers,
                            );
                        }
                    }
                    "Error" => {
                        if let Ok(Message::Error { message }) = Message::decode(&data) {
                            ended.error = Some(message.to_string());
                        }
                    }
                    _ => {}
                }
                if sink.push(data).is_err() {
                    ended.reason = "the inbox is closed".into();
                    break 'read;
                }
                if ended.error.is_some() {
                    ended.reason = "the master sent ERROR".into();
                    break 'read;
                }
            }
            if dechunker.finished {
                ended.reason = "the master closed the event stream".into();
                break;
            }
            pending.clear();
            match self.reader.fill() {
                Ok(0) => {
                    ended.reason = "the master closed the event stream".into();
                    break;
                }
                Ok(_) => pending = std::mem::take(&mut self.reader.buffer),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    ended.reason = "no event for longer than the heartbeat watchdog allows".into();
                    break;
                }
                Err(e) => {
                    ended.reason = format!("event stream lost: {e}");
                    break;
                }
            }
        }
        if let Some(calls) = calls {
            calls.disconnect();
        }
        let _ = self.reader.get_mut().shutdown(Shutdown::Both);
        ended
    }

    fn subscribed(
        &self,
        ended: &mut Ended,
        framework_id: String,
        heartbeat_interval_seconds: Option<f64>,
        heartbeat_misses: f64,
        calls: Option<&CallSender>,
        call_headers: &[(String, String)],
    ) {
        ended.subscribed = true;
        ended.framework_id = Some(framework_id.clone());
        let interval = heartbeat_interval_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(15.0);
        let watchdog = Duration::try_from_secs_f64(interval * heartbeat_misses.max(1.0))
            .unwrap_or(Duration::from_secs(45));
        let _ = self.reader.get_ref().set_read_timeout(Some(watchdog));
        if let (Some(calls), Some(stream_id)) = (calls, &self.stream_id) {
            calls.connect(Target {
                host: self.host.clone(),
                port: self.port,
                stream_id: stream_id.clone(),
                framework_id,
                encoding: self.encoding,
                headers: call_headers.to_vec(),
            });
        }
    }
}
