//! Pictures of a run: a PNG grid of samples and a PNG chart of the losses.

use image::{ImageBuffer, Luma, Rgb, RgbImage};

use crate::config::IMAGE_SIZE;
use crate::error::{GanError, Result};
use crate::metrics::StepMetrics;

/// Pixels between grid cells.
const GAP: usize = 2;

fn png(
    write: impl FnOnce(&mut std::io::Cursor<Vec<u8>>) -> image::ImageResult<()>,
) -> Result<Vec<u8>> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    write(&mut bytes).map_err(|e| GanError::Gpu(format!("could not encode a PNG: {e}")))?;
    Ok(bytes.into_inner())
}

/// The grayscale grid of `images` (`[count, 1, 28, 28]` in [-1, 1]),
/// `cols` per row, as RGB pixels for drawing (row-major, 3 bytes each);
/// returns (width, height, pixels).
pub fn grid_pixels(images: &[f32], cols: usize) -> (usize, usize, Vec<u8>) {
    let pixels = IMAGE_SIZE * IMAGE_SIZE;
    let count = images.len() / pixels;
    let rows = count.div_ceil(cols.max(1));
    let (width, height) = (
        cols * (IMAGE_SIZE + GAP) + GAP,
        rows * (IMAGE_SIZE + GAP) + GAP,
    );
    let mut out = vec![40u8; width * height * 3];
    for (i, image) in images.chunks_exact(pixels).enumerate() {
        let (x0, y0) = (
            (i % cols) * (IMAGE_SIZE + GAP) + GAP,
            (i / cols) * (IMAGE_SIZE + GAP) + GAP,
        );
        for (p, &v) in image.iter().enumerate() {
            let byte = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
            let at = ((y0 + p / IMAGE_SIZE) * width + x0 + p % IMAGE_SIZE) * 3;
            out[at..at + 3].fill(byte);
        }
    }
    (width, height, out)
}

/// A PNG of the grid of `images`, `cols` per row.
///
/// # Errors
///
/// PNG encoding errors.
pub fn grid_png(images: &[f32], cols: usize) -> Result<Vec<u8>> {
    let (width, height, pixels) = grid_pixels(images, cols);
    let gray: Vec<u8> = pixels.chunks_exact(3).map(|p| p[0]).collect();
    let image: ImageBuffer<Luma<u8>, _> =
        ImageBuffer::from_raw(width as u32, height as u32, gray).expect("sizes match");
    png(|out| image.write_to(out, image::ImageFormat::Png))
}

/// A PNG chart of loss_d (blue) and loss_g (orange) over all steps, with a
/// grey line at 0 when in range. No text: the CSV holds the numbers.
///
/// # Errors
///
/// PNG encoding errors.
pub fn loss_chart_png(metrics: &[StepMetrics]) -> Result<Vec<u8>> {
    let (width, height, margin) = (800u32, 400u32, 20.0);
    let mut image = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let series: [(Vec<f32>, Rgb<u8>); 2] = [
        (
            metrics.iter().map(StepMetrics::loss_d).collect(),
            Rgb([31, 119, 180]),
        ),
        (
            metrics.iter().map(|m| m.loss_g).collect(),
            Rgb([255, 127, 14]),
        ),
    ];
    let finite = series
        .iter()
        .flat_map(|(s, _)| s.iter().copied())
        .filter(|v| v.is_finite());
    let (low, high) = finite.fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if metrics.len() < 2 || low > high {
        return png(|out| image.write_to(out, image::ImageFormat::Png));
    }
    let span = (high - low).max(1e-6);
    let to_y = |v: f32| height as f32 - margin - (v - low) / span * (height as f32 - 2.0 * margin);
    let to_x =
        |i: usize| margin + i as f32 / (metrics.len() - 1) as f32 * (width as f32 - 2.0 * margin);
    if (low..=high).contains(&0.0) {
        draw_line(
            &mut image,
            (margin, to_y(0.0)),
            (width as f32 - margin, to_y(0.0)),
            Rgb([200, 200, 200]),
        );
    }
    for (values, color) in &series {
        for i in 1..values.len() {
            if values[i - 1].is_finite() && values[i].is_finite() {
                let (a, b) = (
                    (to_x(i - 1), to_y(values[i - 1])),
                    (to_x(i), to_y(values[i])),
                );
                draw_line(&mut image, a, b, *color);
            }
        }
    }
    png(|out| image.write_to(out, image::ImageFormat::Png))
}

/// A straight line, sampled densely enough to leave no gaps.
fn draw_line(image: &mut RgbImage, (x0, y0): (f32, f32), (x1, y1): (f32, f32), color: Rgb<u8>) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
    for s in 0..=steps {
        let t = s as f32 / steps as f32;
        let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        if x >= 0.0 && y >= 0.0 && (x as u32) < image.width() && (y as u32) < image.height() {
            image.put_pixel(x as u32, y as u32, color);
        }
    }
}
