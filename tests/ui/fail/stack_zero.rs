use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(0s)]
fn zero() {}

#[stack_on_timeout(timeout = "0ms")]
fn zero_string() {}

fn main() {
    zero();
    zero_string();
}
