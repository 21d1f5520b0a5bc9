//! The fields of a masksearch index.

use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::Analyzer;

/// `id` (exact, stored), `title` and `text` (analysed, stored), `contents` (stored only, set
/// when the input's own Search-R1 `contents` string would not be rebuilt exactly) and `ord`
/// (the passage's position in the input, which the index is sorted by).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub title: Field,
    pub text: Field,
    /// Absent in indexes built before the field existed.
    pub contents: Option<Field>,
    /// Absent in indexes built before the field existed.
    pub ord: Option<Field>,
}

/// The field documents are sorted by: their position in the input, so that a document's
/// address, and with it the order of passages that tie on score, is the same in every build of
/// the same input, whatever the indexing threads did.
pub(crate) const ORD: &str = "ord";

pub(crate) fn schema(analyzer: Analyzer) -> Schema {
    let mut builder = Schema::builder();
    let analysed = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer.tokenizer_name())
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    builder.add_text_field("id", STRING | STORED);
    builder.add_text_field("title", analysed.clone());
    builder.add_text_field("text", analysed);
    builder.add_text_field("contents", STORED);
    builder.add_u64_field(ORD, FAST);
    builder.build()
}

impl Fields {
    /// The fields of `schema` (an index's own schema, as built by [`schema`]).
    pub(crate) fn of(schema: &Schema) -> tantivy::Result<Fields> {
        Ok(Fields {
            id: schema.get_field("id")?,
            title: schema.get_field("title")?,
            text: schema.get_field("text")?,
            contents: schema.get_field("contents").ok(),
            ord: schema.get_field(ORD).ok(),
        })
    }
}
