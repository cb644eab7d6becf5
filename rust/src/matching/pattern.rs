//! The regular expressions of `LIKE` and `UNLIKE`: the subset of Java's
//! syntax that docs/matching.md pins (**Regular expressions**), matched
//! against the whole value.
//!
//! A pattern is parsed here and written again in a canonical form that means
//! the same to the `regex` crate, Python's `re` and Java: every character
//! other than `[0-9A-Za-z_]` escaped as `\uXXXX` or `\UXXXXXXXX`, classes
//! spelled out, groups non-capturing. `ark/reference/pattern.py` is the same
//! parser in Python: both must refuse or both accept every pattern.

use std::fmt::Write;

use regex::Regex;

/// The largest count of a `{n,m}` repetition.
const MAX_COUNT: u32 = 1000;
/// The most single-character matchers a pattern may stand for once its
/// repetitions are written out, so that the engine's size limit is never met.
const MAX_SIZE: u64 = 1000;

const META: &str = "\\.[]{}()*+?^$|";
const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Z_a-z";
const SPACE: &str = "\t\n\x0b\x0c\r ";
/// Java's `.`: anything but a line terminator.
const LINE_ENDS: &str = "\n\r\u{85}\u{2028}\u{2029}";

/// The pattern compiled to match whole values, or None outside the dialect.
pub(super) fn compile(pattern: &str) -> Option<Regex> {
    let body = translate(pattern)?;
    Regex::new(&format!("^(?:{body})$")).ok()
}

/// The canonical form of a pattern of the dialect, or None outside it. A
/// leading `^` and a trailing `$` are dropped: the match is whole anyway.
fn translate(pattern: &str) -> Option<String> {
    let mut body = pattern.strip_prefix('^').unwrap_or(pattern);
    if let Some(before) = body.strip_suffix('$') {
        let escapes = before.len() - before.trim_end_matches('\\').len();
        if escapes % 2 == 0 {
            body = before;
        }
    }
    let mut parser = Parser {
        chars: body.chars().collect(),
        at: 0,
    };
    let (out, size) = parser.alternation().ok()?;
    (parser.at == parser.chars.len() && size <= MAX_SIZE).then_some(out)
}

/// Outside the dialect (why, for a reader of the code only: the reason a
/// request gets is `invalid regex`).
struct Refused;

type Parsed = Result<(String, u64), Refused>;

fn char_to(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' {
        out.push(c);
    } else if (c as u32) <= 0xFFFF {
        let _ = write!(out, "\\u{:04X}", c as u32);
    } else {
        let _ = write!(out, "\\U{:08X}", c as u32);
    }
}

fn escaped(c: char) -> String {
    let mut out = String::new();
    char_to(&mut out, c);
    out
}

/// A class body of these characters and `a-z` ranges, canonical.
fn chars(text: &str) -> String {
    let text: Vec<char> = text.chars().collect();
    let (mut out, mut i) = (String::new(), 0);
    while i < text.len() {
        char_to(&mut out, text[i]);
        if i + 2 < text.len() && text[i + 1] == '-' {
            out.push('-');
            char_to(&mut out, text[i + 2]);
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// The class body of `\d`, `\w` or `\s`.
fn class_of(c: char) -> Option<String> {
    match c {
        'd' => Some(chars(DIGIT)),
        'w' => Some(chars(WORD)),
        's' => Some(chars(SPACE)),
        _ => None,
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn take(&mut self) -> Result<char, Refused> {
        let c = self.peek().ok_or(Refused)?;
        self.at += 1;
        Ok(c)
    }

    fn starts_with(&self, s: &str) -> bool {
        let mut ahead = self.chars[self.at..].iter();
        s.chars().all(|c| ahead.next() == Some(&c))
    }

    fn alternation(&mut self) -> Parsed {
        let (mut body, mut size) = self.sequence()?;
        while self.peek() == Some('|') {
            self.at += 1;
            let (more, more_size) = self.sequence()?;
            body.push('|');
            body.push_str(&more);
            size += more_size;
        }
        Ok((body, size))
    }

    fn sequence(&mut self) -> Parsed {
        let (mut out, mut size) = (String::new(), 0);
        while !matches!(self.peek(), None | Some('|' | ')')) {
            let (atom, atom_size) = self.atom()?;
            let (atom, atom_size) = self.quantified(atom, atom_size)?;
            out.push_str(&atom);
            size += atom_size;
        }
        Ok((out, size))
    }

    fn atom(&mut self) -> Parsed {
        let c = self.take()?;
        let atom = match c {
            '(' => {
                if self.starts_with("?:") {
                    self.at += 2;
                } else if self.peek() == Some('?') {
                    // Lookaround, flags and named groups.
                    return Err(Refused);
                }
                let (body, size) = self.alternation()?;
                if self.take()? != ')' {
                    return Err(Refused);
                }
                return Ok((format!("(?:{body})"), size));
            }
            '[' => self.class()?,
            '.' => format!("[^{}]", chars(LINE_ENDS)),
            '\\' => {
                let e = self.take()?;
                if let Some(class) = class_of(e) {
                    format!("[{class}]")
                } else if let Some(class) = class_of(e.to_ascii_lowercase()) {
                    format!("[^{class}]")
                } else {
                    escaped(self.escaped_char(e)?)
                }
            }
            c if META.contains(c) => return Err(Refused),
            c => escaped(c),
        };
        Ok((atom, 1))
    }

    /// The character `\c` stands for.
    fn escaped_char(&mut self, c: char) -> Result<char, Refused> {
        match c {
            't' => Ok('\t'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            'f' => Ok('\x0c'),
            'x' | 'u' => {
                let len = if c == 'x' { 2 } else { 4 };
                let digits: String = self
                    .chars
                    .get(self.at..self.at + len)
                    .ok_or(Refused)?
                    .iter()
                    .collect();
                if !digits.chars().all(|d| d.is_ascii_hexdigit()) {
                    return Err(Refused);
                }
                self.at += len;
                let code = u32::from_str_radix(&digits, 16).map_err(|_| Refused)?;
                // Surrogates are not characters.
                char::from_u32(code).ok_or(Refused)
            }
            c if (' '..='~').contains(&c) && !c.is_ascii_alphanumeric() => Ok(c),
            _ => Err(Refused),
        }
    }

    /// One class item's text: a character, or the body of `\d`-like escape.
    fn class_char(&mut self) -> Result<String, Refused> {
        match self.take()? {
            '\\' => {
                let e = self.take()?;
                match class_of(e) {
                    Some(class) => Ok(class),
                    None => Ok(escaped(self.escaped_char(e)?)),
                }
            }
            '[' | ']' | '-' => Err(Refused),
            '&' if self.peek() == Some('&') => Err(Refused),
            c => Ok(escaped(c)),
        }
    }

    /// The one character a class item at `at` stands for (None: `\d`-like).
    fn single(&mut self, at: usize) -> Result<Option<char>, Refused> {
        let saved = std::mem::replace(&mut self.at, at);
        let single = match self.take()? {
            '\\' => {
                let e = self.take()?;
                match class_of(e) {
                    Some(_) => None,
                    None => Some(self.escaped_char(e)?),
                }
            }
            c => Some(c),
        };
        self.at = saved;
        Ok(single)
    }

    fn class(&mut self) -> Result<String, Refused> {
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
        }
        let mut out = String::from(if negated { "[^" } else { "[" });
        let mut first = true;
        loop {
            let c = self.peek().ok_or(Refused)?;
            if c == ']' && !first {
                self.at += 1;
                break;
            }
            if c == '-' && (first || self.starts_with("-]")) {
                self.at += 1;
                out.push_str(&escaped('-'));
                first = false;
                continue;
            }
            let lo_at = self.at;
            let lo = self.class_char()?;
            if self.peek() == Some('-') && !self.starts_with("-]") {
                self.at += 1;
                let hi_at = self.at;
                let hi = self.class_char()?;
                match (self.single(lo_at)?, self.single(hi_at)?) {
                    (Some(l), Some(h)) if l <= h => {}
                    _ => return Err(Refused),
                }
                out.push_str(&lo);
                out.push('-');
                out.push_str(&hi);
            } else {
                out.push_str(&lo);
            }
            first = false;
        }
        out.push(']');
        Ok(out)
    }

    fn quantified(&mut self, mut atom: String, size: u64) -> Parsed {
        let times = match self.peek() {
            Some(c @ ('*' | '+' | '?')) => {
                self.at += 1;
                atom.push(c);
                1
            }
            Some('{') => {
                self.at += 1;
                let low = self.count()?.ok_or(Refused)?;
                let comma = self.peek() == Some(',');
                let high = if comma {
                    self.at += 1;
                    self.count()?
                } else {
                    Some(low)
                };
                if self.take()? != '}' {
                    return Err(Refused);
                }
                if low > MAX_COUNT || high.is_some_and(|h| h > MAX_COUNT || h < low) {
                    return Err(Refused);
                }
                let _ = match (comma, high) {
                    (false, _) => write!(atom, "{{{low}}}"),
                    (true, Some(h)) => write!(atom, "{{{low},{h}}}"),
                    (true, None) => write!(atom, "{{{low},}}"),
                };
                low.max(high.unwrap_or(0)).max(1)
            }
            _ => return Ok((atom, size)),
        };
        if self.peek() == Some('?') {
            self.at += 1; // lazy: the same whole matches
        }
        if matches!(self.peek(), Some('*' | '+' | '?' | '{')) {
            // One quantifier per atom; no possessive ones.
            return Err(Refused);
        }
        Ok((atom, size * u64::from(times)))
    }

    /// Up to four decimal digits, or None if there are none.
    fn count(&mut self) -> Result<Option<u32>, Refused> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        if self.at - start > 4 {
            return Err(Refused);
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        Ok(digits.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(pattern: &str, value: &str) -> Option<bool> {
        compile(pattern).map(|r| r.is_match(value))
    }

    #[test]
    fn the_issue_s_patterns_are_refused() {
        for p in [
            "(?=h)h1",
            "\\Ah1\\Z",
            "[[:alpha:]]1",
            "(?i)h1",
            "h\\b",
            "\\p{L}",
            "(a)\\1",
        ] {
            assert!(compile(p).is_none(), "{p}");
        }
    }

    #[test]
    fn the_dialect_matches_whole_values_as_java_does() {
        assert_eq!(like("h1", "h1"), Some(true));
        assert_eq!(like("h", "h1"), Some(false));
        assert_eq!(like("^h.$", "h1"), Some(true));
        assert_eq!(like("a\\\\$", "a\\"), Some(true));
        assert_eq!(like(".", "\r"), Some(false));
        assert_eq!(like("[^a]", "\n"), Some(true));
        assert_eq!(like("\\d+", "١٢"), Some(false));
        assert_eq!(like("\\w\\s\\S", "é x"), Some(false));
        assert_eq!(like("[a-c\\d-]{2,}?", "b-7"), Some(true));
        assert_eq!(like("r(ack|oom)-\\u0031", "room-1"), Some(true));
        assert_eq!(like("\\$\\.x{0}", "$."), Some(true));
        assert_eq!(like("", ""), Some(true));
    }

    #[test]
    fn what_java_would_read_otherwise_is_refused() {
        for p in [
            "a{",
            "a**",
            "a*+",
            "[]a]",
            "[^]",
            "[a-b-c]",
            "[z-a]",
            "[a&&b]",
            "x{1001}",
            "(a{100}){11}",
            "\\uD800",
            "a)",
            "(a",
            "[a",
            "\\",
            "\\q",
            "a{,2}",
            "a|*",
        ] {
            assert!(compile(p).is_none(), "{p}");
        }
    }

    #[test]
    fn the_largest_pattern_compiles() {
        assert!(compile(".{1000}").is_some());
        assert!(compile("(?:[^a-z]{10}){100}").is_some());
    }
}
