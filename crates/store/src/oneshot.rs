//! A one-value channel from the WAL thread to a waiting commit, usable both as a future and
//! from blocking code.
//!
//! Why not tokio's: its `blocking_recv` panics inside a runtime, and the store must not care
//! who waits (an async receiver, the CLI importer, a bench loop). A mutex, a condvar and a
//! waker are all it takes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Debug)]
struct Slot<T> {
    value: Option<T>,
    /// The sender is gone (sent or dropped).
    closed: bool,
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Inner<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

/// Sends the one value.
#[derive(Debug)]
pub struct Sender<T>(Arc<Inner<T>>);

/// Receives it: `.await` it, or call [`Receiver::wait`].
#[derive(Debug)]
pub struct Receiver<T>(Arc<Inner<T>>);

/// A connected pair.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        slot: Mutex::new(Slot {
            value: None,
            closed: false,
            waker: None,
        }),
        ready: Condvar::new(),
    });
    (Sender(inner.clone()), Receiver(inner))
}

impl<T> Inner<T> {
    fn close(&self, value: Option<T>) {
        let waker = {
            let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            if slot.closed {
                return;
            }
            slot.value = value;
            slot.closed = true;
            slot.waker.take()
        };
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Sender<T> {
    /// Delivers the value and wakes the receiver.
    pub fn send(self, value: T) {
        self.0.close(Some(value));
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.close(None);
    }
}

impl<T> Receiver<T> {
    /// Blocks the thread until the value arrives; `None` if the sender was dropped unsent.
    pub fn wait(self) -> Option<T> {
        let mut slot = self.0.slot.lock().unwrap_or_else(|p| p.into_inner());
        while !slot.closed {
            slot = self.0.ready.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
        slot.value.take()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = self.0.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.closed {
            return Poll::Ready(slot.value.take());
        }
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_and_dropped_senders() {
        let (tx, rx) = channel();
        let t = std::thread::spawn(move || tx.send(5));
        assert_eq!(rx.wait(), Some(5));
        t.join().unwrap();
        let (tx, rx) = channel::<u8>();
        drop(tx);
        assert_eq!(rx.wait(), None);
    }

    #[test]
    fn works_as_a_future_without_a_runtime() {
        // A minimal executor: poll with a waker that unparks this thread.
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let (tx, mut rx) = channel();
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        let t = std::thread::spawn(move || tx.send("done"));
        loop {
            if let Poll::Ready(v) = Pin::new(&mut rx).poll(&mut cx) {
                assert_eq!(v, Some("done"));
                break;
            }
            std::thread::park();
        }
        t.join().unwrap();
    }
}
