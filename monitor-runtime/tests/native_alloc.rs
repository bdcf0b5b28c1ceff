//! The capture signal handler does not allocate: a counting global
//! allocator counts what the target thread allocates while it is captured.
//! A test binary of its own, for its `#[global_allocator]`.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

#[path = "../src/native/mod.rs"]
mod native;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use native::{capture, current_tid};

struct Counting;

static COUNTED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const, without destructor: reading it never allocates.
    static COUNT_ME: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNT_ME.try_with(Cell::get).unwrap_or(false) {
        COUNTED.fetch_add(1, SeqCst);
    }
}

// SAFETY: forwards every call to `System` unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts this thread's allocations, then blocks in `read(2)` on `fd`.
#[inline(never)]
fn block_counted(fd: i32, ready: &AtomicBool) {
    COUNT_ME.with(|c| c.set(true));
    // The control: one allocation and one free, counted.
    drop(std::hint::black_box(Box::new(1u64)));
    ready.store(true, SeqCst);
    let mut byte = 0u8;
    // SAFETY: reads one byte into a valid buffer.
    let read = unsafe { libc::read(fd, (&raw mut byte).cast(), 1) };
    COUNT_ME.with(|c| c.set(false));
    assert_eq!(read, 1);
}

#[test]
fn the_handler_does_not_allocate() {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [reader, writer] = fds;
    let ready = Arc::new(AtomicBool::new(false));
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let target_ready = ready.clone();
    let handle = thread::spawn(move || {
        tid_tx.send(current_tid()).unwrap();
        block_counted(reader, &target_ready);
    });
    let tid = tid_rx.recv().unwrap();
    while !ready.load(SeqCst) {
        thread::sleep(Duration::from_millis(1));
    }
    // Allow the target to reach `read`; the stacks below show it did.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        COUNTED.load(SeqCst),
        2,
        "the counting allocator counts the target's allocations"
    );

    let mut in_read = 0;
    for _ in 0..20 {
        let stack = capture(&[tid], Duration::from_secs(1))
            .pop()
            .unwrap()
            .expect("the target answers");
        assert!(
            stack.frames.iter().any(|f| f
                .function
                .as_deref()
                .is_some_and(|f| f.ends_with("block_counted"))),
            "{stack}"
        );
        if stack
            .frames
            .iter()
            .any(|f| f.function.as_deref().is_some_and(|f| f.contains("read")))
        {
            in_read += 1;
        }
    }
    assert!(in_read > 0, "the target was never captured inside read()");
    assert_eq!(
        COUNTED.load(SeqCst),
        2,
        "the handler allocated on the target thread"
    );

    // SAFETY: writes one byte from a valid buffer.
    assert_eq!(unsafe { libc::write(writer, b"x".as_ptr().cast(), 1) }, 1);
    handle.join().unwrap();
    // SAFETY: closes the descriptors opened above.
    unsafe {
        libc::close(reader);
        libc::close(writer);
    }
}
