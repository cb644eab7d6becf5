//! The little of HTTP/1.1 a scheduler needs from a master: write a POST,
//! read a response head, read a response body by its length. Enough for
//! Mesos's `/api/v1/scheduler`, whose answers are 200 (a stream), 202, 307
//! or an error with a short text body.

use std::io::{self, Read, Write};

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A POST request, ready to write.
pub fn post(out: &mut Vec<u8>, host: &str, path: &str, headers: &[(String, String)], body: &[u8]) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "POST {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    out.extend_from_slice(body);
}

/// A response's status line and headers.
#[derive(Debug, Default, Clone)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn chunked(&self) -> bool {
        self.header("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("Content-Length")?.trim().parse().ok()
    }
}

/// Reads responses off one connection, keeping what it read past each one.
pub struct Reader<R> {
    inner: R,
    pub buffer: Vec<u8>,
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            buffer: Vec::with_capacity(16 * 1024),
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Read more into the buffer; 0 at the end of the stream.
    pub fn fill(&mut self) -> io::Result<usize> {
        let len = self.buffer.len();
        self.buffer.resize(len + 64 * 1024, 0);
        let result = self.inner.read(&mut self.buffer[len..]);
        self.buffer.truncate(len + *result.as_ref().unwrap_or(&0));
        result
    }

    /// The next response head; `None` if the stream ended before one began.
    pub fn head(&mut self) -> io::Result<Option<Head>> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let head = parse_head(&self.buffer[..end])?;
                self.buffer.drain(..end + 4);
                return Ok(Some(head));
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(invalid("response head too large"));
            }
            if self.fill()? == 0 {
                if self.buffer.is_empty() {
                    return Ok(None);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// A body of known length.
    pub fn body(&mut self, length: usize) -> io::Result<Vec<u8>> {
        while self.buffer.len() < length {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buffer.drain(..length).collect())
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(data: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(data).map_err(|_| invalid("response head is not text"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| invalid(&format!("bad status line {status_line:?}")))?;
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    Ok(Head { status, headers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_bodies_of_pipelined_responses() {
        let wire: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n\
HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n\r\noops!";
        let mut reader = Reader::new(wire);
        let first = reader.head().unwrap().unwrap();
        assert_eq!(first.status, 202);
        assert_eq!(first.content_length(), Some(0));
        let second = reader.head().unwrap().unwrap();
        assert_eq!(second.status, 400);
        assert_eq!(reader.body(5).unwrap(), b"oops!");
        assert!(reader.head().unwrap().is_none());
    }

    #[test]
    fn a_bad_status_line_is_an_error() {
        let mut reader = Reader::new(&b"SMTP 220\r\n\r\n"[..]);
        assert!(reader.head().is_err());
    }

    #[test]
    fn post_writes_length_and_headers() {
        let mut out = Vec::new();
        post(
            &mut out,
            "m:5050",
            "/api",
            &[("A".into(), "b".into())],
            b"xy",
        );
        assert_eq!(
            out,
            b"POST /api HTTP/1.1\r\nHost: m:5050\r\nA: b\r\nContent-Length: 2\r\n\r\nxy"
        );
    }
}
