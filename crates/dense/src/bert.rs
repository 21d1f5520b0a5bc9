//! A BERT encoder's forward pass (the layers of Hugging Face's `BertModel`, no pooler), written
//! over candle's operations for the CPU: candle-transformers' `BertModel` computes the same, but
//! its exact GELU calls a scalar `erf` per value (a fifth of the encoder's time in `perf`) and its
//! softmax takes five passes over the attention scores. Here the GELU is one pass with a rational
//! `erf` ([`erf`]), the softmax candle's fused one, and the query, key and value projections one
//! matrix product.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};

/// erf to within 4e-7 (f32 arithmetic; the f64 fit is within 4e-9): `x·P(x²)/Q(x²)` with `x`
/// clamped to ±4 (where erf is 1 to within 2e-8), a rational fit of erf on [0, 4] by weighted
/// least squares. Branch-free, so a slice of them vectorises.
fn erf(x: f32) -> f32 {
    const P: [f32; 7] = [
        std::f32::consts::FRAC_2_SQRT_PI,
        1.846_422e-1,
        5.432_954_5e-2,
        3.837_554_5e-3,
        3.828_970_4e-4,
        4.787_274e-6,
        -1.369_479_8e-8,
    ];
    const Q: [f32; 6] = [
        1.0,
        4.969_684_5e-1,
        1.138_034_4e-1,
        1.545_024_2e-2,
        1.309_46e-3,
        6.407_436e-5,
    ];
    let x = x.clamp(-4.0, 4.0);
    let t = x * x;
    let p = P.iter().rev().fold(0.0, |acc, &c| acc * t + c);
    let q = Q.iter().rev().fold(0.0, |acc, &c| acc * t + c);
    (x * p / q).clamp(-1.0, 1.0)
}

/// The exact GELU, `x · (1 + erf(x / √2)) / 2`, of a contiguous f32 tensor in one pass.
struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-rational-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("gelu: a contiguous f32 tensor is expected");
        };
        let out: Vec<f32> = values[start..end]
            .iter()
            .map(|&x| 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)))
            .collect();
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

struct Layer {
    /// The query, key and value projections side by side: 3 × hidden outputs.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    up: Linear,
    down: Linear,
    norm: LayerNorm,
}

/// A BERT encoder's weights, from a Hugging Face `model.safetensors` (with or without the
/// `bert.` prefix).
pub(crate) struct Bert {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    act: HiddenAct,
}

impl Bert {
    pub(crate) fn load(vb: VarBuilder, config: &Config) -> Result<Bert> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let hidden = config.hidden_size;
        let norm = |vb: VarBuilder| candle_nn::layer_norm(hidden, config.layer_norm_eps, vb);
        let embeddings = vb.pp("embeddings");
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let vb = vb.pp(format!("encoder.layer.{i}"));
                let attention = vb.pp("attention");
                let projection = |name: &str| -> Result<(Tensor, Tensor)> {
                    let vb = attention.pp("self").pp(name);
                    Ok((vb.get((hidden, hidden), "weight")?, vb.get(hidden, "bias")?))
                };
                let [(qw, qb), (kw, kb), (vw, vb_)] = [
                    projection("query")?,
                    projection("key")?,
                    projection("value")?,
                ];
                Ok(Layer {
                    qkv: Linear::new(
                        Tensor::cat(&[qw, kw, vw], 0)?,
                        Some(Tensor::cat(&[qb, kb, vb_], 0)?),
                    ),
                    attention_out: candle_nn::linear(hidden, hidden, attention.pp("output.dense"))?,
                    attention_norm: norm(attention.pp("output.LayerNorm"))?,
                    up: candle_nn::linear(
                        hidden,
                        config.intermediate_size,
                        vb.pp("intermediate.dense"),
                    )?,
                    down: candle_nn::linear(
                        config.intermediate_size,
                        hidden,
                        vb.pp("output.dense"),
                    )?,
                    norm: norm(vb.pp("output.LayerNorm"))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Bert {
            words: candle_nn::embedding(
                config.vocab_size,
                hidden,
                embeddings.pp("word_embeddings"),
            )?,
            positions: candle_nn::embedding(
                config.max_position_embeddings,
                hidden,
                embeddings.pp("position_embeddings"),
            )?,
            types: candle_nn::embedding(
                config.type_vocab_size,
                hidden,
                embeddings.pp("token_type_embeddings"),
            )?,
            norm: norm(embeddings.pp("LayerNorm"))?,
            layers,
            heads: config.num_attention_heads,
            act: config.hidden_act,
        })
    }

    /// The last layer's token vectors (batch × tokens × hidden) of `ids` (batch × tokens, u32),
    /// their token types, and `mask` (1 for a real token, 0 for padding).
    pub(crate) fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        let positions = Tensor::arange(0u32, tokens as u32, ids.device())?;
        let x = (self.words.forward(ids)? + self.types.forward(types)?)?
            .broadcast_add(&self.positions.forward(&positions)?)?;
        let mut x = self.norm.forward(&x)?;
        // Padding gets the lowest float added to its scores, as Hugging Face's BERT does.
        let padding = ((1.0 - mask.to_dtype(DType::F32)?)? * f64::from(f32::MIN))?
            .reshape((batch, 1, 1, tokens))?;
        let hidden = x.dim(2)?;
        let head = hidden / self.heads;
        let scale = 1.0 / (head as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer
                .qkv
                .forward(&x)?
                .reshape((batch, tokens, 3, self.heads, head))?
                .permute((2, 0, 3, 1, 4))?;
            let [q, k, v] = [0, 1, 2].map(|i| qkv.get(i)?.contiguous());
            let scores = (q?.matmul(&k?.t()?)? * scale)?.broadcast_add(&padding)?;
            let attended = candle_nn::ops::softmax_last_dim(&scores)?
                .matmul(&v?)?
                .transpose(1, 2)?
                .reshape((batch, tokens, hidden))?;
            let y = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&attended)? + &x)?)?;
            let up = layer.up.forward(&y)?;
            let up = match self.act {
                HiddenAct::Gelu => up.apply_op1_no_bwd(&Gelu)?,
                HiddenAct::GeluApproximate => up.gelu()?,
                HiddenAct::Relu => up.relu()?,
            };
            x = layer.norm.forward(&(layer.down.forward(&up)? + &y)?)?;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rational_erf_is_within_4e_7_of_erf_everywhere() {
        // candle's scalar erf (musl's, within an ulp) as the reference, over ±6 and the extremes.
        let worst = (-60_000..=60_000)
            .map(|i| i as f32 / 10_000.0)
            .chain([f32::MIN, -1e10, 1e10, f32::MAX])
            .map(|x| (erf(x) - candle_core::cpu::erf::erf_f32(x)).abs())
            .fold(0f32, f32::max);
        assert!(worst < 4e-7, "off by {worst}");
        assert_eq!(erf(0.0), 0.0);
    }
}
