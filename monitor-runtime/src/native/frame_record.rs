//! Which saved frame record is the live one, for a stack copied without
//! its frame pointer (a thread blocked in a system call, `blocked.rs`).
//!
//! Unwinding such a copy stops at the first frame that finds its caller
//! through the frame pointer (std is built with frame pointers). Words of
//! the copy that look like a frame record (a saved frame pointer, then a
//! return address into code) are candidates, but a frame's unused locals
//! often hold stale records of calls that returned long ago, whose chains
//! are longer than the live one. The live record's return address follows
//! a call to the very function that needs it; that function's start is in
//! the table of its module's `.eh_frame_hdr`, and a direct call
//! (`call rel32`) names its target. A record that passes this check is the
//! live one; when none can be checked (an indirect call, a table in
//! another encoding), the unwinder keeps its older rule, the longest stack.

use std::ops::Range;

use super::signal::read_own_memory;

/// The function starts of one module: a copy of its `.eh_frame_hdr`,
/// whose binary-search table lists the start of every function with
/// unwind information, in order.
pub(super) struct FunctionStarts {
    code: Range<u64>,
    hdr_address: u64,
    hdr: Vec<u8>,
}

impl FunctionStarts {
    /// The starts of the module whose code is at `code`, from a copy of its
    /// `.eh_frame_hdr`, which was at `hdr_address`.
    pub(super) fn new(code: Range<u64>, hdr_address: u64, hdr: Vec<u8>) -> Self {
        FunctionStarts {
            code,
            hdr_address,
            hdr,
        }
    }

    /// The start of the function whose unwind entry is the last to start
    /// at or below `pc`, if `pc` is in this module's code and its table has
    /// the encoding linkers write.
    pub(super) fn function_start(&self, pc: u64) -> Option<u64> {
        if !self.code.contains(&pc) {
            return None;
        }
        let table = table(&self.hdr)?;
        let start = |i: usize| {
            let offset = i32::from_le_bytes(table[8 * i..8 * i + 4].try_into().unwrap_or_default());
            self.hdr_address.wrapping_add(offset as i64 as u64)
        };
        let after = partition_point(table.len() / 8, |i| start(i) <= pc);
        after.checked_sub(1).map(start)
    }
}

/// The number of leading indices in `0..len` for which `before` holds
/// (`before` holds for a prefix): a binary search.
fn partition_point(len: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let middle = low + (high - low) / 2;
        if before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// The binary-search table of an `.eh_frame_hdr`: after the version, three
/// encodings, `eh_frame_ptr` and `fde_count`, pairs of 4-byte offsets from
/// the header (`DW_EH_PE_datarel | DW_EH_PE_sdata4`, what GNU ld, gold and
/// lld write), the function's start first. Any other layout: `None`.
fn table(hdr: &[u8]) -> Option<&[u8]> {
    const DATAREL_SDATA4: u8 = 0x3b;
    let [version, pointer, count, entries, ..] = *hdr else {
        return None;
    };
    if version != 1 || entries != DATAREL_SDATA4 {
        return None;
    }
    let size = |encoding: u8| match encoding & 0x0f {
        0x03 | 0x0b => Some(4),
        0x00 | 0x04 | 0x0c => Some(8),
        _ => None,
    };
    let (pointer, count_size) = (size(pointer)?, size(count)?);
    let field = hdr.get(4 + pointer..4 + pointer + count_size)?;
    let count = match *field {
        [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => u64::from_le_bytes(field.try_into().ok()?),
    };
    let at = 4 + pointer + count_size;
    let len = usize::try_from(count).ok()?.checked_mul(8)?;
    hdr.get(at..at.checked_add(len)?)
}

/// Whether the instruction before `return_address` calls `target`:
///
/// * a direct call, `call rel32`;
/// * a call through a pointer at a fixed place, `call *disp32(%rip)`, how
///   code built position-independent calls another crate's function
///   through the GOT;
/// * a call through a register loaded from such a place just before,
///   `mov disp32(%rip), %reg; call *%reg`, how unoptimized code does it;
///
/// each to `target` itself or to a stub that jumps there ([`lands_on`]:
/// a PLT entry, or the trampoline by which AddressSanitizer's
/// interceptors are reached).
///
/// The pointer is read. Code and pointer are read through the kernel
/// (`process_vm_readv`), so that an address in a module unloaded since the
/// module list was read answers `false` rather than faulting. x86_64 only.
pub(super) fn returns_from_call_to(return_address: u64, target: u64) -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    let Some(start) = return_address.checked_sub(12) else {
        return false;
    };
    let mut code = [0u8; 12];
    if !read(start, &mut code) {
        return false;
    }
    // `disp32` at `code[at..at + 4]`, relative to the instruction that
    // follows it, which ends at `code[end]`.
    let relative = |at: usize, end: usize| {
        let disp = i32::from_le_bytes(code[at..at + 4].try_into().unwrap_or_default());
        (start + end as u64).wrapping_add(disp as i64 as u64)
    };
    let points_to_target = |slot: u64| {
        let mut pointer = [0u8; 8];
        read(slot, &mut pointer) && lands_on(u64::from_ne_bytes(pointer), target)
    };
    // call rel32: e8 disp32.
    if code[7] == 0xe8 {
        return lands_on(relative(8, 12), target);
    }
    // call *disp32(%rip): ff 15 disp32.
    if code[6..8] == [0xff, 0x15] {
        return points_to_target(relative(8, 12));
    }
    // mov disp32(%rip), %reg (48 8b, or 4c 8b for r8-r15; ModRM 05 + 8 *
    // reg), then call *%reg (ff d0 + reg, or 41 ff d0 + reg).
    let register = code[11].wrapping_sub(0xd0);
    if register < 8 {
        let (rex, mov) = if code[9..11] == [0x41, 0xff] {
            (0x4c, 2)
        } else if code[10] == 0xff {
            (0x48, 3)
        } else {
            return false;
        };
        if code[mov..mov + 3] == [rex, 0x8b, 0x05 + 8 * register] {
            return points_to_target(relative(mov + 3, mov + 7));
        }
    }
    false
}

/// Whether code at `address` is `target`, or jumps there through at most
/// two stubs: `jmp rel32` (`e9 disp32`, an interceptor's trampoline) or
/// `jmp *disp32(%rip)` (`ff 25 disp32`, a PLT entry), either after an
/// `endbr64`. x86_64 only, as its caller.
fn lands_on(address: u64, target: u64) -> bool {
    let mut address = address;
    for _ in 0..3 {
        if address == target {
            return true;
        }
        let mut code = [0u8; 10];
        if !read(address, &mut code) {
            return false;
        }
        let at = if code[..4] == [0xf3, 0x0f, 0x1e, 0xfa] {
            4
        } else {
            0
        };
        let disp = |from: usize| {
            i32::from_le_bytes(code[from..from + 4].try_into().unwrap_or_default()) as i64 as u64
        };
        address = match code[at..at + 2] {
            [0xe9, _] => (address + at as u64 + 5).wrapping_add(disp(at + 1)),
            [0xff, 0x25] => {
                let slot = (address + at as u64 + 6).wrapping_add(disp(at + 2));
                let mut pointer = [0u8; 8];
                if !read(slot, &mut pointer) {
                    return false;
                }
                u64::from_ne_bytes(pointer)
            }
            _ => return false,
        };
    }
    false
}

/// Fills `buf` from this process's memory at `address`; `false` if any of
/// it is not mapped.
fn read(address: u64, buf: &mut [u8]) -> bool {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: address as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` is `buf`, writable for its length.
    unsafe { read_own_memory(&local, &[remote]) == buf.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header at 0x1000 with functions at 0x2000, 0x2100, 0x2400.
    fn header() -> Vec<u8> {
        let mut hdr = vec![1, 0x1b, 0x03, 0x3b];
        hdr.extend_from_slice(&0i32.to_le_bytes()); // eh_frame_ptr
        hdr.extend_from_slice(&3u32.to_le_bytes()); // fde_count
        for start in [0x1000i32, 0x1100, 0x1400] {
            hdr.extend_from_slice(&start.to_le_bytes());
            hdr.extend_from_slice(&0i32.to_le_bytes());
        }
        hdr
    }

    #[test]
    fn a_pc_is_in_the_function_that_starts_last_before_it() {
        let starts = FunctionStarts::new(0x2000..0x3000, 0x1000, header());
        assert_eq!(starts.function_start(0x2000), Some(0x2000));
        assert_eq!(starts.function_start(0x20ff), Some(0x2000));
        assert_eq!(starts.function_start(0x2100), Some(0x2100));
        assert_eq!(starts.function_start(0x2fff), Some(0x2400));
        assert_eq!(starts.function_start(0x3000), None, "not this module");
        let below = FunctionStarts::new(0x1000..0x3000, 0x1000, header());
        assert_eq!(below.function_start(0x1fff), None, "before the first");
    }

    #[test]
    fn other_table_encodings_and_short_headers_give_nothing() {
        let mut other = header();
        other[3] = 0x1b;
        assert_eq!(table(&other), None);
        assert_eq!(table(&header()[..20]), None, "cut short");
        assert_eq!(table(&[1, 0x1b, 0xff, 0x3b, 0, 0, 0, 0]), None, "no count");
        assert_eq!(table(&header()).map(<[u8]>::len), Some(24));
    }

    #[test]
    fn this_function_starts_where_its_pointer_points() {
        let here = this_function_starts_where_its_pointer_points as fn() as usize as u64;
        let modules = super::super::unwind::loaded_modules();
        let starts = modules
            .iter()
            .find_map(|module| {
                let (address, hdr) = module.hdr.clone()?;
                module
                    .code
                    .contains(&here)
                    .then(|| FunctionStarts::new(module.code.clone(), address, hdr))
            })
            .expect("this module has an .eh_frame_hdr");
        assert_eq!(starts.function_start(here + 1), Some(here));
    }

    /// Code whose return address is 16 bytes in, with room after it for a
    /// pointer, and the return address.
    fn code() -> (Vec<u8>, u64) {
        let code = vec![0x90u8; 64];
        let return_address = code.as_ptr() as u64 + 16;
        (code, return_address)
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_direct_call_names_its_target() {
        let (mut code, return_address) = code();
        code[11] = 0xe8;
        code[12..16].copy_from_slice(&0x100i32.to_le_bytes());
        let target = return_address + 0x100;
        assert!(returns_from_call_to(return_address, target));
        assert!(!returns_from_call_to(return_address, target + 1));
        code[11] = 0x90; // no call
        assert!(!returns_from_call_to(return_address, target));
        assert!(!returns_from_call_to(8, 0), "unmapped: no fault");
        assert!(!returns_from_call_to(20, 0), "unmapped: no fault");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_call_through_a_pointer_names_the_pointers_target() {
        let target = 0x5555_1234_5678u64;
        let (mut code, return_address) = code();
        // The pointer 16 bytes after the return address, as a GOT slot.
        code[32..40].copy_from_slice(&target.to_ne_bytes());
        code[10..12].copy_from_slice(&[0xff, 0x15]);
        code[12..16].copy_from_slice(&16i32.to_le_bytes());
        assert!(returns_from_call_to(return_address, target));
        assert!(!returns_from_call_to(return_address, target + 1));
        code[12..16].copy_from_slice(&(i32::MAX - 64).to_le_bytes());
        assert!(
            !returns_from_call_to(return_address, target),
            "unmapped slot"
        );
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_call_through_a_register_loaded_from_a_pointer_names_its_target() {
        let target = 0x5555_1234_5678u64;
        let (mut code, return_address) = code();
        code[32..40].copy_from_slice(&target.to_ne_bytes());
        // mov 18(%rip), %rax; call *%rax: the pointer 18 bytes after the
        // `mov`, which ends where the call starts (2 bytes before the
        // return address).
        code[7..14].copy_from_slice(&[0x48, 0x8b, 0x05, 18, 0, 0, 0]);
        code[14..16].copy_from_slice(&[0xff, 0xd0]);
        assert!(returns_from_call_to(return_address, target));
        // The same through %rcx: the register must match.
        code[15] = 0xd1;
        assert!(!returns_from_call_to(return_address, target));
        code[9] = 0x0d;
        assert!(returns_from_call_to(return_address, target));
        // r9: mov 19(%rip), %r9; call *%r9 (3 bytes).
        code[6..13].copy_from_slice(&[0x4c, 0x8b, 0x0d, 19, 0, 0, 0]);
        code[13..16].copy_from_slice(&[0x41, 0xff, 0xd1]);
        assert!(returns_from_call_to(return_address, target));
        assert!(!returns_from_call_to(return_address, target + 1));
    }

    /// A call to a stub that jumps to the function: AddressSanitizer's
    /// `read` is a trampoline, `jmp ___interceptor_read`; a PLT entry is
    /// `endbr64; jmp *slot(%rip)`.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_call_through_a_stub_names_where_the_stub_jumps() {
        let (mut code, return_address) = code();
        // call rel32 to the stub, 24 bytes after the return address.
        code[11] = 0xe8;
        code[12..16].copy_from_slice(&24i32.to_le_bytes());
        let stub = return_address + 24;
        // The stub: jmp rel32 15 bytes further.
        code[40] = 0xe9;
        code[41..45].copy_from_slice(&15i32.to_le_bytes());
        let function = stub + 5 + 15;
        assert!(returns_from_call_to(return_address, function));
        assert!(!returns_from_call_to(return_address, function + 1));
        // The stub: endbr64; jmp *4(%rip), whose slot holds the function.
        let target = 0x5555_1234_5678u64;
        code[40..50].copy_from_slice(&[0xf3, 0x0f, 0x1e, 0xfa, 0xff, 0x25, 4, 0, 0, 0]);
        code[54..62].copy_from_slice(&target.to_ne_bytes());
        assert!(returns_from_call_to(return_address, target));
        assert!(!returns_from_call_to(return_address, target + 1));
        // Not a stub: nothing followed.
        code[40] = 0x90;
        assert!(!returns_from_call_to(return_address, target));
    }
}
