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

/// A PNG chart of loss_d (blue) and loss_g (orange) over all steps, with
/// the value range and the step range written on the axes.
///
/// # Errors
///
/// PNG encoding errors.
pub fn loss_chart_png(metrics: &[StepMetrics]) -> Result<Vec<u8>> {
    let (width, height) = (800u32, 400u32);
    let (left, right, top, bottom) = (70.0, 20.0, 30.0, 30.0);
    let mut image = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let blue = Rgb([31, 119, 180]);
    let orange = Rgb([255, 127, 14]);
    let series: [(Vec<f32>, Rgb<u8>); 2] = [
        (metrics.iter().map(StepMetrics::loss_d).collect(), blue),
        (metrics.iter().map(|m| m.loss_g).collect(), orange),
    ];
    let finite = series
        .iter()
        .flat_map(|(s, _)| s.iter().copied())
        .filter(|v| v.is_finite());
    let (low, high) = finite.fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(v), h.max(v)));
    let black = Rgb([0, 0, 0]);
    draw_text(&mut image, (left as u32, 8), "loss_d", blue);
    draw_text(&mut image, (left as u32 + 70, 8), "loss_g", orange);
    if metrics.len() < 2 || low > high {
        return png(|out| image.write_to(out, image::ImageFormat::Png));
    }

    let (x_end, y_end) = (width as f32 - right, height as f32 - bottom);
    let span = (high - low).max(1e-6);
    let to_y = |v: f32| y_end - (v - low) / span * (y_end - top);
    let to_x = |i: usize| left + i as f32 / (metrics.len() - 1) as f32 * (x_end - left);
    let grey = Rgb([200, 200, 200]);
    draw_line(&mut image, (left, top), (left, y_end), black);
    draw_line(&mut image, (left, y_end), (x_end, y_end), black);
    if (low..=high).contains(&0.0) {
        draw_line(&mut image, (left, to_y(0.0)), (x_end, to_y(0.0)), grey);
    }
    draw_text(&mut image, (4, top as u32), &format!("{high:.3}"), black);
    draw_text(
        &mut image,
        (4, y_end as u32 - 10),
        &format!("{low:.3}"),
        black,
    );
    let (first, last) = (metrics[0].step, metrics[metrics.len() - 1].step);
    draw_text(
        &mut image,
        (left as u32, y_end as u32 + 8),
        &format!("step {first}"),
        black,
    );
    let label = format!("step {last}");
    draw_text(
        &mut image,
        (x_end as u32 - 8 * label.len() as u32, y_end as u32 + 8),
        &label,
        black,
    );

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

/// 3x5 glyphs for the few characters the chart writes, one row of three
/// bits per line, top first.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        '_' => [0, 0, 0, 0, 7],
        'd' => [1, 1, 7, 5, 7],
        'e' => [7, 5, 7, 4, 7],
        'g' => [7, 5, 7, 1, 7],
        'l' => [4, 4, 4, 4, 6],
        'o' => [0, 7, 5, 5, 7],
        'p' => [7, 5, 7, 4, 4],
        's' => [7, 4, 7, 1, 7],
        't' => [4, 7, 4, 4, 7],
        _ => [0; 5],
    }
}

/// Writes `text` with its top-left corner at `at`: each glyph bit is a 2x2
/// block, 8 pixels per character.
fn draw_text(image: &mut RgbImage, at: (u32, u32), text: &str, color: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..3u32 {
                if bits & (4 >> col) == 0 {
                    continue;
                }
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let x = at.0 + 8 * i as u32 + 2 * col + dx;
                    let y = at.1 + 2 * row as u32 + dy;
                    if x < image.width() && y < image.height() {
                        image.put_pixel(x, y, color);
                    }
                }
            }
        }
    }
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
