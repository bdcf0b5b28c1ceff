//! An async handler that hangs: it awaits a lookup that awaits a future
//! that never completes. `#[stack_on_timeout(1s)]` reports it after a
//! second with its logical stack, across the `.await`s: `lookup`, called
//! by `handle`, each with the `.await` it is parked at
//! (`examples/hang.rs:25 awaiting (defined at :23)`). Neither runs on a
//! thread while it waits, so the dump says "waiting" rather than showing a
//! native stack. Then the example exits.
//!
//! ```text
//! cargo run --example hang
//! ```

use monitor_runtime::{
    dump::{set_dump_sink, DumpSink},
    stack_on_timeout,
};

#[stack_on_timeout(1s)]
async fn handle(user: u64) -> String {
    let name = lookup(user).await;
    format!("hello, {name}")
}

#[stack_on_timeout(2s)]
async fn lookup(user: u64) -> String {
    // A reply that never comes.
    std::future::pending::<()>().await;
    format!("user {user}")
}

#[tokio::main]
async fn main() {
    // Print the dump, then exit: the request never completes.
    set_dump_sink(DumpSink::custom(|dump| {
        eprintln!("{dump}");
        std::process::exit(0);
    }))
    .unwrap();
    let request = tokio::spawn(handle(7));
    println!("{}", request.await.unwrap());
}
