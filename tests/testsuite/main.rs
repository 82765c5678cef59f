//! The integration test suite: one binary (so it builds once), each test
//! against its own emulator server through the real AWS SDK.

mod cli;
mod discovery;
mod plan;
mod release;
mod safety;
mod support;
mod validate;
