//! Why a mutation could not stand.
//!
//! Every refusal carries a stable [`Code`] that programs can match on, and a sentence a neighbour
//! understands, naming the thing and what to do. The same refusal is produced on the device (at once,
//! when the user acts) and on the server (later, when another device got there first).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable reason. New codes may be added; old ones keep their meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// An argument is empty, too long, out of range or malformed.
    Invalid,
    /// The thing does not exist in this neighbourhood (or is not visible to the author).
    NotFound,
    /// The thing exists already (an id was used twice).
    AlreadyExists,
    /// The author is not a member of the neighbourhood, or is no longer one.
    NotMember,
    /// The author may not do this (not the owner, not a moderator, …).
    Forbidden,
    /// The thing is not in a state that allows this step (a favour already done, a loan not approved…).
    WrongState,
    /// The item is already lent, or promised to someone else, for an overlapping period.
    Overlap,
    /// Not enough stock left once the reserved pre-orders are counted.
    InsufficientStock,
    /// An invitation that has expired, been used up or withdrawn.
    InvitationUnusable,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Invalid => "invalid",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::NotMember => "not_member",
            Code::Forbidden => "forbidden",
            Code::WrongState => "wrong_state",
            Code::Overlap => "overlap",
            Code::InsufficientStock => "insufficient_stock",
            Code::InvitationUnusable => "invitation_unusable",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused mutation: the reason code and a sentence for the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub code: Code,
    pub message: String,
}

impl Rejection {
    pub fn new(code: Code, message: impl Into<String>) -> Rejection {
        Rejection { code, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Rejection {
        Rejection::new(Code::Invalid, message)
    }
    pub fn not_found(what: &str) -> Rejection {
        Rejection::new(
            Code::NotFound,
            format!("{what} was not found in this neighbourhood; it may have been removed."),
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Rejection {
        Rejection::new(Code::Forbidden, message)
    }
    pub fn wrong_state(message: impl Into<String>) -> Rejection {
        Rejection::new(Code::WrongState, message)
    }
}
