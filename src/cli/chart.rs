//! `leakscope chart`: draw the overview chart of a recording or bundle to an
//! SVG or PNG file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use leakscope_report::{analyze, ChartOptions, Overview};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recording (JSON Lines) or bundle (zip) to draw.
    input: PathBuf,
    /// Output file; its extension, `.svg` or `.png`, picks the format.
    #[arg(long)]
    out: PathBuf,
    /// Start of the time range: seconds since the recording started (`90`),
    /// with a unit (`90s`, `2m`, `1h`), or `mm:ss`. Default: the start.
    #[arg(long, value_parser = parse_time)]
    from: Option<f64>,
    /// End of the time range, in the same forms as --from. Default: the end.
    #[arg(long, value_parser = parse_time)]
    to: Option<f64>,
    /// Width in pixels.
    #[arg(long, default_value_t = leakscope_report::chart::DEFAULT_WIDTH)]
    width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = leakscope_report::chart::DEFAULT_HEIGHT)]
    height: u32,
}

enum Format {
    Svg,
    Png,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let format = match args
        .out
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => Format::Svg,
        Some("png") => Format::Png,
        _ => anyhow::bail!(
            "cannot tell the chart format from --out {}: use a name ending in .svg or .png",
            args.out.display()
        ),
    };
    let (recording, _) = leakscope_report::read_input(&args.input)?;
    let overview = Overview::build(&recording, &analyze(&recording));
    let options = ChartOptions {
        width: args.width,
        height: args.height,
        from: args.from,
        to: args.to,
    };
    let bytes = match format {
        Format::Svg => leakscope_report::render_svg(&overview, &options)?.into_bytes(),
        Format::Png => leakscope_report::render_png(&overview, &options)?,
    };
    std::fs::write(&args.out, bytes)
        .with_context(|| format!("failed to write chart {}", args.out.display()))?;
    eprintln!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Parses `90`, `90.5`, `90s`, `2m`, `1h` or `mm:ss` into seconds.
fn parse_time(text: &str) -> Result<f64, String> {
    let invalid =
        || format!("invalid time {text:?}: use seconds (90), a unit (90s, 2m, 1h) or mm:ss (1:30)");
    let text = text.trim();
    if let Some((minutes, seconds)) = text.split_once(':') {
        let minutes: f64 = minutes.parse().map_err(|_| invalid())?;
        let seconds: f64 = seconds.parse().map_err(|_| invalid())?;
        return Ok(minutes * 60.0 + seconds);
    }
    let (number, scale) = match text.char_indices().last() {
        Some((at, 's')) => (&text[..at], 1.0),
        Some((at, 'm')) => (&text[..at], 60.0),
        Some((at, 'h')) => (&text[..at], 3600.0),
        _ => (text, 1.0),
    };
    let value: f64 = number.parse().map_err(|_| invalid())?;
    if !value.is_finite() || value < 0.0 {
        return Err(invalid());
    }
    Ok(value * scale)
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn time_forms() {
        assert_eq!(parse_time("90"), Ok(90.0));
        assert_eq!(parse_time("90s"), Ok(90.0));
        assert_eq!(parse_time("2m"), Ok(120.0));
        assert_eq!(parse_time("1h"), Ok(3600.0));
        assert_eq!(parse_time("1:30"), Ok(90.0));
        assert!(parse_time("soon").is_err());
        assert!(parse_time("-5").is_err());
    }
}
