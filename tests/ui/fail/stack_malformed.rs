use monitor_runtime::stack_on_timeout;

#[stack_on_timeout("soon")]
fn soon() {}

#[stack_on_timeout(5)]
fn no_unit() {}

#[stack_on_timeout(5 parsecs)]
fn far() {}

#[stack_on_timeout(timeout = 1.5ns)]
fn fraction() {}

#[stack_on_timeout(true)]
fn not_a_number() {}

fn main() {
    soon();
    no_unit();
    far();
    fraction();
    not_a_number();
}
