//! Harness for the end-to-end tests: finding the built binaries, running a
//! real `mld` process on a temporary configuration, and (see the datalake
//! modules) starting real databases.

pub mod process;
