//! Threads blocked in a system call, read without a signal.
//!
//! A signal ends some blocking calls early even with `SA_RESTART`: a socket
//! read or write with a timeout, `poll`, `epoll_wait`, `select`,
//! `nanosleep`, `clock_nanosleep` and others return `EINTR` (signal(7),
//! "Interruption of system calls"). Capturing a stack must not change what
//! the program sees, so a thread that the kernel shows blocked in a system
//! call is not signalled: `/proc/self/task/TID/syscall` gives its stack
//! pointer and program counter, its stack is copied with
//! `process_vm_readv`, and the same unwinder walks the copy. The file is
//! read again after the copy; if the thread moved meanwhile, it is
//! signalled as any running thread is (it runs user code then, where a
//! signal interrupts nothing).
//!
//! Only on x86_64. The unwinder starts without the frame pointer (the
//! kernel does not show it); frames that find their caller through it
//! (`-C force-frame-pointers`, `alloca`) end the stack there, marked
//! truncated. On aarch64 the innermost function's return address is in
//! `x30`, which the kernel does not show either: there every thread is
//! signalled, as before.

use super::Tid;

/// A thread blocked in a system call, as the kernel shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Blocked {
    /// The whole line, to tell whether the thread moved.
    line: String,
    /// Stack pointer and program counter; no frame pointer.
    pub(super) pc: u64,
    pub(super) sp: u64,
}

/// Where `tid` is blocked, if it is blocked in a system call (and this is
/// x86_64); `None` if it runs, waits outside a system call, is gone, or
/// the file cannot be read. Not for the calling thread, which the file
/// shows in the `read` of the file itself.
pub(super) fn in_syscall(tid: Tid) -> Option<Blocked> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let line = std::fs::read_to_string(format!("/proc/self/task/{}/syscall", tid.0)).ok()?;
    parse(line)
}

/// `NR ARG1 .. ARG6 SP PC` with a number `NR >= 0` is a thread in a system
/// call; `-1 SP PC` (blocked, but not in a system call) and `running` are
/// not (proc(5)).
fn parse(line: String) -> Option<Blocked> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [nr, _, _, _, _, _, _, sp, pc] = fields[..] else {
        return None;
    };
    if nr.parse::<i64>().ok()? < 0 {
        return None;
    }
    let hex = |field: &str| u64::from_str_radix(field.strip_prefix("0x")?, 16).ok();
    let (sp, pc) = (hex(sp)?, hex(pc)?);
    (sp != 0 && pc != 0).then_some(Blocked { line, sp, pc })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_line() {
        let line = "7 0x7ffd1 0x1 0x3e8 0x0 0x0 0x0 0x7ffd0a0 0x7f12ab\n".to_owned();
        let blocked = parse(line).unwrap();
        assert_eq!((blocked.sp, blocked.pc), (0x7ffd0a0, 0x7f12ab));
        assert_eq!(parse("running\n".to_owned()), None);
        assert_eq!(parse("-1 0x7ffd0a0 0x7f12ab\n".to_owned()), None);
        assert_eq!(parse("7 0x1 0x2\n".to_owned()), None);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_thread_asleep_is_in_a_syscall() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            tid_tx.send(super::super::current_tid()).unwrap();
            rx.recv().unwrap();
        });
        let tid = tid_rx.recv().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while in_syscall(tid).is_none() {
            assert!(std::time::Instant::now() < deadline, "never seen blocked");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        tx.send(()).unwrap();
        sleeper.join().unwrap();
    }
}
