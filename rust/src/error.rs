//! The core's errors. The binding maps each variant to one `ark.errors` class.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// Bytes that are not a well-formed known message.
    Message(String),
    /// A well-formed command that cannot apply; the text says why.
    Rejected(String),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Message(m) => write!(f, "malformed message: {m}"),
            CoreError::Rejected(m) => write!(f, "command rejected: {m}"),
        }
    }
}

impl std::error::Error for CoreError {}
