//! How a supervisor waits with no tokio timer driver: a [`Sleep`] on the
//! process watchdog's timers, and [`block_on`] for the supervisor thread
//! of a thread worker.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::watchdog::Timer;

/// A sleep on the process watchdog's timers: works on any executor (and on
/// the supervisor thread's `block_on`), with no tokio timer driver needed.
pub(super) struct Sleep {
    deadline: Instant,
    timer: Option<Timer>,
}

impl Sleep {
    pub(super) fn new(deadline: Instant) -> Self {
        Sleep {
            deadline,
            timer: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            return Poll::Ready(());
        }
        match &mut this.timer {
            Some(timer) => timer.update(cx.waker()),
            None => match Timer::new(this.deadline, cx.waker()) {
                Some(timer) => this.timer = Some(timer),
                // No watchdog thread: sleep here rather than spin.
                None => {
                    std::thread::sleep(this.deadline.saturating_duration_since(Instant::now()));
                    return Poll::Ready(());
                }
            },
        }
        Poll::Pending
    }
}

/// Runs a future on this thread (the supervisor thread of a thread worker).
pub(super) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
