//! Progress without a terminal: indicatif draws nothing when stderr is not a terminal (a log
//! file, CI, `nohup`), so long work would be silent. There the bars are drawn as plain lines,
//! one every few seconds (`SCORELAB_PROGRESS_SECONDS`, default 5).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, TermLike};

/// Seconds between plain progress lines.
fn interval() -> Duration {
    let seconds = std::env::var("SCORELAB_PROGRESS_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(5.0);
    Duration::from_secs_f64(seconds)
}

/// A "terminal" that collects what indicatif draws and prints it as one plain line to stderr
/// at most once per interval.
#[derive(Debug)]
struct PlainLines {
    state: Mutex<(String, Instant)>,
    every: Duration,
}

impl TermLike for PlainLines {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        let mut state = self.state.lock().expect("progress state");
        state.0.push_str(s);
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let mut state = self.state.lock().expect("progress state");
        let line = std::mem::take(&mut state.0);
        let line = line.trim();
        if !line.is_empty() && state.1.elapsed() >= self.every {
            state.1 = Instant::now();
            let mut err = std::io::stderr().lock();
            writeln!(err, "{line}")?;
        }
        Ok(())
    }
}

/// `bar` drawn as usual on a terminal, and as plain lines every few seconds elsewhere.
pub fn plain_when_not_a_terminal(bar: ProgressBar) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        let term = PlainLines {
            state: Mutex::new((String::new(), Instant::now())),
            every: interval(),
        };
        bar.set_draw_target(ProgressDrawTarget::term_like_with_hz(Box::new(term), 1));
    }
    bar
}
