//! The dining philosophers, reduced to the deadlock: two philosophers, two
//! forks (`std::sync::Mutex`), taken in opposite orders. Each philosopher
//! holds one fork and waits forever for the other.
//!
//! `#[stack_on_timeout(1s)]` reports the philosophers a second later: the
//! dump shows both threads blocked, each at the line of its second
//! `lock()` below. Then the example exits, since the threads never will.
//!
//! ```text
//! cargo run --example philosophers
//! ```

use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use monitor_runtime::{
    dump::{set_dump_sink, DumpSink},
    stack_on_timeout,
};

type Fork = Arc<Mutex<()>>;

#[stack_on_timeout(1s)]
fn philosopher(left: Fork, right: Fork, both_seated: Arc<Barrier>) {
    let _left = left.lock().unwrap();
    both_seated.wait();
    let _right = right.lock().unwrap(); // never returns: the other philosopher holds it
    println!("ate");
}

fn main() {
    // Print the dump, then exit: the philosophers wait forever.
    set_dump_sink(DumpSink::custom(|dump| {
        eprintln!("{dump}");
        std::process::exit(0);
    }))
    .unwrap();
    let forks: [Fork; 2] = Default::default();
    let both_seated = Arc::new(Barrier::new(2));
    let seats = [(0, 1), (1, 0)];
    let philosophers: Vec<_> = seats
        .into_iter()
        .enumerate()
        .map(|(i, (left, right))| {
            let (left, right) = (forks[left].clone(), forks[right].clone());
            let both_seated = both_seated.clone();
            thread::Builder::new()
                .name(format!("philosopher-{}", i + 1))
                .spawn(move || philosopher(left, right, both_seated))
                .unwrap()
        })
        .collect();
    for philosopher in philosophers {
        philosopher.join().unwrap();
    }
}
