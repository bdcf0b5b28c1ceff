const fn work() -> u32 {
    1
}
::core::compile_error! {
    "`#[stack_on_timeout]` needs a deadline, e.g. `#[stack_on_timeout(5s)]`"
}
::core::compile_error! {
    "`#[stack_on_timeout]` does not apply to a `const fn`: calls are watched at run time"
}
