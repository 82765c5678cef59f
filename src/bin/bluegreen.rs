//! The `bluegreen` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    bluegreen::cli::main()
}
