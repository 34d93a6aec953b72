//! The terminal client end to end: the real `quartier` binary, real profile folders and databases, and
//! a real sync server on a loopback port; output and exit codes asserted as a script would see them.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod leaving;
mod limits;
mod offline;
mod storage_faults;
mod support;
mod together;
