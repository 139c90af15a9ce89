//! The lexicons openmeet-sync reads and writes, as documents (in
//! `schemas/lexicons/`), as a validator that interprets those documents, and
//! as typed records that keep every field they do not know.

#![warn(missing_docs)]

pub mod formats;
pub mod json;
pub mod lexicons;
pub mod records;
mod validate;

pub use json::Json;
pub use lexicons::{Invalid, Lexicons};
