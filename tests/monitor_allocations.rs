//! The inline and async paths allocate nothing per call (Go's monitor
//! allocates a goroutine, a channel and a timer for each). Only the calling
//! thread's allocations are counted: the watchdog's periodic work is not
//! part of a call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use monitor_runtime::{monitored, Error};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[monitored(max_active = 10)]
fn inline(x: u64) -> Result<u64, Error> {
    Ok(x + 1)
}

#[monitored(timeout = "1s", max_active = 10)]
async fn ready(x: u64) -> Result<u64, Error> {
    Ok(x + 1)
}

#[monitored(timeout = "1s", max_active = 10)]
async fn yields_once(x: u64) -> Result<u64, Error> {
    tokio::task::yield_now().await;
    Ok(x + 1)
}

#[monitored(max_active = 1)]
fn refuses_inner() -> Result<bool, Error> {
    Ok(refuses_inner().is_err())
}

fn counted(f: impl FnOnce()) -> usize {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::SeqCst)
}

#[test]
fn monitored_calls_allocate_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Warm up: first calls register the monitors and size the timer table.
    for i in 0..100 {
        inline(i).unwrap();
        rt.block_on(ready(i)).unwrap();
        rt.block_on(yields_once(i)).unwrap();
        assert!(refuses_inner().unwrap());
    }
    let n = counted(|| {
        for i in 0..1000 {
            inline(i).unwrap();
        }
    });
    assert_eq!(n, 0, "sync inline calls allocated");
    let n = counted(|| {
        rt.block_on(async {
            for i in 0..1000 {
                ready(i).await.unwrap();
            }
        })
    });
    assert_eq!(n, 0, "ready async calls allocated");
    // tokio itself may allocate around a yield (its deferred-wake list):
    // the monitor must add nothing to what the plain body costs.
    let plain = counted(|| {
        rt.block_on(async {
            for _ in 0..1000 {
                tokio::task::yield_now().await;
            }
        })
    });
    let n = counted(|| {
        rt.block_on(async {
            for i in 0..1000 {
                yields_once(i).await.unwrap();
            }
        })
    });
    assert_eq!(n, plain, "async calls with a deadline allocated");
    let n = counted(|| {
        for _ in 0..1000 {
            assert!(refuses_inner().unwrap());
        }
    });
    assert_eq!(n, 0, "Busy rejections allocated");
}
