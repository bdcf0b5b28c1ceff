//! `unsafe fn`, and a raw identifier as the name.
#![deny(warnings)]

use monitor_runtime::{monitored, Error};

/// # Safety
/// `ptr` must be valid for reads.
#[monitored(max_active = 1)]
unsafe fn read(ptr: *const u32) -> Result<u32, Error> {
    Ok(unsafe { *ptr })
}

/// # Safety
/// `ptr` must be valid for reads.
#[monitored]
async unsafe fn read_async(ptr: *const u32) -> Result<u32, Error> {
    Ok(unsafe { *ptr })
}

#[monitored]
fn r#type() -> Result<(), Error> {
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    let x = 5;
    assert_eq!(unsafe { read(&x) }, Ok(5));
    assert_eq!(unsafe { read_async(&x) }.await, Ok(5));
    r#type().unwrap();
    let names: Vec<String> = monitor_runtime::monitors()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("::type")), "{names:?}");
}
