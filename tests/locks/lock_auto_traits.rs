//! `Send`, `Sync` and `Unpin` of every public lock type and lock future,
//! checked at compile time against the peer's: each line asserts the
//! traits of our type and of the std or tokio type it replaces, so a line
//! that compiles says both have exactly the traits written (the expected
//! sets are those tokio's `tests/async_send_sync.rs` and std's impls give).
//! This file fails to compile, rather than a test failing, on a mismatch.
#![allow(dead_code, clippy::type_complexity)]

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use monitor_runtime::sync::*;

/// Neither `Send` nor `Sync`.
type NN = Rc<u8>;
/// `Send`, not `Sync`.
type YN = Cell<u8>;
/// `Send` and `Sync`.
type YY = u8;

fn send<T: ?Sized + Send>(_: &T) {}
fn sync<T: ?Sized + Sync>(_: &T) {}
fn unpin<T: ?Sized + Unpin>(_: &T) {}

// The negative checks: with the trait implemented, both impls apply and
// the call is ambiguous (a compile error); without it, only the first.
trait NotSend<A> {
    fn not_send(&self) {}
}
impl<T: ?Sized> NotSend<()> for T {}
impl<T: ?Sized + Send> NotSend<u8> for T {}
trait NotSync<A> {
    fn not_sync(&self) {}
}
impl<T: ?Sized> NotSync<()> for T {}
impl<T: ?Sized + Sync> NotSync<u8> for T {}
trait NotUnpin<A> {
    fn not_unpin(&self) {}
}
impl<T: ?Sized> NotUnpin<()> for T {}
impl<T: ?Sized + Unpin> NotUnpin<u8> for T {}

/// `traits!(@ value, Send & !Sync & Unpin)`: each trait, or its absence,
/// on the type of `value` (a reference).
macro_rules! traits {
    (@ $v:ident,) => {};
    (@ $v:ident, & $($rest:tt)*) => { traits!(@ $v, $($rest)*) };
    (@ $v:ident, !Send $($rest:tt)*) => { NotSend::not_send($v); traits!(@ $v, $($rest)*) };
    (@ $v:ident, !Sync $($rest:tt)*) => { NotSync::not_sync($v); traits!(@ $v, $($rest)*) };
    (@ $v:ident, !Unpin $($rest:tt)*) => { NotUnpin::not_unpin($v); traits!(@ $v, $($rest)*) };
    (@ $v:ident, Send $($rest:tt)*) => { send($v); traits!(@ $v, $($rest)*) };
    (@ $v:ident, Sync $($rest:tt)*) => { sync($v); traits!(@ $v, $($rest)*) };
    (@ $v:ident, Unpin $($rest:tt)*) => { unpin($v); traits!(@ $v, $($rest)*) };
}

/// `types!(Ours, Peer: traits)`: both types have exactly `traits`.
macro_rules! types {
    ($ours:ty, $peer:ty: $($traits:tt)*) => {
        const _: () = {
            fn ours(v: &$ours) { traits!(@ v, $($traits)*); }
            fn peer(v: &$peer) { traits!(@ v, $($traits)*); }
        };
    };
}

/// `futures!(|l: Ours| l.lock(), |l: Peer| l.lock() => traits)`: the values
/// (futures) the two calls return have exactly `traits`.
macro_rules! futures {
    (|$a:ident: $ours:ty| $call:expr, |$b:ident: $peer:ty| $peer_call:expr => $($traits:tt)*) => {
        const _: () = {
            fn ours($a: $ours) { let v = &$call; traits!(@ v, $($traits)*); }
            fn peer($b: $peer) { let v = &$peer_call; traits!(@ v, $($traits)*); }
        };
    };
}

// std's locks.
types!(Mutex<NN>, std::sync::Mutex<NN>: !Send & !Sync & Unpin);
types!(Mutex<YN>, std::sync::Mutex<YN>: Send & Sync & Unpin);
types!(Mutex<YY>, std::sync::Mutex<YY>: Send & Sync & Unpin);
types!(MutexGuard<'_, NN>, std::sync::MutexGuard<'_, NN>: !Send & !Sync & Unpin);
types!(MutexGuard<'_, YN>, std::sync::MutexGuard<'_, YN>: !Send & !Sync & Unpin);
types!(MutexGuard<'_, YY>, std::sync::MutexGuard<'_, YY>: !Send & Sync & Unpin);
types!(RwLock<NN>, std::sync::RwLock<NN>: !Send & !Sync & Unpin);
types!(RwLock<YN>, std::sync::RwLock<YN>: Send & !Sync & Unpin);
types!(RwLock<YY>, std::sync::RwLock<YY>: Send & Sync & Unpin);
types!(RwLockReadGuard<'_, NN>, std::sync::RwLockReadGuard<'_, NN>: !Send & !Sync & Unpin);
types!(RwLockReadGuard<'_, YN>, std::sync::RwLockReadGuard<'_, YN>: !Send & !Sync & Unpin);
types!(RwLockReadGuard<'_, YY>, std::sync::RwLockReadGuard<'_, YY>: !Send & Sync & Unpin);
types!(RwLockWriteGuard<'_, NN>, std::sync::RwLockWriteGuard<'_, NN>: !Send & !Sync & Unpin);
types!(RwLockWriteGuard<'_, YN>, std::sync::RwLockWriteGuard<'_, YN>: !Send & !Sync & Unpin);
types!(RwLockWriteGuard<'_, YY>, std::sync::RwLockWriteGuard<'_, YY>: !Send & Sync & Unpin);

types!(Condvar, std::sync::Condvar: Send & Sync & Unpin);

// tokio's mutex.
types!(AsyncMutex<NN>, tokio::sync::Mutex<NN>: !Send & !Sync & Unpin);
types!(AsyncMutex<YN>, tokio::sync::Mutex<YN>: Send & Sync & Unpin);
types!(AsyncMutex<YY>, tokio::sync::Mutex<YY>: Send & Sync & Unpin);
types!(AsyncMutexGuard<'_, NN>, tokio::sync::MutexGuard<'_, NN>: !Send & !Sync & Unpin);
types!(AsyncMutexGuard<'_, YN>, tokio::sync::MutexGuard<'_, YN>: Send & !Sync & Unpin);
types!(AsyncMutexGuard<'_, YY>, tokio::sync::MutexGuard<'_, YY>: Send & Sync & Unpin);
types!(MappedAsyncMutexGuard<'_, NN>, tokio::sync::MappedMutexGuard<'_, NN>: !Send & !Sync & Unpin);
types!(MappedAsyncMutexGuard<'_, YN>, tokio::sync::MappedMutexGuard<'_, YN>: Send & !Sync & Unpin);
types!(MappedAsyncMutexGuard<'_, YY>, tokio::sync::MappedMutexGuard<'_, YY>: Send & Sync & Unpin);
types!(OwnedAsyncMutexGuard<NN>, tokio::sync::OwnedMutexGuard<NN>: !Send & !Sync & Unpin);
types!(OwnedAsyncMutexGuard<YN>, tokio::sync::OwnedMutexGuard<YN>: Send & !Sync & Unpin);
types!(OwnedAsyncMutexGuard<YY>, tokio::sync::OwnedMutexGuard<YY>: Send & Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<NN, NN>, tokio::sync::OwnedMappedMutexGuard<NN, NN>: !Send & !Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<NN, YN>, tokio::sync::OwnedMappedMutexGuard<NN, YN>: !Send & !Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<NN, YY>, tokio::sync::OwnedMappedMutexGuard<NN, YY>: !Send & !Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<YN, NN>, tokio::sync::OwnedMappedMutexGuard<YN, NN>: !Send & !Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<YN, YN>, tokio::sync::OwnedMappedMutexGuard<YN, YN>: Send & !Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<YN, YY>, tokio::sync::OwnedMappedMutexGuard<YN, YY>: Send & !Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<YY, NN>, tokio::sync::OwnedMappedMutexGuard<YY, NN>: !Send & !Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<YY, YN>, tokio::sync::OwnedMappedMutexGuard<YY, YN>: Send & !Sync & Unpin);
types!(OwnedMappedAsyncMutexGuard<YY, YY>, tokio::sync::OwnedMappedMutexGuard<YY, YY>: Send & Sync & Unpin);

// tokio's read-write lock.
types!(AsyncRwLock<NN>, tokio::sync::RwLock<NN>: !Send & !Sync & Unpin);
types!(AsyncRwLock<YN>, tokio::sync::RwLock<YN>: Send & !Sync & Unpin);
types!(AsyncRwLock<YY>, tokio::sync::RwLock<YY>: Send & Sync & Unpin);
types!(AsyncRwLockReadGuard<'_, NN>, tokio::sync::RwLockReadGuard<'_, NN>: !Send & !Sync & Unpin);
types!(AsyncRwLockReadGuard<'_, YN>, tokio::sync::RwLockReadGuard<'_, YN>: !Send & !Sync & Unpin);
types!(AsyncRwLockReadGuard<'_, YY>, tokio::sync::RwLockReadGuard<'_, YY>: Send & Sync & Unpin);
types!(AsyncRwLockWriteGuard<'_, NN>, tokio::sync::RwLockWriteGuard<'_, NN>: !Send & !Sync & Unpin);
types!(AsyncRwLockWriteGuard<'_, YN>, tokio::sync::RwLockWriteGuard<'_, YN>: !Send & !Sync & Unpin);
types!(AsyncRwLockWriteGuard<'_, YY>, tokio::sync::RwLockWriteGuard<'_, YY>: Send & Sync & Unpin);
types!(AsyncRwLockMappedWriteGuard<'_, NN>, tokio::sync::RwLockMappedWriteGuard<'_, NN>: !Send & !Sync & Unpin);
types!(AsyncRwLockMappedWriteGuard<'_, YN>, tokio::sync::RwLockMappedWriteGuard<'_, YN>: !Send & !Sync & Unpin);
types!(AsyncRwLockMappedWriteGuard<'_, YY>, tokio::sync::RwLockMappedWriteGuard<'_, YY>: Send & Sync & Unpin);
types!(OwnedAsyncRwLockReadGuard<NN>, tokio::sync::OwnedRwLockReadGuard<NN>: !Send & !Sync & Unpin);
types!(OwnedAsyncRwLockReadGuard<YN>, tokio::sync::OwnedRwLockReadGuard<YN>: !Send & !Sync & Unpin);
types!(OwnedAsyncRwLockReadGuard<YY>, tokio::sync::OwnedRwLockReadGuard<YY>: Send & Sync & Unpin);
types!(OwnedAsyncRwLockWriteGuard<NN>, tokio::sync::OwnedRwLockWriteGuard<NN>: !Send & !Sync & Unpin);
types!(OwnedAsyncRwLockWriteGuard<YN>, tokio::sync::OwnedRwLockWriteGuard<YN>: !Send & !Sync & Unpin);
types!(OwnedAsyncRwLockWriteGuard<YY>, tokio::sync::OwnedRwLockWriteGuard<YY>: Send & Sync & Unpin);
types!(OwnedAsyncRwLockMappedWriteGuard<NN>, tokio::sync::OwnedRwLockMappedWriteGuard<NN>: !Send & !Sync & Unpin);
types!(OwnedAsyncRwLockMappedWriteGuard<YN>, tokio::sync::OwnedRwLockMappedWriteGuard<YN>: !Send & !Sync & Unpin);
types!(OwnedAsyncRwLockMappedWriteGuard<YY>, tokio::sync::OwnedRwLockMappedWriteGuard<YY>: Send & Sync & Unpin);

// The futures of the async locks (ours without a peer: as the peer's
// nearest method).
futures!(|l: &AsyncMutex<NN>| l.lock(), |p: &tokio::sync::Mutex<NN>| p.lock() => !Send & !Sync & !Unpin);
futures!(|l: &AsyncMutex<YN>| l.lock(), |p: &tokio::sync::Mutex<YN>| p.lock() => Send & Sync & !Unpin);
futures!(|l: &AsyncMutex<YY>| l.lock(), |p: &tokio::sync::Mutex<YY>| p.lock() => Send & Sync & !Unpin);
futures!(|l: &AsyncMutex<NN>| l.lock_checked(), |p: &tokio::sync::Mutex<NN>| p.lock() => !Send & !Sync & !Unpin);
futures!(|l: &AsyncMutex<YN>| l.lock_checked(), |p: &tokio::sync::Mutex<YN>| p.lock() => Send & Sync & !Unpin);
futures!(|l: &AsyncMutex<YY>| l.lock_checked(), |p: &tokio::sync::Mutex<YY>| p.lock() => Send & Sync & !Unpin);
futures!(|l: Arc<AsyncMutex<NN>>| l.lock_owned(), |p: Arc<tokio::sync::Mutex<NN>>| p.lock_owned() => !Send & !Sync & !Unpin);
futures!(|l: Arc<AsyncMutex<YN>>| l.lock_owned(), |p: Arc<tokio::sync::Mutex<YN>>| p.lock_owned() => Send & Sync & !Unpin);
futures!(|l: Arc<AsyncMutex<YY>>| l.lock_owned(), |p: Arc<tokio::sync::Mutex<YY>>| p.lock_owned() => Send & Sync & !Unpin);
futures!(|l: &AsyncRwLock<NN>| l.read(), |p: &tokio::sync::RwLock<NN>| p.read() => !Send & !Sync & !Unpin);
futures!(|l: &AsyncRwLock<YN>| l.read(), |p: &tokio::sync::RwLock<YN>| p.read() => !Send & !Sync & !Unpin);
futures!(|l: &AsyncRwLock<YY>| l.read(), |p: &tokio::sync::RwLock<YY>| p.read() => Send & Sync & !Unpin);
futures!(|l: &AsyncRwLock<NN>| l.write(), |p: &tokio::sync::RwLock<NN>| p.write() => !Send & !Sync & !Unpin);
futures!(|l: &AsyncRwLock<YN>| l.write(), |p: &tokio::sync::RwLock<YN>| p.write() => !Send & !Sync & !Unpin);
futures!(|l: &AsyncRwLock<YY>| l.write(), |p: &tokio::sync::RwLock<YY>| p.write() => Send & Sync & !Unpin);
futures!(|l: &AsyncRwLock<YN>| l.read_checked(), |p: &tokio::sync::RwLock<YN>| p.read() => !Send & !Sync & !Unpin);
futures!(|l: &AsyncRwLock<YY>| l.read_checked(), |p: &tokio::sync::RwLock<YY>| p.read() => Send & Sync & !Unpin);
futures!(|l: &AsyncRwLock<YN>| l.write_checked(), |p: &tokio::sync::RwLock<YN>| p.write() => !Send & !Sync & !Unpin);
futures!(|l: &AsyncRwLock<YY>| l.write_checked(), |p: &tokio::sync::RwLock<YY>| p.write() => Send & Sync & !Unpin);
futures!(|l: Arc<AsyncRwLock<NN>>| l.read_owned(), |p: Arc<tokio::sync::RwLock<NN>>| p.read_owned() => !Send & !Sync & !Unpin);
futures!(|l: Arc<AsyncRwLock<YN>>| l.read_owned(), |p: Arc<tokio::sync::RwLock<YN>>| p.read_owned() => !Send & !Sync & !Unpin);
futures!(|l: Arc<AsyncRwLock<YY>>| l.read_owned(), |p: Arc<tokio::sync::RwLock<YY>>| p.read_owned() => Send & Sync & !Unpin);
futures!(|l: Arc<AsyncRwLock<NN>>| l.write_owned(), |p: Arc<tokio::sync::RwLock<NN>>| p.write_owned() => !Send & !Sync & !Unpin);
futures!(|l: Arc<AsyncRwLock<YN>>| l.write_owned(), |p: Arc<tokio::sync::RwLock<YN>>| p.write_owned() => !Send & !Sync & !Unpin);
futures!(|l: Arc<AsyncRwLock<YY>>| l.write_owned(), |p: Arc<tokio::sync::RwLock<YY>>| p.write_owned() => Send & Sync & !Unpin);

/// The checks are in the items above, made when this file compiles.
#[test]
fn auto_traits_match_the_peers() {}
