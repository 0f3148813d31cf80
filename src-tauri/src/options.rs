//! The desktop binary's command line: `--demo [--variant V] [--flow F]`
//! opens the demo editor at start (the README's main job does this).

use std::collections::HashMap;

use leakscope_app::DemoRequest;

/// Actions the command line requests at start.
#[derive(Debug, Clone, Default)]
pub struct StartupOptions {
    /// Open the demo editor with these settings once the window is up.
    pub demo: Option<DemoRequest>,
}

pub const USAGE: &str = "usage: leakscope-desktop [--demo [--variant leaky|fixed] [--flow video|suno|upscale|audio] [--interval MS]]";

impl StartupOptions {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<StartupOptions, String> {
        let mut demo = false;
        let mut variant = "leaky".to_owned();
        let mut flow = "video".to_owned();
        let mut params = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value; {USAGE}"))
            };
            match arg.as_str() {
                "--demo" => demo = true,
                "--variant" => variant = value("--variant")?,
                "--flow" => flow = value("--flow")?,
                "--interval" => {
                    params.insert("interval".to_owned(), value("--interval")?);
                }
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}; {USAGE}")),
            }
        }
        Ok(StartupOptions {
            demo: demo.then_some(DemoRequest {
                variant,
                flow,
                params,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<StartupOptions, String> {
        StartupOptions::parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn no_arguments_open_nothing() {
        assert!(parse(&[]).unwrap().demo.is_none());
    }

    #[test]
    fn demo_defaults_to_leaky_video() {
        let demo = parse(&["--demo"]).unwrap().demo.unwrap();
        assert_eq!(demo.variant, "leaky");
        assert_eq!(demo.flow, "video");
    }

    #[test]
    fn demo_takes_variant_flow_and_interval() {
        let demo = parse(&[
            "--demo",
            "--variant",
            "fixed",
            "--flow",
            "suno",
            "--interval",
            "200",
        ])
        .unwrap()
        .demo
        .unwrap();
        assert_eq!(demo.variant, "fixed");
        assert_eq!(demo.flow, "suno");
        assert_eq!(demo.params.get("interval").map(String::as_str), Some("200"));
    }

    #[test]
    fn unknown_argument_names_itself() {
        let error = parse(&["--bogus"]).unwrap_err();
        assert!(error.contains("--bogus"), "{error}");
    }

    #[test]
    fn missing_value_is_an_error() {
        assert!(parse(&["--demo", "--flow"])
            .unwrap_err()
            .contains("--flow needs a value"));
    }
}
