//! One module per subcommand: its flags (`Args`) and its `run`, which turns the flags into the
//! library's configuration, calls the library and prints the summary.

pub mod eval;
pub mod evolve;
pub mod export;
pub mod index;
pub mod ingest;
pub mod llm;
pub mod merge;
pub mod ramp;
pub mod reward;
pub mod search;
pub mod serve;
pub mod trajectories;
pub mod ui;
