//! Pictures: 2-D scatter plots and trajectories over the training points, image grids, curves
//! and histograms. Every legend sits in a strip below the plot area, so it never covers data.
//! The font is embedded, so plots render on a machine without system fonts.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::{AnalysisError, Result};
use crate::stats::{histogram, moving_average, plot_range, Histogram};

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

/// The colour training points are drawn in (under everything else).
const TRAINING: RGBColor = RGBColor(40, 40, 40);

/// The colour samples are drawn in.
const SAMPLES: RGBColor = RGBColor(31, 119, 180);

/// At most this many training points are drawn; more are thinned to every k-th.
pub const MAX_TRAINING_DRAWN: usize = 2000;

const LABEL_FONT: u32 = 14;
const CAPTION_FONT: u32 = 20;

// ---------------------------------------------------------------------------------------------
// Legend strip

/// What a legend entry draws beside its label.
#[derive(Clone, Copy)]
enum Marker {
    /// A line segment of this colour and width.
    Line(RGBAColor, u32),
    /// A filled circle.
    Dot(RGBAColor),
    /// A hollow circle.
    Ring(RGBColor),
    /// A cross.
    Cross(RGBColor),
}

struct LegendEntry {
    label: String,
    marker: Marker,
}

impl LegendEntry {
    fn new(label: impl Into<String>, marker: Marker) -> Self {
        LegendEntry {
            label: label.into(),
            marker,
        }
    }
}

/// Entries laid out left to right in rows across `width` pixels: the top-left corner of each
/// and the height of the strip (0 without entries).
fn legend_layout(entries: &[LegendEntry], width: u32) -> Result<(Vec<(i32, i32)>, u32)> {
    const ROW: i32 = 22;
    const LEFT: i32 = 60;
    const SWATCH: i32 = 30;
    const SPACING: i32 = 28;
    if entries.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let font = ("sans-serif", LABEL_FONT).into_font();
    let (mut x, mut y) = (LEFT, 6);
    let mut positions = Vec::with_capacity(entries.len());
    for entry in entries {
        let (text_width, _) = font.box_size(&entry.label).map_err(plot_error)?;
        let entry_width = SWATCH + text_width as i32;
        if x > LEFT && x + entry_width > width as i32 - 10 {
            x = LEFT;
            y += ROW;
        }
        positions.push((x, y));
        x += entry_width + SPACING;
    }
    Ok((positions, (y + ROW + 4) as u32))
}

fn draw_legend_strip(
    area: &DrawingArea<BitMapBackend, Shift>,
    entries: &[LegendEntry],
    positions: &[(i32, i32)],
) -> Result<()> {
    let font = ("sans-serif", LABEL_FONT).into_font().color(&BLACK);
    for (entry, &(x, y)) in entries.iter().zip(positions) {
        let centre = (x + 10, y + 8);
        match entry.marker {
            Marker::Line(colour, width) => area.draw(&PathElement::new(
                vec![(x, centre.1), (x + 22, centre.1)],
                colour.stroke_width(width),
            )),
            Marker::Dot(colour) => area.draw(&Circle::new(centre, 4, colour.filled())),
            Marker::Ring(colour) => area.draw(&Circle::new(centre, 4, colour.stroke_width(1))),
            Marker::Cross(colour) => area.draw(&Cross::new(centre, 4, colour.stroke_width(2))),
        }
        .map_err(plot_error)?;
        area.draw(&Text::new(entry.label.as_str(), (x + 30, y), font.clone()))
            .map_err(plot_error)?;
    }
    Ok(())
}

/// A `width` × (`plot_height` + legend strip) PNG: `draw` paints the plot area, the legend
/// strip below it lists `entries`.
fn render(
    width: u32,
    plot_height: u32,
    entries: &[LegendEntry],
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<Vec<u8>> {
    ensure_font();
    let (positions, strip) = legend_layout(entries, width)?;
    let height = plot_height + strip;
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (plot, legend) = root.split_vertically(plot_height);
        draw(&plot)?;
        draw_legend_strip(&legend, entries, &positions)?;
        root.present().map_err(plot_error)?;
    }
    encode_png(rgb, width, height)
}

// ---------------------------------------------------------------------------------------------
// Ticks

/// A tick label with at most three significant digits; values within `span`·1e-9 of zero are
/// "0" (so rounding never prints "-0"), and exponents are written without a ".0" mantissa.
fn tick(v: f64, span: f64) -> String {
    if v == 0.0 || v.abs() < span.abs() * 1e-9 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor();
    if !(-3.0..4.0).contains(&magnitude) {
        let text = format!("{v:.1e}");
        return text.replacen(".0e", "e", 1);
    }
    let decimals = (2.0 - magnitude).max(0.0) as usize;
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

/// Labelled ticks of a log axis over [lo, hi] (0 < lo < hi): the powers of ten inside, at
/// most eight of them (every k-th decade when there are more); where fewer than two decades
/// are inside, also 2× and 5× each power, and where that still gives fewer than three labels,
/// every integer multiple 1×–9×.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-12) && *v <= hi * (1.0 + 1e-12);
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let with = |mantissas: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
            .filter(inside)
            .collect()
    };
    let decades = with(&[1.0]);
    if decades.len() > 8 {
        let step = decades.len().div_ceil(8);
        return decades.into_iter().step_by(step).collect();
    }
    if decades.len() >= 2 {
        return decades;
    }
    let some = with(&[1.0, 2.0, 5.0]);
    if some.len() >= 3 {
        return some;
    }
    let all = with(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if all.len() >= 3 {
        return all;
    }
    linear_ticks(lo, hi)
}

/// About five evenly spaced ticks over [lo, hi] at a step of 1, 2 or 5 × 10^k.
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let rough = (hi - lo) / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Grid lines of a log axis: every integer multiple of each power of ten inside [lo, hi].
fn log_grid(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    (lo.log10().floor() as i32..=hi.log10().ceil() as i32)
        .flat_map(|k| (1..10).map(move |m| m as f64 * 10f64.powi(k)))
        .filter(|v| *v >= lo && *v <= hi)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The plane

/// The region of the plane a picture shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extent {
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Extent {
    /// The finite coordinates of every point in `sets` (flat x0, x1 pairs), padded by 5%.
    pub fn of(sets: &[&[f32]]) -> Extent {
        let range = |coord: usize| {
            let (lo, hi) = sets
                .iter()
                .flat_map(|s| s.chunks(2))
                .map(|p| p[coord] as f64)
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
            if !lo.is_finite() {
                return (-1.0, 1.0);
            }
            let pad = ((hi - lo) * 0.05).max(1e-3);
            (lo - pad, hi + pad)
        };
        Extent {
            x: range(0),
            y: range(1),
        }
    }
}

/// The chart type every 2-D picture draws on.
type Plane<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Every k-th training point, so that at most [`MAX_TRAINING_DRAWN`] are drawn, and k.
fn thinned(training: &[f32]) -> (Vec<(f64, f64)>, usize) {
    let n = training.len() / 2;
    let stride = n.div_ceil(MAX_TRAINING_DRAWN).max(1);
    let points = training
        .chunks(2)
        .step_by(stride)
        .filter_map(finite_point)
        .collect();
    (points, stride)
}

/// The legend entry of the training points as [`plane_png`] draws them.
fn training_entry(training: &[f32]) -> LegendEntry {
    let n = training.len() / 2;
    let (_, stride) = thinned(training);
    let label = if stride > 1 {
        format!("training points (every {stride}th of {n})")
    } else {
        format!("training points ({n})")
    };
    LegendEntry::new(label, Marker::Cross(TRAINING))
}

/// A `size`×`size` plot area (plus the legend strip) of the plane over `extent`: the
/// training points first, as small dark crosses under everything else (thinned to at most
/// [`MAX_TRAINING_DRAWN`]; none when `training` is empty), then `draw` adds the picture's own
/// series. `entries` are the legend of those series; the training points' entry comes first.
fn plane_png(
    title: &str,
    size: u32,
    extent: Extent,
    training: &[f32],
    mut entries: Vec<LegendEntry>,
    draw: impl FnOnce(&mut Plane) -> Result<()>,
) -> Result<Vec<u8>> {
    if !training.is_empty() {
        entries.insert(0, training_entry(training));
    }
    render(size, size, &entries, |area| {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", CAPTION_FONT))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(extent.x.0..extent.x.1, extent.y.0..extent.y.1)
            .map_err(plot_error)?;
        let (x_span, y_span) = (extent.x.1 - extent.x.0, extent.y.1 - extent.y.0);
        chart
            .configure_mesh()
            .x_desc("x0")
            .y_desc("x1")
            .x_label_formatter(&|v| tick(*v, x_span))
            .y_label_formatter(&|v| tick(*v, y_span))
            .label_style(("sans-serif", LABEL_FONT))
            .draw()
            .map_err(plot_error)?;
        if !training.is_empty() {
            let (points, _) = thinned(training);
            // few training points are the landmarks of the picture: draw them larger
            let (size, width) = if points.len() <= 50 { (5, 2) } else { (3, 1) };
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Cross::new(p, size, TRAINING.stroke_width(width))),
                )
                .map_err(plot_error)?;
        }
        draw(&mut chart)
    })
}

fn finite_point(p: &[f32]) -> Option<(f64, f64)> {
    (p[0].is_finite() && p[1].is_finite()).then(|| (p[0] as f64, p[1] as f64))
}

/// A PNG scatter plot of 2-D `samples` (blue) over `training` points (dark crosses), on axes
/// spanning both.
pub fn scatter_png(title: &str, samples: &[f32], training: &[f32]) -> Result<Vec<u8>> {
    scatter_png_in(
        title,
        samples,
        training,
        Extent::of(&[samples, training]),
        800,
    )
}

/// [`scatter_png`] on given axes (so that several panels share one scale), `size` pixels
/// square; points outside `extent` are left out.
pub fn scatter_png_in(
    title: &str,
    samples: &[f32],
    training: &[f32],
    extent: Extent,
    size: u32,
) -> Result<Vec<u8>> {
    let colour = SAMPLES.mix(0.5);
    let n = samples.len() / 2;
    let entries = vec![LegendEntry::new(
        format!("samples ({n})"),
        Marker::Dot(colour),
    )];
    let inside = |p: &(f64, f64)| {
        (extent.x.0..=extent.x.1).contains(&p.0) && (extent.y.0..=extent.y.1).contains(&p.1)
    };
    plane_png(title, size, extent, training, entries, |chart| {
        chart
            .draw_series(
                samples
                    .chunks(2)
                    .filter_map(finite_point)
                    .filter(inside)
                    .map(|p| Circle::new(p, 2, colour.filled())),
            )
            .map_err(plot_error)?;
        Ok(())
    })
}

/// A PNG of the first `shown` of `count` 2-D trajectories recorded at `steps` times
/// (`path` is [steps, count, 2], in the order recorded): one coloured line each, a hollow
/// circle at the first recorded point and a filled one at the last, over the training points.
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
    let drawn: Vec<f32> = (0..steps)
        .flat_map(|k| path[k * count * 2..(k * count + shown) * 2].iter().copied())
        .collect();
    let grey = RGBColor(90, 90, 90);
    let entries = vec![
        LegendEntry::new("one path per colour", Marker::Line(grey.to_rgba(), 1)),
        LegendEntry::new("first recorded point (largest τ)", Marker::Ring(grey)),
        LegendEntry::new(
            "last recorded point (smallest τ)",
            Marker::Dot(grey.to_rgba()),
        ),
    ];
    let extent = Extent::of(&[&drawn, training]);
    plane_png(title, 800, extent, training, entries, |chart| {
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

/// A PNG scatter plot of 2-D `points` coloured by the training point `groups[i]` indexes;
/// the training points are drawn on top in their group's colour (a large cross with a black
/// edge), so each colour is keyed to its point. Colours repeat after ten groups.
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
    let n_training = training.len() / 2;
    if let Some(&g) = groups.iter().find(|&&g| g >= n_training) {
        return Err(AnalysisError::invalid(
            "groups",
            format!("group {g} names no training point (there are {n_training})"),
        ));
    }
    let mut entries = vec![
        LegendEntry::new(
            "point, in the colour of the training point of its group",
            Marker::Dot(PALETTE[0].mix(0.7)),
        ),
        LegendEntry::new("training point", Marker::Cross(PALETTE[0])),
    ];
    if n_training > PALETTE.len() {
        entries.push(LegendEntry::new(
            format!("(colours repeat after {})", PALETTE.len()),
            Marker::Line(WHITE.to_rgba(), 1),
        ));
    }
    let extent = Extent::of(&[points, training]);
    plane_png(title, 800, extent, &[], entries, |chart| {
        chart
            .draw_series(points.chunks(2).zip(groups).filter_map(|(p, &g)| {
                finite_point(p)
                    .map(|p| Circle::new(p, 3, PALETTE[g % PALETTE.len()].mix(0.7).filled()))
            }))
            .map_err(plot_error)?;
        for (j, p) in training.chunks(2).enumerate() {
            if let Some(p) = finite_point(p) {
                let colour = PALETTE[j % PALETTE.len()];
                chart
                    .draw_series([
                        Cross::new(p, 9, BLACK.stroke_width(5)),
                        Cross::new(p, 8, colour.stroke_width(3)),
                    ])
                    .map_err(plot_error)?;
            }
        }
        Ok(())
    })
}

/// Several PNG pictures in one PNG, `columns` per row, separated by 8 white pixels; each row
/// is as tall as its tallest picture.
pub fn panels_png(panels: &[Vec<u8>], columns: usize) -> Result<Vec<u8>> {
    let images = panels
        .iter()
        .map(|bytes| {
            image::load_from_memory(bytes)
                .map(|i| i.to_rgb8())
                .map_err(|e| plot_error(format!("cannot decode a panel: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    if images.is_empty() {
        return Err(AnalysisError::invalid("panels", "no pictures to place"));
    }
    let gap = 8u32;
    let rows: Vec<&[image::RgbImage]> = images.chunks(columns.max(1)).collect();
    let row_width = |row: &[image::RgbImage]| {
        row.iter().map(|i| i.width()).sum::<u32>() + gap * (row.len() as u32 - 1)
    };
    let row_height = |row: &[image::RgbImage]| row.iter().map(|i| i.height()).max().unwrap_or(0);
    let width = rows.iter().map(|r| row_width(r)).max().unwrap_or(0);
    let height = rows.iter().map(|r| row_height(r)).sum::<u32>() + gap * (rows.len() as u32 - 1);
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let mut y = 0;
    for row in rows {
        let mut x = 0;
        for panel in row {
            image::imageops::replace(&mut canvas, panel, x as i64, y as i64);
            x += panel.width() + gap;
        }
        y += row_height(row) + gap;
    }
    encode_png(canvas.into_raw(), width, height)
}

/// A PNG grid of grey-scale images (values in [0, 1], clamped; not finite: white), under a
/// one-line `caption`. The images come in groups of `group` (a sample and its nearest
/// training image, say): `columns` images per row, each magnified `scale` times, 2 pixels
/// apart inside a group and 8 between groups.
pub fn image_grid_png(
    caption: &str,
    images: &[f32],
    (height, width): (usize, usize),
    columns: usize,
    scale: usize,
    group: usize,
) -> Result<Vec<u8>> {
    let count = images.len() / (height * width).max(1);
    if count == 0 {
        return Err(AnalysisError::invalid("images", "no images to draw"));
    }
    ensure_font();
    let group = group.max(1);
    let columns = columns.min(count).max(1).div_ceil(group) * group;
    let rows = count.div_ceil(columns);
    let (gap, group_gap) = (2, 8);
    let caption_height = 30;
    let column_x =
        |c: usize| group_gap + c * (width * scale + gap) + (c / group) * (group_gap - gap);
    let grid_width = column_x(columns - 1) + width * scale + group_gap;
    let font = ("sans-serif", LABEL_FONT).into_font();
    let (text_width, _) = font.box_size(caption).map_err(plot_error)?;
    let total_w = grid_width.max(text_width as usize + 20);
    let cell_h = height * scale + gap;
    let total_h = caption_height + rows * cell_h + gap;
    let mut rgb = vec![255u8; total_w * total_h * 3];
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
                let (py, px) = (caption_height + r * cell_h + y, column_x(c) + x);
                let at = (py * total_w + px) * 3;
                rgb[at..at + 3].copy_from_slice(&[v, v, v]);
            }
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (total_w as u32, total_h as u32))
            .into_drawing_area();
        root.draw(&Text::new(caption, (10, 8), font.color(&BLACK)))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    encode_png(rgb, total_w as u32, total_h as u32)
}

// ---------------------------------------------------------------------------------------------
// Curves

/// One named curve.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: &'a [f64],
}

/// How a curve is stroked.
#[derive(Clone, Copy)]
struct Stroke {
    colour: RGBAColor,
    width: u32,
}

/// [lo, hi] of the finite (and, for a log axis, positive) values, padded.
/// Axis scales of a curve plot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axes {
    pub log_x: bool,
    pub log_y: bool,
}

/// A PNG of curves y(x) sharing the abscissa `x`, with a legend below; points that are not
/// finite (or not positive on a log axis) are left out, and a curve is broken where they were.
pub fn curves_png(
    title: &str,
    x_label: &str,
    y_label: &str,
    x: &[f64],
    series: &[Series],
    axes: Axes,
) -> Result<Vec<u8>> {
    let strokes: Vec<Stroke> = (0..series.len())
        .map(|k| Stroke {
            colour: PALETTE[k % PALETTE.len()].to_rgba(),
            width: 2,
        })
        .collect();
    styled_curves_png(title, x_label, y_label, x, series, &strokes, axes)
}

/// A PNG of a training loss against the step: the logged values as a thin light line and
/// their centred moving average over `2·half_window + 1` logged values as a thick one.
pub fn loss_curve_png(
    title: &str,
    steps: &[f64],
    losses: &[f64],
    half_window: usize,
    log_y: bool,
) -> Result<Vec<u8>> {
    let smooth = moving_average(losses, half_window);
    let label = format!("moving average over {} logged values", 2 * half_window + 1);
    let series = [
        Series {
            label: "logged loss",
            values: losses,
        },
        Series {
            label: &label,
            values: &smooth,
        },
    ];
    let strokes = [
        Stroke {
            colour: PALETTE[0].mix(0.5),
            width: 1,
        },
        Stroke {
            colour: PALETTE[1].to_rgba(),
            width: 2,
        },
    ];
    styled_curves_png(
        title,
        "step",
        "loss",
        steps,
        &series,
        &strokes,
        Axes {
            log_x: false,
            log_y,
        },
    )
}

fn styled_curves_png(
    title: &str,
    x_label: &str,
    y_label: &str,
    x: &[f64],
    series: &[Series],
    strokes: &[Stroke],
    axes: Axes,
) -> Result<Vec<u8>> {
    let keep = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    // the runs of consecutive drawable points of a curve
    let segments = |s: &Series| -> Vec<Vec<(f64, f64)>> {
        let mut runs = vec![Vec::new()];
        for (a, b) in x.iter().zip(s.values) {
            if keep(*a, axes.log_x) && keep(*b, axes.log_y) {
                runs.last_mut().expect("never empty").push((*a, *b));
            } else if !runs.last().expect("never empty").is_empty() {
                runs.push(Vec::new());
            }
        }
        runs.retain(|r| !r.is_empty());
        runs
    };
    let xr = plot_range(x.iter(), axes.log_x);
    let yr = plot_range(series.iter().flat_map(|s| s.values.iter()), axes.log_y);
    let entries: Vec<LegendEntry> = series
        .iter()
        .zip(strokes)
        .map(|(s, st)| LegendEntry::new(s.label, Marker::Line(st.colour, st.width.max(2))))
        .collect();
    let (x_span, y_span) = (xr.1 - xr.0, yr.1 - yr.0);
    render(900, 600, &entries, |area| {
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(title, ("sans-serif", CAPTION_FONT))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70);
        // plotters types the chart by its coordinate kinds: one arm per combination
        macro_rules! draw {
            ($xs:expr, $ys:expr) => {{
                let mut chart = builder.build_cartesian_2d($xs, $ys).map_err(plot_error)?;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .x_label_formatter(&|v| tick(*v, x_span))
                    .y_label_formatter(&|v| tick(*v, y_span))
                    .label_style(("sans-serif", LABEL_FONT))
                    .draw()
                    .map_err(plot_error)?;
                for (s, st) in series.iter().zip(strokes) {
                    for run in segments(s) {
                        chart
                            .draw_series(LineSeries::new(run, st.colour.stroke_width(st.width)))
                            .map_err(plot_error)?;
                    }
                }
            }};
        }
        let log_axis = |(lo, hi): (f64, f64)| {
            (lo..hi)
                .log_scale()
                .with_key_points(log_ticks(lo, hi))
                .with_light_points(log_grid(lo, hi))
        };
        match (axes.log_x, axes.log_y) {
            (false, false) => draw!(xr.0..xr.1, yr.0..yr.1),
            (true, false) => draw!(log_axis(xr), yr.0..yr.1),
            (false, true) => draw!(xr.0..xr.1, log_axis(yr)),
            (true, true) => draw!(log_axis(xr), log_axis(yr)),
        }
        Ok(())
    })
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
    let values: Vec<&[f64]> = series.iter().map(|s| s.values).collect();
    let Histogram {
        centres, fractions, ..
    } = histogram(&values, bins, log_x);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_never_print_negative_zero_and_drop_the_point_zero_mantissa() {
        assert_eq!(tick(-1e-17, 2.0), "0");
        assert_eq!(tick(-0.0, 1.0), "0");
        assert_eq!(tick(-0.0004, 1.0), "-4e-4");
        assert_eq!(tick(1e-5, 1.0), "1e-5");
        assert_eq!(tick(2.5e-5, 1.0), "2.5e-5");
        assert_eq!(tick(0.25, 1.0), "0.25");
        assert_eq!(tick(-0.5, 1.0), "-0.5");
        assert_eq!(tick(1500.0, 1.0), "1500");
    }

    #[test]
    fn log_ticks_label_every_decade_or_fill_in_one_without_two_labels() {
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-12 * y)
        };
        // five decades: their powers only
        assert!(close(
            &log_ticks(1e-5, 2.0),
            &[1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
        ));
        // one power of ten inside: 2× and 5× join it
        assert!(close(&log_ticks(0.15, 2.5), &[0.2, 0.5, 1.0, 2.0]));
        // no power of ten inside and one 2×/5× multiple: every multiple
        assert!(close(&log_ticks(0.25, 0.65), &[0.3, 0.4, 0.5, 0.6]));
        // narrower than that: evenly spaced ticks
        assert!(close(
            &log_ticks(150.0, 250.0),
            &[160.0, 180.0, 200.0, 220.0, 240.0]
        ));
        // 20 decades are thinned to at most eight labels
        let many = log_ticks(1e-10, 1e10);
        assert!(many.len() <= 8 && many.len() >= 5, "{many:?}");
        assert!(log_ticks(0.0, 1.0).is_empty());
    }

    #[test]
    fn the_legend_strip_wraps_entries_into_rows() {
        ensure_font();
        let entries: Vec<LegendEntry> = (0..12)
            .map(|k| LegendEntry::new(format!("a long legend label {k}"), Marker::Cross(BLACK)))
            .collect();
        let (positions, height) = legend_layout(&entries, 600).unwrap();
        let rows = positions
            .iter()
            .map(|p| p.1)
            .collect::<std::collections::BTreeSet<_>>();
        assert!(rows.len() >= 3, "{positions:?}");
        assert!(height >= 22 * rows.len() as u32);
        assert_eq!(legend_layout(&[], 600).unwrap().1, 0);
    }

    #[test]
    fn training_points_are_thinned_to_the_drawing_limit() {
        let training: Vec<f32> = (0..10_000).flat_map(|i| [i as f32, 0.0]).collect();
        let (points, stride) = thinned(&training);
        assert_eq!(stride, 5);
        assert_eq!(points.len(), 2000);
        assert!(points.len() <= MAX_TRAINING_DRAWN);
        let (few, one) = thinned(&training[..20]);
        assert_eq!((few.len(), one), (10, 1));
    }

    #[test]
    fn grouped_scatter_refuses_a_group_without_its_training_point() {
        let err = grouped_scatter_png("t", &[0.0, 0.0], &[3], &[0.0, 0.0]).unwrap_err();
        assert!(err.to_string().contains("group 3"), "{err}");
    }

    #[test]
    fn panels_are_laid_out_in_rows() {
        let panel = |w: u32, h: u32| encode_png(vec![0u8; (w * h * 3) as usize], w, h).unwrap();
        let png = panels_png(&[panel(10, 5), panel(10, 7), panel(10, 5)], 2).unwrap();
        let image = image::load_from_memory(&png).unwrap();
        assert_eq!((image.width(), image.height()), (10 + 8 + 10, 7 + 8 + 5));
    }

    #[test]
    fn image_grids_put_groups_apart_and_keep_the_pixels() {
        // two 1×1 images, one group: widths 2·(1·3) + gap 2 + outer margins 8
        let png = image_grid_png("", &[0.0, 0.5], (1, 1), 2, 3, 2).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_rgb8();
        assert!(image.width() >= 8 + 3 + 2 + 3 + 8);
        let row = 30 + 1;
        assert_eq!(image.get_pixel(8 + 1, row).0, [0, 0, 0]);
        assert_eq!(image.get_pixel(8 + 3 + 2 + 1, row).0, [128, 128, 128]);
        // the 2-pixel gap inside the pair is the background
        assert_eq!(image.get_pixel(8 + 3, row).0, [255, 255, 255]);
    }
}
