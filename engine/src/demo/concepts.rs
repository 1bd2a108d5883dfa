//! The demo world's grammar: attributes, their concept values, and how an image draws them.

use rand::Rng;

/// One attribute of a picture and the concept values it can take.
pub struct Attribute {
    pub name: &'static str,
    pub values: &'static [&'static str],
    /// Whether a picture may lack this attribute (it then shows the plain default: a solid
    /// texture, no frame, a centred layout, a sharp picture).
    pub optional: bool,
    /// How strongly a concept of this attribute shows in the embedding, relative to the shape.
    pub salience: f32,
    /// Whether it belongs to the drawn object (shape, colour, texture), and so fades with it
    /// when the object is small or the picture blurred.
    pub on_object: bool,
}

pub const SHAPES: &[&str] = &[
    "circle", "square", "triangle", "star", "hexagon", "heart", "cross", "diamond", "crescent",
    "ring",
];
pub const COLOURS: &[&str] = &[
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "brown",
];

pub const ATTRIBUTES: &[Attribute] = &[
    Attribute {
        name: "shape",
        values: SHAPES,
        optional: false,
        salience: 1.0,
        on_object: true,
    },
    Attribute {
        name: "colour",
        values: COLOURS,
        optional: false,
        salience: 0.9,
        on_object: true,
    },
    Attribute {
        name: "size",
        values: &["tiny", "small", "medium", "large", "huge"],
        optional: false,
        salience: 0.5,
        on_object: false,
    },
    Attribute {
        name: "texture",
        values: &[
            "striped",
            "dotted",
            "checkered",
            "gradient",
            "outlined",
            "wavy",
        ],
        optional: true,
        salience: 0.6,
        on_object: true,
    },
    Attribute {
        name: "count",
        values: &["one", "two", "three", "four", "five"],
        optional: false,
        salience: 0.5,
        on_object: false,
    },
    Attribute {
        name: "background",
        values: &[
            "sky", "grass", "water", "night", "sand", "snow", "forest", "sunset", "brick", "wood",
            "clouds", "fog", "space", "tiles", "lava",
        ],
        optional: false,
        salience: 0.8,
        on_object: false,
    },
    Attribute {
        name: "position",
        values: &["left", "right", "top", "bottom"],
        optional: true,
        salience: 0.4,
        on_object: false,
    },
    Attribute {
        name: "frame",
        values: &["white frame", "black frame", "gold frame"],
        optional: true,
        salience: 0.5,
        on_object: false,
    },
    Attribute {
        name: "style",
        values: &["blurry", "pixelated", "faded"],
        optional: true,
        salience: 0.5,
        on_object: false,
    },
];

/// Chance that an optional attribute is present in a picture.
const OPTIONAL_PRESENCE: f64 = 0.5;

/// Index of the attribute whose name is `name`.
pub fn attribute_index(name: &str) -> Option<usize> {
    ATTRIBUTES.iter().position(|a| a.name == name)
}

/// Every concept value, attribute by attribute: the ground-truth features of the demo world.
pub fn all_concepts() -> Vec<(usize, &'static str)> {
    ATTRIBUTES
        .iter()
        .enumerate()
        .flat_map(|(a, attr)| attr.values.iter().map(move |v| (a, *v)))
        .collect()
}

/// A picture's concepts: for each attribute, the chosen value's index (None when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scene {
    pub values: Vec<Option<usize>>,
}

impl Scene {
    pub fn sample(rng: &mut impl Rng) -> Self {
        let values = ATTRIBUTES
            .iter()
            .map(|a| {
                let present = !a.optional || rng.random_bool(OPTIONAL_PRESENCE);
                present.then(|| rng.random_range(0..a.values.len()))
            })
            .collect();
        Scene { values }
    }

    /// The value of attribute `name`, if present.
    pub fn value(&self, name: &str) -> Option<&'static str> {
        let a = attribute_index(name)?;
        self.values[a].map(|v| ATTRIBUTES[a].values[v])
    }

    /// Present concepts as (attribute index, value).
    pub fn concepts(&self) -> impl Iterator<Item = (usize, &'static str)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter_map(|(a, v)| v.map(|v| (a, ATTRIBUTES[a].values[v])))
    }

    pub fn shape(&self) -> &'static str {
        self.value("shape").expect("every scene has a shape")
    }

    pub fn colour(&self) -> &'static str {
        self.value("colour").expect("every scene has a colour")
    }

    /// How visible the object is (1 for a medium, sharp one): small objects and blurred,
    /// pixelated or faded pictures show their shape, colour and texture more weakly, as real
    /// photos do; an SAE's L1 penalty drops such weak evidence first.
    pub fn visibility(&self) -> f32 {
        let size = match self.value("size") {
            Some("tiny") => 0.3,
            Some("small") => 0.55,
            Some("large") => 1.0,
            Some("huge") => 1.1,
            _ => 0.8,
        };
        let style = match self.value("style") {
            Some("blurry") => 0.6,
            Some("pixelated") => 0.7,
            Some("faded") => 0.75,
            _ => 1.0,
        };
        size * style
    }

    /// The `demo100` class name, e.g. "red star".
    pub fn label(&self) -> String {
        format!("{} {}", self.colour(), self.shape())
    }

    /// A caption in words, e.g. "two large striped red stars on grass, at the top".
    pub fn caption(&self) -> String {
        let count = self.value("count").unwrap_or("one");
        let plural = count != "one";
        let mut words = vec![
            count.to_string(),
            self.value("size").unwrap_or("medium").into(),
        ];
        words.extend(self.value("texture").map(String::from));
        words.push(self.colour().into());
        let shape = self.shape();
        words.push(if plural {
            format!("{shape}s")
        } else {
            shape.into()
        });
        let mut caption = format!(
            "{} on {}",
            words.join(" "),
            self.value("background").unwrap_or("sky")
        );
        if let Some(p) = self.value("position") {
            caption += &format!(", at the {p}");
        }
        for extra in [self.value("frame"), self.value("style")]
            .into_iter()
            .flatten()
        {
            caption += &format!(", {extra}");
        }
        caption
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn grammar_has_at_least_sixty_unique_concepts() {
        let all = all_concepts();
        assert!(all.len() >= 60, "{}", all.len());
        let mut names: Vec<_> = all.iter().map(|c| c.1).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len(), "concept names must be unique");
    }

    #[test]
    fn scenes_always_have_shape_and_colour() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let s = Scene::sample(&mut rng);
            assert!(SHAPES.contains(&s.shape()) && COLOURS.contains(&s.colour()));
            assert!(s.caption().contains(s.colour()));
        }
    }
}
