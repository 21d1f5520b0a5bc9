//! `masksearch search`: query an index from the command line.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The query: words, as a model would write them (see --query-syntax).
    query: String,
    /// Number of hits.
    #[arg(short, long, default_value_t = 5)]
    k: usize,
    #[arg(long, default_value = "work/index")]
    index: PathBuf,
    /// Print hits as JSON lines (`{"id","title","text","score"}`) instead of text.
    #[arg(long)]
    json: bool,
    /// Read the query as tantivy query syntax ("phrases", title:x, +must, -not).
    #[arg(long)]
    query_syntax: bool,
    #[command(flatten)]
    retriever: crate::search_backend::RetrieverArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mode = super::serve::query_mode(args.query_syntax);
    let searcher = args.retriever.open(&args.index, mode)?;
    let hits = tokio::runtime::Runtime::new()?.block_on(searcher.search(&args.query, args.k))?;
    if hits.is_empty() {
        eprintln!("no hits for {:?}", args.query);
    }
    for (rank, hit) in hits.iter().enumerate() {
        if args.json {
            println!("{}", serde_json::to_string(hit)?);
        } else {
            println!(
                "{:>2}. {:>7.3}  {} [{}]\n    {}",
                rank + 1,
                hit.score,
                hit.passage.title,
                hit.passage.id,
                snippet(&hit.passage.text, 240)
            );
        }
    }
    Ok(())
}

/// The first `max` characters of `text`, cut at a word boundary.
fn snippet(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut} …")
}
