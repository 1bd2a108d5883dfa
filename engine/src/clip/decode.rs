//! Pictures as open_clip's loaders open them with Pillow, so preprocessing can treat each mode
//! as Pillow does: palette pictures (PNG colour type 3, GIF) are resized nearest-neighbour,
//! pictures with alpha are resized premultiplied, CMYK is converted to RGB by the decoder.
//!
//! Two deliberate differences: 16-bit pictures are scaled to 8 bits (Pillow saturates 16-bit
//! grey at 255, a white picture), and, as in open_clip, EXIF orientation is not applied.

use std::path::Path;

use image::{DynamicImage, ImageReader};

use crate::error::{Error, Result};

/// A decoded picture, with what preprocessing must know of its source format.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub image: DynamicImage,
    /// The file stores palette indices (Pillow mode "P").
    pub palette: bool,
}

impl From<DynamicImage> for Decoded {
    fn from(image: DynamicImage) -> Self {
        Decoded {
            image,
            palette: false,
        }
    }
}

/// PNG's signature, and the offset of the IHDR colour type byte.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const PNG_COLOUR_TYPE_AT: usize = 25;
const PNG_PALETTE: u8 = 3;

fn is_palette(bytes: &[u8]) -> bool {
    let png =
        bytes.starts_with(PNG_SIGNATURE) && bytes.get(PNG_COLOUR_TYPE_AT) == Some(&PNG_PALETTE);
    png || bytes.starts_with(b"GIF8")
}

/// Decodes an encoded picture (PNG, JPEG, GIF, WebP, BMP), or says why it cannot.
pub fn decode_bytes(bytes: &[u8]) -> std::result::Result<Decoded, String> {
    let image = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())?;
    Ok(Decoded {
        image,
        palette: is_palette(bytes),
    })
}

/// Reads and decodes an image file, naming it when it cannot be read.
pub fn open(path: &Path) -> Result<Decoded> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("could not read", path, e))?;
    decode_bytes(&bytes)
        .map_err(|why| Error::bad_file(path, format!("is not a readable image ({why})")))
}
