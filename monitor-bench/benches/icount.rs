//! Instructions per call, counted by callgrind: unlike time, the count does
//! not move with the machine's load, so two builds can be compared on a
//! busy machine. Build with `cargo bench -p monitor-bench --bench icount
//! --no-run`, then, for WHICH in `plain`, `monitored_sync`, `guarded`,
//! `rejected` (a call refused as Busy):
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     --toggle-collect='*icount_loop*' BENCH_BINARY WHICH 10000
//! ```
//!
//! and for `plain_async`, `tokio_timeout_async` (the peer: the plain body in
//! `tokio::time::timeout`), `monitored_async`, `guarded_async`
//! (`#[stack_on_timeout]`), `plain_await_async`,
//! `monitored_await_async`, `plain_yield_async`, `monitored_yield_async`
//! (the body yields once: the pending path), `tokio_timeout_yield_async`, the `tower` bench's requests
//! `tower_plain_ready`, `tower_stack_ready` (`LoadShed + ConcurrencyLimit +
//! Timeout`), `tower_layer_ready` (`MonitorLayer`) and the same three
//! `_yield` (the body yields once), `pair_async_off`, `pair_async_on` with
//! `--toggle-collect='*Runtime*block_on*'`; the count for 20000 calls less
//! the count for 10000, over 10000, is the cost of one call. `pair_off` and
//! `pair_on` (sync), `pair_async_off` and `pair_async_on` (in `block_on`:
//! the holder is the thread), `pair_task_off` and `pair_task_on` (the same
//! in a spawned task, as in `benches/locks.rs`; same toggle): a nested
//! acquisition of a known pair of `sync` mutexes with the lock-order check
//! off and on; `pair_mixed_on`: the `sync` pair with the check on in a
//! process that took a tokio lock before (in a task: a thread that never
//! took one must not pay for it). One uncontended lock and unlock against the peer's (the
//! `locks` bench's groups): `mutex_std`, `mutex_ours`, `rwlock_std`,
//! `rwlock_ours` (read) with `*icount_loop*`, and, inside a spawned task,
//! `async_mutex_tokio`, `async_mutex_ours`, `async_rwlock_tokio`,
//! `async_rwlock_ours` (read) with `*Runtime*block_on*`. Run by
//! `cargo bench` without arguments, it makes each kind of call once.
//!
//! Not a count: `BENCH_BINARY pair_task_alt ROUNDS` times the async pair
//! in a spawned task with the check off and on in turn, 2,000 pairs each
//! way a round, in one process, and prints the lowest and the median
//! round of each and their difference: on this shared machine, whose
//! speed moves by a third over seconds, a difference taken within a few
//! milliseconds is steadier than two benchmark functions seconds apart.
use std::hint::black_box;

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use monitor_runtime::sync::{set_lock_order_checking, AsyncMutex, AsyncRwLock, Mutex, RwLock};
use monitor_runtime::tower::MonitorLayer;
use monitor_runtime::{monitored, stack_on_timeout, Error, Monitor};
use tower::{service_fn, Layer, Service, ServiceBuilder, ServiceExt};

static PAIR: (Mutex<u64>, Mutex<u64>) = (Mutex::new(0), Mutex::new(0));
static ASYNC_PAIR: (AsyncMutex<u64>, AsyncMutex<u64>) = (AsyncMutex::new(0), AsyncMutex::new(0));

#[inline(never)]
fn pair(x: u64) -> u64 {
    let mut a = black_box(&PAIR.0).lock().unwrap();
    let mut b = black_box(&PAIR.1).lock().unwrap();
    *a += x;
    *b += 1;
    *a
}

#[inline(never)]
async fn pair_async(x: u64) -> u64 {
    let mut a = black_box(&ASYNC_PAIR.0).lock().await;
    let mut b = black_box(&ASYNC_PAIR.1).lock().await;
    *a += x;
    *b += 1;
    *a
}

static STD_MUTEX: std::sync::Mutex<u64> = std::sync::Mutex::new(0);
static OUR_MUTEX: Mutex<u64> = Mutex::new(0);
static STD_RWLOCK: std::sync::RwLock<u64> = std::sync::RwLock::new(0);
static OUR_RWLOCK: RwLock<u64> = RwLock::new(0);
static TOKIO_MUTEX: tokio::sync::Mutex<u64> = tokio::sync::Mutex::const_new(0);
static OUR_ASYNC_MUTEX: AsyncMutex<u64> = AsyncMutex::const_new(0);
static TOKIO_RWLOCK: tokio::sync::RwLock<u64> = tokio::sync::RwLock::const_new(0);
static OUR_ASYNC_RWLOCK: AsyncRwLock<u64> = AsyncRwLock::const_new(0);

/// One uncontended lock and unlock (a read for the read-write locks).
#[inline(never)]
fn lock_unlock(which: &str, x: u64) -> u64 {
    match which {
        "mutex_std" => {
            let mut guard = black_box(&STD_MUTEX).lock().unwrap();
            *guard += x;
            *guard
        }
        "mutex_ours" => {
            let mut guard = black_box(&OUR_MUTEX).lock().unwrap();
            *guard += x;
            *guard
        }
        "rwlock_std" => *black_box(&STD_RWLOCK).read().unwrap() + x,
        "rwlock_ours" => *black_box(&OUR_RWLOCK).read().unwrap() + x,
        _ => unreachable!(),
    }
}

#[inline(never)]
async fn lock_unlock_async(which: &str, x: u64) -> u64 {
    match which {
        "async_mutex_tokio" => {
            let mut guard = black_box(&TOKIO_MUTEX).lock().await;
            *guard += x;
            *guard
        }
        "async_mutex_ours" => {
            let mut guard = black_box(&OUR_ASYNC_MUTEX).lock().await;
            *guard += x;
            *guard
        }
        "async_rwlock_tokio" => *black_box(&TOKIO_RWLOCK).read().await + x,
        "async_rwlock_ours" => *black_box(&OUR_ASYNC_RWLOCK).read().await + x,
        _ => unreachable!(),
    }
}

#[inline(never)]
fn plain(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

#[monitored(max_active = 10)]
#[inline(never)]
fn monitored_sync(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

/// The slot is held by the outer call: every inner call is refused.
#[monitored(max_active = 1)]
#[inline(never)]
fn held(f: &dyn Fn() -> u64) -> Result<u64, Error> {
    Ok(f())
}

#[stack_on_timeout(5s)]
#[inline(never)]
fn guarded(x: u64) -> u64 {
    black_box(x)
}

#[stack_on_timeout(5s)]
#[inline(never)]
async fn guarded_async(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

#[monitored(timeout = "50ms", max_active = 10)]
#[inline(never)]
async fn monitored_async(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

#[inline(never)]
async fn plain_async(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

/// A body that yields once: the pending path (the timeout armed, the poll
/// ended `Pending`, the second poll).
#[monitored(timeout = "50ms", max_active = 10)]
#[inline(never)]
async fn monitored_yield_async(x: u64) -> Result<u64, Error> {
    tokio::task::yield_now().await;
    Ok(black_box(x))
}

#[inline(never)]
async fn plain_yield_async(x: u64) -> Result<u64, Error> {
    tokio::task::yield_now().await;
    Ok(black_box(x))
}

/// `n` requests through `ready().call()` on clones of `service`, as
/// `benches/tower.rs` drives them.
#[inline(never)]
async fn requests<S>(service: S, n: u64) -> u64
where
    S: Service<u64, Response = u64> + Clone,
    S::Error: std::fmt::Debug,
{
    let mut sum = 0;
    for i in 0..n {
        let mut svc = service.clone();
        let ready = svc.ready().await.unwrap();
        sum += ready.call(i).await.unwrap();
    }
    sum
}

/// The `tower` bench's services: `tower_plain_*` (bare), `tower_stack_*`
/// (`LoadShed + ConcurrencyLimit + Timeout`), `tower_layer_*`
/// (`MonitorLayer`), each `_ready` or `_yield` (the body yields once).
async fn tower_kind(which: &str, n: u64) -> u64 {
    let yields = which.ends_with("_yield");
    let inner = service_fn(move |x: u64| async move {
        if yields {
            tokio::task::yield_now().await;
        }
        Ok::<_, Infallible>(black_box(x))
    });
    if which.starts_with("tower_plain") {
        requests(inner, n).await
    } else if which.starts_with("tower_stack") {
        let stack = ServiceBuilder::new()
            .load_shed()
            .concurrency_limit(10)
            .timeout(Duration::from_millis(50))
            .service(inner);
        requests(stack, n).await
    } else {
        static LAYER: OnceLock<Monitor> = OnceLock::new();
        let monitor = LAYER.get_or_init(|| {
            Monitor::builder("icount.layer")
                .timeout(Duration::from_millis(50))
                .max_active(10)
                .build()
        });
        requests(MonitorLayer::new(monitor.clone()).layer(inner), n).await
    }
}

/// Three awaits that are ready at once: what an `.await` in an annotated
/// body costs when it does not wait (`monitored_await_async` less
/// `monitored_async`, over 3, against the same for the plain pair).
#[monitored(timeout = "50ms", max_active = 10)]
#[inline(never)]
async fn monitored_await_async(x: u64) -> Result<u64, Error> {
    let a = std::future::ready(black_box(x)).await;
    let b = std::future::ready(black_box(a)).await;
    Ok(std::future::ready(black_box(b)).await)
}

#[inline(never)]
async fn plain_await_async(x: u64) -> Result<u64, Error> {
    let a = std::future::ready(black_box(x)).await;
    let b = std::future::ready(black_box(a)).await;
    Ok(std::future::ready(black_box(b)).await)
}

/// `n` calls refused as Busy (a function of its own: callgrind's
/// `--toggle-collect` pattern must not match the closures).
#[inline(never)]
fn rejections(n: u64) -> u64 {
    let inner = || (0..n).map(|i| held(&|| i).is_err() as u64).sum();
    held(&inner).unwrap()
}

#[inline(never)]
fn icount_loop_sync(which: &str, n: u64) -> u64 {
    if which == "rejected" {
        return rejections(n);
    }
    let mut sum = 0;
    for i in 0..n {
        sum += match which {
            "plain" => plain(i).unwrap(),
            "monitored_sync" => monitored_sync(i).unwrap(),
            "guarded" => guarded(i),
            "pair_off" | "pair_on" | "pair_mixed_on" => pair(i),
            _ => lock_unlock(which, i),
        };
    }
    sum
}

/// The peer's timeout: `tokio::time::timeout` around the plain body, as
/// long as the monitored calls' (`tokio_timeout_async`,
/// `tokio_timeout_yield_async`).
const PEER_TIMEOUT: Duration = Duration::from_millis(50);

#[inline(never)]
async fn icount_loop_async(which: &str, n: u64) -> u64 {
    let mut sum = 0;
    for i in 0..n {
        sum += match which {
            "plain_async" => plain_async(i).await.unwrap(),
            "tokio_timeout_async" => tokio::time::timeout(PEER_TIMEOUT, plain_async(i))
                .await
                .unwrap()
                .unwrap(),
            "monitored_async" => monitored_async(i).await.unwrap(),
            "guarded_async" => guarded_async(i).await.unwrap(),
            "plain_await_async" => plain_await_async(i).await.unwrap(),
            "monitored_await_async" => monitored_await_async(i).await.unwrap(),
            "plain_yield_async" => plain_yield_async(i).await.unwrap(),
            "monitored_yield_async" => monitored_yield_async(i).await.unwrap(),
            "tokio_timeout_yield_async" => tokio::time::timeout(PEER_TIMEOUT, plain_yield_async(i))
                .await
                .unwrap()
                .unwrap(),
            "pair_async_off" | "pair_async_on" => pair_async(i).await,
            _ => lock_unlock_async(which, i).await,
        };
    }
    sum
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [which, n] = &args[..] else {
        // `cargo bench` passes `--bench`: make each kind of call once.
        for which in ["plain", "monitored_sync", "guarded", "rejected"] {
            black_box(icount_loop_sync(which, 1));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for which in [
            "plain_async",
            "tokio_timeout_async",
            "monitored_async",
            "guarded_async",
            "plain_await_async",
            "monitored_await_async",
            "plain_yield_async",
            "monitored_yield_async",
            "tokio_timeout_yield_async",
        ] {
            black_box(rt.block_on(icount_loop_async(which, 1)));
        }
        for which in [
            "tower_plain_ready",
            "tower_stack_ready",
            "tower_layer_ready",
            "tower_plain_yield",
            "tower_stack_yield",
            "tower_layer_yield",
        ] {
            black_box(rt.block_on(tower_kind(which, 1)));
        }
        return;
    };
    let (which, n): (&str, u64) = (which, n.parse().unwrap());
    if which == "pair_task_alt" {
        return pair_task_alt(n);
    }
    set_lock_order_checking(which.ends_with("_on"));
    if which == "pair_mixed_on" {
        // A tokio lock taken once, in a task, with the check on.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::spawn(async { drop(ASYNC_PAIR.0.lock().await) })
                .await
                .unwrap()
        });
    }
    // Warm: the first calls register monitors and start the watchdog.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(kind) = which.strip_prefix("pair_task_") {
        // As `pair_async_*`, in a spawned task (the holder is the task).
        let which: &'static str = if kind == "on" {
            "pair_async_on"
        } else {
            "pair_async_off"
        };
        rt.block_on(async { tokio::spawn(icount_loop_async(which, 1000)).await })
            .unwrap();
        black_box(rt.block_on(async { tokio::spawn(icount_loop_async(which, n)).await })).unwrap();
    } else if which.starts_with("tower_") {
        rt.block_on(tower_kind(which, 1000));
        black_box(rt.block_on(tower_kind(which, n)));
    } else if which.starts_with("async_") {
        // In a task, as the `locks` bench: the holder is the task.
        let which: &'static str = Box::leak(which.into());
        rt.block_on(async {
            tokio::spawn(icount_loop_async(which, 1000)).await.unwrap();
            black_box(tokio::spawn(icount_loop_async(which, n)).await.unwrap());
        });
    } else if which.contains("async") {
        rt.block_on(icount_loop_async(which, 1000));
        black_box(rt.block_on(icount_loop_async(which, n)));
    } else {
        icount_loop_sync(which, 1000);
        black_box(icount_loop_sync(which, n));
    }
}

/// The async pair in a spawned task, the check switched off and on in
/// turn in one process: `n` rounds of 2,000 pairs each way; nanoseconds
/// per pair, the lowest and the median round of each.
fn pair_task_alt(n: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (off, on) = rt.block_on(async move {
        tokio::spawn(async move {
            // A pair of its own each way: a lock the check once numbered
            // is looked up on release even with the check off.
            let off_pair = (AsyncMutex::new(0u64), AsyncMutex::new(0u64));
            let on_pair = (AsyncMutex::new(0u64), AsyncMutex::new(0u64));
            let (mut off, mut on) = (Vec::new(), Vec::new());
            for round in 0..n + 10 {
                for (check, times, pair) in
                    [(false, &mut off, &off_pair), (true, &mut on, &on_pair)]
                {
                    set_lock_order_checking(check);
                    let start = std::time::Instant::now();
                    for i in 0..2000 {
                        let mut a = black_box(&pair.0).lock().await;
                        let mut b = black_box(&pair.1).lock().await;
                        *a += i;
                        *b += 1;
                    }
                    if round >= 10 {
                        times.push(start.elapsed().as_nanos() as f64 / 2000.0);
                    }
                }
            }
            (off, on)
        })
        .await
        .unwrap()
    });
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2])
    };
    let ((off_min, off_med), (on_min, on_med)) = (stats(off), stats(on));
    println!(
        "off min {off_min:.1} median {off_med:.1}  on min {on_min:.1} median {on_med:.1}  added min {:.1} median {:.1}",
        on_min - off_min,
        on_med - off_med
    );
}
