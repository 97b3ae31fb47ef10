//! Scale-out: one dispatch's rows scored in shards, by `mld worker`
//! processes on this machine (`local`) or as one Slurm array job (`slurm`).
//!
//! Owns nothing long-lived: a sharded dispatch is followed by the blocking
//! thread it runs on ([`run::execute`], started by the dispatch service like
//! any pipeline). Receives the dispatch's plan (job, datalake, pinned model,
//! executor); emits the dispatch's events and its shards (`store`, in the
//! event log), the spool a worker reads (`spool`), and tasks on the
//! executor (`executor`). The worker's side is [`worker`]: it runs the same
//! scoring code as an in-daemon dispatch, on one key range.

pub mod executor;
pub mod run;
pub mod spool;
pub mod store;
pub mod worker;
