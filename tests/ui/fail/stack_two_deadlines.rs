use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(5s, 10s)]
fn twice() {}

#[stack_on_timeout("5s", timeout = 1s)]
fn key_after() {}

#[stack_on_timeout(timeout = 1s, timeout = 2s)]
fn keys() {}

fn main() {
    twice();
    key_after();
    keys();
}
