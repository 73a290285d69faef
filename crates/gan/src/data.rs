//! Data sets: the training images as one `[N, 1, 28, 28]` tensor of `f32` in
//! [-1, 1], and the seeded order in which the trainer takes them.
//!
//! Design choices:
//! - Every source becomes 28x28 grayscale on load. Images of another size are
//!   scaled so that the shorter side is 28 (triangle filter), then the centre
//!   28x28 is cut out: torchvision's `Resize(28)` then `CenterCrop(28)`, as in
//!   PyTorch's DCGAN example. Colour becomes luma; transparent pixels are
//!   laid over black, MNIST's background.
//! - A pixel byte `b` becomes `(b / 255 - 0.5) / 0.5`, which is torchvision's
//!   `ToTensor()` then `Normalize((0.5,), (0.5,))` in the same `f32`
//!   operations, so 0 maps to -1, 255 to 1, and values match PyTorch's.
//! - Sources: the 10,000 MNIST digits compiled into the crate
//!   ([`bundled_mnist`]), IDX image files such as MNIST's and Fashion-MNIST's
//!   (gzipped or not), and folders of PNG and JPEG files, read from disk
//!   natively or handed over as bytes by the browser. A folder and the same
//!   files as bytes give the same data set: same files, same order.
//! - [`Batcher`] shuffles once per epoch from `(seed, epoch)` alone and drops
//!   the last incomplete batch (PyTorch's `drop_last=True`), so a checkpoint
//!   resumes the exact order from a [`BatchPosition`].

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, Luma};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Height and width of every image, in pixels.
pub const SIDE: usize = 28;
/// Values per image: one channel of `SIDE` x `SIDE`.
pub const IMAGE_LEN: usize = SIDE * SIDE;

/// File extensions (compared without case) that image folders are read for.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// IDX magic of a 3-dimensional array of unsigned bytes: zero, zero, type
/// 0x08 (ubyte), dimension count 3.
const IDX3_UBYTE_MAGIC: u32 = 0x0000_0803;
/// Magic, count, rows and columns, each a big-endian `u32`.
const IDX3_HEADER_LEN: usize = 16;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

const BUNDLED_MNIST_NAME: &str = "bundled MNIST (data/mnist/mnist-10k-images-idx3-ubyte.gz)";
const BUNDLED_MNIST_GZ: &[u8] =
    include_bytes!("../../../data/mnist/mnist-10k-images-idx3-ubyte.gz");

/// What can go wrong while loading a data set or setting up its batches.
/// Messages start with the file (or folder) they are about.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    // ---- Reading files ----
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}: corrupt or truncated gzip stream: {source}")]
    Gzip {
        name: String,
        #[source]
        source: std::io::Error,
    },

    // ---- IDX files ----
    #[error(
        "{name}: not an IDX file of byte images: magic number 0x{found:08x}, \
         expected 0x00000803"
    )]
    BadMagic { name: String, found: u32 },
    #[error("{name}: truncated: expected {expected} bytes, got {got}")]
    Truncated {
        name: String,
        expected: u64,
        got: u64,
    },
    #[error("{name}: {extra} bytes follow the {count} images that the header announces")]
    TrailingBytes {
        name: String,
        count: usize,
        extra: u64,
    },
    #[error(
        "{name}: the header announces {count} images of {rows}x{cols} pixels; \
         need at least one image of at least 1x1"
    )]
    Dimensions {
        name: String,
        count: u32,
        rows: u32,
        cols: u32,
    },

    // ---- Image files ----
    #[error("{name}: cannot decode image: {source}")]
    Image {
        name: String,
        #[source]
        source: image::ImageError,
    },
    #[error("{path}: no .png, .jpg or .jpeg files in this folder")]
    EmptyFolder { path: String },
    #[error(
        "{}: give .png, .jpg or .jpeg images, or an MNIST IDX file",
        if *given == 1 { "the file given is not an image".to_string() } else { format!("none of the {given} files given is an image") }
    )]
    NoImages { given: usize },

    // ---- Batches ----
    #[error("a batch of {batch} images from a data set of {count}: need 1 <= batch <= count")]
    BatchSize { batch: usize, count: usize },
    #[error("batch position {position:?} is past the {per_epoch} batches of an epoch")]
    Position {
        position: BatchPosition,
        per_epoch: usize,
    },
}

/// The training images: `[count, 1, SIDE, SIDE]` values in [-1, 1], row-major.
#[derive(Clone)]
pub struct Dataset {
    images: Vec<f32>,
    count: usize,
    source: String,
}

/// The 10,000 MNIST digits of `data/mnist` (see its README), compiled into
/// the crate, so they are there natively and in the browser alike.
///
/// # Errors
///
/// None in practice: the file is fixed at build time and covered by tests.
pub fn bundled_mnist() -> Result<Dataset, DataError> {
    Dataset::from_idx_bytes(BUNDLED_MNIST_NAME, BUNDLED_MNIST_GZ)
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false: every constructor rejects an empty source.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Image `i` as `[1, SIDE, SIDE]` values.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        assert!(i < self.count, "image {i} of a data set of {}", self.count);
        &self.images[i * IMAGE_LEN..(i + 1) * IMAGE_LEN]
    }

    /// All images, `[len, 1, SIDE, SIDE]`.
    pub fn images(&self) -> &[f32] {
        &self.images
    }

    /// Where the images came from: a file, a folder, or a count of files.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Reads an IDX file of byte images (magic `0x00000803`), gzipped (told
    /// by its first bytes, `1f 8b`) or not. `name` is the file's name, used
    /// in messages and as [`Dataset::source`]. Images that are not 28x28 are
    /// scaled and cropped to it (see the module's documentation).
    ///
    /// # Errors
    ///
    /// [`DataError::Gzip`], [`DataError::BadMagic`], [`DataError::Truncated`],
    /// [`DataError::TrailingBytes`] or [`DataError::Dimensions`].
    pub fn from_idx_bytes(name: &str, bytes: &[u8]) -> Result<Self, DataError> {
        let raw = gunzip_if_gzipped(name, bytes)?;
        let idx = Idx3::parse(name, &raw)?;
        if (idx.rows, idx.cols) == (SIDE, SIDE) {
            return Ok(Self::from_bytes(name, idx.count, idx.pixels));
        }

        log::debug!(
            "{name}: scaling {} images of {}x{} to {SIDE}x{SIDE}",
            idx.count,
            idx.rows,
            idx.cols
        );
        let images = idx.pixels.chunks_exact(idx.rows * idx.cols).map(|pixels| {
            let image = GrayImage::from_raw(idx.cols as u32, idx.rows as u32, pixels.to_vec());
            fit_to_side(image.expect("chunk length is rows * cols"))
        });
        Ok(Self::from_gray(name.to_string(), images.collect()))
    }

    /// Decodes PNG and JPEG files given as `(name, bytes)`, as the browser
    /// hands them over, exactly as [`Dataset::from_path`] does a folder: only
    /// names with an image extension and no part starting with `.` count, and
    /// they are taken in sorted name order.
    ///
    /// # Errors
    ///
    /// [`DataError::NoImages`] when no name qualifies; [`DataError::Image`]
    /// for the first file that does not decode.
    pub fn from_image_bytes(files: &[(String, Vec<u8>)]) -> Result<Self, DataError> {
        let mut chosen: Vec<&(String, Vec<u8>)> = files
            .iter()
            .filter(|(name, _)| is_image_name(name))
            .collect();
        if chosen.is_empty() {
            return Err(DataError::NoImages { given: files.len() });
        }
        chosen.sort_by(|a, b| a.0.cmp(&b.0));

        let images = chosen.iter().map(|(name, bytes)| decode_image(name, bytes));
        let images = images.collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_gray(
            match images.len() {
                1 => "1 image file".to_string(),
                n => format!("{n} image files"),
            },
            images,
        ))
    }

    /// Reads a data set from disk: a file is read as IDX (see
    /// [`Dataset::from_idx_bytes`]); a folder is searched, subfolders too, for
    /// PNG and JPEG files, which are decoded in the order of their paths
    /// relative to the folder (with `/` between parts), skipping any whose
    /// name or folder starts with `.`.
    ///
    /// # Errors
    ///
    /// [`DataError::Io`] naming the path that could not be read,
    /// [`DataError::EmptyFolder`], and those of [`Dataset::from_idx_bytes`]
    /// and [`Dataset::from_image_bytes`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let metadata = std::fs::metadata(path).map_err(io_error(&shown))?;
        if !metadata.is_dir() {
            let bytes = std::fs::read(path).map_err(io_error(&shown))?;
            return Self::from_idx_bytes(&shown, &bytes);
        }

        let mut files = Vec::new();
        collect_image_files(path, "", &mut files)?;
        if files.is_empty() {
            return Err(DataError::EmptyFolder { path: shown });
        }
        files.sort();

        let mut images = Vec::with_capacity(files.len());
        for (_, file) in &files {
            let file_shown = file.display().to_string();
            let bytes = std::fs::read(file).map_err(io_error(&file_shown))?;
            images.push(decode_image(&file_shown, &bytes)?);
        }
        log::debug!("{shown}: {} images", images.len());
        Ok(Self::from_gray(shown, images))
    }

    /// Scales 28x28 byte images to [-1, 1].
    fn from_bytes(source: &str, count: usize, pixels: &[u8]) -> Self {
        debug_assert_eq!(pixels.len(), count * IMAGE_LEN);
        let images = pixels.iter().map(|&b| normalize(b)).collect();
        Self {
            images,
            count,
            source: source.to_string(),
        }
    }

    /// Scales 28x28 grayscale images to [-1, 1].
    fn from_gray(source: String, images: Vec<GrayImage>) -> Self {
        let count = images.len();
        let pixels = images.iter().flat_map(|image| image.as_raw().iter());
        let images = pixels.map(|&b| normalize(b)).collect();
        Self {
            images,
            count,
            source,
        }
    }
}

impl fmt::Debug for Dataset {
    /// The count and source, not the millions of values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("count", &self.count)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A byte `b` as torchvision gives it: `ToTensor` divides by 255 in `f32`,
/// `Normalize((0.5,), (0.5,))` subtracts 0.5 and divides by 0.5.
fn normalize(b: u8) -> f32 {
    (f32::from(b) / 255.0 - 0.5) / 0.5
}

/// The header and pixels of an IDX3 ubyte file, checked against its length.
struct Idx3<'a> {
    count: usize,
    rows: usize,
    cols: usize,
    /// `[count, rows, cols]`.
    pixels: &'a [u8],
}

impl<'a> Idx3<'a> {
    fn parse(name: &str, raw: &'a [u8]) -> Result<Self, DataError> {
        let truncated = |expected: u64| DataError::Truncated {
            name: name.to_string(),
            expected,
            got: raw.len() as u64,
        };
        let header_u32 = |k: usize| u32::from_be_bytes(raw[4 * k..4 * k + 4].try_into().unwrap());

        // The magic first, so that a file of another kind is named as such
        // even when it is short.
        if raw.len() < 4 {
            return Err(truncated(IDX3_HEADER_LEN as u64));
        }
        let found = header_u32(0);
        if found != IDX3_UBYTE_MAGIC {
            return Err(DataError::BadMagic {
                name: name.to_string(),
                found,
            });
        }
        if raw.len() < IDX3_HEADER_LEN {
            return Err(truncated(IDX3_HEADER_LEN as u64));
        }

        let (count, rows, cols) = (header_u32(1), header_u32(2), header_u32(3));
        if count == 0 || rows == 0 || cols == 0 {
            let name = name.to_string();
            return Err(DataError::Dimensions {
                name,
                count,
                rows,
                cols,
            });
        }

        // In u128, no header can overflow the product; one past u64 cannot
        // fit in memory anyway.
        let pixel_count = u128::from(count) * u128::from(rows) * u128::from(cols);
        let expected = IDX3_HEADER_LEN as u128 + pixel_count;
        let got = raw.len() as u128;
        if got < expected {
            return Err(truncated(u64::try_from(expected).unwrap_or(u64::MAX)));
        }
        if got > expected {
            let (name, extra) = (name.to_string(), (got - expected) as u64);
            return Err(DataError::TrailingBytes {
                name,
                count: count as usize,
                extra,
            });
        }

        let (count, rows, cols) = (count as usize, rows as usize, cols as usize);
        Ok(Self {
            count,
            rows,
            cols,
            pixels: &raw[IDX3_HEADER_LEN..],
        })
    }
}

/// `bytes` unzipped when they start with the gzip magic, else as they are.
fn gunzip_if_gzipped<'a>(name: &str, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut raw = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut raw)
        .map_err(|source| DataError::Gzip {
            name: name.to_string(),
            source,
        })?;
    Ok(Cow::Owned(raw))
}

/// Whether a file, named by its path relative to the folder with `/`
/// between parts, belongs to an image folder: an image extension and no
/// hidden part (`.DS_Store`, macOS's `._x.png`, `.git/`).
fn is_image_name(name: &str) -> bool {
    if name.split('/').any(|part| part.starts_with('.')) {
        return false;
    }
    let Some((_, extension)) = name.rsplit_once('.') else {
        return false;
    };
    IMAGE_EXTENSIONS
        .iter()
        .any(|known| extension.eq_ignore_ascii_case(known))
}

/// Decodes a PNG or JPEG file (the format told by its content) into a
/// `SIDE` x `SIDE` grayscale image.
fn decode_image(name: &str, bytes: &[u8]) -> Result<GrayImage, DataError> {
    let image = image::load_from_memory(bytes).map_err(|source| DataError::Image {
        name: name.to_string(),
        source,
    })?;
    Ok(fit_to_side(to_gray_over_black(image)))
}

/// Luma, with transparent pixels laid over black: `luma * alpha / 255`.
fn to_gray_over_black(image: DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.to_luma8();
    }
    let with_alpha = image.to_luma_alpha8();
    GrayImage::from_fn(with_alpha.width(), with_alpha.height(), |x, y| {
        let [luma, alpha] = with_alpha.get_pixel(x, y).0;
        let over_black = (u16::from(luma) * u16::from(alpha) + 127) / 255;
        Luma([over_black as u8])
    })
}

/// Scales `image` so that its shorter side is `SIDE` and cuts out the centre
/// `SIDE` x `SIDE` square, as torchvision's `Resize(SIDE)` then
/// `CenterCrop(SIDE)` do. A 28x28 image passes through untouched.
fn fit_to_side(image: GrayImage) -> GrayImage {
    let side = SIDE as u32;
    let (w_in, h_in) = image.dimensions();
    if (w_in, h_in) == (side, side) {
        return image;
    }

    // The longer side keeps the aspect ratio, rounded down as torchvision
    // does, and never falls below `side`.
    let short = u64::from(w_in.min(h_in));
    let scaled = |len: u32| ((u64::from(len) * u64::from(side) / short) as u32).max(side);
    let (w_out, h_out) = (scaled(w_in), scaled(h_in));
    let resized = imageops::resize(&image, w_out, h_out, FilterType::Triangle);

    let (left, top) = ((w_out - side) / 2, (h_out - side) / 2);
    imageops::crop_imm(&resized, left, top, side, side).to_image()
}

/// Appends to `files` every image file under `folder`, as (path relative
/// to the top folder with `/` between parts, full path). Follows links to
/// files but not to folders, so a link cannot make it loop.
#[cfg(not(target_arch = "wasm32"))]
fn collect_image_files(
    folder: &std::path::Path,
    prefix: &str,
    files: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<(), DataError> {
    let shown = folder.display().to_string();
    for entry in std::fs::read_dir(folder).map_err(io_error(&shown))? {
        let entry = entry.map_err(io_error(&shown))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let relative = format!("{prefix}{name}");
        let is_folder = entry.file_type().map_err(io_error(&shown))?.is_dir();
        if is_folder {
            collect_image_files(&entry.path(), &format!("{relative}/"), files)?;
        } else if is_image_name(&relative) {
            files.push((relative, entry.path()));
        }
    }
    Ok(())
}

/// Turns an I/O error into [`DataError::Io`] naming `path`.
#[cfg(not(target_arch = "wasm32"))]
fn io_error(path: &str) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_string(),
        source,
    }
}

/// Where a [`Batcher`] stands: the next batch it yields is batch `batch`
/// (counted from 0) of epoch `epoch`. Store it in a checkpoint to resume the
/// exact order with [`Batcher::set_position`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchPosition {
    pub epoch: u64,
    /// Always below [`Batcher::batches_per_epoch`].
    pub batch: usize,
}

/// Batches of image indices in a seeded order.
///
/// Each epoch visits `count / batch` batches of distinct indices, in the
/// order of `0..count` shuffled by `StdRng` seeded from `(seed, epoch)`
/// alone; the `count % batch` indices left over at the end of an epoch are
/// skipped (PyTorch's `drop_last=True`), and reshuffling makes them others
/// the next time. The order depends on `rand`'s `StdRng` and shuffle, so it
/// holds for as long as the `rand` version does (a test pins it).
#[derive(Clone, Debug)]
pub struct Batcher {
    count: usize,
    batch: usize,
    seed: u64,
    position: BatchPosition,
    /// `0..count` shuffled for epoch `order_epoch`.
    order: Vec<usize>,
    order_epoch: u64,
}

impl Batcher {
    /// Batches of `batch` indices into a data set of `count` images,
    /// starting at epoch 0, batch 0.
    ///
    /// # Errors
    ///
    /// [`DataError::BatchSize`] unless `1 <= batch <= count`.
    pub fn new(count: usize, batch: usize, seed: u64) -> Result<Self, DataError> {
        if batch == 0 || batch > count {
            return Err(DataError::BatchSize { batch, count });
        }
        let position = BatchPosition { epoch: 0, batch: 0 };
        let order = epoch_order(count, seed, 0);
        Ok(Self {
            count,
            batch,
            seed,
            position,
            order,
            order_epoch: 0,
        })
    }

    /// Images per batch.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Whole batches per epoch: `count / batch`.
    pub fn batches_per_epoch(&self) -> usize {
        self.count / self.batch
    }

    /// The batch that the next call yields.
    pub fn position(&self) -> BatchPosition {
        self.position
    }

    /// Makes `position` the batch that the next call yields.
    ///
    /// # Errors
    ///
    /// [`DataError::Position`] if `position.batch` is not below
    /// [`Batcher::batches_per_epoch`].
    pub fn set_position(&mut self, position: BatchPosition) -> Result<(), DataError> {
        let per_epoch = self.batches_per_epoch();
        if position.batch >= per_epoch {
            return Err(DataError::Position {
                position,
                per_epoch,
            });
        }
        self.position = position;
        Ok(())
    }

    /// The indices of the next batch, then moves on; after an epoch's last
    /// batch, [`Batcher::position`] is batch 0 of the next epoch.
    pub fn next_indices(&mut self) -> &[usize] {
        let BatchPosition { epoch, batch } = self.position;
        if self.order_epoch != epoch {
            self.order = epoch_order(self.count, self.seed, epoch);
            self.order_epoch = epoch;
        }

        self.position = if batch + 1 == self.batches_per_epoch() {
            BatchPosition {
                epoch: epoch + 1,
                batch: 0,
            }
        } else {
            BatchPosition {
                epoch,
                batch: batch + 1,
            }
        };
        &self.order[batch * self.batch..(batch + 1) * self.batch]
    }

    /// Copies the next batch's images into `out`, `[batch, 1, SIDE, SIDE]`.
    ///
    /// # Panics
    ///
    /// If `data` does not hold the `count` images this batcher was made for,
    /// or `out` does not hold `batch * IMAGE_LEN` values.
    pub fn fill_batch(&mut self, data: &Dataset, out: &mut [f32]) {
        assert_eq!(
            data.len(),
            self.count,
            "data set size != the batcher's image count"
        );
        assert_eq!(
            out.len(),
            self.batch * IMAGE_LEN,
            "out.len() != batch * IMAGE_LEN"
        );
        for (dst, &i) in out.chunks_exact_mut(IMAGE_LEN).zip(self.next_indices()) {
            dst.copy_from_slice(data.image(i));
        }
    }
}

/// `0..count` shuffled for one epoch.
fn epoch_order(count: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    order.shuffle(&mut StdRng::seed_from_u64(epoch_seed(seed, epoch)));
    order
}

/// One `u64` from `(seed, epoch)`: SplitMix64's mixing step over the seed
/// offset by the epoch, so that neighbouring seeds and epochs give unrelated
/// shuffles.
fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
