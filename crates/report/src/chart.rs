//! The overview chart: heap, live counts, events and poll lifecycles over time.
//!
//! One drawing function renders onto any plotters backend, so the SVG the app
//! shows and the PNG a bundle carries are the same picture. At the top is the
//! JS heap (used as the main line, total lighter behind it), with live timers
//! and requests in flight on a second axis and the verdict's trend line. Below
//! it, a strip has alert markers and labelled ticks for snapshots, navigations
//! and markers. At the bottom is one lane per poll lifecycle. Series are downsampled to the plot's pixel
//! width first, so drawing cost does not grow with the recording's length.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::downsample::min_max_per_column;
use crate::font;
use crate::view::{Lane, LaneEnd, Overview, SamplePoint, TickKind};
use leakscope_model::AlertLevel;

/// Default size of a chart, in pixels.
pub const DEFAULT_WIDTH: u32 = 1600;
pub const DEFAULT_HEIGHT: u32 = 900;

/// Smallest and largest accepted chart side, in pixels. Below the minimum the
/// axes leave no room for data. Above the maximum a PNG buffer would exceed
/// 192 MB (8000 x 8000 x 3 bytes).
const MIN_SIDE: u32 = 320;
const MAX_SIDE: u32 = 8000;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("invalid chart time range {from}..{to} s: the start must be before the end; check --from and --to")]
    InvalidRange { from: f64, to: f64 },
    #[error("invalid chart size {width}x{height}: each side must be between {MIN_SIDE} and {MAX_SIDE} pixels")]
    InvalidSize { width: u32, height: u32 },
    #[error("the bundled chart font could not be loaded; the build is damaged, rebuild Leakscope")]
    Font,
    #[error("failed to draw the chart: {0}")]
    Draw(String),
    #[error("failed to encode the chart as PNG: {0}")]
    Encode(String),
}

/// Size and time range of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    pub width: u32,
    pub height: u32,
    /// Start of the time range in seconds since the recording started; default 0.
    pub from: Option<f64>,
    /// End of the time range in seconds; default the end of the recording.
    pub to: Option<f64>,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            from: None,
            to: None,
        }
    }
}

/// Renders the overview chart as an SVG document.
pub fn render_svg(overview: &Overview, options: &ChartOptions) -> Result<String, ChartError> {
    check_size(options)?;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (options.width, options.height)).into_drawing_area();
        draw_overview(&root, overview, options)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Renders the overview chart as a PNG file's bytes.
pub fn render_png(overview: &Overview, options: &ChartOptions) -> Result<Vec<u8>, ChartError> {
    check_size(options)?;
    let (width, height) = (options.width, options.height);
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw_overview(&root, overview, options)?;
        root.present().map_err(draw_error)?;
    }
    encode_png(&rgb, width, height)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Fixed settings, so equal pixels always give equal bytes.
    encoder.set_compression(png::Compression::Default);
    encoder.set_filter(png::FilterType::Paeth);
    let mut writer = encoder
        .write_header()
        .map_err(|error| ChartError::Encode(error.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|error| ChartError::Encode(error.to_string()))?;
    writer
        .finish()
        .map_err(|error| ChartError::Encode(error.to_string()))?;
    Ok(out)
}

fn check_size(options: &ChartOptions) -> Result<(), ChartError> {
    let valid = |side: u32| (MIN_SIDE..=MAX_SIDE).contains(&side);
    if !valid(options.width) || !valid(options.height) {
        return Err(ChartError::InvalidSize {
            width: options.width,
            height: options.height,
        });
    }
    Ok(())
}

fn draw_error<E: std::error::Error + Send + Sync>(error: DrawingAreaErrorKind<E>) -> ChartError {
    ChartError::Draw(error.to_string())
}

// Colours. Heap in blues, live counts in warm colours, lanes by poll type.
const HEAP_USED: RGBColor = RGBColor(31, 78, 156);
const HEAP_TOTAL: RGBColor = RGBColor(157, 185, 232);
const TIMERS: RGBColor = RGBColor(230, 126, 34);
const REQUESTS: RGBColor = RGBColor(39, 150, 96);
const TREND: RGBColor = RGBColor(192, 57, 43);
const GRID: RGBColor = RGBColor(225, 225, 225);
const TEXT: RGBColor = RGBColor(40, 40, 40);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const RUNAWAY: RGBColor = RGBColor(200, 30, 30);

fn level_colour(level: AlertLevel) -> RGBColor {
    match level {
        AlertLevel::Info => RGBColor(52, 152, 219),
        AlertLevel::Warning => RGBColor(224, 168, 0),
        AlertLevel::Critical => RGBColor(231, 76, 60),
        AlertLevel::Emergency => RGBColor(120, 0, 0),
    }
}

fn level_name(level: AlertLevel) -> &'static str {
    match level {
        AlertLevel::Info => "info",
        AlertLevel::Warning => "warning",
        AlertLevel::Critical => "critical",
        AlertLevel::Emergency => "emergency",
    }
}

/// Lane colour of a poll type; types the editor does not use share grey.
fn poll_type_colour(poll_type: Option<&str>) -> RGBColor {
    match poll_type {
        Some("video") => RGBColor(125, 60, 152),
        Some("audio-suno") => RGBColor(22, 160, 133),
        Some("upscale") => RGBColor(211, 84, 0),
        Some("audio-minimax") => RGBColor(194, 24, 91),
        _ => RGBColor(127, 140, 141),
    }
}

fn tick_colour(kind: TickKind) -> RGBColor {
    match kind {
        TickKind::Snapshot => RGBColor(0, 128, 128),
        TickKind::Navigation => RGBColor(120, 120, 120),
        TickKind::Marker => RGBColor(20, 20, 20),
    }
}

/// Pixel sizes of one chart, scaled from the 1600x900 design size.
struct Layout {
    scale: f64,
    title_height: i32,
    lane_label_width: i32,
    right_axis_width: i32,
    x_axis_height: i32,
    strip_row: i32,
    lane_row: i32,
    legend_height: i32,
}

impl Layout {
    fn new(width: u32, height: u32) -> Layout {
        let scale = (height as f64 / 900.0).min(width as f64 / 1600.0).max(0.4);
        let px = |value: f64| (value * scale).round() as i32;
        Layout {
            scale,
            title_height: px(44.0),
            lane_label_width: px(215.0),
            right_axis_width: px(70.0),
            x_axis_height: px(40.0),
            strip_row: px(20.0),
            lane_row: px(26.0),
            legend_height: px(30.0),
        }
    }

    fn font(&self, size: f64) -> f64 {
        // The app's live chart is short and wide (scale 0.4), where 8 px
        // text is hard to read; 10 px still fits the lane rows.
        (size * self.scale).max(10.0)
    }
}

/// Resolves the time range to draw against the recording's duration.
fn resolve_range(overview: &Overview, options: &ChartOptions) -> Result<(f64, f64), ChartError> {
    let from = options.from.unwrap_or(0.0);
    let to = options.to.unwrap_or(overview.duration.max(from + 1.0));
    if !(from.is_finite() && to.is_finite() && from < to) {
        return Err(ChartError::InvalidRange { from, to });
    }
    Ok((from, to))
}

/// Formats seconds as `42s`, `12:05` or `1:02:05` for axis labels.
pub fn format_time(seconds: f64, range_width: f64) -> String {
    let total = seconds.round() as i64;
    let sign = if total < 0 { "-" } else { "" };
    let total = total.abs();
    if range_width < 120.0 {
        return format!("{sign}{total}s");
    }
    let (hours, minutes, secs) = (total / 3600, (total / 60) % 60, total % 60);
    if hours > 0 {
        format!("{sign}{hours}:{minutes:02}:{secs:02}")
    } else {
        format!("{sign}{minutes}:{secs:02}")
    }
}

/// Assigns each lane a row. With room for every lane, each gets its own row;
/// otherwise lanes that do not overlap in time share rows (first fit).
fn assign_rows(lanes: &[Lane], until: f64, max_rows: usize) -> (Vec<usize>, usize, bool) {
    if lanes.len() <= max_rows {
        return ((0..lanes.len()).collect(), lanes.len(), false);
    }
    let mut row_ends: Vec<f64> = Vec::new();
    let mut rows = Vec::with_capacity(lanes.len());
    for lane in lanes {
        let end = lane.drawn_end(until);
        match row_ends.iter().position(|&row_end| row_end < lane.start_t) {
            Some(row) => {
                row_ends[row] = end;
                rows.push(row);
            }
            None => {
                row_ends.push(end);
                rows.push(row_ends.len() - 1);
            }
        }
    }
    let count = row_ends.len();
    (rows, count, true)
}

fn text_style(size: f64, colour: RGBColor) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().color(&colour)
}

/// Width of `text` in pixels at `size`, measured with the bundled font.
fn text_width<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, text: &str, size: f64) -> i32 {
    match root.estimate_text_size(text, &text_style(size, TEXT)) {
        Ok((width, _)) => width as i32,
        // DejaVu Sans averages about 0.6 em per character of this kind of text.
        Err(_) => (text.chars().count() as f64 * size * 0.6) as i32,
    }
}

/// Shortens `text` to fit `max_width` pixels at `size`, ending in an ellipsis.
fn fit_text<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    max_width: i32,
) -> String {
    if text_width(root, text, size) <= max_width {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 1 {
        keep -= 1;
        let candidate: String = chars[..keep].iter().collect::<String>() + "…";
        if text_width(root, &candidate, size) <= max_width {
            return candidate;
        }
    }
    "…".to_owned()
}

fn draw_overview<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    overview: &Overview,
    options: &ChartOptions,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    if !font::ensure_registered() {
        return Err(ChartError::Font);
    }
    let (from, to) = resolve_range(overview, options)?;
    let layout = Layout::new(options.width, options.height);
    root.fill(&WHITE).map_err(draw_error)?;

    // Vertical budget: title, heap chart, event strip, lanes, lane legend.
    let height = options.height as i32;
    let visible_lanes: Vec<Lane> = overview
        .lanes
        .iter()
        .filter(|lane| lane.drawn_end(to) >= from && lane.start_t <= to)
        .cloned()
        .collect();
    let lanes_budget = ((height as f64) * 0.34) as i32;
    let max_rows = (lanes_budget / layout.lane_row).max(1) as usize;
    let (rows, row_count, packed) = assign_rows(&visible_lanes, to, max_rows);
    let lane_row = if row_count > 0 {
        layout.lane_row.min(lanes_budget / row_count as i32).max(4)
    } else {
        layout.lane_row
    };
    let lanes_height = if row_count == 0 {
        layout.lane_row
    } else {
        lane_row * row_count as i32
    };
    let strip_height = layout.strip_row * 3;
    let heap_height = height
        - layout.title_height
        - strip_height
        - lanes_height
        - layout.legend_height
        - layout.lane_row / 2;

    draw_title(root, overview, &layout, from, to)?;

    let (_, below_title) = root.split_vertically(layout.title_height);
    let (heap_area, _) = below_title.split_vertically(heap_height);

    let samples: Vec<SamplePoint> = {
        let first_inside = overview.samples.partition_point(|sample| sample.t < from);
        let last_inside = overview.samples.partition_point(|sample| sample.t <= to);
        overview.samples
            [first_inside.saturating_sub(1)..(last_inside + 1).min(overview.samples.len())]
            .to_vec()
    };
    let heap_max = samples
        .iter()
        .map(|sample| sample.heap_total_mb.max(sample.heap_used_mb))
        .fold(0.0, f64::max);
    let trend_max = overview.trend.map_or(0.0, |trend| {
        trend
            .at(trend.to_t.min(to))
            .max(trend.at(trend.from_t.max(from)))
    });
    let y_max = (heap_max.max(trend_max) * 1.12).max(1.0);
    let count_max = samples
        .iter()
        .map(|sample| {
            sample
                .timers_live
                .unwrap_or(0)
                .max(sample.requests_in_flight.unwrap_or(0))
        })
        .max()
        .unwrap_or(0);
    let y2_max = ((count_max as f64) * 1.25).max(5.0).ceil();

    let label_size = layout.font(15.0);
    let mut chart = ChartBuilder::on(&heap_area)
        .margin_top((30.0 * layout.scale) as i32)
        .x_label_area_size(layout.x_axis_height)
        .y_label_area_size(layout.lane_label_width)
        .right_y_label_area_size(layout.right_axis_width)
        .build_cartesian_2d(from..to, 0.0..y_max)
        .map_err(draw_error)?
        .set_secondary_coord(from..to, 0.0..y2_max);

    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        // Time labels are drawn below at whole minutes or seconds, which
        // plotters' decimal steps (50 s, 250 s) do not give.
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .label_style(text_style(label_size, TEXT))
        .axis_desc_style(text_style(label_size, TEXT))
        .y_label_formatter(&|mb| format!("{mb:.0}"))
        .draw()
        .map_err(draw_error)?;
    chart
        .configure_secondary_axes()
        .axis_style(MUTED)
        .label_style(text_style(label_size, TEXT))
        .axis_desc_style(text_style(label_size, TEXT))
        .y_labels(6)
        .y_label_formatter(&|count| format!("{count:.0}"))
        .draw()
        .map_err(draw_error)?;

    let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
    // Axis titles sit horizontally above each axis, where they need no rotation.
    let axis_title_y = plot_y.start - (14.0 * layout.scale) as i32;
    let axis_title = text_style(layout.font(14.0), TEXT);
    root.draw_text(
        "JS heap (MB)",
        &axis_title.pos(Pos::new(HPos::Right, VPos::Center)),
        (plot_x.start, axis_title_y),
    )
    .map_err(draw_error)?;
    root.draw_text(
        "live timers, requests",
        &axis_title.pos(Pos::new(HPos::Left, VPos::Center)),
        (plot_x.end - (80.0 * layout.scale) as i32, axis_title_y),
    )
    .map_err(draw_error)?;
    let columns = (plot_x.end - plot_x.start).max(1) as usize;
    draw_time_axis(
        root,
        &|t| chart.backend_coord(&(t, 0.0)).0,
        (from, to),
        (plot_y.start, plot_y.end),
        &layout,
    )?;
    let segments = split_at_gaps(&samples);

    // Heap total behind heap used, then the live counts, then the trend.
    let mut first = true;
    for segment in &segments {
        let points = min_max_per_column(segment, |s| s.t, |s| s.heap_total_mb, (from, to), columns);
        let series = chart
            .draw_series(
                AreaSeries::new(
                    points.iter().map(|s| (s.t, s.heap_total_mb)),
                    0.0,
                    HEAP_TOTAL.mix(0.35),
                )
                .border_style(HEAP_TOTAL.stroke_width(1)),
            )
            .map_err(draw_error)?;
        if first {
            series.label("heap total").legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], HEAP_TOTAL.mix(0.6).filled())
            });
        }
        first = false;
    }
    let mut first = true;
    for segment in &segments {
        let points = min_max_per_column(segment, |s| s.t, |s| s.heap_used_mb, (from, to), columns);
        let style = HEAP_USED.stroke_width((2.5 * layout.scale).max(1.0) as u32);
        let series = chart
            .draw_series(LineSeries::new(
                points.iter().map(|s| (s.t, s.heap_used_mb)),
                style,
            ))
            .map_err(draw_error)?;
        if first {
            series
                .label("heap used")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        first = false;
    }
    draw_count_series(&mut chart, &segments, (from, to), columns, &layout)?;
    if let Some(trend) = overview.trend {
        let (start, end) = (trend.from_t.max(from), trend.to_t.min(to));
        if start < end {
            let style = TREND.stroke_width((2.0 * layout.scale).max(1.0) as u32);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(start, trend.at(start)), (end, trend.at(end))],
                    10,
                    6,
                    style,
                ))
                .map_err(draw_error)?
                .label(format!("heap trend {:+.2} MB/min", trend.slope_mb_per_min))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
    }
    let mut levels: Vec<AlertLevel> = overview
        .alerts
        .iter()
        .filter(|a| a.t >= from && a.t <= to)
        .map(|a| a.level)
        .collect();
    levels.sort();
    levels.dedup();
    for level in levels {
        let colour = level_colour(level);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(draw_error)?
            .label(format!("alert: {}", level_name(level)))
            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin((10.0 * layout.scale) as i32)
        .label_font(text_style(layout.font(14.0), TEXT))
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .draw()
        .map_err(draw_error)?;

    // Everything below the heap chart is drawn in root pixels, on the same x scale.
    let x_of = |t: f64| chart.backend_coord(&(t, 0.0)).0;
    let strip_top = layout.title_height + heap_height;
    let lanes_top = strip_top + strip_height;
    let geometry = Geometry {
        x_of: &x_of,
        plot_x: plot_x.clone(),
        plot_top: plot_y.start,
        plot_bottom: plot_y.end,
        from,
        to,
    };
    draw_strip(root, overview, &geometry, &layout, strip_top)?;
    let lane_rows = LaneRows {
        rows: &rows,
        count: row_count,
        packed,
        top: lanes_top,
        row_height: lane_row,
    };
    draw_lanes(root, &visible_lanes, &lane_rows, &geometry, &layout)?;
    draw_lane_legend(
        root,
        &visible_lanes,
        &layout,
        lanes_top + lanes_height + layout.lane_row / 4,
        plot_x.start,
    )?;
    Ok(())
}

/// Steps between time labels, seconds: whole seconds, minutes and hours.
const TIME_STEPS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    10800.0, 21600.0,
];

/// Picks the smallest step that gives at most `max_labels` labels over `range_width` seconds.
fn time_step(range_width: f64, max_labels: f64) -> f64 {
    TIME_STEPS
        .iter()
        .copied()
        .find(|step| range_width / step <= max_labels)
        .unwrap_or(range_width / max_labels)
}

/// Draws vertical grid lines and time labels at multiples of a whole time step.
fn draw_time_axis<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x_of: &dyn Fn(f64) -> i32,
    (from, to): (f64, f64),
    (plot_top, plot_bottom): (i32, i32),
    layout: &Layout,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let range_width = to - from;
    let max_labels = (10.0 * layout.scale / 0.9).clamp(4.0, 12.0);
    let step = time_step(range_width, max_labels);
    let style = text_style(layout.font(15.0), TEXT).pos(Pos::new(HPos::Center, VPos::Top));
    let mut t = (from / step).ceil() * step;
    while t <= to + 1e-9 {
        let x = x_of(t);
        root.draw(&PathElement::new(
            vec![(x, plot_top), (x, plot_bottom)],
            GRID.stroke_width(1),
        ))
        .map_err(draw_error)?;
        root.draw(&PathElement::new(
            vec![(x, plot_bottom), (x, plot_bottom + 5)],
            MUTED.stroke_width(1),
        ))
        .map_err(draw_error)?;
        root.draw_text(&format_time(t, range_width), &style, (x, plot_bottom + 8))
            .map_err(draw_error)?;
        t += step;
    }
    Ok(())
}

fn split_at_gaps(samples: &[SamplePoint]) -> Vec<Vec<SamplePoint>> {
    let mut segments: Vec<Vec<SamplePoint>> = Vec::new();
    for sample in samples {
        if sample.after_gap || segments.is_empty() {
            segments.push(Vec::new());
        }
        if let Some(segment) = segments.last_mut() {
            segment.push(*sample);
        }
    }
    segments
}

type DualChart<'a, DB> = plotters::chart::DualCoordChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Draws live timers and requests in flight as step lines on the second axis.
fn draw_count_series<DB: DrawingBackend>(
    chart: &mut DualChart<'_, DB>,
    segments: &[Vec<SamplePoint>],
    range: (f64, f64),
    columns: usize,
    layout: &Layout,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    type Reader = fn(&SamplePoint) -> Option<u64>;
    let series: [(&str, RGBColor, Reader); 2] = [
        ("live timers", TIMERS, |s| s.timers_live),
        ("requests in flight", REQUESTS, |s| s.requests_in_flight),
    ];
    for (label, colour, read) in series {
        let style = colour.stroke_width((1.6 * layout.scale).max(1.0) as u32);
        let mut labelled = false;
        for segment in segments {
            let known: Vec<SamplePoint> = segment
                .iter()
                .filter(|s| read(s).is_some())
                .copied()
                .collect();
            if known.is_empty() {
                continue;
            }
            let points = min_max_per_column(
                &known,
                |s| s.t,
                |s| read(s).unwrap_or(0) as f64,
                range,
                columns,
            );
            let mut steps = Vec::with_capacity(points.len() * 2);
            for (index, point) in points.iter().enumerate() {
                let value = read(point).unwrap_or(0) as f64;
                if index > 0 {
                    steps.push((
                        point.t,
                        steps.last().map_or(value, |last: &(f64, f64)| last.1),
                    ));
                }
                steps.push((point.t, value));
            }
            let drawn = chart
                .draw_secondary_series(LineSeries::new(steps, style))
                .map_err(draw_error)?;
            if !labelled {
                drawn
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                labelled = true;
            }
        }
    }
    Ok(())
}

/// Pixel geometry shared by the strip and the lanes.
struct Geometry<'a> {
    x_of: &'a dyn Fn(f64) -> i32,
    plot_x: std::ops::Range<i32>,
    plot_top: i32,
    plot_bottom: i32,
    from: f64,
    to: f64,
}

fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    overview: &Overview,
    layout: &Layout,
    from: f64,
    to: f64,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let size = layout.font(20.0);
    let y = layout.title_height / 2;
    let left = (12.0 * layout.scale) as i32;
    let title = fit_text(root, &overview.title, size, (900.0 * layout.scale) as i32);
    root.draw_text(
        &title,
        &text_style(size, TEXT).pos(Pos::new(HPos::Left, VPos::Center)),
        (left, y),
    )
    .map_err(draw_error)?;
    let range = format!(
        "{} to {} of {} recorded",
        format_time(from, to - from),
        format_time(to, to - from),
        format_time(overview.duration, overview.duration)
    );
    let right = root.dim_in_pixel().0 as i32 - left;
    root.draw_text(
        &range,
        &text_style(layout.font(14.0), MUTED).pos(Pos::new(HPos::Right, VPos::Center)),
        (right, y),
    )
    .map_err(draw_error)
}

/// Draws the strip under the heap chart: alert markers in its first row, tick
/// labels in the other two, and each tick's line up through the heap plot.
fn draw_strip<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    overview: &Overview,
    geometry: &Geometry<'_>,
    layout: &Layout,
    top: i32,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let row = layout.strip_row;
    let label_size = layout.font(13.0);
    let label_right = geometry.plot_x.start - (8.0 * layout.scale) as i32;
    let head = text_style(label_size, MUTED).pos(Pos::new(HPos::Right, VPos::Center));
    root.draw_text("alerts", &head, (label_right, top + row / 2))
        .map_err(draw_error)?;
    root.draw_text("events", &head, (label_right, top + row + row / 2))
        .map_err(draw_error)?;

    // Tick lines first, so labels and markers sit on top of them.
    let in_range = |t: f64| t >= geometry.from && t <= geometry.to;
    for tick in overview.ticks.iter().filter(|tick| in_range(tick.t)) {
        let x = (geometry.x_of)(tick.t);
        let colour = tick_colour(tick.kind);
        let mut y = geometry.plot_top;
        let bottom = top + row;
        while y < bottom {
            let end = (y + 5).min(geometry.plot_bottom.max(bottom));
            root.draw(&PathElement::new(
                vec![(x, y), (x, end)],
                colour.mix(0.7).stroke_width(1),
            ))
            .map_err(draw_error)?;
            y += 9;
        }
    }

    for alert in overview.alerts.iter().filter(|alert| in_range(alert.t)) {
        let x = (geometry.x_of)(alert.t);
        let colour = level_colour(alert.level);
        root.draw(&PathElement::new(
            vec![(x, geometry.plot_top), (x, geometry.plot_bottom)],
            colour.mix(0.35).stroke_width(1),
        ))
        .map_err(draw_error)?;
        let size = (7.0 * layout.scale).max(3.0) as i32;
        root.draw(&TriangleMarker::new(
            (x, top + row / 2),
            size,
            colour.filled(),
        ))
        .map_err(draw_error)?;
    }

    // Labels go into the first of two rows where they do not overlap the
    // previous label. A label with no room is left out, but its line stays.
    let mut row_ends = [i32::MIN; 2];
    for tick in overview.ticks.iter().filter(|tick| in_range(tick.t)) {
        let x = (geometry.x_of)(tick.t);
        let text = fit_text(root, &tick.label, label_size, (220.0 * layout.scale) as i32);
        let width = text_width(root, &text, label_size) + (10.0 * layout.scale) as i32;
        let Some(slot) = row_ends.iter().position(|&end| end < x) else {
            continue;
        };
        row_ends[slot] = x + width;
        let y = top + row * (slot as i32 + 1) + row / 2;
        let colour = tick_colour(tick.kind);
        root.draw(&Circle::new(
            (x, y),
            (3.0 * layout.scale).max(2.0) as i32,
            colour.filled(),
        ))
        .map_err(draw_error)?;
        root.draw_text(
            &text,
            &text_style(label_size, colour).pos(Pos::new(HPos::Left, VPos::Center)),
            (x + 5, y),
        )
        .map_err(draw_error)?;
    }
    Ok(())
}

struct LaneRows<'a> {
    rows: &'a [usize],
    count: usize,
    /// Lanes share rows because there were more lanes than rows.
    packed: bool,
    top: i32,
    row_height: i32,
}

fn draw_lanes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lanes: &[Lane],
    rows: &LaneRows<'_>,
    geometry: &Geometry<'_>,
    layout: &Layout,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let label_size = layout.font(13.0).min(rows.row_height as f64 * 0.8);
    let label_right = geometry.plot_x.start - (8.0 * layout.scale) as i32;
    let label_width = label_right - (8.0 * layout.scale) as i32;
    if lanes.is_empty() {
        let style = text_style(layout.font(13.0), MUTED).pos(Pos::new(HPos::Left, VPos::Center));
        let text = "no poll lifecycles in this range";
        return root
            .draw_text(
                text,
                &style,
                (geometry.plot_x.start, rows.top + rows.row_height / 2),
            )
            .map_err(draw_error);
    }
    // Alternate row shading so a lane can be followed across the chart.
    for row in 0..rows.count {
        let y0 = rows.top + row as i32 * rows.row_height;
        if row % 2 == 0 {
            let band = Rectangle::new(
                [
                    (geometry.plot_x.start, y0),
                    (geometry.plot_x.end, y0 + rows.row_height),
                ],
                RGBColor(246, 246, 246).filled(),
            );
            root.draw(&band).map_err(draw_error)?;
        }
    }
    if rows.packed {
        let style = text_style(label_size, MUTED).pos(Pos::new(HPos::Right, VPos::Center));
        let text = format!("{} lifecycles", lanes.len());
        root.draw_text(&text, &style, (label_right, rows.top + rows.row_height / 2))
            .map_err(draw_error)?;
    }
    for (lane, &row) in lanes.iter().zip(rows.rows) {
        let y0 = rows.top + row as i32 * rows.row_height;
        let centre = y0 + rows.row_height / 2;
        if !rows.packed {
            let label = match &lane.poll_type {
                Some(poll_type) => format!("{} ({poll_type})", lane.operation),
                None => lane.operation.clone(),
            };
            let style = text_style(label_size, TEXT).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw_text(
                &fit_text(root, &label, label_size, label_width),
                &style,
                (label_right, centre),
            )
            .map_err(draw_error)?;
        }
        draw_lane(root, lane, geometry, layout, y0, rows.row_height)?;
    }
    Ok(())
}

fn draw_lane<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lane: &Lane,
    geometry: &Geometry<'_>,
    layout: &Layout,
    y0: i32,
    row_height: i32,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let clamp = |t: f64| t.clamp(geometry.from, geometry.to);
    let x_of = |t: f64| (geometry.x_of)(clamp(t));
    let inset = (row_height / 5).max(1);
    let (top, bottom) = (y0 + inset, y0 + row_height - inset);
    let centre = y0 + row_height / 2;
    let end_t = lane.drawn_end(geometry.to);
    let (x0, x1) = (x_of(lane.start_t), x_of(end_t).max(x_of(lane.start_t) + 2));
    let colour = poll_type_colour(lane.poll_type.as_deref());

    root.draw(&Rectangle::new(
        [(x0, top), (x1, bottom)],
        colour.mix(0.8).filled(),
    ))
    .map_err(draw_error)?;

    if let Some(orphaned) = lane.orphaned_from.filter(|&t| t < end_t) {
        // Orphaned: white diagonal hatching with a dark outline, so the stretch
        // after the view went away reads as "should not be here".
        let ox = x_of(orphaned);
        let step = (8.0 * layout.scale).max(6.0) as i32;
        let hatch = if layout.scale < 0.9 { 1 } else { 2 };
        let mut x = ox - (bottom - top);
        while x < x1 {
            if let Some((start, end)) = clip_diagonal(x, bottom, top, ox, x1) {
                root.draw(&PathElement::new(
                    vec![start, end],
                    WHITE.stroke_width(hatch),
                ))
                .map_err(draw_error)?;
            }
            x += step;
        }
        root.draw(&Rectangle::new(
            [(ox, top), (x1, bottom)],
            BLACK.stroke_width(2),
        ))
        .map_err(draw_error)?;
    }
    if let Some(runaway) = lane.runaway_from.filter(|&t| t < end_t) {
        // Runaway: a red bar along the top edge from where the limit was passed.
        let rx = x_of(runaway);
        let thickness = (row_height / 6).max(2);
        root.draw(&Rectangle::new(
            [(rx, y0 + 1), (x1, y0 + 1 + thickness)],
            RUNAWAY.filled(),
        ))
        .map_err(draw_error)?;
    }

    let size = ((row_height as f64) * 0.32).max(3.0) as i32;
    match lane.end {
        LaneEnd::Complete => root
            .draw(&Circle::new(
                (x1, centre),
                size,
                RGBColor(39, 150, 96).filled(),
            ))
            .map_err(draw_error)?,
        LaneEnd::Failed => root
            .draw(&Cross::new(
                (x1, centre),
                size,
                RGBColor(200, 30, 30).stroke_width(3),
            ))
            .map_err(draw_error)?,
        LaneEnd::Timeout => root
            .draw(&Rectangle::new(
                [(x1 - size, centre - size), (x1 + size, centre + size)],
                RGBColor(224, 168, 0).filled(),
            ))
            .map_err(draw_error)?,
        LaneEnd::Stopped => root
            .draw(&Rectangle::new(
                [(x1 - 1, centre - size - 1), (x1 + 2, centre + size + 1)],
                BLACK.filled(),
            ))
            .map_err(draw_error)?,
        LaneEnd::Active => {
            let points = vec![
                (x1, centre - size),
                (x1 + size + 2, centre),
                (x1, centre + size),
            ];
            root.draw(&Polygon::new(points, BLACK.filled()))
                .map_err(draw_error)?
        }
    }
    Ok(())
}

/// Clips the 45-degree line from `(x, bottom)` up to `(x + (bottom - top), top)`
/// to the columns `left..=right`.
fn clip_diagonal(
    x: i32,
    bottom: i32,
    top: i32,
    left: i32,
    right: i32,
) -> Option<((i32, i32), (i32, i32))> {
    let height = bottom - top;
    let (mut sx, mut sy) = (x, bottom);
    let (mut ex, mut ey) = (x + height, top);
    if ex < left || sx > right {
        return None;
    }
    if sx < left {
        sy -= left - sx;
        sx = left;
    }
    if ex > right {
        ey += ex - right;
        ex = right;
    }
    Some(((sx, sy), (ex, ey)))
}

fn draw_lane_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lanes: &[Lane],
    layout: &Layout,
    y: i32,
    left: i32,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let size = layout.font(13.0);
    let style = text_style(size, TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    let swatch = (size * 0.5) as i32;
    let gap = (18.0 * layout.scale) as i32;
    let mut x = left;
    let advance = |text: &str| text_width(root, text, size);

    let mut types: Vec<Option<&str>> = lanes.iter().map(|lane| lane.poll_type.as_deref()).collect();
    types.sort();
    types.dedup();
    for poll_type in types {
        root.draw(&Rectangle::new(
            [(x, y - swatch), (x + 2 * swatch, y + swatch)],
            poll_type_colour(poll_type).mix(0.8).filled(),
        ))
        .map_err(draw_error)?;
        let text = poll_type.unwrap_or("other");
        root.draw_text(text, &style, (x + 2 * swatch + 4, y))
            .map_err(draw_error)?;
        x += 2 * swatch + 4 + advance(text) + gap;
    }
    let marks: [(&str, LaneEnd); 5] = [
        ("complete", LaneEnd::Complete),
        ("failed", LaneEnd::Failed),
        ("timed out", LaneEnd::Timeout),
        ("stopped", LaneEnd::Stopped),
        ("still polling", LaneEnd::Active),
    ];
    for (text, end) in marks {
        let centre = (x + swatch, y);
        match end {
            LaneEnd::Complete => root
                .draw(&Circle::new(centre, swatch, RGBColor(39, 150, 96).filled()))
                .map_err(draw_error)?,
            LaneEnd::Failed => root
                .draw(&Cross::new(
                    centre,
                    swatch,
                    RGBColor(200, 30, 30).stroke_width(3),
                ))
                .map_err(draw_error)?,
            LaneEnd::Timeout => root
                .draw(&Rectangle::new(
                    [(x, y - swatch), (x + 2 * swatch, y + swatch)],
                    RGBColor(224, 168, 0).filled(),
                ))
                .map_err(draw_error)?,
            LaneEnd::Stopped => root
                .draw(&Rectangle::new(
                    [
                        (x + swatch - 1, y - swatch - 1),
                        (x + swatch + 2, y + swatch + 1),
                    ],
                    BLACK.filled(),
                ))
                .map_err(draw_error)?,
            LaneEnd::Active => root
                .draw(&Polygon::new(
                    vec![(x, y - swatch), (x + 2 * swatch, y), (x, y + swatch)],
                    BLACK.filled(),
                ))
                .map_err(draw_error)?,
        }
        root.draw_text(text, &style, (x + 2 * swatch + 4, y))
            .map_err(draw_error)?;
        x += 2 * swatch + 4 + advance(text) + gap;
    }
    // Orphaned and runaway swatches, drawn like the lanes draw them.
    root.draw(&Rectangle::new(
        [(x, y - swatch), (x + 3 * swatch, y + swatch)],
        MUTED.mix(0.8).filled(),
    ))
    .map_err(draw_error)?;
    root.draw(&Rectangle::new(
        [(x, y - swatch), (x + 3 * swatch, y + swatch)],
        BLACK.stroke_width(2),
    ))
    .map_err(draw_error)?;
    root.draw(&PathElement::new(
        vec![
            (x + swatch / 2, y + swatch),
            (x + 2 * swatch + swatch / 2, y - swatch),
        ],
        WHITE.stroke_width(2),
    ))
    .map_err(draw_error)?;
    let text = "orphaned (outlived its view)";
    root.draw_text(text, &style, (x + 3 * swatch + 4, y))
        .map_err(draw_error)?;
    x += 3 * swatch + 4 + advance(text) + gap;
    root.draw(&Rectangle::new(
        [(x, y - 2), (x + 3 * swatch, y + 2)],
        RUNAWAY.filled(),
    ))
    .map_err(draw_error)?;
    root.draw_text("runaway (past its limits)", &style, (x + 3 * swatch + 4, y))
        .map_err(draw_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_steps_are_whole() {
        assert_eq!(time_step(60.0, 10.0), 10.0);
        assert_eq!(time_step(240.0, 10.0), 30.0);
        assert_eq!(time_step(600.0, 10.0), 60.0);
        assert_eq!(time_step(3600.0, 10.0), 600.0);
    }

    #[test]
    fn time_labels_by_range() {
        assert_eq!(format_time(42.4, 60.0), "42s");
        assert_eq!(format_time(725.0, 900.0), "12:05");
        assert_eq!(format_time(3725.0, 4000.0), "1:02:05");
    }

    #[test]
    fn rows_packed_only_when_needed() {
        let lane = |start: f64, end: f64| Lane {
            operation: format!("op-{start}"),
            poll_type: None,
            endpoint: None,
            start_t: start,
            end_t: Some(end),
            end: LaneEnd::Complete,
            attempts: 1,
            runaway_from: None,
            orphaned_from: None,
            flags: Vec::new(),
        };
        let lanes = vec![lane(0.0, 10.0), lane(5.0, 15.0), lane(11.0, 20.0)];
        assert_eq!(assign_rows(&lanes, 20.0, 5), (vec![0, 1, 2], 3, false));
        assert_eq!(assign_rows(&lanes, 20.0, 2), (vec![0, 1, 0], 2, true));
    }

    #[test]
    fn range_must_be_ordered() {
        let overview = Overview {
            title: String::new(),
            duration: 10.0,
            samples: vec![],
            lanes: vec![],
            alerts: vec![],
            ticks: vec![],
            trend: None,
        };
        let options = ChartOptions {
            from: Some(5.0),
            to: Some(2.0),
            ..ChartOptions::default()
        };
        assert!(matches!(
            render_svg(&overview, &options),
            Err(ChartError::InvalidRange { .. })
        ));
    }

    #[test]
    fn size_is_checked() {
        let overview = Overview {
            title: String::new(),
            duration: 10.0,
            samples: vec![],
            lanes: vec![],
            alerts: vec![],
            ticks: vec![],
            trend: None,
        };
        let options = ChartOptions {
            width: 10,
            ..ChartOptions::default()
        };
        assert!(matches!(
            render_png(&overview, &options),
            Err(ChartError::InvalidSize { .. })
        ));
    }
}
