//! Native stacks of other threads: `monitor-runtime/src/native`.
//!
//! The module is compiled into this test on its own (it uses nothing else
//! of the crate) until its API is re-exported from the crate root.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

#[path = "../src/native/mod.rs"]
mod native;

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use native::{capture, current_tid, prepare, CaptureError, Stack, Tid};

const WITHIN: Duration = Duration::from_millis(500);

/// Does `stack` have a frame of `function` in this file at `line`?
fn has_frame(stack: &Stack, function: &str, line: u32) -> bool {
    stack.frames.iter().any(|frame| {
        frame
            .function
            .as_deref()
            .is_some_and(|f| f.ends_with(function))
            && frame
                .file
                .as_ref()
                .is_some_and(|f| f.ends_with("tests/native_capture.rs"))
            && frame.line == Some(line)
    })
}

/// Captures `tid` until its stack shows `function` at `line` (the thread
/// may not have reached its blocking call yet), or fails with the last
/// stack seen.
fn capture_until(tid: Tid, function: &str, line: &AtomicU32) -> Stack {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let result = capture(&[tid], WITHIN).pop().expect("one result per tid");
        let stack = result.unwrap_or_else(|e| panic!("capture of {tid} failed: {e}"));
        let line = line.load(SeqCst);
        if line != 0 && has_frame(&stack, function, line) {
            return stack;
        }
        assert!(
            Instant::now() < give_up,
            "no frame of {function} at tests/native_capture.rs:{line} in\n{stack}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `body` on a new thread, after sending its tid.
fn spawn(body: impl FnOnce() + Send + 'static) -> (Tid, thread::JoinHandle<()>) {
    let (tx, rx) = channel();
    let handle = thread::spawn(move || {
        tx.send(current_tid()).unwrap();
        body();
    });
    (rx.recv().unwrap(), handle)
}

static MUTEX_LINE: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
#[rustfmt::skip] // keeps `line!()` on the line of the call
fn wait_on_mutex(mutex: &Mutex<()>) {
    MUTEX_LINE.store(line!(), SeqCst); let _guard = mutex.lock();
}

/// A thread that blocks on `mutex`, which the caller holds.
fn thread_on_mutex(mutex: &Arc<Mutex<()>>) -> (Tid, thread::JoinHandle<()>) {
    let blocked = mutex.clone();
    spawn(move || wait_on_mutex(&blocked))
}

#[test]
fn a_thread_blocked_on_a_mutex_shows_the_lock_call() {
    let mutex = Arc::new(Mutex::new(()));
    let guard = mutex.lock().unwrap();
    let (tid, handle) = thread_on_mutex(&mutex);
    let stack = capture_until(tid, "wait_on_mutex", &MUTEX_LINE);
    eprintln!("thread {tid}:\n{stack}");
    assert!(stack.frames[0].ip != 0);
    assert!(!stack.truncated);
    // The thread's start is there too: the whole stack was unwound.
    assert!(
        stack.frames.iter().any(|f| f
            .function
            .as_deref()
            .is_some_and(|f| f.contains("thread_start") || f.contains("clone"))),
        "no thread start frame in\n{stack}"
    );
    drop(guard);
    handle.join().unwrap();
}

static SLEEP_LINE: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
#[rustfmt::skip] // keeps `line!()` on the line of the call
fn sleep_until(stop: &AtomicBool) {
    while !stop.load(SeqCst) {
        SLEEP_LINE.store(line!(), SeqCst); thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_sleeping_thread_shows_the_sleep_call() {
    let stop = Arc::new(AtomicBool::new(false));
    let sleeper = stop.clone();
    let (tid, handle) = spawn(move || sleep_until(&sleeper));
    capture_until(tid, "sleep_until", &SLEEP_LINE);
    stop.store(true, SeqCst);
    handle.join().unwrap();
}

static CONDVAR_LINE: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
#[rustfmt::skip] // keeps `line!()` on the line of the call
fn wait_on_condvar(pair: &(Mutex<bool>, Condvar)) {
    let mut done = pair.0.lock().unwrap();
    while !*done {
        CONDVAR_LINE.store(line!(), SeqCst); done = pair.1.wait(done).unwrap();
    }
}

#[test]
fn a_thread_waiting_on_a_condvar_shows_the_wait_and_keeps_waiting() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let waiter = pair.clone();
    let (tid, handle) = spawn(move || wait_on_condvar(&waiter));
    for _ in 0..20 {
        capture_until(tid, "wait_on_condvar", &CONDVAR_LINE);
    }
    assert!(!handle.is_finished());
    *pair.0.lock().unwrap() = true;
    pair.1.notify_one();
    handle.join().unwrap();
}

static READ_LINE: AtomicU32 = AtomicU32::new(0);

/// A raw `read(2)`: unlike std's wrappers it does not retry on `EINTR`, so
/// it shows whether the handler was installed with `SA_RESTART`.
#[inline(never)]
#[rustfmt::skip] // keeps `line!()` on the line of the call
fn read_pipe(fd: i32, buffer: &mut [u8]) -> (isize, i32) {
    // SAFETY: `buffer` is valid for its length.
    READ_LINE.store(line!(), SeqCst); let read = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
    (read, std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

#[test]
fn a_blocking_read_is_not_interrupted_by_captures() {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [reader, writer] = fds;
    let (result_tx, result_rx) = channel();
    let (tid, handle) = spawn(move || {
        let mut buffer = [0u8; 4];
        let result = read_pipe(reader, &mut buffer);
        result_tx.send((result, buffer)).unwrap();
    });
    let early = |result: Option<((isize, i32), [u8; 4])>| {
        if let Some(((read, errno), _)) = result {
            panic!("read returned {read} (errno {errno}) while no data was written");
        }
    };
    for _ in 0..20 {
        early(result_rx.try_recv().ok());
        capture_until(tid, "read_pipe", &READ_LINE);
    }
    thread::sleep(Duration::from_millis(10));
    early(result_rx.try_recv().ok());
    // SAFETY: writes 4 bytes from a valid buffer.
    assert_eq!(
        unsafe { libc::write(writer, b"ping".as_ptr().cast(), 4) },
        4
    );
    let ((read, errno), buffer) = result_rx.recv().unwrap();
    assert_eq!(
        (read, &buffer),
        (4, b"ping"),
        "read failed with errno {errno}"
    );
    handle.join().unwrap();
    // SAFETY: closes the descriptors opened above.
    unsafe {
        libc::close(reader);
        libc::close(writer);
    }
}

/// Spins with `errno` set to a marker, counting the times it changed.
#[inline(never)]
fn spin_watching_errno(stop: &AtomicBool, changed: &AtomicUsize, ready: Sender<()>) {
    const MARKER: i32 = 4242;
    // SAFETY: this thread's errno.
    let errno = || unsafe { &mut *libc::__errno_location() };
    *errno() = MARKER;
    ready.send(()).unwrap();
    *errno() = MARKER;
    while !stop.load(SeqCst) {
        if *errno() != MARKER {
            changed.fetch_add(1, SeqCst);
            *errno() = MARKER;
        }
    }
}

#[test]
fn errno_is_preserved_across_captures() {
    let stop = Arc::new(AtomicBool::new(false));
    let changed = Arc::new(AtomicUsize::new(0));
    let (ready_tx, ready_rx) = channel();
    let (spin_stop, spin_changed) = (stop.clone(), changed.clone());
    let (tid, handle) = spawn(move || spin_watching_errno(&spin_stop, &spin_changed, ready_tx));
    ready_rx.recv().unwrap();
    for _ in 0..50 {
        let stack = capture(&[tid], WITHIN)
            .pop()
            .unwrap()
            .expect("the spinning thread answers");
        assert!(
            stack.frames.iter().any(|f| f
                .function
                .as_deref()
                .is_some_and(|f| f.ends_with("spin_watching_errno"))),
            "{stack}"
        );
    }
    stop.store(true, SeqCst);
    handle.join().unwrap();
    assert_eq!(changed.load(SeqCst), 0, "the handler changed errno");
}

static UNBLOCKED_LINE: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
#[rustfmt::skip] // keeps `line!()` on the line of the call
fn park_unblocked(release: &Receiver<()>) {
    UNBLOCKED_LINE.store(line!(), SeqCst); release.recv().unwrap();
}

#[test]
fn a_thread_that_blocks_the_signal_gives_no_answer_in_time() {
    let (unblock_tx, unblock_rx) = channel::<()>();
    let (release_tx, release_rx) = channel::<()>();
    let (mask_tx, mask_rx) = channel::<()>();
    let (tid, handle) = spawn(move || {
        // SAFETY: sets this thread's signal mask from a full set.
        let old = unsafe {
            let mut all = std::mem::zeroed();
            let mut old = std::mem::zeroed();
            libc::sigfillset(&mut all);
            assert_eq!(libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old), 0);
            old
        };
        mask_tx.send(()).unwrap();
        // Running, not blocked in a system call: a blocked thread is read
        // without a signal, so only a running one can fail to answer.
        while let Err(std::sync::mpsc::TryRecvError::Empty) = unblock_rx.try_recv() {
            std::hint::spin_loop();
        }
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        mask_tx.send(()).unwrap();
        park_unblocked(&release_rx);
    });
    mask_rx.recv().unwrap();
    let bound = Duration::from_millis(100);
    for attempt in 0..3 {
        let start = Instant::now();
        let result = capture(&[tid], bound).pop().unwrap();
        let elapsed = start.elapsed();
        eprintln!("attempt {attempt}: {result:?} after {elapsed:?}");
        assert!(
            matches!(result, Err(CaptureError::NoAnswer { .. })),
            "{result:?}"
        );
        assert!(
            elapsed < bound + Duration::from_millis(900),
            "took {elapsed:?}"
        );
        if let Err(error) = result {
            assert!(error.to_string().contains("pthread_sigmask"), "{error}");
        }
    }
    // Other threads are still captured, alone and next to the mute one.
    let mutex = Arc::new(Mutex::new(()));
    let guard = mutex.lock().unwrap();
    let (other, other_handle) = thread_on_mutex(&mutex);
    capture_until(other, "wait_on_mutex", &MUTEX_LINE);
    let both = capture(&[tid, other], bound);
    assert!(
        matches!(both[0], Err(CaptureError::NoAnswer { .. })),
        "{:?}",
        both[0]
    );
    assert!(has_frame(
        both[1].as_ref().unwrap(),
        "wait_on_mutex",
        MUTEX_LINE.load(SeqCst)
    ));

    // Once it unblocks, the pending signal runs the handler late: it must
    // write nothing, and the thread answers from then on.
    unblock_tx.send(()).unwrap();
    mask_rx.recv().unwrap();
    capture_until(tid, "park_unblocked", &UNBLOCKED_LINE);
    let both = capture(&[other, tid], WITHIN);
    assert!(has_frame(
        both[0].as_ref().unwrap(),
        "wait_on_mutex",
        MUTEX_LINE.load(SeqCst)
    ));
    assert!(has_frame(
        both[1].as_ref().unwrap(),
        "park_unblocked",
        UNBLOCKED_LINE.load(SeqCst)
    ));
    release_tx.send(()).unwrap();
    handle.join().unwrap();
    drop(guard);
    other_handle.join().unwrap();
}

#[inline(never)]
fn crowd_member(gate: &Barrier) {
    gate.wait();
}

#[test]
fn a_hundred_blocked_threads_are_captured() {
    const THREADS: usize = 100;
    let gate = Arc::new(Barrier::new(THREADS + 1));
    let (tids, handles): (Vec<Tid>, Vec<_>) = (0..THREADS)
        .map(|_| {
            let gate = gate.clone();
            spawn(move || crowd_member(&gate))
        })
        .unzip();
    thread::sleep(Duration::from_millis(100));
    // The first capture in a process also loads the debug info.
    for round in ["first", "second"] {
        let start = Instant::now();
        let stacks = capture(&tids, Duration::from_secs(1));
        eprintln!(
            "{round} capture of {THREADS} threads: {:?}",
            start.elapsed()
        );
        assert_eq!(stacks.len(), THREADS);
    }
    let stacks = capture(&tids, Duration::from_secs(1));
    assert_eq!(stacks.len(), THREADS);
    for (tid, stack) in tids.iter().zip(&stacks) {
        let stack = stack
            .as_ref()
            .unwrap_or_else(|e| panic!("thread {tid}: {e}"));
        assert!(
            stack.frames.iter().any(|f| f
                .function
                .as_deref()
                .is_some_and(|f| f.ends_with("crowd_member"))),
            "thread {tid}:\n{stack}"
        );
    }
    gate.wait();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn an_exited_thread_is_gone() {
    let (tid, handle) = spawn(|| {});
    handle.join().unwrap();
    // The kernel reaps the thread right after it exits; give it a moment.
    thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    let result = capture(&[tid], Duration::from_millis(100)).pop().unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(result, Err(CaptureError::Gone));
    assert_eq!(
        capture(&[Tid(i32::MAX)], WITHIN),
        vec![Err(CaptureError::Gone)]
    );
}

#[inline(never)]
fn capture_myself() -> Stack {
    capture(&[current_tid()], WITHIN)
        .pop()
        .unwrap()
        .expect("a thread can capture itself")
}

#[test]
fn a_thread_captures_itself_and_duplicates_are_fine() {
    let stack = capture_myself();
    assert!(
        stack.frames.iter().any(|f| f
            .function
            .as_deref()
            .is_some_and(|f| f.ends_with("capture_myself"))),
        "{stack}"
    );
    assert!(capture(&[], WITHIN).is_empty());
    let mutex = Arc::new(Mutex::new(()));
    let guard = mutex.lock().unwrap();
    let (tid, handle) = thread_on_mutex(&mutex);
    capture_until(tid, "wait_on_mutex", &MUTEX_LINE);
    let stacks = capture(&[tid, tid, current_tid(), tid], WITHIN);
    for stack in &stacks {
        assert!(stack.is_ok(), "{stack:?}");
    }
    drop(guard);
    handle.join().unwrap();
}

#[test]
fn current_tid_is_the_kernel_tid() {
    // SAFETY: gettid cannot fail.
    let kernel = unsafe { libc::gettid() };
    assert_eq!(current_tid(), Tid(kernel));
    assert_eq!(current_tid(), current_tid());
    let other = thread::spawn(current_tid).join().unwrap();
    assert_ne!(other, current_tid());
}

#[test]
fn prepare_does_the_one_time_work() {
    let start = Instant::now();
    prepare().unwrap();
    eprintln!("prepare: {:?}", start.elapsed());
    prepare().unwrap();
}

static DEEP_LINE: AtomicU32 = AtomicU32::new(0);

/// Recurses with 4 KiB frames, then blocks: deeper than the stack copy.
#[inline(never)]
#[rustfmt::skip] // keeps `line!()` on the line of the call
fn deep(levels: u32, release: &Receiver<()>) -> u8 {
    let frame = std::hint::black_box([levels as u8; 4096]);
    if levels == 0 {
        DEEP_LINE.store(line!(), SeqCst); release.recv().unwrap();
        return frame[0];
    }
    deep(levels - 1, release).wrapping_add(std::hint::black_box(frame)[1])
}

#[test]
fn a_stack_deeper_than_the_copy_is_truncated() {
    let (release_tx, release_rx) = channel();
    let (tid, handle) = spawn(move || {
        deep(40, &release_rx);
    });
    let stack = capture_until(tid, "deep", &DEEP_LINE);
    assert!(stack.truncated, "{stack}");
    // Only the frames within the copy: at most 64 KiB / 4 KiB of them.
    let deep_frames = stack
        .frames
        .iter()
        .filter(|f| f.function.as_deref().is_some_and(|f| f.ends_with("::deep")))
        .count();
    eprintln!("{deep_frames} frames of deep(), of 41");
    assert!(
        (2..=16).contains(&deep_frames),
        "{deep_frames} frames of deep in\n{stack}"
    );
    assert!(stack
        .to_string()
        .ends_with("...additional frames elided...\n"));
    release_tx.send(()).unwrap();
    handle.join().unwrap();
}

/// The tid of the thread on the small stack, once it runs.
static SMALL_STACK_TID: AtomicI32 = AtomicI32::new(0);

/// Blocks reading one byte from the pipe whose read end is `fd`.
extern "C" fn on_a_small_stack(fd: *mut libc::c_void) -> *mut libc::c_void {
    SMALL_STACK_TID.store(current_tid().0, SeqCst);
    let mut byte = 0u8;
    // SAFETY: reads one byte into a valid buffer.
    let read = unsafe { libc::read(fd as usize as i32, (&raw mut byte).cast(), 1) };
    read as usize as *mut libc::c_void
}

/// A thread whose whole stack is smaller than the copy, with an
/// inaccessible page right above it: the copy must stop there, not fault.
#[test]
fn the_copy_stops_at_the_end_of_the_stack_mapping() {
    const PAGE: usize = 4096;
    const STACK: usize = 32 * PAGE;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [reader, writer] = fds;
    // SAFETY: a fresh anonymous mapping: [no access][stack][no access]; the
    // thread is joined before it is unmapped.
    unsafe {
        let size = STACK + 2 * PAGE;
        let map = libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(map, libc::MAP_FAILED);
        let stack = map.cast::<u8>().add(PAGE).cast::<libc::c_void>();
        assert_eq!(
            libc::mprotect(stack, STACK, libc::PROT_READ | libc::PROT_WRITE),
            0
        );
        let mut attr = std::mem::zeroed();
        assert_eq!(libc::pthread_attr_init(&mut attr), 0);
        assert_eq!(libc::pthread_attr_setstack(&mut attr, stack, STACK), 0);
        let mut thread = 0;
        let fd = reader as usize as *mut libc::c_void;
        assert_eq!(
            libc::pthread_create(&mut thread, &attr, on_a_small_stack, fd),
            0
        );
        libc::pthread_attr_destroy(&mut attr);
        while SMALL_STACK_TID.load(SeqCst) == 0 {
            thread::sleep(Duration::from_millis(1));
        }
        let tid = Tid(SMALL_STACK_TID.load(SeqCst));
        let give_up = Instant::now() + Duration::from_secs(10);
        let stack = loop {
            let stack = capture(&[tid], WITHIN).pop().unwrap().unwrap();
            let named = |f: &native::Frame| {
                f.function
                    .as_deref()
                    .is_some_and(|f| f.ends_with("on_a_small_stack"))
            };
            if stack.frames.iter().any(named) && stack.frames.len() > 2 {
                break stack;
            }
            assert!(Instant::now() < give_up, "{stack}");
            thread::sleep(Duration::from_millis(10));
        };
        assert!(!stack.truncated, "{stack}");
        assert!(
            stack
                .frames
                .iter()
                .any(|f| f.function.as_deref() == Some("start_thread")),
            "{stack}"
        );
        assert_eq!(libc::write(writer, b"x".as_ptr().cast(), 1), 1);
        let mut result = std::ptr::null_mut();
        assert_eq!(libc::pthread_join(thread, &mut result), 0);
        assert_eq!(result as usize, 1);
        libc::munmap(map, size);
        libc::close(reader);
        libc::close(writer);
    }
}

static RECV_LINE: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
#[rustfmt::skip] // keeps `line!()` on the line of the call
fn read_with_timeout(socket: &std::net::UdpSocket) -> std::io::Result<usize> {
    RECV_LINE.store(line!(), SeqCst); socket.recv(&mut [0u8; 16])
}

/// A signal ends a socket read with a timeout early with `EINTR`, whatever
/// `SA_RESTART` says; a thread blocked in a system call is therefore read
/// without one, and its read times out on time.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_read_with_a_timeout_is_captured_and_not_interrupted() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let (tid, handle) = spawn(move || {
        let began = Instant::now();
        let result = read_with_timeout(&socket);
        let took = began.elapsed();
        let kind = result.expect_err("nothing was sent").kind();
        assert!(
            matches!(
                kind,
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the read ended with {kind:?} after {took:?}"
        );
        assert!(took >= Duration::from_millis(1400), "{took:?}");
    });
    let stack = capture_until(tid, "read_with_timeout", &RECV_LINE);
    assert!(has_frame(
        &stack,
        "read_with_timeout",
        RECV_LINE.load(SeqCst)
    ));
    let mut captures = 1;
    while !handle.is_finished() {
        let _ = capture(&[tid], WITHIN);
        captures += 1;
        thread::sleep(Duration::from_millis(10));
    }
    assert!(captures > 20, "{captures}");
    handle.join().expect("the read timed out on time");
}
