//! Harness for the end-to-end tests and benchmarks: finding the built
//! binaries and running a real `mld` process (`process`), real PostgreSQL
//! and MariaDB servers (`pg`, `mariadb`), datalakes on every backend
//! (`lake`), a protocol-level client and an in-process daemon (`client`),
//! dispatch fixtures — models trained here, tables to score, results read
//! back (`scoring`) — and the bare datalake read and write the benchmarks
//! compare against (`floor`), the sides of a benchmark run in child
//! processes: a real dispatch, the tuned Python pipeline (`bench`), real
//! Unix users for the access tests (`users`, with the `mld-probe` client),
//! the Prometheus endpoint as a scraper sees it (`metrics`), the real
//! console driven in tmux (`tmux`), and a one-node Slurm cluster for the
//! scale-out tests (`slurm`).
pub mod bench;
pub mod client;
pub mod floor;
pub mod lake;
mod local_server;
pub mod mariadb;
pub mod metrics;
pub mod pg;
pub mod process;
pub mod scoring;
pub mod slurm;
pub mod tmux;
pub mod users;
