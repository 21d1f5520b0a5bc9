//! End-to-end tests of the `masksearch` binary: the real CLI, the real index, real servers on
//! free ports and the real local model. One test binary (each separate one would link the whole
//! dependency tree, llama.cpp included, again); one module per command.

mod backends;
mod common;
mod dense;
mod disk_full;
mod eval;
mod evolve;
mod export;
mod index;
mod ingest;
mod kills;
mod llm;
mod ramp;
mod ray;
mod reward;
mod serve;
mod shards;
mod soak;
mod trajectories;
mod ui;
mod verl;
