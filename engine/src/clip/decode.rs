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

/// JPEG markers: start of image, end of image, start of scan.
const JPEG_SOI: [u8; 2] = [0xff, 0xd8];
const JPEG_EOI: [u8; 2] = [0xff, 0xd9];
const JPEG_SOS: u8 = 0xda;

/// A JPEG cut off before its end-of-image marker. The decoder fills the missing rows with
/// grey; Pillow refuses the file ("image file is truncated"), and so do we. The segments before
/// the first scan are walked by their lengths, as an EXIF thumbnail holds an end marker of its
/// own; after it, a marker in the data is always a real one.
fn jpeg_truncated(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&JPEG_SOI) {
        return false;
    }
    let mut i = JPEG_SOI.len();
    loop {
        while bytes.get(i) == Some(&0xff) && bytes.get(i + 1) == Some(&0xff) {
            i += 1;
        }
        let (Some(&0xff), Some(&marker)) = (bytes.get(i), bytes.get(i + 1)) else {
            return true;
        };
        if marker == JPEG_SOS {
            // From the end, where a whole file's marker is.
            return !bytes[i..].windows(2).rev().any(|w| w == JPEG_EOI);
        }
        let Some(len) = bytes.get(i + 2..i + 4) else {
            return true;
        };
        i += 2 + u16::from_be_bytes([len[0], len[1]]) as usize;
    }
}

/// Decodes an encoded picture (PNG, JPEG, GIF, WebP, BMP), or says why it cannot.
pub fn decode_bytes(bytes: &[u8]) -> std::result::Result<Decoded, String> {
    if jpeg_truncated(bytes) {
        return Err("the JPEG is truncated: it ends before its end-of-image marker".into());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An EXIF thumbnail's own end marker sits before the first scan and must not count.
    #[test]
    fn a_jpeg_without_its_end_marker_is_truncated_even_with_a_thumbnail() {
        let thumbnail = [0xff, 0xd8, 0x01, 0x02, 0xff, 0xd9];
        let mut app1 = vec![0xff, 0xe1, 0x00, (2 + thumbnail.len()) as u8];
        app1.extend(thumbnail);
        let scan = [0xff, JPEG_SOS, 0x00, 0x02, 0x12, 0x34, 0xff, 0x00, 0x56];
        let cut = [&JPEG_SOI[..], &app1, &scan].concat();
        assert!(jpeg_truncated(&cut));
        assert!(!jpeg_truncated(&[&cut[..], &JPEG_EOI].concat()));
        assert!(jpeg_truncated(&cut[..5]), "cut inside a segment");
        assert!(!jpeg_truncated(b"\x89PNG\r\n\x1a\n"), "not a JPEG");
    }
}
