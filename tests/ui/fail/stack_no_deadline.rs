use monitor_runtime::stack_on_timeout;

#[stack_on_timeout]
fn bare() -> u32 {
    1
}

#[stack_on_timeout(name = "work")]
async fn named() {}

fn main() {
    bare();
    let _ = named();
}
