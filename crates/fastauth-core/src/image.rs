//! Image types judged by their first bytes, never by file name or declared type.

/// An accepted image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
    Gif,
    Webp,
    Avif,
}

impl ImageType {
    /// The format of `bytes`, if it is one fastauth accepts.
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        let at = |start: usize, magic: &[u8]| bytes.get(start..start + magic.len()) == Some(magic);
        if at(0, &[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if at(0, b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
            Some(ImageType::Gif)
        } else if at(0, b"RIFF") && at(8, b"WEBP") {
            Some(ImageType::Webp)
        } else if at(4, b"ftyp") && is_avif_brand(bytes) {
            Some(ImageType::Avif)
        } else {
            None
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
            ImageType::Avif => "image/avif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Jpeg => "jpg",
            ImageType::Png => "png",
            ImageType::Gif => "gif",
            ImageType::Webp => "webp",
            ImageType::Avif => "avif",
        }
    }

    /// The type a stored object's extension names (serving local uploads).
    pub fn from_extension(ext: &str) -> Option<Self> {
        [ImageType::Jpeg, ImageType::Png, ImageType::Gif, ImageType::Webp, ImageType::Avif]
            .into_iter()
            .find(|t| t.extension() == ext)
    }
}

/// An ISO-BMFF `ftyp` box whose major or compatible brands include `avif` or `avis`.
fn is_avif_brand(bytes: &[u8]) -> bool {
    let size = bytes.get(0..4).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let end = size.min(bytes.len()).min(64);
    bytes.get(8..end).is_some_and(|brands| brands.chunks(4).any(|b| b == b"avif" || b == b"avis"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_content() {
        assert_eq!(ImageType::detect(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some(ImageType::Jpeg));
        assert_eq!(ImageType::detect(b"\x89PNG\r\n\x1a\n...."), Some(ImageType::Png));
        assert_eq!(ImageType::detect(b"GIF89a...."), Some(ImageType::Gif));
        assert_eq!(ImageType::detect(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageType::Webp));
        assert_eq!(ImageType::detect(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"), Some(ImageType::Avif));
        assert_eq!(ImageType::detect(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"), None, "an MP4 is not an image");
        assert_eq!(ImageType::detect(b"<svg xmlns=...>"), None, "SVG can carry script");
        assert_eq!(ImageType::detect(b""), None);
    }
}
