//! Unwinding a copied stack with `framehop` and the `.eh_frame` of the
//! modules loaded in this process.
//!
//! The modules come from `dl_iterate_phdr`: for each, the executable
//! segments' address range and copies of its `.eh_frame_hdr` (found through
//! `PT_GNU_EH_FRAME`) and `.eh_frame` (found through the header's
//! `eh_frame_ptr`, measured up to its zero terminator). The list is rebuilt
//! when the loader's load/unload counters change (`dlopen`, `dlclose`).

use std::cell::Cell;
use std::ffi::CStr;
use std::ops::Range;

use framehop::{
    CacheNative, ExplicitModuleSectionInfo, FrameAddress, MayAllocateDuringUnwind, Module,
    UnwindRegsNative, Unwinder, UnwinderNative,
};

use super::frame_record::{returns_from_call_to, FunctionStarts};
use super::signal::Sample;
use super::{MAX_FRAMES, STACK_COPY};

/// The addresses of a stack's frames, innermost first.
pub(super) struct Addresses {
    pub frames: Vec<FrameAddress>,
    pub truncated: bool,
}

pub(super) struct Unwinding {
    unwinder: UnwinderNative<Vec<u8>, MayAllocateDuringUnwind>,
    cache: CacheNative<MayAllocateDuringUnwind>,
    /// The loader's `(adds, subs)` counters when the modules were read.
    generation: Option<(u64, u64)>,
    /// The address ranges of the modules' code.
    code: Vec<Range<u64>>,
    /// The modules' function starts, to tell the live frame record.
    starts: Vec<FunctionStarts>,
}

impl Unwinding {
    pub(super) fn new() -> Self {
        Unwinding {
            unwinder: UnwinderNative::new(),
            cache: CacheNative::new(),
            generation: None,
            code: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Re-reads the module list if a module was loaded or unloaded since.
    pub(super) fn refresh(&mut self) {
        let generation = loader_generation();
        if !self.code.is_empty() && generation.is_some() && generation == self.generation {
            return;
        }
        let modules = loaded_modules();
        self.unwinder = UnwinderNative::new();
        self.cache = CacheNative::new();
        self.code = modules.iter().map(|loaded| loaded.code.clone()).collect();
        self.starts.clear();
        for Loaded { module, code, hdr } in modules {
            if let Some((address, hdr)) = hdr {
                self.starts.push(FunctionStarts::new(code, address, hdr));
            }
            self.unwinder.add_module(module);
        }
        self.generation = generation;
    }

    /// Unwinds a sample: the first address is the interrupted instruction,
    /// the others are return addresses. Without the frame pointer (a
    /// thread read without a signal, `blocked.rs`), code that finds its
    /// caller through it needs a guess: the few places in the copy that
    /// look like a saved frame pointer (a word pointing higher up the same
    /// stack) are tried. The first whose return address follows a call to
    /// the function that needs the frame pointer is the live record
    /// (`frame_record.rs`), however far up the copy; when none can be
    /// checked, the longest stack of the nearest [`LONGEST_OF`] wins.
    pub(super) fn unwind(&mut self, sample: &Sample<'_>) -> Addresses {
        if sample.regs.fp != 0 {
            return self.unwind_from(sample);
        }
        let first = self.unwind_from(sample);
        let first = self.in_code(first);
        let found = first.frames.len();
        // The last frame found without the frame pointer needs it.
        let callee = first
            .frames
            .last()
            .and_then(|frame| self.function_start(frame.address_for_lookup()));
        let guesses = frame_pointer_guesses(sample, &self.code);
        let mut from = |fp: u64| {
            let mut guess = Sample {
                regs: sample.regs,
                stack: sample.stack,
            };
            guess.regs.fp = fp;
            let addresses = self.unwind_from(&guess);
            self.in_code(addresses)
        };
        // The live record, wherever it is in the copy: a function with a
        // large frame (an AddressSanitizer interceptor) keeps stale records
        // of its own callees below its own.
        if let Some(start) = callee {
            for &fp in &guesses {
                let live =
                    return_address_at(sample, fp).is_some_and(|at| returns_from_call_to(at, start));
                if live {
                    let addresses = from(fp);
                    if addresses.frames.len() > found {
                        return addresses;
                    }
                }
            }
        }
        let mut best = first;
        for &fp in guesses.iter().take(LONGEST_OF) {
            let addresses = from(fp);
            if addresses.frames.len() > best.frames.len() {
                best = addresses;
            }
        }
        best
    }

    /// The start of the function that `pc` is in, from its module's
    /// `.eh_frame_hdr`.
    fn function_start(&self, pc: u64) -> Option<u64> {
        self.starts
            .iter()
            .find_map(|starts| starts.function_start(pc))
    }

    /// The frames up to the first whose address is in no module's code: a
    /// wrong guess of the frame pointer walks into data.
    fn in_code(&self, mut addresses: Addresses) -> Addresses {
        let known = |frame: &FrameAddress| {
            let address = frame.address_for_lookup();
            self.code.iter().any(|code| code.contains(&address))
        };
        if let Some(first_unknown) = addresses.frames.iter().position(|f| !known(f)) {
            addresses.frames.truncate(first_unknown);
        }
        addresses
    }

    fn unwind_from(&mut self, sample: &Sample<'_>) -> Addresses {
        let Sample { regs, stack } = *sample;
        let beyond_copy = Cell::new(false);
        let mut read_stack = |address: u64| -> Result<u64, ()> {
            let offset = address.checked_sub(regs.sp).ok_or(())?;
            let word = usize::try_from(offset)
                .ok()
                .and_then(|offset| stack.get(offset..offset.checked_add(8)?));
            match word {
                Some(word) => Ok(u64::from_ne_bytes(word.try_into().map_err(|_| ())?)),
                None => {
                    // A full copy that was not enough: the stack goes on.
                    if stack.len() == STACK_COPY {
                        beyond_copy.set(true);
                    }
                    Err(())
                }
            }
        };
        #[cfg(target_arch = "x86_64")]
        let unwind_regs = UnwindRegsNative::new(regs.pc, regs.sp, regs.fp);
        #[cfg(target_arch = "aarch64")]
        let unwind_regs = UnwindRegsNative::new(regs.lr, regs.sp, regs.fp);

        let mut frames = Vec::new();
        let mut iter =
            self.unwinder
                .iter_frames(regs.pc, unwind_regs, &mut self.cache, &mut read_stack);
        // An error ends the stack: framehop cannot tell a corrupt frame from
        // the true root in every case, so keep what was found.
        while let Ok(Some(frame)) = iter.next() {
            frames.push(frame);
            if frames.len() == MAX_FRAMES {
                break;
            }
        }
        let truncated = frames.len() == MAX_FRAMES || beyond_copy.get();
        Addresses { frames, truncated }
    }
}

/// The return address of the frame record at `fp` (saved frame pointer,
/// then return address), if the copy holds it.
fn return_address_at(sample: &Sample<'_>, fp: u64) -> Option<u64> {
    let offset = usize::try_from(fp.checked_sub(sample.regs.sp)?.checked_add(8)?).ok()?;
    let word = sample.stack.get(offset..offset.checked_add(8)?)?;
    Some(u64::from_ne_bytes(word.try_into().ok()?))
}

/// How many of the guesses, nearest the stack pointer first, are unwound
/// to find the longest stack when no record can be checked.
const LONGEST_OF: usize = 16;

/// Where the frame pointer may point, for a stack copied without it: the
/// 16-byte aligned words of the copy that may start a frame record, the
/// saved frame pointer (whatever the caller had in it: code without frame
/// pointers leaves anything there) followed by a return address into
/// code; nearest the stack pointer first.
fn frame_pointer_guesses(sample: &Sample<'_>, code: &[Range<u64>]) -> Vec<u64> {
    (0..sample.stack.len() / 8)
        .filter_map(|i| {
            let at = sample.regs.sp + 8 * i as u64;
            let bytes = sample.stack.get(8 * i + 8..8 * i + 16)?;
            let returns_to = u64::from_ne_bytes(bytes.try_into().ok()?);
            (at.is_multiple_of(16) && code.iter().any(|c| c.contains(&returns_to))).then_some(at)
        })
        .collect()
}

/// The loader's count of module loads and unloads, where it keeps one.
fn loader_generation() -> Option<(u64, u64)> {
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        let end = std::mem::offset_of!(libc::dl_phdr_info, dlpi_subs) + size_of::<u64>();
        if size >= end {
            // SAFETY: the loader passes a valid `info` of at least `size`
            // bytes, and `data` is the `Option` below.
            unsafe {
                let info = &*info;
                *data.cast::<Option<(u64, u64)>>() = Some((info.dlpi_adds, info.dlpi_subs));
            }
        }
        1 // stop after the first module: the counters are global
    }
    let mut generation: Option<(u64, u64)> = None;
    // SAFETY: the callback writes only through `data`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(first), (&raw mut generation).cast()) };
    generation
}

/// A loaded module: its unwind information, the address range of its
/// code, and a copy of its `.eh_frame_hdr` with the address it was at.
pub(super) struct Loaded {
    pub(super) module: Module<Vec<u8>>,
    pub(super) code: Range<u64>,
    pub(super) hdr: Option<(u64, Vec<u8>)>,
}

/// The loaded modules.
pub(super) fn loaded_modules() -> Vec<Loaded> {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid `info`, whose module stays
        // loaded during the callback; `data` is the `Vec` below.
        unsafe {
            let modules = &mut *data.cast::<Vec<Loaded>>();
            if let Some(module) = read_module(&*info) {
                modules.push(module);
            }
        }
        0
    }
    let mut modules: Vec<Loaded> = Vec::new();
    // SAFETY: the callback writes only through `data`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut modules).cast()) };
    modules
}

/// # Safety
/// `info` describes a module that stays loaded during the call (it comes
/// from `dl_iterate_phdr`).
unsafe fn read_module(info: &libc::dl_phdr_info) -> Option<Loaded> {
    let bias = info.dlpi_addr;
    // SAFETY: the loader's program headers for this module.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
    let loads: Vec<Range<u64>> = headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD)
        .map(|h| h.p_vaddr..h.p_vaddr + h.p_memsz)
        .collect();
    let text = headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_X != 0)
        .map(|h| h.p_vaddr..h.p_vaddr + h.p_memsz)
        .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end))?;
    let name = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.dlpi_name) }
            .to_string_lossy()
            .into_owned()
    };
    let mut sections = ExplicitModuleSectionInfo {
        base_svma: 0,
        text_svma: Some(text.clone()),
        ..Default::default()
    };
    let mut hdr_copy = None;
    if let Some(header) = headers.iter().find(|h| h.p_type == libc::PT_GNU_EH_FRAME) {
        let hdr_svma = header.p_vaddr..header.p_vaddr + header.p_memsz;
        // SAFETY: the segment is mapped while the module is loaded.
        let hdr = unsafe { memory(bias + hdr_svma.start, header.p_memsz) }.to_vec();
        let eh_frame = eh_frame_start(&hdr, bias + hdr_svma.start).and_then(|start| {
            let svma = start.checked_sub(bias)?;
            let segment = loads.iter().find(|load| load.contains(&svma))?;
            // SAFETY: from the start of `.eh_frame` to the end of the loaded
            // segment that holds it: mapped while the module is loaded.
            let rest = unsafe { memory(start, segment.end - svma) };
            let data = rest[..eh_frame_len(rest)].to_vec();
            Some((svma..svma + data.len() as u64, data))
        });
        if let Some((eh_frame_svma, eh_frame)) = eh_frame {
            sections.eh_frame_svma = Some(eh_frame_svma);
            sections.eh_frame = Some(eh_frame);
            hdr_copy = Some((bias + hdr_svma.start, hdr.clone()));
            sections.eh_frame_hdr_svma = Some(hdr_svma);
            sections.eh_frame_hdr = Some(hdr);
        }
    }
    let avma = bias + text.start..bias + text.end;
    Some(Loaded {
        module: Module::new(name, avma.clone(), bias, sections),
        code: avma,
        hdr: hdr_copy,
    })
}

/// # Safety
/// `len` bytes at `address` are mapped and readable for `'a`.
unsafe fn memory<'a>(address: u64, len: u64) -> &'a [u8] {
    // SAFETY: per the function's contract.
    unsafe { std::slice::from_raw_parts(address as *const u8, len as usize) }
}

/// The address of `.eh_frame`, from the `eh_frame_ptr` of an
/// `.eh_frame_hdr` that is at address `hdr_address`.
fn eh_frame_start(hdr: &[u8], hdr_address: u64) -> Option<u64> {
    const ABSPTR: u8 = 0x00;
    const UDATA4: u8 = 0x03;
    const UDATA8: u8 = 0x04;
    const SDATA4: u8 = 0x0b;
    const SDATA8: u8 = 0x0c;
    const PCREL: u8 = 0x10;
    const DATAREL: u8 = 0x30;
    let (&version, rest) = hdr.split_first()?;
    let (&encoding, _) = rest.split_first()?;
    if version != 1 {
        return None;
    }
    let field = hdr.get(4..)?;
    let value = match encoding & 0x0f {
        ABSPTR | UDATA8 | SDATA8 => u64::from_le_bytes(field.get(..8)?.try_into().ok()?),
        UDATA4 => u32::from_le_bytes(field.get(..4)?.try_into().ok()?).into(),
        SDATA4 => i32::from_le_bytes(field.get(..4)?.try_into().ok()?) as i64 as u64,
        _ => return None,
    };
    match encoding & 0x70 {
        0 => Some(value),
        PCREL => Some((hdr_address + 4).wrapping_add(value)),
        DATAREL => Some(hdr_address.wrapping_add(value)),
        _ => None,
    }
}

/// The length of `.eh_frame` at the start of `data`: its records up to and
/// including the zero terminator, or all of `data` if there is none.
fn eh_frame_len(data: &[u8]) -> usize {
    let mut at = 0usize;
    while let Some(length) = data.get(at..at + 4) {
        let length = u32::from_le_bytes(length.try_into().unwrap_or_default());
        let next = match length {
            0 => return at + 4,
            0xffff_ffff => data
                .get(at + 4..at + 12)
                .map(|l| u64::from_le_bytes(l.try_into().unwrap_or_default()))
                .and_then(|l| usize::try_from(l).ok())
                .and_then(|l| (at + 12).checked_add(l)),
            _ => (at + 4).checked_add(length as usize),
        };
        match next {
            Some(next) if next <= data.len() => at = next,
            _ => return data.len(),
        }
    }
    data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eh_frame_len_stops_at_the_terminator() {
        let mut data = Vec::new();
        data.extend_from_slice(&4u32.to_le_bytes());
        data.extend_from_slice(&[1, 2, 3, 4]);
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&[9; 16]);
        assert_eq!(eh_frame_len(&data), 12);
        assert_eq!(eh_frame_len(&data[..6]), 6);
    }

    #[test]
    fn eh_frame_ptr_encodings() {
        // pcrel | sdata4: relative to the field, at header + 4.
        let hdr = [1, 0x1b, 0x03, 0x3b, 0xf0, 0xff, 0xff, 0xff];
        assert_eq!(eh_frame_start(&hdr, 0x1000), Some(0x1004 - 0x10));
        let hdr = [1, 0x03, 0x03, 0x3b, 0x00, 0x20, 0x00, 0x00];
        assert_eq!(eh_frame_start(&hdr, 0x1000), Some(0x2000));
        assert_eq!(eh_frame_start(&[2, 0x1b, 0, 0, 0, 0, 0, 0], 0), None);
        assert_eq!(eh_frame_start(&[1, 0xff, 0, 0, 0, 0, 0, 0], 0), None);
    }

    #[test]
    fn this_function_is_in_a_module_with_unwind_info() {
        let here = this_function_is_in_a_module_with_unwind_info as fn() as usize as u64;
        let modules = loaded_modules();
        let loaded = modules
            .iter()
            .find(|loaded| loaded.module.avma_range().contains(&here))
            .expect("a module covers this function");
        assert!(loaded.module.avma_range().start >= loaded.module.base_avma());
        assert_eq!(loaded.module.avma_range(), loaded.code);
        assert!(loaded.hdr.is_some(), "with its .eh_frame_hdr");
        assert!(loader_generation().is_some());
    }
}
