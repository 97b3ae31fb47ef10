//! Test harnesses shared by the end-to-end tests and benchmarks: a real
//! PostgreSQL server (`pg`) and datalakes on every backend (`lake`).

pub mod lake;
pub mod pg;
