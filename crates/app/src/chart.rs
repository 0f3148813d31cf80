//! The overview chart for the app: the report crate's SVG, plus where its
//! plot area and poll lanes are in SVG pixels, so the UI can map a pointer's
//! x to a time and highlight a poll's lane.
//!
//! The report crate draws the chart and does not return its layout, so
//! [`geometry`] computes it with the same formulas as `chart.rs` in
//! `leakscope-report`. Those are the 1600x900 design sizes scaled to the
//! chart, the heap chart's label areas, the event strip, and first-fit lane rows. The
//! test `plot_edges_match_the_svg` checks the result against a rendered SVG.
// NOTE: when the report's layout changes, this copy must change with it; the
// test above fails when the plot area moves.

use leakscope_report::view::Overview;
use leakscope_report::{ChartOptions, Lane};
use serde::Serialize;

use crate::error::AppError;

/// Plot area in SVG pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlotRect {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// One poll lane's row in SVG pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LaneBox {
    pub poll_id: u64,
    pub top: f64,
    pub height: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartView {
    pub svg: String,
    pub from_t: f64,
    pub to_t: f64,
    pub plot: PlotRect,
    pub lanes: Vec<LaneBox>,
}

/// Requested range and size, from the `chart` command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartRequest {
    pub from_t: Option<f64>,
    pub to_t: Option<f64>,
    pub width: u32,
    pub height: u32,
}

/// Renders `overview`; `poll_ids[i]` is the id of `overview.lanes[i]`.
pub fn render(
    overview: &Overview,
    poll_ids: &[u64],
    request: ChartRequest,
) -> Result<ChartView, AppError> {
    let from = request.from_t.unwrap_or(0.0).max(0.0);
    let to = request
        .to_t
        .unwrap_or_else(|| overview.duration.max(from + 1.0));
    let options = ChartOptions {
        width: request.width,
        height: request.height,
        from: Some(from),
        to: Some(to),
    };
    let svg = leakscope_report::render_svg(overview, &options)?;
    let (plot, lanes) = geometry(overview, poll_ids, &options, from, to);
    Ok(ChartView {
        svg,
        from_t: from,
        to_t: to,
        plot,
        lanes,
    })
}

/// Pixel sizes of the report's chart layout, scaled from 1600x900.
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
}

/// Computes the plot area and the lane rows; see the module documentation.
fn geometry(
    overview: &Overview,
    poll_ids: &[u64],
    options: &ChartOptions,
    from: f64,
    to: f64,
) -> (PlotRect, Vec<LaneBox>) {
    let layout = Layout::new(options.width, options.height);
    let height = options.height as i32;
    let visible: Vec<(usize, &Lane)> = overview
        .lanes
        .iter()
        .enumerate()
        .filter(|(_, lane)| lane.drawn_end(to) >= from && lane.start_t <= to)
        .collect();
    let lanes_budget = ((height as f64) * 0.34) as i32;
    let max_rows = (lanes_budget / layout.lane_row).max(1) as usize;
    let (rows, row_count) = assign_rows(&visible, to, max_rows);
    let row_height = if row_count > 0 {
        layout.lane_row.min(lanes_budget / row_count as i32).max(4)
    } else {
        layout.lane_row
    };
    let lanes_height = if row_count == 0 {
        layout.lane_row
    } else {
        row_height * row_count as i32
    };
    let strip_height = layout.strip_row * 3;
    let heap_height = height
        - layout.title_height
        - strip_height
        - lanes_height
        - layout.legend_height
        - layout.lane_row / 2;

    let plot_top = layout.title_height + (30.0 * layout.scale) as i32;
    let plot_bottom = layout.title_height + heap_height - layout.x_axis_height;
    let plot_left = layout.lane_label_width;
    let plot_right = options.width as i32 - layout.right_axis_width;
    let plot = PlotRect {
        left: f64::from(plot_left),
        top: f64::from(plot_top),
        width: f64::from((plot_right - plot_left).max(1)),
        height: f64::from((plot_bottom - plot_top).max(1)),
    };

    let lanes_top = layout.title_height + heap_height + strip_height;
    let lanes = visible
        .iter()
        .zip(&rows)
        .filter_map(|((index, _), row)| {
            let poll_id = *poll_ids.get(*index)?;
            Some(LaneBox {
                poll_id,
                top: f64::from(lanes_top + *row as i32 * row_height),
                height: f64::from(row_height),
            })
        })
        .collect();
    (plot, lanes)
}

/// Gives each lane a row: one each when they fit, else first fit by time.
fn assign_rows(lanes: &[(usize, &Lane)], until: f64, max_rows: usize) -> (Vec<usize>, usize) {
    if lanes.len() <= max_rows {
        return ((0..lanes.len()).collect(), lanes.len());
    }
    let mut row_ends: Vec<f64> = Vec::new();
    let mut rows = Vec::with_capacity(lanes.len());
    for (_, lane) in lanes {
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
    (rows, count)
}

#[cfg(test)]
mod tests {
    use leakscope_report::view::SamplePoint;
    use leakscope_report::LaneEnd;

    use super::*;

    fn overview(lanes: usize) -> Overview {
        Overview {
            title: "test".to_owned(),
            duration: 100.0,
            samples: (0..100)
                .map(|n| SamplePoint {
                    t: f64::from(n),
                    heap_used_mb: 10.0 + f64::from(n) * 0.1,
                    heap_total_mb: 20.0,
                    timers_live: Some(2),
                    requests_in_flight: Some(1),
                    after_gap: false,
                })
                .collect(),
            lanes: (0..lanes)
                .map(|n| Lane {
                    operation: format!("op-{n}"),
                    poll_type: Some("video".to_owned()),
                    endpoint: Some("/api/video/status".to_owned()),
                    start_t: n as f64 * 5.0,
                    end_t: Some(n as f64 * 5.0 + 4.0),
                    end: LaneEnd::Complete,
                    attempts: 4,
                    runaway_from: None,
                    orphaned_from: None,
                    flags: Vec::new(),
                })
                .collect(),
            alerts: Vec::new(),
            ticks: Vec::new(),
            trend: None,
        }
    }

    fn request(width: u32, height: u32) -> ChartRequest {
        ChartRequest {
            from_t: None,
            to_t: None,
            width,
            height,
        }
    }

    /// Finds the x of the time label `label`; the report centres each time
    /// label under its vertical grid line.
    fn label_x(svg: &str, label: &str) -> Option<f64> {
        svg.split("<text").skip(1).find_map(|element| {
            let (tag, rest) = element.split_once('>')?;
            let (content, _) = rest.split_once("</text>")?;
            if content.trim() != label {
                return None;
            }
            let x_at = tag.find(" x=\"")? + 4;
            let x_end = tag[x_at..].find('"')? + x_at;
            tag[x_at..x_end].parse().ok()
        })
    }

    /// Returns the top and bottom of the longest vertical line at `x`: the
    /// time grid line, which spans the plot area.
    fn grid_line_span(svg: &str, x: f64) -> Option<(f64, f64)> {
        svg.split("points=\"")
            .skip(1)
            .filter_map(|rest| {
                let (points, _) = rest.split_once('"')?;
                let parsed: Vec<(f64, f64)> = points
                    .split_whitespace()
                    .filter_map(|point| point.split_once(','))
                    .filter_map(|(px, py)| Some((px.parse().ok()?, py.parse().ok()?)))
                    .collect();
                match parsed[..] {
                    [(x0, y0), (x1, y1)] if x0 == x && x1 == x => Some((y0.min(y1), y0.max(y1))),
                    _ => None,
                }
            })
            .max_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0)))
    }

    #[test]
    fn plot_edges_match_the_svg() {
        for (width, height) in [(1600, 900), (1000, 500), (700, 420)] {
            let view = render(&overview(3), &[1, 2, 3], request(width, height)).unwrap();
            // The time axis starts at 0 s at the plot's left edge and ends at
            // the range end at its right edge.
            let zero = label_x(&view.svg, "0s").expect("a 0s label");
            // The end has a label only when the step divides 100 s, so it is
            // extrapolated from the 0 s label and the next one.
            let (step, next) = [10.0, 15.0, 20.0, 30.0, 50.0]
                .into_iter()
                .find_map(|step: f64| Some((step, label_x(&view.svg, &format!("{step}s"))?)))
                .expect("a second time label");
            let end = zero + (next - zero) * 100.0 / step;
            assert!(
                (zero - view.plot.left).abs() <= 3.0,
                "{width}x{height}: 0s at {zero}, plot left {}",
                view.plot.left
            );
            let (top, bottom) = grid_line_span(&view.svg, zero).expect("a grid line at 0s");
            assert_eq!(top, view.plot.top, "{width}x{height}: plot top");
            assert_eq!(
                bottom,
                view.plot.top + view.plot.height,
                "{width}x{height}: plot bottom"
            );
            let right = view.plot.left + view.plot.width;
            // Labels sit on whole pixels, so the extrapolation may be off by
            // half a pixel per step.
            assert!(
                (end - right).abs() <= 100.0 / step + 1.0,
                "{width}x{height}: 100s at {end}, plot right {right}"
            );
        }
    }

    #[test]
    fn lanes_get_rows_below_the_plot() {
        let view = render(&overview(3), &[7, 8, 9], request(1600, 900)).unwrap();
        let ids: Vec<u64> = view.lanes.iter().map(|lane| lane.poll_id).collect();
        assert_eq!(ids, [7, 8, 9]);
        assert!(view.lanes[0].top > view.plot.top + view.plot.height);
        assert_eq!(view.lanes[1].top - view.lanes[0].top, view.lanes[0].height);
    }

    #[test]
    fn lanes_outside_the_range_are_left_out() {
        let mut request = request(1600, 900);
        request.from_t = Some(6.0);
        request.to_t = Some(50.0);
        let view = render(&overview(3), &[7, 8, 9], request).unwrap();
        let ids: Vec<u64> = view.lanes.iter().map(|lane| lane.poll_id).collect();
        assert_eq!(ids, [8, 9]);
    }

    #[test]
    fn bad_size_is_bad_input() {
        let error = render(&overview(0), &[], request(10, 10)).unwrap_err();
        assert_eq!(error.code, crate::error::ErrorCode::BadInput);
    }
}
