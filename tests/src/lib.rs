//! Harness for the end-to-end tests: finding the built binaries, running a
//! real `mld` process on a temporary configuration, and (see the datalake
//! modules) starting real databases.

//! Test harnesses shared by the end-to-end tests and benchmarks: a real
//! PostgreSQL server (`pg`) and datalakes on every backend (`lake`).
pub mod lake;
pub mod pg;
pub mod process;
