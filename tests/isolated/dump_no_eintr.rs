//! Taking dumps never changes what the program sees: a socket read with a
//! timeout, inside an overdue `#[stack_on_timeout]` call, times out on time
//! while dumps with native stacks are taken over and over (a signal would
//! end it early with `EINTR`, which `SA_RESTART` does not restart).
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::thread;
use std::time::{Duration, Instant};

use monitor_demo::kept_dumps;
use monitor_runtime::dump::{DumpOptions, DumpReason, NativeStack};
use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(50ms)]
fn read_with_timeout(socket: &UdpSocket) -> (std::io::Result<usize>, Duration) {
    let began = Instant::now();
    let result = socket.recv(&mut [0u8; 16]);
    (result, began.elapsed())
}

#[test]
fn a_read_with_a_timeout_times_out_on_time_while_dumps_are_taken() {
    monitor_demo::own_process!();
    let kept = kept_dumps();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let reader = thread::spawn(move || read_with_timeout(&socket));
    let (mut dumps, mut named) = (0, false);
    while !reader.is_finished() {
        let dump = DumpOptions::new().take();
        dumps += 1;
        let call = dump
            .calls
            .iter()
            .find(|call| call.function == "isolated::dump_no_eintr::read_with_timeout");
        if let Some(NativeStack::Captured { frames, .. }) = call.and_then(|c| c.native.as_ref()) {
            named |= frames.iter().any(|frame| {
                frame
                    .function
                    .as_deref()
                    .is_some_and(|f| f.contains("read_with_timeout"))
            });
        }
        thread::sleep(Duration::from_millis(20));
    }
    let (result, took) = reader.join().unwrap();
    let error = result.expect_err("nothing was sent");
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "the read ended with {error:?} after {took:?}, {dumps} dumps taken"
    );
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(dumps >= 10, "{dumps}");
    assert!(
        named,
        "a native stack of the blocked reader names its function"
    );
    // The watchdog's own overdue report, with native stacks, was kept.
    assert!(kept.lock().unwrap().iter().any(|dump| matches!(
        &dump.reason,
        DumpReason::Overdue { calls } if calls.iter().any(|c| c.function.ends_with("read_with_timeout"))
    )));
}
