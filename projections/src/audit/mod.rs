//! For auditors: the history of one thing with the decisions taken on the
//! way, and a verification that replays the whole log.

pub mod history;
pub mod verify;
