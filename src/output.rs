//! All output goes through the [`Printer`]: results on stdout (text or JSON),
//! progress and errors on stderr, colour only on terminals and never when
//! `--no-color` or `NO_COLOR` says so.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use owo_colors::OwoColorize;
use serde::Serialize;

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Text for people.
    Human,
    /// One JSON document (or one object per line for events).
    Json,
}

/// The one place that writes to the terminal.
#[derive(Debug, Clone)]
pub struct Printer {
    format: OutputFormat,
    color_stdout: bool,
    color_stderr: bool,
    verbose: u8,
    /// Bars and the lines printed above them, when stderr is a terminal.
    bars: Option<MultiProgress>,
}

impl Printer {
    pub fn new(format: OutputFormat, no_color: bool, verbose: u8) -> Self {
        let color_allowed = !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Self {
            format,
            color_stdout: color_allowed && std::io::stdout().is_terminal(),
            color_stderr: color_allowed && std::io::stderr().is_terminal(),
            verbose,
            bars: std::io::stderr().is_terminal().then(MultiProgress::new),
        }
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Whether text on stdout may carry colour.
    pub fn color(&self) -> bool {
        self.color_stdout
    }

    /// A result for people, on stdout (ignored in JSON mode).
    pub fn text(&self, text: &str) {
        if self.format == OutputFormat::Human {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = out.write_all(b"\n");
            }
        }
    }

    /// Bytes for stdout whatever the format (a script, a manual page). A
    /// closed pipe (`| head`) is not an error.
    pub fn raw(&self, bytes: &[u8]) {
        let _ = std::io::stdout().lock().write_all(bytes);
    }

    /// A result for machines, on stdout (ignored in human mode).
    pub fn json(&self, value: &impl Serialize) {
        if self.format == OutputFormat::Json {
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut out, value);
            let _ = out.write_all(b"\n");
        }
    }

    /// A progress or status line for people, on stderr.
    pub fn info(&self, message: &str) {
        eprintln!("{message}");
    }

    /// Detail shown only with `-v`.
    pub fn detail(&self, message: &str) {
        if self.verbose > 0 {
            eprintln!("{message}");
        }
    }

    /// A progress line on stderr, behind the time of day.
    pub fn step(&self, message: &str) {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let time = now.get(11..19).unwrap_or(&now);
        self.line(&format!("[{time}] {message}"));
    }

    /// A line on stderr that does not tear through the bars.
    fn line(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A bar counting up to `len` on stderr; hidden when stderr is not a terminal.
    pub fn bar(&self, len: u64, message: &str) -> ProgressBar {
        let Some(bars) = &self.bars else {
            return ProgressBar::hidden();
        };
        let bar = bars.add(ProgressBar::new(len).with_message(message.to_string()));
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A countdown over `duration` on stderr; hidden when stderr is not a terminal.
    pub fn countdown(&self, duration: Duration, message: &str) -> ProgressBar {
        let Some(bars) = &self.bars else {
            return ProgressBar::hidden();
        };
        let bar = bars.add(ProgressBar::new(duration.as_secs()).with_message(message.to_string()));
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {msg}: {eta} left") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(500));
        bar
    }

    /// A warning, on stderr.
    pub fn warn(&self, message: &str) {
        if self.color_stderr {
            self.line(&format!("{} {message}", "warning:".yellow().bold()));
        } else {
            self.line(&format!("warning: {message}"));
        }
    }

    /// The error that ended the command: one line per problem on stderr, and
    /// in JSON mode an `{"error": …}` object on stdout for the job reading it.
    pub fn error(&self, error: &dyn std::fmt::Display) {
        let text = error.to_string();
        for line in text.lines() {
            if self.color_stderr {
                eprintln!("{} {line}", "error:".red().bold());
            } else {
                eprintln!("error: {line}");
            }
        }
        if self.format == OutputFormat::Json {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::json!({ "error": text })
            );
        }
    }

    /// A spinner on stderr while something is under way; hidden when stderr
    /// is not a terminal.
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner().with_message(message.to_string());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }
}
