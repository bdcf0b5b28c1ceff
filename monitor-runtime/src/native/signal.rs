//! The signal, its handler, and the handshake with the capturing thread
//! (the capturer).
//!
//! Each capture arms a [`Slot`]: `{tid, sequence, phase}`. The handler, on
//! the target thread, claims the slot armed for its tid (`ARMED -> WRITING`
//! by compare-and-swap), fills it, and publishes it (`DONE`, release). At
//! the deadline the capturer takes back every slot still `ARMED`
//! (`ARMED -> IDLE`, same compare-and-swap), so a handler that runs late
//! finds nothing to write. Slots are never freed: a late handler may still
//! read them.
//!
//! The signal is the highest real-time signal whose disposition is the
//! default when the first capture runs (usually `SIGRTMAX`, 64). The
//! handler is not chained: an application that installs its own handler on
//! that signal later disables capture ([`CaptureError::HandlerReplaced`]).

use std::cell::UnsafeCell;
use std::collections::HashSet;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::blocked;
use super::{CaptureError, Tid, STACK_COPY};

/// Threads signalled at once; also the number of preallocated slots.
pub(super) const BATCH: usize = 16;

/// Registers needed to unwind, read from the interrupted context.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Regs {
    pub pc: u64,
    pub sp: u64,
    /// Frame pointer: `rbp` on x86_64, `x29` on aarch64.
    pub fp: u64,
    /// Link register (`x30`, aarch64 only).
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))] // read by aarch64's unwinder
    pub lr: u64,
}

/// What a thread's handler copied: its registers and the top of its stack,
/// `stack[0]` being the byte at `regs.sp`.
pub(super) struct Sample<'a> {
    pub regs: Regs,
    pub stack: &'a [u8],
}

const IDLE: u64 = 0;
const ARMED: u64 = 1;
const WRITING: u64 = 2;
const DONE: u64 = 3;

fn phase(state: u64) -> u64 {
    state & 3
}

fn with_phase(state: u64, phase: u64) -> u64 {
    (state & !3) | phase
}

struct Slot {
    /// `sequence << 2 | phase`.
    state: AtomicU64,
    tid: AtomicI32,
    /// Written by the handler between `WRITING` and `DONE` only.
    regs: UnsafeCell<Regs>,
    stack_len: UnsafeCell<usize>,
    /// `STACK_COPY` bytes.
    stack: *mut u8,
}

// SAFETY: `regs`, `stack_len` and `stack` are written by the one handler
// that won the `ARMED -> WRITING` compare-and-swap, and read by the capturer
// only after it saw `DONE` (acquire), before it re-arms the slot.
unsafe impl Sync for Slot {}

/// Published slots, scanned by the handler. Written by the capturer only.
static SLOTS: [AtomicPtr<Slot>; BATCH] = [const { AtomicPtr::new(ptr::null_mut()) }; BATCH];

/// Bumped by every handler that filled a slot; the capturer sleeps on it
/// with a futex.
static ANSWERS: AtomicU32 = AtomicU32::new(0);

/// The installed signal, or why none could be.
static SIGNAL: OnceLock<Result<i32, CaptureError>> = OnceLock::new();

extern "C" fn on_signal(
    _signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // Only async-signal-safe work from here on: atomics, raw syscalls, and
    // writes into slots that were allocated before the signal was sent.
    // SAFETY: `__errno_location` returns this thread's errno, always valid.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: `gettid` takes no argument and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    let mut answered = false;
    for entry in &SLOTS {
        let slot = entry.load(Ordering::Acquire);
        if slot.is_null() {
            continue;
        }
        // SAFETY: published slots are leaked, never freed.
        let slot = unsafe { &*slot };
        let state = slot.state.load(Ordering::Acquire);
        if phase(state) != ARMED || slot.tid.load(Ordering::Relaxed) != tid {
            continue;
        }
        // A failed exchange means the capturer took the slot back, or re-armed
        // it for another capture: leave it alone.
        if slot
            .state
            .compare_exchange(
                state,
                with_phase(state, WRITING),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_err()
        {
            continue;
        }
        // SAFETY: the kernel passes the interrupted context, and the
        // compare-and-swap above gives this handler the slot's contents.
        unsafe {
            let regs = regs_from_context(context.cast());
            *slot.regs.get() = regs;
            *slot.stack_len.get() = copy_stack(regs.sp as usize, slot.stack);
        }
        slot.state.store(with_phase(state, DONE), Ordering::Release);
        answered = true;
    }
    if answered {
        ANSWERS.fetch_add(1, Ordering::Release);
        // SAFETY: a futex wake on a static word.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                ANSWERS.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            );
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

fn handler_address() -> libc::sighandler_t {
    let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_signal;
    handler as libc::sighandler_t
}

/// # Safety
/// `context` is the `ucontext_t` the kernel passed to an `SA_SIGINFO` handler.
#[cfg(target_arch = "x86_64")]
unsafe fn regs_from_context(context: *const libc::ucontext_t) -> Regs {
    // SAFETY: per the function's contract.
    let gregs = unsafe { &(*context).uc_mcontext.gregs };
    Regs {
        pc: gregs[libc::REG_RIP as usize] as u64,
        sp: gregs[libc::REG_RSP as usize] as u64,
        fp: gregs[libc::REG_RBP as usize] as u64,
        lr: 0,
    }
}

/// # Safety
/// `context` is the `ucontext_t` the kernel passed to an `SA_SIGINFO` handler.
#[cfg(target_arch = "aarch64")]
unsafe fn regs_from_context(context: *const libc::ucontext_t) -> Regs {
    // SAFETY: per the function's contract.
    let mcontext = unsafe { &(*context).uc_mcontext };
    Regs {
        pc: mcontext.pc,
        sp: mcontext.sp,
        fp: mcontext.regs[29],
        lr: mcontext.regs[30],
    }
}

/// Copies up to `STACK_COPY` bytes from `sp` up into `dst`, stopping at the
/// first unmapped page, and returns how many bytes it copied.
///
/// The kernel does the reading (`process_vm_readv` on this very process),
/// so the end of the stack mapping, or its guard page, gives a short count
/// rather than a fault. One remote iovec per 4 KiB page: the kernel
/// completes or skips whole iovecs.
///
/// # Safety
/// `dst` points to `STACK_COPY` writable bytes.
unsafe fn copy_stack(sp: usize, dst: *mut u8) -> usize {
    const PAGE: usize = 4096;
    const CHUNKS: usize = STACK_COPY / PAGE + 1;
    let empty = libc::iovec {
        iov_base: ptr::null_mut(),
        iov_len: 0,
    };
    let mut remote = [empty; CHUNKS];
    let end = sp.saturating_add(STACK_COPY);
    let (mut at, mut count) = (sp, 0);
    while at < end && count < CHUNKS {
        let next = ((at & !(PAGE - 1)) + PAGE).min(end);
        remote[count] = libc::iovec {
            iov_base: at as *mut libc::c_void,
            iov_len: next - at,
        };
        at = next;
        count += 1;
    }
    let local = libc::iovec {
        iov_base: dst.cast(),
        iov_len: end - sp,
    };
    // SAFETY: `dst` is valid for the local iovec's length per the contract.
    unsafe { read_own_memory(&local, &remote[..count]) }
}

/// Reads this process's memory at `remote` into `local` through the kernel
/// (`process_vm_readv`), which checks every remote address: an unmapped
/// one ends the read short instead of faulting. Returns the bytes read (0
/// on error). Async-signal-safe: two system calls, nothing else.
///
/// # Safety
/// `local` describes writable memory of its length.
pub(super) unsafe fn read_own_memory(local: &libc::iovec, remote: &[libc::iovec]) -> usize {
    // SAFETY: the kernel writes only `local`, valid per the contract, and
    // checks `remote`. getpid is asked each time, not cached, in case the
    // process forked.
    let read = unsafe {
        libc::syscall(
            libc::SYS_process_vm_readv,
            libc::syscall(libc::SYS_getpid),
            local as *const libc::iovec,
            1usize,
            remote.as_ptr(),
            remote.len(),
            0usize,
        )
    };
    usize::try_from(read).unwrap_or(0)
}

/// Installs the handler on the highest real-time signal that has none.
fn install() -> Result<i32, CaptureError> {
    for signal in (libc::SIGRTMIN()..=libc::SIGRTMAX()).rev() {
        // SAFETY: a zeroed `sigaction` is a valid value to fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handler_address();
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        // SAFETY: both pointers are valid; `sa_mask` is initialized by
        // `sigemptyset` before use.
        let taken = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, &mut old) != 0 {
                continue;
            }
            if old.sa_sigaction == libc::SIG_DFL {
                false
            } else {
                // Someone's: put it back.
                libc::sigaction(signal, &old, ptr::null_mut());
                true
            }
        };
        if !taken {
            return Ok(signal);
        }
    }
    Err(CaptureError::NoFreeSignal)
}

/// Is our handler still the one installed on `signal`?
fn still_installed(signal: i32) -> bool {
    // SAFETY: a query: no new action, a valid pointer for the old one.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, ptr::null(), &mut current) == 0
            && current.sa_sigaction == handler_address()
    }
}

/// The capturer's side: sends signals, waits for answers, reads the slots.
/// Used under the native module's lock only.
pub(super) struct Sampler {
    signal: i32,
    sequence: u64,
    slots: Vec<&'static Slot>,
    /// Threads that did not answer: the signal may still be pending on them.
    unanswered: HashSet<Tid>,
    /// Where the stack of a thread blocked in a system call is copied.
    copy: Box<[u8]>,
}

impl Sampler {
    /// Installs the handler (once per process) and prepares the slots.
    pub(super) fn new() -> Result<Self, CaptureError> {
        let signal = SIGNAL.get_or_init(install).clone()?;
        let slots = (0..BATCH)
            .map(|i| {
                let existing = SLOTS[i].load(Ordering::Acquire);
                if !existing.is_null() {
                    // SAFETY: published slots are leaked, never freed.
                    return unsafe { &*existing };
                }
                let stack = Box::leak(vec![0u8; STACK_COPY].into_boxed_slice()).as_mut_ptr();
                let slot: &'static Slot = Box::leak(Box::new(Slot {
                    state: AtomicU64::new(IDLE),
                    tid: AtomicI32::new(0),
                    regs: UnsafeCell::new(Regs::default()),
                    stack_len: UnsafeCell::new(0),
                    stack,
                }));
                SLOTS[i].store(ptr::from_ref(slot).cast_mut(), Ordering::Release);
                slot
            })
            .collect();
        Ok(Sampler {
            signal,
            sequence: 0,
            slots,
            unanswered: HashSet::new(),
            copy: vec![0u8; STACK_COPY].into_boxed_slice(),
        })
    }

    /// Samples each thread of `tids`, calling `found(index, sample)` for
    /// those that answered within `answer_within`; returns one result per
    /// tid (`Ok(())` where `found` was called).
    pub(super) fn sample(
        &mut self,
        tids: &[Tid],
        answer_within: Duration,
        mut found: impl FnMut(usize, Sample<'_>),
    ) -> Vec<Result<(), CaptureError>> {
        let mut results = Vec::with_capacity(tids.len());
        if !still_installed(self.signal) {
            let error = CaptureError::HandlerReplaced {
                signal: self.signal,
            };
            results.resize(tids.len(), Err(error));
            return results;
        }
        if self.unanswered.len() > 1024 {
            // Mostly threads long gone; at worst one more signal queues up
            // on a thread that still blocks it.
            self.unanswered.clear();
        }
        let mut start = 0;
        while start < tids.len() {
            let batch = self.sample_batch(&tids[start..], answer_within, |i, sample| {
                found(start + i, sample)
            });
            start += batch.len();
            results.extend(batch);
        }
        results
    }

    /// Samples as many of `tids` as there are free slots (at least one),
    /// all within one `answer_within`.
    fn sample_batch(
        &mut self,
        tids: &[Tid],
        answer_within: Duration,
        mut found: impl FnMut(usize, Sample<'_>),
    ) -> Vec<Result<(), CaptureError>> {
        // A slot whose handler was still writing at an earlier deadline
        // stays out of use until it is done.
        let free: Vec<&'static Slot> = self
            .slots
            .iter()
            .copied()
            .filter(|slot| matches!(phase(slot.state.load(Ordering::Acquire)), IDLE | DONE))
            .collect();
        if free.is_empty() {
            // Every slot is held by a handler that stalled mid-copy (a
            // stopped thread): report one thread, so that the call ends.
            return vec![Err(CaptureError::NoAnswer {
                signal: self.signal,
            })];
        }
        let tids = &tids[..tids.len().min(free.len())];
        let no_answer = CaptureError::NoAnswer {
            signal: self.signal,
        };
        // Arm and signal.
        let mut results: Vec<Result<(), CaptureError>> = Vec::with_capacity(tids.len());
        let mut armed: Vec<Option<(&'static Slot, u64)>> = Vec::with_capacity(tids.len());
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        for (i, (&tid, &slot)) in tids.iter().zip(&free).enumerate() {
            // Blocked in a system call: read without a signal, which could
            // end that call with `EINTR` (`blocked.rs`).
            let blocked = (tid != super::current_tid())
                .then(|| blocked::in_syscall(tid))
                .flatten();
            if let Some(at) = blocked {
                // SAFETY: `copy` holds `STACK_COPY` writable bytes.
                let len = unsafe { copy_stack(at.sp as usize, self.copy.as_mut_ptr()) };
                if blocked::in_syscall(tid).as_ref() == Some(&at) {
                    found(
                        i,
                        Sample {
                            // No frame pointer: the unwinder guesses it.
                            regs: Regs {
                                pc: at.pc,
                                sp: at.sp,
                                ..Regs::default()
                            },
                            stack: &self.copy[..len],
                        },
                    );
                    results.push(Ok(()));
                    armed.push(None);
                    continue;
                }
            }
            if self.unanswered.contains(&tid) {
                if signal_pending(tid, self.signal) {
                    // Still blocked since last time: another signal would
                    // only queue up behind it.
                    results.push(Err(no_answer.clone()));
                    armed.push(None);
                    continue;
                }
                self.unanswered.remove(&tid);
            }
            self.sequence += 1;
            let state = self.sequence << 2 | ARMED;
            slot.tid.store(tid.0, Ordering::Relaxed);
            slot.state.store(state, Ordering::Release);
            // SAFETY: tgkill with plain integers; it fails if `tid` is not a
            // thread of this process.
            let sent = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid.0, self.signal) };
            if sent == 0 {
                results.push(Ok(()));
                armed.push(Some((slot, state)));
            } else {
                let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
                slot.state.store(with_phase(state, IDLE), Ordering::Release);
                results.push(Err(match errno {
                    libc::ESRCH => CaptureError::Gone,
                    _ => CaptureError::Signal { errno },
                }));
                armed.push(None);
            }
        }
        // Wait for answers, at most `answer_within`.
        let deadline = Instant::now() + answer_within;
        loop {
            let seen = ANSWERS.load(Ordering::Acquire);
            let waiting = armed.iter().flatten().any(|(slot, _)| {
                matches!(phase(slot.state.load(Ordering::Acquire)), ARMED | WRITING)
            });
            let now = Instant::now();
            if !waiting || now >= deadline {
                break;
            }
            futex_wait(&ANSWERS, seen, deadline - now);
        }
        // Collect, and take back the slots of threads that did not answer.
        for (i, entry) in armed.into_iter().enumerate() {
            let Some((slot, state)) = entry else { continue };
            match slot.state.compare_exchange(
                state,
                with_phase(state, IDLE),
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.unanswered.insert(tids[i]);
                    results[i] = Err(no_answer.clone());
                }
                Err(now) if now == with_phase(state, DONE) => {
                    // SAFETY: `DONE` (acquire) means the handler finished
                    // writing; nobody writes again until we re-arm.
                    let sample = unsafe {
                        Sample {
                            regs: *slot.regs.get(),
                            stack: std::slice::from_raw_parts(slot.stack, *slot.stack_len.get()),
                        }
                    };
                    found(i, sample);
                    slot.state.store(with_phase(state, IDLE), Ordering::Release);
                }
                // Still `WRITING`: the slot stays out of use until done.
                Err(_) => results[i] = Err(no_answer.clone()),
            }
        }
        results
    }
}

/// Waits until `word` changes from `seen`, for at most `timeout` (spurious
/// wake-ups happen: the caller re-checks).
fn futex_wait(word: &AtomicU32, seen: u32, timeout: Duration) {
    let timeout = libc::timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: a futex wait on a live atomic with a valid relative timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            seen,
            &timeout as *const libc::timespec,
        );
    }
}

/// Is `signal` pending on thread `tid` (sent, not yet delivered because the
/// thread blocks it)? Reads `/proc/self/task/<tid>/status`.
fn signal_pending(tid: Tid, signal: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigPnd:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}
