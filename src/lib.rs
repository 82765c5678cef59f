pub mod cli;
pub mod cloud;
pub mod discovery;
pub mod error;
pub mod output;
pub mod plan;
pub mod spec;

pub use error::{Error, Result};
