//! The flight recorder's tape: every message the loop steps, in order, with
//! the `now` it was stepped at and the effects it gave, appended to a buffer
//! the scheduler takes after each batch and hands to a writer thread
//! (`ark.recorder`), so recording costs the loop a copy, never a write.
//!
//! An entry is `source: u8, now: f64 LE, len: u32 LE, message, len: u32 LE,
//! effects (msgpack)`. `ark.recorder` reads the same layout.

use crate::effects::Effect;

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

/// The entries recorded since the last `drain`.
#[derive(Debug, Default)]
pub struct Tape {
    buf: Vec<u8>,
}

impl Tape {
    /// Append one stepped message and its effects, encoded in place (no
    /// allocation per message: the buffer grows and is reused by `take`'s caller).
    pub fn step(&mut self, source: Source, message: &[u8], now: f64, effects: &[Effect]) {
        self.head(source, message, now);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        if effects.is_empty() {
            self.buf.push(0x90); // an empty msgpack array, as `effects::encode` writes it
        } else {
            rmp_serde::encode::write(&mut self.buf, effects)
                .expect("effects are plain data and always encode");
        }
        let len = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// Append a note (the scheduler's record of a hook), not a step.
    pub fn note(&mut self, data: &[u8], now: f64) {
        self.head(Source::Note, data, now);
        self.buf.extend_from_slice(&0u32.to_le_bytes());
    }

    fn head(&mut self, source: Source, message: &[u8], now: f64) {
        self.buf.push(source as u8);
        self.buf.extend_from_slice(&now.to_le_bytes());
        self.buf
            .extend_from_slice(&(message.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(message);
    }

    /// Hand the entries recorded so far to `read`, then empty the tape (its
    /// memory is kept for the next batch).
    pub fn drain<R>(&mut self, read: impl FnOnce(&[u8]) -> R) -> R {
        let out = read(&self.buf);
        self.buf.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects;

    #[test]
    fn entries_are_laid_out_as_documented() {
        let mut tape = Tape::default();
        tape.step(Source::Inbox, b"abc", 1.5, &[Effect::Revive]);
        tape.note(b"n", 2.0);
        let data = tape.drain(<[u8]>::to_vec);
        assert!(tape.drain(<[u8]>::is_empty));
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
    fn effects_are_encoded_as_effects_encode_writes_them() {
        let effects = [
            Effect::Revive,
            Effect::Kill {
                task_id: "t1".into(),
                agent_id: Some("a1".into()),
            },
        ];
        let mut tape = Tape::default();
        tape.step(Source::Command, b"m", 0.0, &effects);
        let data = tape.drain(<[u8]>::to_vec);
        assert_eq!(data[0], 1);
        assert_eq!(&data[18..], &effects::encode(&effects)[..]);
    }

    #[test]
    fn no_effects_encode_as_an_empty_list() {
        assert_eq!(effects::encode(&[]), vec![0x90]);
    }
}
