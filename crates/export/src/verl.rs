//! verl's RL data: parquet rows in the schema Search-R1's preprocessing writes
//! (`scripts/data_process/nq_search.py` through `datasets.Dataset.to_parquet`), written a
//! batch at a time.
//!
//! Column types, as pyarrow reads them back (struct fields in name order, every field nullable,
//! Snappy compression — what `datasets` writes):
//!
//! ```text
//! data_source:  string
//! prompt:       list<struct<content: string, role: string>>
//! ability:      string
//! reward_model: struct<ground_truth: struct<target: list<string>>, style: string>
//! extra_info:   struct<id: string, index: int64, mask_num: int64, passage: string,
//!                      question: string, split: string>
//! ```
//!
//! `extra_info` is Search-R1's `{index, split}` plus the sample id, the question (for RAMP the
//! masked passage with its instruction), and for RAMP samples the original passage and the mask
//! count (null for questions).

use std::{fs::File, iter, path::Path, sync::Arc};

use arrow_array::{ArrayRef, Int64Array, ListArray, RecordBatch, StringArray, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use parquet::{arrow::ArrowWriter, basic::Compression, file::properties::WriterProperties};
use serde::{Deserialize, Serialize};

use formats::Staged;

use crate::ExportError;

/// Rows encoded together; with [`ROW_GROUP`], what bounds an export's memory.
const BATCH: usize = 1024;
/// Rows per parquet row group.
const ROW_GROUP: usize = 8192;

/// One RL example before it has its place (`index`) and side (`split`) in a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Row {
    pub data_source: String,
    /// The user turn, the template filled with the question.
    pub prompt: String,
    pub ability: String,
    /// `reward_model.ground_truth.target`: the masked spans in order, or the gold answers.
    pub target: Vec<String>,
    pub id: String,
    pub question: String,
    pub mask_num: Option<i64>,
    pub passage: Option<String>,
}

fn item(data_type: DataType) -> FieldRef {
    Arc::new(Field::new("item", data_type, true))
}

fn message_fields() -> Fields {
    Fields::from(vec![
        Field::new("content", DataType::Utf8, true),
        Field::new("role", DataType::Utf8, true),
    ])
}

fn ground_truth_fields() -> Fields {
    Fields::from(vec![Field::new(
        "target",
        DataType::List(item(DataType::Utf8)),
        true,
    )])
}

fn reward_fields() -> Fields {
    Fields::from(vec![
        Field::new(
            "ground_truth",
            DataType::Struct(ground_truth_fields()),
            true,
        ),
        Field::new("style", DataType::Utf8, true),
    ])
}

fn extra_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("index", DataType::Int64, true),
        Field::new("mask_num", DataType::Int64, true),
        Field::new("passage", DataType::Utf8, true),
        Field::new("question", DataType::Utf8, true),
        Field::new("split", DataType::Utf8, true),
    ])
}

/// The Arrow schema of every RL file.
pub fn verl_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("data_source", DataType::Utf8, true),
        Field::new(
            "prompt",
            DataType::List(item(DataType::Struct(message_fields()))),
            true,
        ),
        Field::new("ability", DataType::Utf8, true),
        Field::new("reward_model", DataType::Struct(reward_fields()), true),
        Field::new("extra_info", DataType::Struct(extra_fields()), true),
    ]))
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// `rows` as columns; the first row gets `extra_info.index` `first_index`.
fn batch(rows: &[Row], first_index: i64, split: &str) -> RecordBatch {
    let n = rows.len();
    let messages = StructArray::new(
        message_fields(),
        vec![
            strings(rows.iter().map(|r| r.prompt.as_str())),
            strings(iter::repeat_n("user", n)),
        ],
        None,
    );
    let prompt = ListArray::new(
        item(DataType::Struct(message_fields())),
        OffsetBuffer::from_lengths(iter::repeat_n(1, n)),
        Arc::new(messages),
        None,
    );
    let targets = ListArray::new(
        item(DataType::Utf8),
        OffsetBuffer::from_lengths(rows.iter().map(|r| r.target.len())),
        strings(
            rows.iter()
                .flat_map(|r| r.target.iter().map(String::as_str)),
        ),
        None,
    );
    let ground_truth = StructArray::new(ground_truth_fields(), vec![Arc::new(targets)], None);
    let reward_model = StructArray::new(
        reward_fields(),
        vec![Arc::new(ground_truth), strings(iter::repeat_n("rule", n))],
        None,
    );
    let extra_info = StructArray::new(
        extra_fields(),
        vec![
            strings(rows.iter().map(|r| r.id.as_str())),
            Arc::new(Int64Array::from_iter_values(
                (0..n as i64).map(|i| first_index + i),
            )),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.mask_num))),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.passage.as_deref()),
            )),
            strings(rows.iter().map(|r| r.question.as_str())),
            strings(iter::repeat_n(split, n)),
        ],
        None,
    );
    RecordBatch::try_new(
        verl_schema(),
        vec![
            strings(rows.iter().map(|r| r.data_source.as_str())),
            Arc::new(prompt),
            strings(rows.iter().map(|r| r.ability.as_str())),
            Arc::new(reward_model),
            Arc::new(extra_info),
        ],
    )
    .expect("the columns are built for the schema")
}

/// A parquet file being written through a staged file, [`BATCH`] rows at a time.
pub(crate) struct ParquetSink {
    staged: Staged,
    writer: ArrowWriter<File>,
    buffer: Vec<Row>,
    split: &'static str,
    rows: u64,
}

impl ParquetSink {
    /// Starts `dest` (staged) for rows of `split` (`"train"` or `"test"`).
    pub(crate) fn create(dest: &Path, split: &'static str) -> Result<ParquetSink, ExportError> {
        let staged = Staged::create(dest)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP))
            .build();
        let writer = ArrowWriter::try_new(staged.writer()?, verl_schema(), Some(properties))
            .map_err(|e| parquet_error(dest, e))?;
        Ok(ParquetSink {
            staged,
            writer,
            buffer: Vec::with_capacity(BATCH),
            split,
            rows: 0,
        })
    }

    pub(crate) fn push(&mut self, row: Row) -> Result<(), ExportError> {
        self.buffer.push(row);
        if self.buffer.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Rows pushed so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows + self.buffer.len() as u64
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let batch = batch(&self.buffer, self.rows as i64, self.split);
        self.writer
            .write(&batch)
            .map_err(|e| parquet_error(self.staged.dest(), e))?;
        self.rows += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Writes what is buffered and the footer; the staged file, ready to commit.
    pub(crate) fn finish(mut self) -> Result<Staged, ExportError> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| parquet_error(self.staged.dest(), e))?;
        Ok(self.staged)
    }
}

fn parquet_error(path: &Path, e: parquet::errors::ParquetError) -> ExportError {
    ExportError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use arrow_array::{Array, cast::AsArray, types::Int64Type};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    pub(crate) fn row(id: &str, mask_num: Option<i64>) -> Row {
        Row {
            data_source: "ramp".into(),
            prompt: format!("Answer … Question: {id}\n"),
            ability: "fact-reasoning".into(),
            target: (0..mask_num.unwrap_or(1))
                .map(|i| format!("span {i}"))
                .collect(),
            id: id.into(),
            question: id.into(),
            mask_num,
            passage: mask_num.map(|_| format!("passage of {id}")),
        }
    }

    /// Every batch of a parquet file, read back.
    pub(crate) fn read(path: &Path) -> Vec<RecordBatch> {
        let file = File::open(path).unwrap();
        ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
    }

    /// `extra_info.<field>` of every row of `path`, as strings.
    pub(crate) fn extra(path: &Path, field: &str) -> Vec<String> {
        read(path)
            .iter()
            .flat_map(|b| {
                let extra = b.column_by_name("extra_info").unwrap().as_struct();
                let column = extra.column_by_name(field).unwrap();
                (0..column.len())
                    .map(|i| match column.data_type() {
                        DataType::Int64 if column.is_null(i) => "null".to_string(),
                        DataType::Int64 => column.as_primitive::<Int64Type>().value(i).to_string(),
                        _ if column.is_null(i) => "null".to_string(),
                        _ => column.as_string::<i32>().value(i).to_string(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn rows_round_trip_through_parquet_in_batches_with_running_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("train.parquet");
        let mut sink = ParquetSink::create(&dest, "train").unwrap();
        let n = BATCH * 2 + 5;
        for i in 0..n {
            let mask_num = if i % 2 == 0 {
                Some(1 + (i % 4) as i64)
            } else {
                None
            };
            sink.push(row(&format!("s{i}"), mask_num)).unwrap();
        }
        assert_eq!(sink.rows(), n as u64);
        assert!(!dest.exists(), "nothing in place before the commit");
        sink.finish().unwrap().commit().unwrap();

        let batches = read(&dest);
        assert_eq!(batches[0].schema(), verl_schema());
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), n);
        let index = extra(&dest, "index");
        assert_eq!(index[0], "0");
        assert_eq!(index[n - 1], (n - 1).to_string());
        assert_eq!(extra(&dest, "split")[n - 1], "train");
        let mask_num = extra(&dest, "mask_num");
        assert_eq!((mask_num[2].as_str(), mask_num[3].as_str()), ("3", "null"));
        assert_eq!(extra(&dest, "passage")[3], "null");

        let b = &batches[0];
        let prompt = b
            .column_by_name("prompt")
            .unwrap()
            .as_list::<i32>()
            .value(0);
        let message = prompt.as_struct();
        assert_eq!(
            message
                .column_by_name("role")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "user"
        );
        let reward = b.column_by_name("reward_model").unwrap().as_struct();
        assert_eq!(
            reward
                .column_by_name("style")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "rule"
        );
        assert_eq!(targets(b)[2], ["span 0", "span 1", "span 2"]);
    }

    /// Each row's `reward_model.ground_truth.target`, as written.
    pub(crate) fn targets(b: &arrow_array::RecordBatch) -> Vec<Vec<String>> {
        use arrow_array::{Array, cast::AsArray};
        let gt = b
            .column_by_name("reward_model")
            .unwrap()
            .as_struct()
            .column_by_name("ground_truth")
            .unwrap()
            .as_struct()
            .column_by_name("target")
            .unwrap()
            .as_list::<i32>()
            .clone();
        (0..gt.len())
            .map(|i| {
                gt.value(i)
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }
}
