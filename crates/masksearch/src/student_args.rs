//! The flags of every command that runs a student or a teacher over tasks (`trajectories`,
//! `evolve`, `eval`): parsed and checked once.

use agent::{Mode, RuntimeConfig};
use anyhow::{Context as _, bail};

/// How searches are run and answered, and the run's seed and day.
#[derive(clap::Args, Debug, Clone)]
pub struct StudentArgs {
    /// Searches allowed before the final, search-disabled turn (the agent's turns, the
    /// multi-agent teacher's rounds).
    #[arg(long, default_value_t = 4)]
    pub max_turns: usize,
    /// Documents per search, after merging a search's queries: what a student reads, so give
    /// every command that trains or runs the same student the same (3 is Search-R1's; the
    /// original teacher merged to 10).
    #[arg(long, default_value_t = student::DEFAULT_TOPK)]
    pub topk: usize,
    /// How a student model is talked to: turns (information as user turns, as the SFT export
    /// writes them) or continuation (one growing assistant message, as Search-R1 rolls out).
    #[arg(long, default_value = "turns", value_parser = |s: &str| s.parse::<Mode>())]
    pub mode: Mode,
    /// The student format a student model was trained on: tags (`<search>` text, `export sft
    /// --style tags`) or tools (`web_search` calls over the OpenAI tools API, `--style tools`).
    #[arg(long, default_value = "tags", value_parser = |s: &str| s.parse::<student::Style>())]
    pub student_style: student::Style,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The day the random "current time" of system messages counts back from [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<String>,
}

impl StudentArgs {
    /// `--today`, or today.
    pub fn day(&self) -> anyhow::Result<time::Date> {
        match &self.today {
            Some(day) => time::Date::parse(
                day,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .with_context(|| format!("--today {day:?}: expected YYYY-MM-DD")),
            None => Ok(time::OffsetDateTime::now_utc().date()),
        }
    }

    /// The runtime these flags describe (the rest at its defaults).
    pub fn runtime(&self) -> anyhow::Result<RuntimeConfig> {
        if self.max_turns == 0 {
            bail!("--max-turns must be at least 1");
        }
        Ok(RuntimeConfig {
            max_turns: self.max_turns,
            topk: self.topk,
            mode: self.mode,
            style: self.student_style,
            today: Some(self.day()?),
            ..RuntimeConfig::default()
        })
    }
}
