//! Unit vectors: L2 normalisation of a row, and of a tensor's rows. CLIP embeddings, decoder
//! directions, class prototypes and steered embeddings are all compared at unit length.

use candle_core::{Device, Tensor, D};

use crate::error::Result;

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// As [`unit_rows`], with each row's length before normalising, in f32. x: [b, d] →
/// (b·d values, b lengths)
pub fn unit_rows_and_norms(x: &Tensor) -> Result<(Vec<f32>, Vec<f32>)> {
    let x = x.to_dtype(candle_core::DType::F32)?;
    let norms = x
        .sqr()?
        .sum(D::Minus1)?
        .sqrt()?
        .to_device(&Device::Cpu)?
        .to_vec1::<f32>()?;
    Ok((unit_rows(&x)?, norms))
}

/// Unit-length rows copied to the CPU, flattened. x: [b, d] → b·d values
pub fn unit_rows(x: &Tensor) -> Result<Vec<f32>> {
    Ok(normalise_rows(x)?
        .to_device(&Device::Cpu)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// L2-normalises rows. x: [b, d]
pub fn normalise_rows(x: &Tensor) -> Result<Tensor> {
    Ok(x.broadcast_div(&x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?)?)
}
