use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(5s)]
struct Worker {
    id: u32,
}

#[stack_on_timeout(5s)]
impl Worker {
    fn id(&self) -> u32 {
        self.id
    }
}

trait Job {
    #[stack_on_timeout(5s)]
    fn run(&self);
}

fn main() {
    let _ = Worker { id: 1 }.id();
}
