//! Progress bars and summary lines, the same look for every long-running command.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over a known number of items, or a spinner with a running count when the total is
/// unknown (streamed input). Hidden when stderr is not a terminal.
pub fn bar(total: Option<u64>, unit: &str) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, eta {{eta}}) {{msg}}"
            ))
            .expect("static template"),
        ),
        None => ProgressBar::no_length().with_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} [{{elapsed_precise}}] {{human_pos}} {unit} ({{per_sec}}) {{msg}}"
            ))
            .expect("static template"),
        ),
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
