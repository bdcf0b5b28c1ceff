use monitor_runtime::monitored;

#[monitored(timeout = 1s)]
struct Config {
    retries: u32,
}

#[monitored]
const LIMIT: u32 = 5;

trait Repo {
    #[monitored]
    fn get(&self) -> u32;
}

fn main() {
    // Both items are kept.
    let _ = Config { retries: LIMIT };
}
