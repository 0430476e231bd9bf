//! The pure core of Gatehouse.
//!
//! Types and decisions only: no I/O, no clock, no randomness. Every function
//! here is deterministic in its inputs, which is what makes the access rules
//! testable exhaustively. The store, the HTTP layer and the CLI depend on this
//! crate; it depends on none of them.

pub mod condition;
pub mod decision;
pub mod descriptor;
pub mod directory;
pub mod module;
pub mod policy;
pub mod principal;
pub mod qsh;
pub mod scope;
pub mod token;
pub mod validate;

pub use decision::{Decision, Effect, Operation, Reason};
pub use principal::{AccountType, Actor, Principal, Role};
