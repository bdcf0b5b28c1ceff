use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(5s)]
const fn work() -> u32 {
    1
}

#[stack_on_timeout]
const fn and_no_deadline() -> u32 {
    2
}

const WORK: u32 = work() + and_no_deadline();

fn main() {
    let _ = WORK;
}
