//! Just enough HTTP/1.1 for a benchmark master: requests with Content-Length
//! bodies, several of them back to back in one buffer (pipelining), and
//! responses built as bytes. Anything fancier (chunked request bodies,
//! `Expect: 100-continue`) is refused, so a client that needs it is told so.

/// The largest request head accepted; Mesos's clients send a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted: an ACCEPT of thousands of launches fits many times over.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One parsed request; the header values the master reads, the body copied out.
#[derive(Debug, Default, PartialEq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The query string, without its `?`.
    pub query: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub stream_id: Option<String>,
    /// The client asked to close the connection after this request.
    pub close: bool,
    pub body: Vec<u8>,
}

/// What the start of a buffer holds.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A whole request and how many bytes of the buffer it took.
    Request(Request, usize),
    /// The start of a request: read more.
    Incomplete,
    /// Not a request this server takes: answer with this status and reason, then close.
    Invalid(u16, String),
}

/// Parses the request at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Parsed::Invalid(431, "request head too large".into());
        }
        return Parsed::Incomplete;
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return Parsed::Invalid(400, "request head is not UTF-8".into());
    };
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Invalid(400, format!("bad request line {line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Parsed::Invalid(505, format!("unsupported version {version:?}"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        // HTTP/1.0 closes unless asked to keep alive; 1.1 keeps alive unless asked to close.
        close: version == "HTTP/1.0",
        ..Request::default()
    };
    let mut length = 0usize;
    for header in lines {
        let Some((name, value)) = header.split_once(':') else {
            return Parsed::Invalid(400, format!("bad header line {header:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) if n <= MAX_BODY => length = n,
                Ok(_) => return Parsed::Invalid(413, "body too large".into()),
                Err(_) => return Parsed::Invalid(400, format!("bad Content-Length {value:?}")),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Invalid(411, "send the body with a Content-Length".into());
        } else if name.eq_ignore_ascii_case("content-type") {
            request.content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("accept") {
            request.accept = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("mesos-stream-id") {
            request.stream_id = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                request.close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                request.close = false;
            }
        }
    }
    let start = head_end + 4;
    if buf.len() < start + length {
        return Parsed::Incomplete;
    }
    request.body = buf[start..start + length].to_vec();
    Parsed::Request(request, start + length)
}

/// The value of `key` in a query string `a=1&b=2` (no percent-decoding: the
/// control endpoints take numbers).
pub fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// A whole response with a Content-Length body, appended to `out`.
pub fn respond(out: &mut Vec<u8>, status: u16, content_type: &str, body: &[u8], close: bool) {
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n{}{}\r\n",
            reason(status),
            body.len(),
            if body.is_empty() {
                String::new()
            } else {
                format!("Content-Type: {content_type}\r\n")
            },
            if close { "Connection: close\r\n" } else { "" },
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
}

/// The head of a chunked event stream (what Mesos answers a SUBSCRIBE with).
pub fn stream_head(content_type: &str, stream_id: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nMesos-Stream-Id: {stream_id}\r\n\
         Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n"
    )
    .into_bytes()
}

/// One RecordIO record (`<length>\n<bytes>`) as one HTTP chunk, appended to `out`.
pub fn chunked_record(out: &mut Vec<u8>, record: &[u8]) {
    let length = record.len().to_string();
    out.extend_from_slice(format!("{:x}\r\n", length.len() + 1 + record.len()).as_bytes());
    out.extend_from_slice(length.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(record);
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str, extra: &str) -> String {
        format!(
            "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Mesos-Stream-Id: s-1\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[test]
    fn a_request_parses_with_its_headers_and_body() {
        let text = post(r#"{"type":"REVIVE"}"#, "");
        let Parsed::Request(request, used) = parse(text.as_bytes()) else {
            panic!("not parsed");
        };
        assert_eq!(used, text.len());
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/v1/scheduler");
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(request.stream_id.as_deref(), Some("s-1"));
        assert_eq!(request.body, br#"{"type":"REVIVE"}"#);
        assert!(!request.close);
    }

    #[test]
    fn pipelined_requests_parse_one_after_another() {
        let text = format!(
            "{}{}GET /bench/stats?x=1 HTTP/1.1\r\n\r\n",
            post("a", ""),
            post("bb", "")
        );
        let mut buf = text.as_bytes();
        let mut bodies = Vec::new();
        while let Parsed::Request(request, used) = parse(buf) {
            bodies.push((request.path, request.query, request.body));
            buf = &buf[used..];
        }
        assert!(buf.is_empty());
        assert_eq!(
            bodies,
            vec![
                ("/api/v1/scheduler".into(), String::new(), b"a".to_vec()),
                ("/api/v1/scheduler".into(), String::new(), b"bb".to_vec()),
                ("/bench/stats".into(), "x=1".into(), Vec::new()),
            ]
        );
    }

    #[test]
    fn a_request_cut_anywhere_is_incomplete() {
        let text = post(r#"{"type":"REVIVE"}"#, "");
        for cut in 0..text.len() {
            assert_eq!(parse(&text.as_bytes()[..cut]), Parsed::Incomplete, "{cut}");
        }
    }

    #[test]
    fn bad_requests_are_refused_with_a_status() {
        let chunked = post("", "Transfer-Encoding: chunked\r\n");
        assert!(matches!(parse(chunked.as_bytes()), Parsed::Invalid(411, _)));
        assert!(matches!(parse(b"GARBAGE\r\n\r\n"), Parsed::Invalid(400, _)));
        let length = "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n";
        assert!(matches!(parse(length.as_bytes()), Parsed::Invalid(400, _)));
        assert!(matches!(
            parse(&vec![b'a'; MAX_HEAD + 1]),
            Parsed::Invalid(431, _)
        ));
    }

    #[test]
    fn connection_close_and_http_1_0_close() {
        let close = post("", "Connection: close\r\n");
        let Parsed::Request(request, _) = parse(close.as_bytes()) else {
            panic!()
        };
        assert!(request.close);
        let Parsed::Request(request, _) = parse(b"GET /version HTTP/1.0\r\n\r\n") else {
            panic!()
        };
        assert!(request.close);
    }

    #[test]
    fn query_params_and_records() {
        assert_eq!(query_param("n=10&rate=5", "rate"), Some("5"));
        assert_eq!(query_param("n=10", "rate"), None);
        let mut out = Vec::new();
        chunked_record(&mut out, b"hello");
        assert_eq!(out, b"7\r\n5\nhello\r\n");
    }
}
