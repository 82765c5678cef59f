//! `bluegreen`: blue/green releases of EC2 fleets behind an Application Load
//! Balancer, Terraform-style.
//!
//! A command runs through the modules in this order:
//!
//! - [`spec`] reads the JSON spec: variables, modules, typed parsing and
//!   value checks, all before any AWS call;
//! - [`discovery`] reads the app's observed state from AWS through the
//!   [`cloud::Cloud`] trait (there is no state file: tags say what belongs to
//!   whom);
//! - [`plan`] turns spec and observed state into an ordered list of actions,
//!   a pure function rendered for people or as JSON;
//! - [`release`] carries the actions out (the release cycle, automatic
//!   rollback), and holds the operations on a running app (`rollback`,
//!   `shift`, `finalize`, `destroy`); [`status`] describes where an app stands;
//! - [`cli`] is the thin command line over all of this, and [`output`] the one
//!   place that writes to the terminal.
//!
//! [`cloud::aws`] is the only module that knows the AWS SDK.

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
