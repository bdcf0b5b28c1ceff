use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(timout = 5s)]
fn near_miss() {}

#[stack_on_timeout(5s, max_active = 10)]
fn monitored_key() {}

#[stack_on_timeout(5s, name = "a", name = "b")]
fn duplicate_name() {}

fn main() {
    near_miss();
    monitored_key();
    duplicate_name();
}
