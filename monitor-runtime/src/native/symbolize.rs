//! Addresses to functions, files and lines, on the capturing thread.

use framehop::FrameAddress;

use super::Frame;

/// Appends the frames at `address` to `frames`: the innermost inlined
/// function first, the function it is inlined into last. A return address
/// is looked up one byte back, inside the call instruction, so that the line
/// is the call's rather than the next statement's.
pub(super) fn symbolize(address: FrameAddress, frames: &mut Vec<Frame>) {
    let ip = address.address() as usize;
    let lookup = address.address_for_lookup() as usize;
    let before = frames.len();
    backtrace::resolve(lookup as *mut std::ffi::c_void, |symbol| {
        frames.push(Frame {
            ip,
            // `{:#}`: Rust names without their hash suffix.
            function: symbol.name().map(|name| format!("{name:#}")),
            file: symbol.filename().map(Into::into),
            line: symbol.lineno(),
        });
    });
    if frames.len() == before {
        frames.push(Frame {
            ip,
            ..Frame::default()
        });
    }
}
