//! Ark's core: the message inbox, the pure reducer, reconciliation, offer matching.
//!
//! Every module but `python` is plain Rust, tested by `cargo test` without an
//! interpreter; `python` (feature `python`) is the thin binding `ark._core`.

pub mod call_sender;
pub mod calls;
pub mod cow_map;
pub mod dispatch;
pub mod effects;
pub mod error;
pub mod event_stream;
pub mod health;
pub mod http;
pub mod inbox;
pub mod inbox_message;
pub mod json;
pub mod matching;
pub mod messages;
pub mod operations;
pub mod protobuf;
pub mod reconcile;
pub mod recorder;
pub mod recordio;
pub mod reducer;
pub mod request;
pub mod resources;
pub mod state;

#[cfg(feature = "python")]
mod python;
