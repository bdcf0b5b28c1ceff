use monitor_runtime::{monitored, Error};

#[monitored(timeout = 1s)]
fn parse(input: &str) -> Result<u32, Error> {
    Ok(input.len() as u32)
}

#[monitored(timeout = 1s)]
fn first<'a>(items: Vec<&'a str>, fallback: String) -> Result<String, Error> {
    Ok(items.first().map_or(fallback, |s| s.to_string()))
}

fn main() {}
