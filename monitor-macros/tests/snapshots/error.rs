fn work() -> Result<(), Error> {
    Ok(())
}
::core::compile_error! {
    "unknown key `timout`: did you mean `timeout`? The keys are `timeout`, `max_active`, `alert`, `name`, `on_timeout`, `span`, `dump_on_timeout`, `crate`"
}
