//! `monitor_runtime::dump_on_signal()`, from outside: this test binary
//! runs itself again as a child process, which installs the handler and
//! parks a plain thread (no annotation) in `recv()`; the test sends it
//! `kill -QUIT` and reads the dump on its stderr: the thread by name, down
//! to the line of `recv()`. The child then still answers on stdin, and the
//! handler it had installed on SIGQUIT before ran too.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use monitor_demo::eventually;

/// Set in the child's environment.
const CHILD: &str = "MONITOR_DUMP_ON_SIGNAL_CHILD";

/// The line of `recv()` in `parked`.
const PARKED_LINE: u32 = line!() + 4;

#[inline(never)]
fn parked(wake: &Receiver<()>) {
    let _ = wake.recv();
}

/// How often the handler installed before `dump_on_signal` ran.
static EARLIER_HANDLER: AtomicUsize = AtomicUsize::new(0);

extern "C" fn earlier_handler(_: libc::c_int) {
    EARLIER_HANDLER.fetch_add(1, Ordering::Relaxed);
}

/// The child: a SIGQUIT handler of its own, then `dump_on_signal`, a
/// plain parked thread; says `ready` once the thread sleeps, then answers
/// each line of stdin until it closes.
fn child() {
    // SAFETY: installs a handler that only touches an atomic.
    unsafe {
        let handler: extern "C" fn(libc::c_int) = earlier_handler;
        libc::signal(libc::SIGQUIT, handler as libc::sighandler_t);
    }
    monitor_runtime::dump_on_signal().expect("the SIGQUIT handler installs");
    // A second call does nothing.
    monitor_runtime::dump_on_signal().unwrap();

    let (_wake, wait) = channel();
    let (tid_tx, tid_rx) = channel();
    std::thread::Builder::new()
        .name("plain-parked".into())
        .spawn(move || {
            // SAFETY: gettid takes no argument and cannot fail.
            tid_tx
                .send(unsafe { libc::syscall(libc::SYS_gettid) })
                .unwrap();
            parked(&wait);
        })
        .unwrap();
    let tid = tid_rx.recv().unwrap();
    eventually("the plain thread asleep", || {
        std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .unwrap()
                .trim_start()
                .starts_with('S')
        })
    });
    println!("ready");
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        println!(
            "pong {line} earlier-handler={}",
            EARLIER_HANDLER.load(Ordering::Relaxed)
        );
    }
}

#[test]
fn sigquit_prints_every_thread_and_the_process_runs_on() {
    monitor_demo::own_process!();
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dump_on_signal::sigquit_prints_every_thread_and_the_process_runs_on",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (lines_tx, lines) = channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let stderr_text = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = stderr_text.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut chunk) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    let next_line = |what: &str| {
        lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the child never said {what}"))
    };
    while next_line("ready") != "ready" {}

    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGQUIT) }, 0);
    let place = format!("dump_on_signal.rs:{PARKED_LINE}");
    eventually("the dump on the child's stderr", || {
        let text = stderr_text.lock().unwrap();
        text.contains("SIGQUIT received") && text.contains(&place)
    });
    let text = stderr_text.lock().unwrap().clone();
    // The plain thread's block: its name, then the line of its `recv()`.
    let block = text
        .split("\n\n")
        .find(|block| block.starts_with("thread 'plain-parked' (tid "))
        .unwrap_or_else(|| panic!("no block for the plain thread in:\n{text}"));
    assert!(block.contains("[sleeping]:"), "{block}");
    assert!(
        block.contains("isolated::dump_on_signal::parked"),
        "{block}"
    );
    assert!(block.contains(&place), "{block}");

    // The process runs on, and the handler it had before ran too.
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "ping").unwrap();
    let answer = next_line("pong");
    assert_eq!(answer, "pong ping earlier-handler=1");

    // A burst: the process survives it, and it is answered.
    let before = text.matches("SIGQUIT received").count();
    for _ in 0..20 {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGQUIT) };
    }
    eventually("a dump after the burst", || {
        stderr_text
            .lock()
            .unwrap()
            .matches("SIGQUIT received")
            .count()
            > before
    });
    writeln!(stdin, "again").unwrap();
    assert!(next_line("pong").starts_with("pong again "));

    // Stdin closed: the child's test returns, and the child exits.
    drop(stdin);
    let mut status = None;
    eventually("the child's exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert!(status.unwrap().success(), "{}", stderr_text.lock().unwrap());
}
