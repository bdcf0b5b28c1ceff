//! A type error in the body points at the user's code, as without the
//! attribute.
use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(5s)]
fn sync_fn() -> u32 {
    "one"
}

#[stack_on_timeout(5s)]
async fn async_fn() -> u32 {
    if true {
        return "one";
    }
    1
}

#[stack_on_timeout(5s)]
fn early(x: Option<u32>) -> Result<u32, String> {
    let x = x?;
    Ok(x)
}

fn main() {
    sync_fn();
    let _ = async_fn();
    let _ = early(None);
}
