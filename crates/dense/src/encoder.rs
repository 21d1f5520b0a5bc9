//! A BERT-family sentence encoder on the CPU: the tokenizer and weights of a Hugging Face folder
//! (`config.json`, `model.safetensors`, `tokenizer.json`, and sentence-transformers' files when
//! present), run by candle, pooled and normalised as sentence-transformers does.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use rayon::prelude::*;
use serde_json::Value;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::DenseError;
use crate::bert::Bert;

/// Sets up this process for the encoder: 1.7× the passages a second on the demo's passages
/// (33 → 56 a second on 2 cores, `cargo bench -p dense --bench encode`), the vectors unchanged.
///
/// - candle runs a forward pass's element-wise steps (GELU, softmax, sums) on a pool of its own,
///   whose workers spin between steps. With batches encoded side by side on rayon
///   ([`Encoder::encode_sorted`]) the batches take turns at that pool, and its spinning worker
///   takes a core from them (a fifth of the CPU in `perf`). With one thread (its
///   `CANDLE_NUM_THREADS`, unless set already) each step runs on the batch's own thread; matrix
///   products still spread over rayon's threads.
/// - Each step's output is a new buffer of a few MB. glibc maps buffers that large from the
///   kernel and gives them back when freed (or trims its heaps of them), so every step faulted in
///   fresh zeroed pages (a tenth of the CPU in the kernel). Up to 32 MiB they now come from the
///   heap, and up to 128 MiB free at a heap's top stays there.
///
/// # Safety
/// It writes the environment: call it first in `main`, while the process has one thread.
#[allow(unsafe_code)]
pub unsafe fn prepare_process() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists to read the environment (the caller's promise).
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc's thresholds; no allocation is in flight on another thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

/// How token vectors become one text vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The mean of the text's tokens (padding left out): MiniLM, e5.
    Mean,
    /// The first token's vector: bge.
    Cls,
}

/// A loaded encoder. Texts become unit vectors, so that a dot product is their cosine.
pub struct Encoder {
    dir: PathBuf,
    model: Bert,
    tokenizer: Tokenizer,
    pooling: Pooling,
    dim: usize,
    max_length: usize,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("dir", &self.dir)
            .field("pooling", &self.pooling)
            .field("dim", &self.dim)
            .field("max_length", &self.max_length)
            .finish()
    }
}

/// The JSON file `name` in `dir`, if there is one.
fn json(dir: &Path, name: &str) -> Result<Option<Value>, DenseError> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| DenseError::io(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| DenseError::model(dir, format!("{name}: {e}")))
}

impl Encoder {
    /// Loads the model in `dir`. Pooling comes from sentence-transformers' `1_Pooling/config.json`
    /// (mean when there is none), the longest input from its `sentence_bert_config.json` (else
    /// the model's position limit): as sentence-transformers encodes, whatever `tokenizer.json`
    /// says of padding and truncation (MiniLM's says pad every text to 128).
    pub fn load(dir: &Path) -> Result<Encoder, DenseError> {
        let config: Config = serde_json::from_value(
            json(dir, "config.json")?
                .ok_or_else(|| DenseError::model(dir, "no config.json".into()))?,
        )
        .map_err(|e| DenseError::model(dir, format!("config.json: {e}")))?;
        let pooling = match json(dir, "1_Pooling/config.json")? {
            Some(p) if p["pooling_mode_cls_token"] == true => Pooling::Cls,
            _ => Pooling::Mean,
        };
        let max_length = json(dir, "sentence_bert_config.json")?
            .and_then(|c| c["max_seq_length"].as_u64())
            .map_or(config.max_position_embeddings, |n| n as usize)
            .min(config.max_position_embeddings);
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).map_err(|e| DenseError::io(&weights, e))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
            .map_err(|e| DenseError::model(dir, e.to_string()))?;
        let model = Bert::load(vb, &config).map_err(|e| DenseError::model(dir, e.to_string()))?;
        let file = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&file).map_err(|e| DenseError::model(dir, e.to_string()))?;
        let padding = PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..tokenizer.get_padding().cloned().unwrap_or_default()
        };
        tokenizer.with_padding(Some(padding));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| DenseError::model(dir, e.to_string()))?;
        Ok(Encoder {
            dir: dir.to_path_buf(),
            model,
            tokenizer,
            pooling,
            dim: config.hidden_size,
            max_length,
        })
    }

    /// The model's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The length of its vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The vectors of `texts`, in order, encoded `batch` at a time from the shortest to the
    /// longest.
    pub fn encode_sorted(
        &self,
        texts: &[String],
        batch: usize,
    ) -> Result<Vec<Vec<f32>>, DenseError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        // Batches side by side: candle spreads a batch's matrix products over the cores, and runs
        // the rest of the forward pass (GELU, softmax, layer norms, copies) on one.
        let chunks: Vec<&[usize]> = order.chunks(batch).collect();
        let encoded: Vec<Vec<Vec<f32>>> = chunks
            .par_iter()
            .map(|chunk| {
                let refs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
                self.encode(&refs)
            })
            .collect::<Result<_, _>>()?;
        let mut vectors = vec![Vec::new(); texts.len()];
        for (chunk, rows) in chunks.iter().zip(encoded) {
            for (&i, vector) in chunk.iter().zip(rows) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    /// The unit vectors of `texts`, in order, computed in one batch (pass a few dozen at a time:
    /// every text is padded to the longest).
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, DenseError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let failed = |e: &dyn std::fmt::Display| DenseError::model(&self.dir, e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| failed(&e))?;
        let rows = |get: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, DenseError> {
            let rows: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(get(e), &Device::Cpu))
                .collect::<Result<_, _>>()
                .map_err(|e| failed(&e))?;
            Tensor::stack(&rows, 0).map_err(|e| failed(&e))
        };
        let ids = rows(&|e| e.get_ids())?;
        let types = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let pooled = (|| {
            let tokens = self.model.forward(&ids, &types, &mask)?;
            let pooled = match self.pooling {
                Pooling::Cls => tokens.narrow(1, 0, 1)?.squeeze(1)?,
                Pooling::Mean => {
                    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                    let summed = tokens.broadcast_mul(&mask)?.sum(1)?;
                    summed.broadcast_div(&mask.sum(1)?)?
                }
            };
            let norms = pooled.sqr()?.sum_keepdim(1)?.sqrt()?;
            pooled.broadcast_div(&norms)?.to_vec2::<f32>()
        })()
        .map_err(|e| failed(&e))?;
        Ok(pooled)
    }
}
