//! The framing of the SUBSCRIBE response: HTTP chunked transfer coding
//! around Mesos's RecordIO (`<decimal length>\n<record>`), both undone
//! incrementally from whatever the socket gave, so a record may arrive in
//! any number of reads and one read may carry many records.

/// A framing error: the stream cannot be trusted past it.
#[derive(Debug, PartialEq, Eq)]
pub struct FramingError(pub String);

/// Largest record accepted: an OFFERS event of 10,000 agents is a few MB.
pub const MAX_RECORD: usize = 256 * 1024 * 1024;

/// Undoes `Transfer-Encoding: chunked`.
#[derive(Debug, Default)]
pub struct Dechunker {
    /// Bytes left in the current chunk's data.
    remaining: usize,
    /// The data's trailing CRLF is still to be skipped.
    crlf: usize,
    head: Vec<u8>,
    pub finished: bool,
}

impl Dechunker {
    /// Append the payload bytes of `input` to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), FramingError> {
        while !input.is_empty() && !self.finished {
            if self.remaining > 0 {
                let n = self.remaining.min(input.len());
                out.extend_from_slice(&input[..n]);
                self.remaining -= n;
                input = &input[n..];
                if self.remaining == 0 {
                    self.crlf = 2;
                }
            } else if self.crlf > 0 {
                let n = self.crlf.min(input.len());
                self.crlf -= n;
                input = &input[n..];
            } else {
                // The size line: hex digits, optional extensions, CRLF.
                let Some(end) = input.iter().position(|&b| b == b'\n') else {
                    self.head.extend_from_slice(input);
                    if self.head.len() > 1024 {
                        return Err(FramingError("chunk size line too long".into()));
                    }
                    return Ok(());
                };
                self.head.extend_from_slice(&input[..end]);
                input = &input[end + 1..];
                let line = std::str::from_utf8(&self.head)
                    .map_err(|_| FramingError("chunk size is not text".into()))?;
                let digits = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(digits, 16)
                    .map_err(|_| FramingError(format!("bad chunk size {line:?}")))?;
                self.head.clear();
                if size == 0 {
                    self.finished = true;
                } else {
                    self.remaining = size;
                }
            }
        }
        Ok(())
    }
}

/// Splits RecordIO into records.
#[derive(Debug, Default)]
pub struct RecordReader {
    buffer: Vec<u8>,
    start: usize,
}

impl RecordReader {
    pub fn extend(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        self.buffer.extend_from_slice(data);
    }

    /// The buffer payload bytes go to before `extend`, to save a copy.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        &mut self.buffer
    }

    /// The next whole record, if one is buffered.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, FramingError> {
        let rest = &self.buffer[self.start..];
        let Some(newline) = rest.iter().take(21).position(|&b| b == b'\n') else {
            if rest.len() > 20 {
                return Err(FramingError(format!(
                    "bad record length prefix {:?}",
                    String::from_utf8_lossy(&rest[..20])
                )));
            }
            return Ok(None);
        };
        let prefix = &rest[..newline];
        let text = std::str::from_utf8(prefix).unwrap_or("");
        let size: usize = text
            .trim()
            .parse()
            .ok()
            .filter(|_| !text.trim().is_empty() && text.trim().bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| FramingError(format!("bad record length prefix {text:?}")))?;
        if size > MAX_RECORD {
            return Err(FramingError(format!("record of {size} bytes is too large")));
        }
        let begin = self.start + newline + 1;
        if self.buffer.len() - begin < size {
            return Ok(None);
        }
        self.start = begin + size;
        Ok(Some(&self.buffer[begin..begin + size]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8], split: usize) -> Result<Vec<Vec<u8>>, FramingError> {
        let mut reader = RecordReader::default();
        let mut out = Vec::new();
        for piece in input.chunks(split) {
            reader.extend(piece);
            while let Some(r) = reader.next_record()? {
                out.push(r.to_vec());
            }
        }
        Ok(out)
    }

    #[test]
    fn records_split_anywhere() {
        let input = b"5\nhello3\nabc0\n";
        for split in 1..input.len() {
            assert_eq!(
                records(input, split).unwrap(),
                vec![b"hello".to_vec(), b"abc".to_vec(), b"".to_vec()]
            );
        }
    }

    #[test]
    fn a_bad_prefix_is_an_error() {
        assert!(records(b"x\nabc", 100).is_err());
        assert!(records(b"-1\nabc", 100).is_err());
        assert!(records(b"123456789012345678901234", 100).is_err());
        assert!(records(b"999999999999\n", 100).is_err());
    }

    #[test]
    fn chunks_split_anywhere() {
        let input = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n";
        for split in 1..input.len() {
            let mut d = Dechunker::default();
            let mut out = Vec::new();
            for piece in input.chunks(split) {
                d.feed(piece, &mut out).unwrap();
            }
            assert_eq!(out, b"helloabc");
            assert!(d.finished);
        }
    }

    #[test]
    fn a_bad_chunk_size_is_an_error() {
        let mut d = Dechunker::default();
        assert!(d.feed(b"zz\r\n", &mut Vec::new()).is_err());
    }
}
