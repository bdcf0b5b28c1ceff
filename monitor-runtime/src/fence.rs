//! Asymmetric fences: a call in flight publishes itself with a compiler
//! fence only, and the watchdog, on the rare occasion it needs every thread
//! to have published, makes the kernel run a full barrier on all of them
//! (`membarrier(2)`, as RCU and folly do). Where `membarrier` is not
//! available both sides use a full fence.

use std::sync::atomic::{compiler_fence, fence, AtomicBool, Ordering};
use std::sync::OnceLock;

static ASYMMETRIC: AtomicBool = AtomicBool::new(false);
static INIT: OnceLock<()> = OnceLock::new();

/// The cheap side, on the hot path.
#[inline]
pub(crate) fn light() {
    if ASYMMETRIC.load(Ordering::Relaxed) {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The expensive side: after it returns, every thread's writes before its
/// last [`light`] fence are visible here.
pub(crate) fn heavy() {
    if ASYMMETRIC.load(Ordering::SeqCst) && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
        return;
    }
    fence(Ordering::SeqCst);
}

/// Registers with the kernel; until then both sides use full fences.
pub(crate) fn init() {
    INIT.get_or_init(|| {
        if membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
            ASYMMETRIC.store(true, Ordering::SeqCst);
        }
    });
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: i32 = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: i32 = 1 << 4;

#[cfg(target_os = "linux")]
fn membarrier(cmd: i32) -> bool {
    // SAFETY: membarrier takes two integer arguments and touches no memory
    // of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn membarrier(_: i32) -> bool {
    false
}
