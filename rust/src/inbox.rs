//! The loop's inbox: many producers, one consumer.
//!
//! Producers (driver callbacks, timers, HTTP handlers, user streams) push from
//! any thread without taking a lock: crossbeam's unbounded channel is a
//! lock-free linked list of blocks. It is unbounded on purpose: a producer
//! such as pymesos's only IO thread must never block, or heartbeats stall.
//! The consumer drains in batches, blocking only while the inbox is empty.
//! Generic over what it carries: the binding queues encoded core messages
//! (owned bytes, which the event stream pushes without the GIL) and custom
//! messages as the Python objects themselves (`dispatch::Item`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

enum Item<T> {
    Message(T),
    /// Sent by `close` to wake a consumer blocked on an empty inbox.
    Wake,
}

/// The inbox is closed and holds nothing more.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed;

pub struct Inbox<T = Vec<u8>> {
    tx: Sender<Item<T>>,
    rx: Receiver<Item<T>>,
    closed: AtomicBool,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        let (tx, rx) = unbounded();
        Inbox {
            tx,
            rx,
            closed: AtomicBool::new(false),
        }
    }
}

impl<T> Inbox<T> {
    /// Append a message; refused once the inbox is closed.
    pub fn push(&self, message: T) -> Result<(), Closed> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Closed);
        }
        // Cannot fail: `self.rx` keeps the channel connected.
        let _ = self.tx.send(Item::Message(message));
        Ok(())
    }

    /// Up to `max` messages in arrival order, waiting up to `timeout` for the
    /// first; empty on timeout. After `close`, what is left is still
    /// delivered, then `Closed`.
    pub fn drain(&self, max: usize, timeout: Duration) -> Result<Vec<T>, Closed> {
        let mut batch = Vec::new();
        if self.closed.load(Ordering::Acquire) && self.rx.is_empty() {
            return Err(Closed);
        }
        match self.rx.recv_timeout(timeout) {
            Ok(Item::Message(m)) => batch.push(m),
            Ok(Item::Wake) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => unreachable!("the inbox owns both ends"),
        }
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(Item::Message(m)) => batch.push(m),
                Ok(Item::Wake) => {}
                Err(_) => break,
            }
        }
        if batch.is_empty() && self.closed.load(Ordering::Acquire) {
            return Err(Closed);
        }
        Ok(batch)
    }

    /// Refuse further pushes and wake the consumer.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _ = self.tx.send(Item::Wake);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Messages waiting (a close's wake-up may count as one).
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn drains_in_order_across_batches() {
        let inbox: Inbox = Inbox::default();
        for i in 0..10u8 {
            inbox.push(vec![i]).unwrap();
        }
        let first = inbox.drain(4, Duration::ZERO).unwrap();
        let rest = inbox.drain(100, Duration::ZERO).unwrap();
        assert_eq!(first, (0..4u8).map(|i| vec![i]).collect::<Vec<_>>());
        assert_eq!(rest, (4..10u8).map(|i| vec![i]).collect::<Vec<_>>());
    }

    #[test]
    fn empty_drain_times_out() {
        let inbox: Inbox = Inbox::default();
        assert_eq!(
            inbox.drain(8, Duration::from_millis(5)).unwrap(),
            Vec::<Vec<u8>>::new()
        );
    }

    #[test]
    fn close_delivers_the_rest_then_reports_closed() {
        let inbox: Inbox = Inbox::default();
        inbox.push(vec![1]).unwrap();
        inbox.close();
        assert_eq!(inbox.push(vec![2]), Err(Closed));
        assert_eq!(inbox.drain(8, Duration::ZERO).unwrap(), vec![vec![1]]);
        assert_eq!(inbox.drain(8, Duration::from_secs(5)), Err(Closed));
    }

    #[test]
    fn close_wakes_a_blocked_consumer() {
        let inbox: Arc<Inbox> = Arc::new(Inbox::default());
        let consumer = {
            let inbox = inbox.clone();
            thread::spawn(move || inbox.drain(8, Duration::from_secs(60)))
        };
        thread::sleep(Duration::from_millis(20));
        inbox.close();
        assert_eq!(consumer.join().unwrap(), Err(Closed));
    }

    #[test]
    fn many_producers_lose_nothing_and_keep_each_ones_order() {
        let inbox: Arc<Inbox> = Arc::new(Inbox::default());
        let producers: Vec<_> = (0..4u8)
            .map(|p| {
                let inbox = inbox.clone();
                thread::spawn(move || {
                    for i in 0..10_000u32 {
                        let mut m = vec![p];
                        m.extend_from_slice(&i.to_le_bytes());
                        inbox.push(m).unwrap();
                    }
                })
            })
            .collect();
        let mut next = [0u32; 4];
        let mut seen = 0;
        while seen < 40_000 {
            for m in inbox.drain(512, Duration::from_secs(5)).unwrap() {
                let i = u32::from_le_bytes(m[1..5].try_into().unwrap());
                assert_eq!(i, next[m[0] as usize]);
                next[m[0] as usize] += 1;
                seen += 1;
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(next, [10_000; 4]);
    }
}
