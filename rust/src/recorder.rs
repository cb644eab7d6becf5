//! The flight recorder's tape: every message the loop steps, in order, with
//! the `now` it was stepped at and the effects it gave, appended to a buffer
//! the scheduler takes after each batch and hands to a writer thread
//! (`ark.recorder`), so recording costs the loop a copy, never a write.
//!
//! An entry is `source: u8, now: f64 LE, len: u32 LE, message, len: u32 LE,
//! effects (msgpack)`. `ark.recorder` reads the same layout.

use crate::effects::{self, Effect};

/// Where a recorded entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Source {
    /// A message taken from the inbox.
    Inbox = 0,
    /// A hook's command, stepped right after the hook ran.
    Command = 1,
    /// A note from the scheduler (what a hook saw and returned): never stepped.
    Note = 2,
}

/// The entries recorded since the last `take`.
#[derive(Debug, Default)]
pub struct Tape {
    buf: Vec<u8>,
}

impl Tape {
    /// Append one stepped message and its effects.
    pub fn step(&mut self, source: Source, message: &[u8], now: f64, effects: &[Effect]) {
        let encoded = if effects.is_empty() {
            // The encoding of an empty list, without an allocation per message.
            vec![0x90]
        } else {
            effects::encode(effects)
        };
        self.entry(source, message, now, &encoded);
    }

    /// Append a note (the scheduler's record of a hook), not a step.
    pub fn note(&mut self, data: &[u8], now: f64) {
        self.entry(Source::Note, data, now, &[]);
    }

    fn entry(&mut self, source: Source, message: &[u8], now: f64, effects: &[u8]) {
        self.buf.reserve(17 + message.len() + effects.len());
        self.buf.push(source as u8);
        self.buf.extend_from_slice(&now.to_le_bytes());
        self.buf
            .extend_from_slice(&(message.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(message);
        self.buf
            .extend_from_slice(&(effects.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(effects);
    }

    /// The entries recorded so far; the tape starts empty again.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_laid_out_as_documented() {
        let mut tape = Tape::default();
        tape.step(Source::Inbox, b"abc", 1.5, &[Effect::Revive]);
        tape.note(b"n", 2.0);
        let data = tape.take();
        assert!(tape.take().is_empty());
        assert_eq!(data[0], 0);
        assert_eq!(f64::from_le_bytes(data[1..9].try_into().unwrap()), 1.5);
        assert_eq!(u32::from_le_bytes(data[9..13].try_into().unwrap()), 3);
        assert_eq!(&data[13..16], b"abc");
        let effects_len = u32::from_le_bytes(data[16..20].try_into().unwrap()) as usize;
        assert_eq!(
            &data[20..20 + effects_len],
            &effects::encode(&[Effect::Revive])[..]
        );
        let note = &data[20 + effects_len..];
        assert_eq!(note[0], 2);
        assert_eq!(&note[9..13], &1u32.to_le_bytes());
        assert_eq!(&note[13..14], b"n");
        assert_eq!(&note[14..18], &0u32.to_le_bytes());
        assert_eq!(note.len(), 18);
    }

    #[test]
    fn no_effects_encode_as_an_empty_list() {
        assert_eq!(effects::encode(&[]), vec![0x90]);
    }
}
