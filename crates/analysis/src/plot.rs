//! Pictures: a scatter plot of 2-D samples over the training points and an image grid. The
//! font is embedded, so plots render on a machine without system fonts.

use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::{AnalysisError, Result};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn ensure_font() {
    REGISTER.call_once(|| {
        // The embedded file is a valid TrueType font; failure here would be a build defect.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn encode_png(rgb: Vec<u8>, width: u32, height: u32) -> Result<Vec<u8>> {
    let image = image::RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| plot_error("image buffer has the wrong size"))?;
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| plot_error(format!("cannot encode PNG: {e}")))?;
    Ok(bytes)
}

fn plot_error(e: impl std::fmt::Display) -> AnalysisError {
    AnalysisError::Plot {
        what: "plot".into(),
        reason: e.to_string(),
    }
}

/// The range [lo, hi] of one coordinate over two point sets, padded by 5%.
fn padded_range(a: &[f32], b: &[f32], coord: usize) -> (f64, f64) {
    let values = a
        .chunks(2)
        .chain(b.chunks(2))
        .map(|p| p[coord] as f64)
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    (lo - pad, hi + pad)
}

/// A PNG scatter plot of 2-D `samples` (blue) over `training` points (red).
pub fn scatter_png(title: &str, samples: &[f32], training: &[f32]) -> Result<Vec<u8>> {
    ensure_font();
    let (width, height) = (800u32, 800u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let x_range = padded_range(samples, training, 0);
        let y_range = padded_range(samples, training, 1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("x0")
            .y_desc("x1")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(plot_error)?;
        let blue = RGBColor(31, 119, 180).mix(0.5);
        chart
            .draw_series(
                samples
                    .chunks(2)
                    .filter(|p| p[0].is_finite() && p[1].is_finite())
                    .map(|p| Circle::new((p[0] as f64, p[1] as f64), 2, blue.filled())),
            )
            .map_err(plot_error)?
            .label("samples")
            .legend(move |(x, y)| Circle::new((x, y), 4, blue.filled()));
        let red = RGBColor(214, 39, 40);
        chart
            .draw_series(
                training
                    .chunks(2)
                    .map(|p| Cross::new((p[0] as f64, p[1] as f64), 4, red.stroke_width(2))),
            )
            .map_err(plot_error)?
            .label("training points")
            .legend(move |(x, y)| Cross::new((x, y), 4, red.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    encode_png(rgb, width, height)
}

/// A PNG grid of grey-scale images (values in [0, 1], clamped), `columns` per row, each
/// magnified `scale` times, with a 2-pixel gap.
pub fn image_grid_png(
    images: &[f32],
    height: usize,
    width: usize,
    columns: usize,
    scale: usize,
) -> Result<Vec<u8>> {
    let count = images.len() / (height * width);
    if count == 0 {
        return Err(AnalysisError::invalid("images", "no images to draw"));
    }
    let columns = columns.min(count).max(1);
    let rows = count.div_ceil(columns);
    let gap = 2;
    let cell_w = width * scale + gap;
    let cell_h = height * scale + gap;
    let (total_w, total_h) = (columns * cell_w + gap, rows * cell_h + gap);
    let mut rgb = vec![128u8; total_w * total_h * 3];
    for (k, image) in images.chunks(height * width).enumerate() {
        let (r, c) = (k / columns, k % columns);
        for y in 0..height * scale {
            for x in 0..width * scale {
                let v = image[(y / scale) * width + x / scale];
                let v = if v.is_finite() {
                    (v.clamp(0.0, 1.0) * 255.0).round() as u8
                } else {
                    255
                };
                let (py, px) = (gap + r * cell_h + y, gap + c * cell_w + x);
                let at = (py * total_w + px) * 3;
                rgb[at..at + 3].copy_from_slice(&[v, v, v]);
            }
        }
    }
    encode_png(rgb, total_w as u32, total_h as u32)
}
