//! Downsampling of long series to the pixel width of a chart.
//!
//! Each pixel column keeps the first, minimum, maximum and last point of the
//! samples that fall in it, in time order. A line through those points covers
//! exactly the pixels a line through every sample would, so a one-sample spike
//! survives, and the output has at most four points per column whatever the
//! recording's length.

/// Reduces `points` (sorted by `x`) to at most four per column of `columns`
/// equal columns over `x_range`. Points outside the range are dropped.
///
/// `y` reads the value to keep extremes of, so one series of structs can be
/// downsampled by any of its fields.
pub fn min_max_per_column<T: Copy>(
    points: &[T],
    x: impl Fn(&T) -> f64,
    y: impl Fn(&T) -> f64,
    x_range: (f64, f64),
    columns: usize,
) -> Vec<T> {
    let (from, to) = x_range;
    let width = to - from;
    if columns == 0 || width.is_nan() || width <= 0.0 {
        return points
            .iter()
            .filter(|point| x(point) >= from && x(point) <= to)
            .copied()
            .collect();
    }
    let column_of = |value: f64| {
        (((value - from) / width) * columns as f64)
            .floor()
            .clamp(0.0, columns as f64 - 1.0) as usize
    };

    let mut out = Vec::new();
    let mut index = 0;
    // Skip to the first point inside the range.
    while index < points.len() && x(&points[index]) < from {
        index += 1;
    }
    while index < points.len() && x(&points[index]) <= to {
        let column = column_of(x(&points[index]));
        let start = index;
        let (mut min_at, mut max_at) = (start, start);
        while index < points.len()
            && x(&points[index]) <= to
            && column_of(x(&points[index])) == column
        {
            if y(&points[index]) < y(&points[min_at]) {
                min_at = index;
            }
            if y(&points[index]) > y(&points[max_at]) {
                max_at = index;
            }
            index += 1;
        }
        let last = index - 1;
        let mut kept = [start, min_at, max_at, last];
        kept.sort_unstable();
        let mut previous = None;
        for at in kept {
            if previous != Some(at) {
                out.push(points[at]);
                previous = Some(at);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn downsample(points: &[(f64, f64)], columns: usize) -> Vec<(f64, f64)> {
        let to = points.last().map_or(0.0, |point| point.0);
        min_max_per_column(points, |point| point.0, |point| point.1, (0.0, to), columns)
    }

    #[test]
    fn single_spike_survives() {
        // One hour at 10 Hz, flat at 50 except one sample at 400.
        let mut points: Vec<(f64, f64)> = (0..36_000).map(|i| (i as f64 / 10.0, 50.0)).collect();
        points[12_345].1 = 400.0;
        let out = downsample(&points, 1500);
        assert!(out.len() <= 4 * 1500, "kept {} points", out.len());
        assert!(out.contains(&(1234.5, 400.0)), "spike lost");
    }

    #[test]
    fn single_dip_survives() {
        let mut points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, 80.0)).collect();
        points[7_777].1 = 1.0;
        let out = downsample(&points, 100);
        assert!(out.contains(&(7777.0, 1.0)));
    }

    #[test]
    fn keeps_order_and_ends() {
        let points: Vec<(f64, f64)> = (0..1000)
            .map(|i| (i as f64, ((i * 37) % 101) as f64))
            .collect();
        let out = downsample(&points, 10);
        assert_eq!(out.first(), points.first());
        assert_eq!(out.last(), points.last());
        assert!(
            out.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "not in time order"
        );
    }

    #[test]
    fn short_series_unchanged() {
        let points = vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)];
        assert_eq!(downsample(&points, 800), points);
    }

    #[test]
    fn range_drops_outside_points() {
        let points: Vec<(f64, f64)> = (0..100).map(|i| (i as f64, i as f64)).collect();
        let out = min_max_per_column(
            &points,
            |point| point.0,
            |point| point.1,
            (10.0, 20.0),
            1000,
        );
        assert_eq!(out.first(), Some(&(10.0, 10.0)));
        assert_eq!(out.last(), Some(&(20.0, 20.0)));
        assert_eq!(out.len(), 11);
    }
}
