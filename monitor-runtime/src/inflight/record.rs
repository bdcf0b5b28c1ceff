//! A call's record, one cache line, and where what does not fit in it
//! lives: the chunk the record is in (4 KiB, aligned to its size, carved
//! from blocks of 64), which holds the arena's pointer and, once one of
//! its records has armed a timeout, the cells of their timeouts. The
//! packing of what the record keeps in 32 bits is here too.

use std::cell::UnsafeCell;
use std::ops::Range;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::Waker;

use super::{Arena, CallSite};

/// One cache line per call in flight. Records of one arena are written by
/// whichever thread polls their call, so no two share a line; what does not
/// fit is found from the record's chunk (its arena, its timeout's cell) or
/// worked out (its report deadline, from its start and its site).
#[repr(C, align(64))]
pub(crate) struct Record {
    /// `generation << 1 | in_use`.
    pub(super) state: AtomicU32,
    /// Kernel id of the thread running the call now; 0 while it waits.
    pub(super) thread: AtomicI32,
    pub(super) site: AtomicPtr<CallSite>,
    /// The parent call's record (and, in `parent_state`, its state word
    /// when this call began).
    pub(super) parent: AtomicPtr<Record>,
    /// While this async call is polled: the call whose poll was in progress
    /// on the same thread when this poll began, the next link of the
    /// thread's chain of polls that starts at [`Arena::polling`]. While the
    /// record is free: the next record of its owner's free list (a free
    /// record is in no chain).
    pub(super) outer: AtomicPtr<Record>,
    /// The tokio task of the call: where it began, with task dumps on;
    /// otherwise set when it is first pending (0: not yet, or none).
    pub(super) task: AtomicU64,
    /// Coarse nanoseconds since the process epoch.
    pub(super) started: AtomicU64,
    pub(super) parent_state: AtomicU32,
    /// The call's number in its arena (the low 31 bits), for its id, and
    /// [`REPORTED`] once the watchdog has reported it as overdue.
    pub(super) seq: AtomicU32,
    /// Where an async call's last poll returned `Pending`: the `.await`
    /// of its body, packed by [`pack_at`]; 0 if unknown (cleared at each
    /// poll's start).
    pub(super) awaiting: AtomicU32,
    /// During a poll of an async call: `units << 2 | 1`, the coarse clock
    /// at the poll's start in units of 2^[`POLL_UNIT_SHIFT`] ns (30 bits,
    /// wrapping; see [`poll_stamp`]), and
    /// [`POLL_REPORTED`] once the watchdog has reported the poll as
    /// blocking; 0 outside a poll.
    pub(super) polled_since: AtomicU32,
}

const _: () = assert!(std::mem::size_of::<Record>() == 64);

/// The reported bit of [`Record::seq`].
pub(super) const REPORTED: u32 = 1 << 31;
/// The reported bit of [`Record::polled_since`].
pub(super) const POLL_REPORTED: u32 = 2;
/// A poll's start is kept in units of 2^20 ns (about a millisecond).
const POLL_UNIT_SHIFT: u32 = 20;

/// The coarse nanoseconds `ns`, as a poll's start: in units, rounded up (a
/// poll's time is never overstated), in 30 bits.
#[inline]
pub(super) fn poll_stamp(ns: u64) -> u32 {
    let units = ((ns >> POLL_UNIT_SHIFT) + 1) as u32;
    units << 2 | 1
}

/// The coarse readings a poll stamped `stamp` may have begun at (the
/// unit its reading fell in), as of `now_ns`; `None` if the stamp, rounded
/// up, is not past yet (it was just made), or `stamp` is 0 (no poll).
pub(super) fn poll_began(stamp: u32, now_ns: u64) -> Option<Range<u64>> {
    // 0: no poll (a stamp's low bit is set).
    if stamp & 1 == 0 {
        return None;
    }
    let now = now_ns >> POLL_UNIT_SHIFT;
    let ago = (now as u32).wrapping_sub(stamp >> 2) & (u32::MAX >> 2);
    // A stamp rounded up past `now`, read just after it was made.
    if ago > u32::MAX >> 3 {
        return None;
    }
    // Unit 0 is no stamp's: they are rounded up.
    let unit = now.checked_sub(u64::from(ago)).filter(|&unit| unit != 0)?;
    Some((unit - 1) << POLL_UNIT_SHIFT..unit << POLL_UNIT_SHIFT)
}

/// An `.await` at `line:column` in 32 bits: the line in 20 bits, the
/// column in 12 (each at most its largest value).
#[inline]
pub(crate) const fn pack_at(line: u32, column: u32) -> u32 {
    let line = if line > 0xF_FFFF { 0xF_FFFF } else { line };
    let column = if column > 0xFFF { 0xFFF } else { column };
    line << 12 | column
}

/// The `(line, column)` of [`pack_at`].
pub(super) fn unpack_at(at: u32) -> (u32, u32) {
    (at >> 12, at & 0xFFF)
}

impl Record {
    pub(super) const fn new() -> Self {
        Record {
            state: AtomicU32::new(0),
            thread: AtomicI32::new(0),
            site: AtomicPtr::new(std::ptr::null_mut()),
            parent: AtomicPtr::new(std::ptr::null_mut()),
            outer: AtomicPtr::new(std::ptr::null_mut()),
            task: AtomicU64::new(0),
            started: AtomicU64::new(0),
            parent_state: AtomicU32::new(0),
            seq: AtomicU32::new(0),
            awaiting: AtomicU32::new(0),
            polled_since: AtomicU32::new(0),
        }
    }

    /// The chunk this record is in (every record is in one).
    #[inline]
    pub(super) fn chunk(&self) -> &'static Chunk {
        let addr = self as *const Record as usize & !(CHUNK_BYTES - 1);
        // SAFETY: records are made only in chunks, which are aligned to
        // `CHUNK_BYTES`, leaked, and had their address exposed when made.
        unsafe { &*std::ptr::with_exposed_provenance::<Chunk>(addr) }
    }

    /// This record's arena.
    #[inline]
    pub(super) fn arena(&self) -> &'static Arena {
        self.chunk().arena
    }

    /// The record's place in its chunk (the header takes the first
    /// record's room).
    #[inline]
    pub(super) fn index(&self) -> usize {
        (self as *const Record as usize & (CHUNK_BYTES - 1)) / std::mem::size_of::<Record>() - 1
    }

    /// The cell of this record's timeout, if any record of its chunk has
    /// armed one.
    #[inline]
    pub(super) fn timer(&self) -> Option<&'static TimerCell> {
        Some(&self.chunk().timers()?[self.index()])
    }

    /// [`Record::timer`], made for the chunk's records if none is yet.
    #[cold]
    pub(super) fn timer_made(&self) -> &'static TimerCell {
        let chunk = self.chunk();
        let fresh = Box::into_raw(Box::new([const { TimerCell::new() }; CHUNK]));
        if let Err(_made) = chunk.timers.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // Another thread made them first (the records of one chunk can
            // be polled on several threads).
            // SAFETY: ours, never published.
            drop(unsafe { Box::from_raw(fresh) });
        }
        self.timer().expect("the chunk's cells are made")
    }
}

/// Bytes of a chunk of records: aligned to its size, so that a record finds
/// its chunk, and from it its arena and its timeout's cell.
const CHUNK_BYTES: usize = 4096;

/// Records per chunk: one record's room is the chunk's header.
pub(super) const CHUNK: usize = CHUNK_BYTES / std::mem::size_of::<Record>() - 1;

#[repr(C, align(4096))]
pub(super) struct Chunk {
    pub(super) arena: &'static Arena,
    pub(super) next: AtomicPtr<Chunk>,
    /// The timeout cells of the chunk's records, by index: made when the
    /// first of them arms a timeout, kept for good.
    pub(super) timers: AtomicPtr<[TimerCell; CHUNK]>,
    pub(super) records: [Record; CHUNK],
}

const _: () = assert!(std::mem::size_of::<Chunk>() == CHUNK_BYTES);

impl Chunk {
    /// The timeout cells of the chunk's records, once any was made.
    #[inline]
    pub(super) fn timers(&self) -> Option<&'static [TimerCell; CHUNK]> {
        // SAFETY: a chunk's cells are leaked, never freed, and published
        // with Release once made.
        unsafe { self.timers.load(Ordering::Acquire).as_ref() }
    }
}
const _: () = assert!(std::mem::offset_of!(Chunk, records) == std::mem::size_of::<Record>());

/// Chunks are carved out of blocks of this many (256 KiB): an allocation
/// aligned to its size costs padding around it, which the allocator
/// touches for a small one (3 to 4 bytes per record with blocks of 16),
/// while a block this large is mapped, and only the chunks carved from it
/// are touched.
const CHUNKS_PER_BLOCK: usize = 64;

/// The block chunks are carved from: the next chunk's place, and how many
/// are left.
struct Block {
    next: *mut Chunk,
    left: usize,
}

// SAFETY: the pointer is to memory no one else uses until it is handed out
// under the lock.
unsafe impl Send for Block {}

static BLOCK: Mutex<Block> = Mutex::new(Block {
    next: std::ptr::null_mut(),
    left: 0,
});

/// Places `chunk` in memory of its own, aligned to its size, for good.
#[cold]
pub(super) fn new_chunk(chunk: Chunk) -> &'static Chunk {
    let mut block = BLOCK.lock().unwrap_or_else(|e| e.into_inner());
    if block.left == 0 {
        let layout =
            std::alloc::Layout::from_size_align(CHUNK_BYTES * CHUNKS_PER_BLOCK, CHUNK_BYTES)
                .expect("a valid layout");
        // SAFETY: the layout's size is not zero.
        let memory = unsafe { std::alloc::alloc(layout) };
        if memory.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        *block = Block {
            next: memory.cast(),
            left: CHUNKS_PER_BLOCK,
        };
    }
    let place = block.next;
    // SAFETY: within the block, which holds `left` more chunks.
    block.next = unsafe { place.add(1) };
    block.left -= 1;
    drop(block);
    // SAFETY: `place` is aligned for a chunk, unused, and never freed; the
    // records find their chunk by address (`Record::chunk`), so its
    // provenance is exposed.
    unsafe {
        place.write(chunk);
        let _ = place.expose_provenance();
        &*place
    }
}

/// The timeout of a pending async call, fired by the watchdog: the
/// deadline and the waker, under a lock bit that the call (to change or
/// take its waker) and the watchdog (to fire it) take for a few
/// instructions. A store into the record's cell, not an entry in a
/// shared timer heap: arming it takes no lock of the watchdog's.
pub(crate) struct TimerCell {
    /// The deadline (precise nanoseconds since the process epoch, even),
    /// `| LOCKED` while its holder uses `waker`; 0: none armed (or fired).
    pub(super) word: AtomicU64,
    /// Read and written only by the holder of the lock bit, or, while
    /// `word` is 0, by the call that owns the record.
    pub(super) waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: `waker` is reached only under the protocol above: by whoever set
// the lock bit, or by the record's owner while `word` is 0.
unsafe impl Sync for TimerCell {}

/// The lock bit of [`TimerCell::word`].
pub(super) const LOCKED: u64 = 1;

impl TimerCell {
    const fn new() -> Self {
        TimerCell {
            word: AtomicU64::new(0),
            waker: UnsafeCell::new(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn an_await_packs_into_32_bits_and_saturates() {
        assert_eq!(unpack_at(pack_at(1, 1)), (1, 1));
        assert_eq!(unpack_at(pack_at(123_456, 4_095)), (123_456, 4_095));
        assert_eq!(unpack_at(pack_at(u32::MAX, u32::MAX)), (0xF_FFFF, 0xFFF));
        assert_ne!(pack_at(1, 0), 0, "a known place is never 0 (unknown)");
    }

    #[test]
    fn a_poll_stamp_stands_for_the_unit_of_its_reading() {
        let unit = 1u64 << POLL_UNIT_SHIFT;
        for start in [0, 1, unit - 1, unit, 5 * unit + 7, 1 << 40, (1 << 52) + 3] {
            let stamp = poll_stamp(start);
            assert_eq!(stamp & 1, 1, "a stamp is never 0");
            assert_eq!(stamp & POLL_REPORTED, 0);
            let began = start - start % unit..start - start % unit + unit;
            for ran in [unit, 10 * unit + 5, 3_000_000_000, 1 << 48] {
                assert_eq!(
                    poll_began(stamp, start + ran),
                    Some(began.clone()),
                    "{ran} from {start}"
                );
            }
        }
        // Read just after the stamp was made, rounded up past now.
        assert_eq!(poll_began(poll_stamp(10 * unit + 1), 10 * unit + 2), None);
        // Outside a poll (0), at any time.
        for now in [0, 1, unit, 1 << 30 << POLL_UNIT_SHIFT, u64::MAX] {
            assert_eq!(poll_began(0, now), None, "at {now}");
        }
    }

    #[test]
    fn a_record_finds_its_chunk_arena_and_cell() {
        let arena: &'static Arena = Box::leak(Box::new(Arena {
            id: u32::MAX,
            head: AtomicPtr::new(std::ptr::null_mut()),
            polling: AtomicPtr::new(std::ptr::null_mut()),
            next_due: AtomicU64::new(u64::MAX),
            reportable: AtomicBool::new(false),
            next_timeout: AtomicU64::new(u64::MAX),
        }));
        // Two chunks, carved one after the other from a block.
        let chunks = [(); 2].map(|()| {
            new_chunk(Chunk {
                arena,
                next: AtomicPtr::new(std::ptr::null_mut()),
                timers: AtomicPtr::new(std::ptr::null_mut()),
                records: [const { Record::new() }; CHUNK],
            })
        });
        for chunk in chunks {
            assert_eq!(chunk as *const Chunk as usize % CHUNK_BYTES, 0);
            for (index, record) in chunk.records.iter().enumerate() {
                assert!(std::ptr::eq(record.chunk(), chunk));
                assert!(std::ptr::eq(record.arena(), arena));
                assert_eq!(record.index(), index);
                assert!(record.timer().is_none(), "no cell before a timeout");
            }
        }
        let [first, other] = [&chunks[0].records[0], &chunks[0].records[CHUNK - 1]];
        let cell = first.timer_made();
        assert!(std::ptr::eq(first.timer().unwrap(), cell));
        assert!(
            !std::ptr::eq(other.timer().unwrap(), cell),
            "a cell per record"
        );
        assert!(chunks[1].records[0].timer().is_none(), "cells per chunk");
    }
}
