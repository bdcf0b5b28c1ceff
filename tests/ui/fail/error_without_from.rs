use monitor_runtime::monitored;

#[derive(Debug)]
struct MyError;

#[monitored(max_active = 1)]
fn work() -> Result<u32, MyError> {
    Ok(1)
}

#[monitored(timeout = 1s)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
