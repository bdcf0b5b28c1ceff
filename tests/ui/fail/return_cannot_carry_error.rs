use monitor_runtime::monitored;

#[monitored(max_active = 1)]
fn count() -> u32 {
    1
}

#[monitored(timeout = 1s)]
async fn fetch() -> u32 {
    1
}

#[monitored(timeout = 1s)]
fn unit() {}

fn main() {}
