//! What the Rewriter's reply reader promises on any text, as a check that panics when broken:
//! the property test in `multi` runs it on generated replies and the fuzz target (`fuzz/`) on
//! what libFuzzer makes, so the promise is written once.
//!
//! Built for this crate's tests and behind the `invariants` feature; never used by the agents.

use student::turn::clean_queries;

use crate::multi::read_queries;

/// The queries read from `reply` are clean, and written back as the JSON the Rewriter is asked
/// for they read the same: the reader is a fixed point on its own output.
pub fn rewriter_reply(reply: &str, subquery: &str) {
    let (queries, _) = read_queries(reply, subquery);
    assert_eq!(clean_queries(&queries), queries);
    let written = serde_json::json!({ "queries": queries }).to_string();
    assert_eq!(read_queries(&written, subquery).0, queries, "{written}");
}
