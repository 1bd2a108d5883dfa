//! Zero-shot classifiers from prompts, as open_clip builds them: each class's weight is the
//! L2-normalised mean of its L2-normalised template embeddings.

use super::task::TaskSpec;
use crate::demo::ConceptEncoder;
use crate::error::Result;
use crate::text_encoder::TextEncoder;
use crate::unit::normalise;

/// The demo world's prompt encoder.
pub struct DemoText(pub ConceptEncoder);

impl TextEncoder for DemoText {
    fn model(&self) -> String {
        crate::demo::MODEL_NAME.into()
    }

    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn embed(&self, prompts: &[String]) -> Result<Vec<f32>> {
        Ok(prompts.iter().flat_map(|p| self.0.embed_text(p)).collect())
    }
}

/// Unit class weights. weights: [classes, dim]
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    pub classes: Vec<String>,
    pub dim: usize,
    pub weights: Vec<f32>,
}

impl Classifier {
    pub fn build(task: &TaskSpec, encoder: &dyn TextEncoder) -> Result<Self> {
        let dim = encoder.dim();
        let mut weights = Vec::with_capacity(task.classes.len() * dim);
        for class in &task.classes {
            let prompts = task.prompts(class);
            let embedded = encoder.embed(&prompts)?;
            let mut mean = vec![0.0f32; dim];
            for row in embedded.chunks(dim) {
                let mut unit = row.to_vec();
                normalise(&mut unit);
                mean.iter_mut()
                    .zip(&unit)
                    .for_each(|(m, u)| *m += u / prompts.len() as f32);
            }
            normalise(&mut mean);
            weights.extend(mean);
        }
        Ok(Classifier {
            classes: task.classes.clone(),
            dim,
            weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl TextEncoder for Fixed {
        fn model(&self) -> String {
            "fixed".into()
        }
        fn dim(&self) -> usize {
            2
        }
        fn embed(&self, prompts: &[String]) -> Result<Vec<f32>> {
            // "a X." → (2, 0); "the X." → (0, 1), whatever X is: the mean of their unit
            // vectors is (0.5, 0.5), normalised to (0.7071, 0.7071).
            Ok(prompts
                .iter()
                .flat_map(|p| {
                    if p.starts_with("a ") {
                        [2.0, 0.0]
                    } else {
                        [0.0, 1.0]
                    }
                })
                .collect())
        }
    }

    #[test]
    fn class_weight_is_the_normalised_mean_of_normalised_prompts() {
        let task = TaskSpec {
            name: "t".into(),
            classes: vec!["x".into()],
            templates: vec!["a {c}.".into(), "the {c}.".into()],
            source: super::super::task::Source::Set,
        };
        let c = Classifier::build(&task, &Fixed).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((c.weights[0] - h).abs() < 1e-6 && (c.weights[1] - h).abs() < 1e-6);
    }
}
