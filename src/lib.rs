pub mod cli;
pub mod cloud;
pub mod discovery;
pub mod error;
pub mod output;
pub mod plan;
pub mod release;
pub mod spec;
pub mod status;

pub use error::{Error, Result};
