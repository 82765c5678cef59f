//! Creates the demo sandbox on an emulator and prints the `--var` arguments
//! that point `examples/web.json` at it, one per line.
//!
//! `cargo run --example sandbox -- http://127.0.0.1:5000` (see `scripts/demo.sh`).

#[path = "../tests/testsuite/support/sandbox.rs"]
mod sandbox;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(endpoint) = std::env::args().nth(1) else {
        eprintln!("usage: sandbox ENDPOINT_URL");
        std::process::exit(2);
    };
    let sandbox = sandbox::Sandbox::create(&endpoint, "shop-alb").await;
    for (name, value) in sandbox.example_vars() {
        println!("--var={name}={value}");
    }
}
