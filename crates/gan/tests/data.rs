//! Data sets: the bundled MNIST, IDX files, image folders, the errors that
//! name the file at fault, and the seeded batch order.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use flate2::write::GzEncoder;
use flate2::Compression;
use image::{GrayImage, ImageFormat, LumaA, RgbImage};
use webgan::data::{bundled_mnist, BatchPosition, Batcher, DataError, Dataset, IMAGE_LEN, SIDE};

/// torchvision's `ToTensor` then `Normalize((0.5,), (0.5,))` of byte `b`.
fn torchvision(b: u8) -> f32 {
    (b as f32 / 255.0 - 0.5) / 0.5
}

/// An IDX3 ubyte file: header, then `pixels` as `[count, rows, cols]`.
fn idx3(magic: u32, count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let header = [magic, count, rows, cols];
    let mut bytes: Vec<u8> = header.iter().flat_map(|v| v.to_be_bytes()).collect();
    bytes.extend_from_slice(pixels);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn png(image: impl Into<image::DynamicImage>) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.into().write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Three 28x28 images whose bytes cover 0 and 255 and differ per image.
fn three_images() -> Vec<u8> {
    let mut pixels: Vec<u8> = (0..3 * IMAGE_LEN).map(|i| (i * 37 % 256) as u8).collect();
    pixels[5] = 255;
    pixels
}

/// A fresh, empty folder under Cargo's temporary folder for tests.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("webgan-data")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn message(result: Result<Dataset, DataError>) -> String {
    result.expect_err("loading should fail").to_string()
}

#[test]
fn bundled_mnist_is_10k_digits_in_range() {
    let data = bundled_mnist().unwrap();
    assert_eq!(data.len(), 10_000);
    assert!(!data.is_empty());
    assert_eq!(data.images().len(), 10_000 * IMAGE_LEN);
    assert_eq!(data.image(9_999).len(), IMAGE_LEN);
    assert!(
        data.source().contains("mnist-10k-images-idx3-ubyte.gz"),
        "{}",
        data.source()
    );

    let (min, max) = data
        .images()
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert_eq!((min, max), (-1.0, 1.0));

    // MNIST's mean pixel is 0.1307 of full scale, 2 * 0.1307 - 1 = -0.739.
    let mean = data.images().iter().map(|&v| v as f64).sum::<f64>() / data.images().len() as f64;
    assert!((-0.76..-0.72).contains(&mean), "mean {mean}");
}

#[test]
fn idx_round_trip_plain_and_gzipped() {
    let pixels = three_images();
    let plain = idx3(0x803, 3, 28, 28, &pixels);
    for (name, bytes) in [
        ("plain.idx", plain.clone()),
        ("zipped.idx.gz", gzip(&plain)),
    ] {
        let data = Dataset::from_idx_bytes(name, &bytes).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.source(), name);
        let expected: Vec<f32> = pixels.iter().map(|&b| torchvision(b)).collect();
        assert_eq!(data.images(), &expected[..], "{name}");
        assert_eq!(data.image(1), &expected[IMAGE_LEN..2 * IMAGE_LEN], "{name}");
    }

    // 0 and 255 land exactly on the ends, and b / 255 * 2 - 1 agrees bit for bit.
    assert_eq!((torchvision(0), torchvision(255)), (-1.0, 1.0));
    let data = Dataset::from_idx_bytes("plain.idx", &plain).unwrap();
    assert_eq!(data.image(0)[0], -1.0);
    assert_eq!(data.image(0)[5], 1.0);
    for b in 0..=255u8 {
        assert_eq!(
            torchvision(b).to_bits(),
            (b as f32 / 255.0 * 2.0 - 1.0).to_bits()
        );
    }
}

#[test]
fn idx_of_another_size_is_scaled_and_cropped_to_28() {
    // Two 56x56 images, black and white, halve to 28x28 and keep their value.
    let pixels: Vec<u8> = [0u8, 255].iter().flat_map(|&b| vec![b; 56 * 56]).collect();
    let data = Dataset::from_idx_bytes("big.idx", &idx3(0x803, 2, 56, 56, &pixels)).unwrap();
    assert_eq!(data.len(), 2);
    assert!(data.image(0).iter().all(|&v| v == -1.0));
    assert!(data.image(1).iter().all(|&v| v == 1.0));

    // 28 rows by 56 columns, left half black: the shorter side is already 28,
    // so only the centre columns 14..42 remain, half black, half white.
    let pixels: Vec<u8> = (0..28 * 56)
        .map(|i| if i % 56 < 28 { 0 } else { 255 })
        .collect();
    let data = Dataset::from_idx_bytes("wide.idx", &idx3(0x803, 1, 28, 56, &pixels)).unwrap();
    for (i, &v) in data.image(0).iter().enumerate() {
        assert_eq!(v, if i % SIDE < 14 { -1.0 } else { 1.0 }, "pixel {i}");
    }
}

#[test]
fn truncated_idx_names_file_and_sizes() {
    let plain = idx3(0x803, 3, 28, 28, &three_images()[..2 * IMAGE_LEN]);
    let text = message(Dataset::from_idx_bytes("short.idx", &plain));
    assert!(text.starts_with("short.idx: truncated"), "{text}");
    assert!(text.contains("expected 2368 bytes, got 1584"), "{text}");

    // Only part of the header.
    let text = message(Dataset::from_idx_bytes("stub.idx", &plain[..10]));
    assert!(
        text.contains("stub.idx") && text.contains("expected 16 bytes, got 10"),
        "{text}"
    );

    // A gzip stream cut in half.
    let zipped = gzip(&idx3(0x803, 3, 28, 28, &three_images()));
    let text = message(Dataset::from_idx_bytes(
        "cut.gz",
        &zipped[..zipped.len() / 2],
    ));
    assert!(
        text.starts_with("cut.gz: corrupt or truncated gzip"),
        "{text}"
    );

    let mut long = idx3(0x803, 3, 28, 28, &three_images());
    long.extend_from_slice(&[0; 7]);
    let text = message(Dataset::from_idx_bytes("long.idx", &long));
    assert!(
        text.starts_with("long.idx: 7 bytes follow the 3 images"),
        "{text}"
    );
}

#[test]
fn wrong_magic_names_file_and_magic() {
    // MNIST's labels file given in place of its images.
    let labels = gzip(&[0, 0, 8, 1, 0, 0, 0, 1, 7]);
    let text = message(Dataset::from_idx_bytes("labels-idx1-ubyte.gz", &labels));
    assert!(
        text.starts_with("labels-idx1-ubyte.gz: not an IDX file"),
        "{text}"
    );
    assert!(text.contains("magic number 0x00000801"), "{text}");
}

#[test]
fn garbage_file_names_file() {
    let dir = fresh_dir("garbage");
    let path = dir.join("notes.bin");
    std::fs::write(&path, b"hello, this is no data set").unwrap();
    let text = message(Dataset::from_path(&path));
    assert!(
        text.starts_with(&format!("{}: not an IDX file", path.display())),
        "{text}"
    );
    assert!(text.contains("0x68656c6c"), "{text}");

    let missing = dir.join("missing.idx");
    let text = message(Dataset::from_path(&missing));
    assert!(text.starts_with(&missing.display().to_string()), "{text}");
}

#[test]
fn zero_images_or_zero_size_is_a_dimension_error() {
    let text = message(Dataset::from_idx_bytes(
        "none.idx",
        &idx3(0x803, 0, 28, 28, &[]),
    ));
    assert!(
        text.starts_with("none.idx: the header announces 0 images of 28x28"),
        "{text}"
    );
    let text = message(Dataset::from_idx_bytes(
        "flat.idx",
        &idx3(0x803, 2, 0, 28, &[]),
    ));
    assert!(
        text.contains("flat.idx") && text.contains("2 images of 0x28"),
        "{text}"
    );
}

#[test]
fn folder_without_images_names_folder() {
    let dir = fresh_dir("no-images");
    std::fs::write(dir.join("notes.txt"), b"no pictures here").unwrap();
    std::fs::write(dir.join(".hidden.png"), png(GrayImage::new(3, 3))).unwrap();
    let text = message(Dataset::from_path(&dir));
    assert_eq!(
        text,
        format!(
            "{}: no .png, .jpg or .jpeg files in this folder",
            dir.display()
        )
    );

    let files = vec![("notes.txt".to_string(), b"no pictures here".to_vec())];
    let text = message(Dataset::from_image_bytes(&files));
    assert!(text.contains("the file given is not an image"), "{text}");
}

#[test]
fn corrupt_png_names_file() {
    let whole = png(GrayImage::new(30, 30));
    let cut = whole[..whole.len() / 2].to_vec();
    let files = vec![
        ("good.png".to_string(), whole),
        ("bad.png".to_string(), cut.clone()),
    ];
    let text = message(Dataset::from_image_bytes(&files));
    assert!(text.starts_with("bad.png: cannot decode image: "), "{text}");

    let dir = fresh_dir("corrupt-png");
    std::fs::write(dir.join("bad.png"), cut).unwrap();
    let text = message(Dataset::from_path(&dir));
    let file = dir.join("bad.png");
    assert!(
        text.starts_with(&format!("{}: cannot decode image: ", file.display())),
        "{text}"
    );
}

#[test]
fn image_folder_loads_as_28x28_in_name_order() {
    // b.png: white 40x30 RGB; a.jpg: black 20x50; sub/c.png: 28x28 gray with
    // alpha, half transparent; the hidden file and the text file are skipped.
    let white = png(RgbImage::from_pixel(40, 30, image::Rgb([255, 255, 255])));
    let mut black = std::io::Cursor::new(Vec::new());
    let black_image = image::DynamicImage::ImageLuma8(GrayImage::new(20, 50));
    black_image.write_to(&mut black, ImageFormat::Jpeg).unwrap();
    let alpha = image::ImageBuffer::from_fn(28, 28, |x, _| LumaA([200u8, (x * 9) as u8]));
    let files = [
        ("b.png", white),
        ("a.jpg", black.into_inner()),
        ("sub/c.png", png(image::DynamicImage::ImageLumaA8(alpha))),
        ("sub/.c.png", b"not an image".to_vec()),
        ("readme.txt", b"three images".to_vec()),
    ];

    let dir = fresh_dir("folder");
    std::fs::create_dir(dir.join("sub")).unwrap();
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let from_disk = Dataset::from_path(&dir).unwrap();
    assert_eq!(from_disk.len(), 3);
    assert_eq!(from_disk.source(), dir.display().to_string());

    assert!(
        from_disk.image(0).iter().all(|&v| v <= -0.98),
        "a.jpg is black"
    );
    assert!(
        from_disk.image(1).iter().all(|&v| v == 1.0),
        "b.png is white"
    );
    for (i, &v) in from_disk.image(2).iter().enumerate() {
        let alpha = (i % SIDE * 9) as u16;
        let over_black = ((200 * alpha + 127) / 255) as u8;
        assert_eq!(v, torchvision(over_black), "sub/c.png pixel {i}");
    }

    // The browser's path: the same files as bytes, in another order.
    let mut given: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(name, bytes)| (name.to_string(), bytes.clone()))
        .collect();
    given.reverse();
    let from_bytes = Dataset::from_image_bytes(&given).unwrap();
    assert_eq!(from_bytes.images(), from_disk.images());
    assert_eq!(from_bytes.source(), "3 image files");
}

#[test]
fn batcher_rejects_batches_it_cannot_fill() {
    assert!(matches!(
        Batcher::new(10, 0, 1),
        Err(DataError::BatchSize {
            batch: 0,
            count: 10
        })
    ));
    let error = Batcher::new(10, 11, 1).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("a batch of 11 images from a data set of 10"),
        "{error}"
    );
    assert!(Batcher::new(10, 10, 1).is_ok());
}

/// The batches of `epochs` epochs, each batch's indices in order.
fn batches(batcher: &mut Batcher, epochs: usize) -> Vec<Vec<usize>> {
    let n = epochs * batcher.batches_per_epoch();
    (0..n).map(|_| batcher.next_indices().to_vec()).collect()
}

#[test]
fn batcher_is_deterministic_per_seed() {
    let first = batches(&mut Batcher::new(100, 8, 42).unwrap(), 3);
    let again = batches(&mut Batcher::new(100, 8, 42).unwrap(), 3);
    let other = batches(&mut Batcher::new(100, 8, 43).unwrap(), 3);
    assert_eq!(first, again);
    assert_ne!(first[..12], other[..12]);
    // A new shuffle each epoch.
    assert_ne!(first[..12], first[12..24]);
}

#[test]
fn batcher_visits_each_index_once_per_epoch_and_drops_the_rest() {
    let mut batcher = Batcher::new(10, 3, 7).unwrap();
    assert_eq!(batcher.batches_per_epoch(), 3);
    assert_eq!(batcher.batch_size(), 3);
    let mut dropped = HashSet::new();
    for epoch in 0..20 {
        let mut seen = HashSet::new();
        for batch in 0..3 {
            assert_eq!(batcher.position(), BatchPosition { epoch, batch });
            for &i in batcher.next_indices() {
                assert!(i < 10 && seen.insert(i), "index {i} twice in epoch {epoch}");
            }
        }
        assert_eq!(seen.len(), 9);
        dropped.extend((0..10).filter(|i| !seen.contains(i)));
    }
    assert_eq!(
        batcher.position(),
        BatchPosition {
            epoch: 20,
            batch: 0
        }
    );
    assert!(dropped.len() > 1, "the dropped index changes across epochs");
}

#[test]
fn batcher_resumes_from_a_position() {
    let mut batcher = Batcher::new(50, 4, 9).unwrap();
    let all = batches(&mut batcher, 3);
    let per_epoch = batcher.batches_per_epoch();

    for taken in [0, 5, per_epoch - 1, per_epoch, 2 * per_epoch + 3] {
        let mut walked = Batcher::new(50, 4, 9).unwrap();
        for _ in 0..taken {
            walked.next_indices();
        }
        let position = walked.position();

        let mut resumed = Batcher::new(50, 4, 9).unwrap();
        resumed.set_position(position).unwrap();
        let rest: Vec<Vec<usize>> = (taken..all.len())
            .map(|_| resumed.next_indices().to_vec())
            .collect();
        assert_eq!(rest, all[taken..], "resumed at {position:?}");
    }

    let past = BatchPosition {
        epoch: 0,
        batch: per_epoch,
    };
    let error = Batcher::new(50, 4, 9)
        .unwrap()
        .set_position(past)
        .unwrap_err();
    assert!(error.to_string().contains("past the 12 batches"), "{error}");
}

#[test]
fn fill_batch_copies_the_next_batch_images() {
    let data = Dataset::from_idx_bytes("three", &idx3(0x803, 3, 28, 28, &three_images())).unwrap();
    let mut batcher = Batcher::new(3, 2, 5).unwrap();
    let mut twin = batcher.clone();
    let mut out = vec![0.0; 2 * IMAGE_LEN];
    for _ in 0..4 {
        batcher.fill_batch(&data, &mut out);
        let expected: Vec<f32> = twin
            .next_indices()
            .iter()
            .flat_map(|&i| data.image(i).to_vec())
            .collect();
        assert_eq!(out, expected);
    }
}

/// The order is part of a checkpoint: a change in `rand` or in the seed
/// derivation that moves it breaks resuming old runs, and must be seen.
#[test]
fn batch_order_is_pinned() {
    let mut batcher = Batcher::new(10, 5, 0).unwrap();
    let got = batches(&mut batcher, 2);
    let pinned = [
        [0, 1, 5, 3, 4],
        [6, 2, 8, 7, 9],
        [3, 8, 9, 0, 6],
        [1, 7, 2, 4, 5],
    ];
    assert_eq!(got, pinned);
}
