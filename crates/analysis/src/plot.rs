//! Pictures: 2-D scatter plots and trajectories over the training points, image grids, curves
//! and histograms. The
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

/// The chart type every 2-D picture draws on.
type Plane<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// An 800×800 PNG of the plane, its axes spanning `extent` (flat x0, x1 pairs) and the
/// training points; `draw` adds the picture's own series over the training points (red
/// crosses; none when `training` is empty), then the legend is drawn.
fn plane_png(
    title: &str,
    extent: &[f32],
    training: &[f32],
    draw: impl FnOnce(&mut Plane) -> Result<()>,
) -> Result<Vec<u8>> {
    ensure_font();
    let (width, height) = (800u32, 800u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let x_range = padded_range(extent, training, 0);
        let y_range = padded_range(extent, training, 1);
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
        if !training.is_empty() {
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
        }
        draw(&mut chart)?;
        draw_legend(&mut chart)?;
        root.present().map_err(plot_error)?;
    }
    encode_png(rgb, width, height)
}

/// The legend of the labelled series, boxed on a translucent background.
fn draw_legend<'a, 'b: 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, CT>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(plot_error)
}

fn finite_point(p: &[f32]) -> Option<(f64, f64)> {
    (p[0].is_finite() && p[1].is_finite()).then(|| (p[0] as f64, p[1] as f64))
}

/// A PNG scatter plot of 2-D `samples` (blue) over `training` points (red).
pub fn scatter_png(title: &str, samples: &[f32], training: &[f32]) -> Result<Vec<u8>> {
    plane_png(title, samples, training, |chart| {
        let blue = RGBColor(31, 119, 180).mix(0.5);
        chart
            .draw_series(
                samples
                    .chunks(2)
                    .filter_map(finite_point)
                    .map(|p| Circle::new(p, 2, blue.filled())),
            )
            .map_err(plot_error)?
            .label("samples")
            .legend(move |(x, y)| Circle::new((x, y), 4, blue.filled()));
        Ok(())
    })
}

/// A PNG of the first `shown` of `count` 2-D trajectories recorded at `steps` times
/// (`path` is [steps, count, 2], time running forward through the rows): one coloured line
/// each, a hollow circle at the start and a filled one at the end, over the training points.
pub fn trajectories_png(
    title: &str,
    path: &[f32],
    count: usize,
    shown: usize,
    training: &[f32],
) -> Result<Vec<u8>> {
    if count == 0 || !path.len().is_multiple_of(2 * count) {
        return Err(AnalysisError::invalid(
            "path",
            format!("{} values are not [steps, {count}, 2]", path.len()),
        ));
    }
    let steps = path.len() / (2 * count);
    let point =
        |k: usize, i: usize| finite_point(&path[(k * count + i) * 2..(k * count + i) * 2 + 2]);
    let shown = shown.min(count);
    let extent: Vec<f32> = (0..steps)
        .flat_map(|k| path[k * count * 2..(k * count + shown) * 2].iter().copied())
        .collect();
    plane_png(title, &extent, training, |chart| {
        for i in 0..shown {
            let colour = PALETTE[i % PALETTE.len()];
            let line: Vec<(f64, f64)> = (0..steps).filter_map(|k| point(k, i)).collect();
            chart
                .draw_series(LineSeries::new(
                    line.iter().copied(),
                    colour.stroke_width(1),
                ))
                .map_err(plot_error)?;
            if let (Some(&first), Some(&last)) = (line.first(), line.last()) {
                chart
                    .draw_series([
                        Circle::new(first, 4, colour.stroke_width(1)),
                        Circle::new(last, 4, colour.filled()),
                    ])
                    .map_err(plot_error)?;
            }
        }
        Ok(())
    })
}

/// A PNG scatter plot of 2-D `points` coloured by `groups[i]` (colours repeat after ten
/// groups) over the training points.
pub fn grouped_scatter_png(
    title: &str,
    points: &[f32],
    groups: &[usize],
    training: &[f32],
) -> Result<Vec<u8>> {
    if points.len() != 2 * groups.len() {
        return Err(AnalysisError::invalid(
            "groups",
            format!("{} groups for {} points", groups.len(), points.len() / 2),
        ));
    }
    plane_png(title, points, training, |chart| {
        chart
            .draw_series(points.chunks(2).zip(groups).filter_map(|(p, &g)| {
                finite_point(p)
                    .map(|p| Circle::new(p, 3, PALETTE[g % PALETTE.len()].mix(0.7).filled()))
            }))
            .map_err(plot_error)?;
        Ok(())
    })
}

/// Several PNG pictures of the same height side by side in one PNG, separated by 8 white
/// pixels.
pub fn panels_png(panels: &[Vec<u8>]) -> Result<Vec<u8>> {
    let images = panels
        .iter()
        .map(|bytes| {
            image::load_from_memory(bytes)
                .map(|i| i.to_rgb8())
                .map_err(|e| plot_error(format!("cannot decode a panel: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let gap = 8u32;
    let height = images.iter().map(|i| i.height()).max().unwrap_or(0);
    let width =
        images.iter().map(|i| i.width()).sum::<u32>() + gap * images.len().saturating_sub(1) as u32;
    if width == 0 || height == 0 {
        return Err(AnalysisError::invalid("panels", "no pictures to place"));
    }
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let mut x = 0;
    for panel in &images {
        image::imageops::replace(&mut canvas, panel, x as i64, 0);
        x += panel.width() + gap;
    }
    encode_png(canvas.into_raw(), width, height)
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

/// Colours for successive series and groups (the "tab10" palette).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(127, 127, 127),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One named curve.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: &'a [f64],
}

/// [lo, hi] of the finite (and, for a log axis, positive) values, padded.
fn value_range<'a>(values: impl Iterator<Item = &'a f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values
        .copied()
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return if log { (1e-3, 1.0) } else { (0.0, 1.0) };
    }
    if log {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        };
        (lo / 1.2, hi * 1.2)
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-9 + lo.abs() * 1e-3);
        (lo - pad, hi + pad)
    }
}

/// A tick label with at most three significant digits.
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor();
    if !(-3.0..4.0).contains(&magnitude) {
        return format!("{v:.1e}");
    }
    let decimals = (2.0 - magnitude).max(0.0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Axis scales of a curve plot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axes {
    pub log_x: bool,
    pub log_y: bool,
}

/// A PNG of curves y(x) sharing the abscissa `x`, with a legend; points that are not finite
/// (or not positive on a log axis) are left out.
pub fn curves_png(
    title: &str,
    x_label: &str,
    y_label: &str,
    x: &[f64],
    series: &[Series],
    axes: Axes,
) -> Result<Vec<u8>> {
    ensure_font();
    let (width, height) = (900u32, 600u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let xr = value_range(x.iter(), axes.log_x);
        let yr = value_range(series.iter().flat_map(|s| s.values.iter()), axes.log_y);
        let mut caption = ChartBuilder::on(&root);
        caption
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70);
        let keep = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
        let points = |s: &Series| -> Vec<(f64, f64)> {
            x.iter()
                .zip(s.values)
                .filter(|(a, b)| keep(**a, axes.log_x) && keep(**b, axes.log_y))
                .map(|(a, b)| (*a, *b))
                .collect()
        };
        // plotters types the chart by its coordinate kinds: one arm per combination
        macro_rules! draw {
            ($xs:expr, $ys:expr) => {{
                let mut chart = caption.build_cartesian_2d($xs, $ys).map_err(plot_error)?;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .x_label_formatter(&|v| tick(*v))
                    .y_label_formatter(&|v| tick(*v))
                    .label_style(("sans-serif", 14))
                    .draw()
                    .map_err(plot_error)?;
                for (k, s) in series.iter().enumerate() {
                    let colour = PALETTE[k % PALETTE.len()];
                    chart
                        .draw_series(LineSeries::new(points(s), colour.stroke_width(2)))
                        .map_err(plot_error)?
                        .label(s.label)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                        });
                }
                draw_legend(&mut chart)?;
            }};
        }
        match (axes.log_x, axes.log_y) {
            (false, false) => draw!(xr.0..xr.1, yr.0..yr.1),
            (true, false) => draw!((xr.0..xr.1).log_scale(), yr.0..yr.1),
            (false, true) => draw!(xr.0..xr.1, (yr.0..yr.1).log_scale()),
            (true, true) => draw!((xr.0..xr.1).log_scale(), (yr.0..yr.1).log_scale()),
        }
        root.present().map_err(plot_error)?;
    }
    encode_png(rgb, width, height)
}

/// A PNG of overlaid histograms of several samples over shared bins, as the fraction of each
/// sample per bin. With `log_x` the bins are spaced evenly in log x between the smallest
/// positive and the largest value, and values ≤ 0 fall into the first bin.
pub fn histograms_png(
    title: &str,
    x_label: &str,
    series: &[Series],
    bins: usize,
    log_x: bool,
) -> Result<Vec<u8>> {
    let bins = bins.max(1);
    let values = || series.iter().flat_map(|s| s.values.iter());
    let (lo, hi) = value_range(values(), log_x);
    let all_positive = values().all(|v| !v.is_finite() || *v >= 0.0);
    let lo = if all_positive && !log_x { 0.0 } else { lo };
    let to_axis = |v: f64| if log_x { v.ln() } else { v };
    let from_axis = |v: f64| if log_x { v.exp() } else { v };
    let (a, b) = (to_axis(lo), to_axis(hi));
    let width = (b - a) / bins as f64;
    let centres: Vec<f64> = (0..bins)
        .map(|k| from_axis(a + (k as f64 + 0.5) * width))
        .collect();
    let fractions: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            let finite: Vec<f64> = s.values.iter().copied().filter(|v| v.is_finite()).collect();
            let mut counts = vec![0.0; bins];
            for &v in &finite {
                let at = if log_x && v <= 0.0 { a } else { to_axis(v) };
                let k = (((at - a) / width).max(0.0) as usize).min(bins - 1);
                counts[k] += 1.0;
            }
            let total = finite.len().max(1) as f64;
            counts.iter().map(|c| c / total).collect()
        })
        .collect();
    let curves: Vec<Series> = series
        .iter()
        .zip(&fractions)
        .map(|(s, f)| Series {
            label: s.label,
            values: f,
        })
        .collect();
    curves_png(
        title,
        x_label,
        "fraction per bin",
        &centres,
        &curves,
        Axes {
            log_x,
            log_y: false,
        },
    )
}
