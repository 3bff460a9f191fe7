//! `scorelab demo`: the flags as a demo job (`scorelab_jobs::demo`), with stage lines, a
//! progress bar per stage, and Ctrl-C stopping the training stage after a checkpoint.

use indicatif::ProgressBar;

use scorelab_core::{BackendKind, DeviceList};
use scorelab_jobs::{run_demo, DemoDevice, DemoObserver};

use crate::backend::open_backend;
use crate::cli::DemoArgs;
use crate::failure::CliResult;
use crate::sample_cmd::progress_bar;

/// Stage lines on stderr, results on stdout, one bar per stage.
struct Terminal {
    bar: Option<ProgressBar>,
    stop: crate::train_cmd::StopFlag,
}

impl Terminal {
    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl DemoObserver for Terminal {
    fn stage(&mut self, line: &str) {
        self.clear();
        eprintln!("{line}");
    }

    fn result(&mut self, line: &str) {
        self.clear();
        println!("{line}");
    }

    fn warn(&mut self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| crate::score_source::warn(line)),
            None => crate::score_source::warn(line),
        }
    }

    fn progress(&mut self, done: u64, total: u64) {
        if self.bar.as_ref().and_then(|b| b.length()) != Some(total) {
            self.clear();
            self.bar = Some(progress_bar(total as usize));
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    fn interrupted(&self) -> bool {
        self.stop.is_set()
    }
}

pub fn run(args: &DemoArgs) -> CliResult<()> {
    let options = &args.options;
    scorelab_jobs::demo::Plan::for_size(&options.size)?;
    let backend = BackendKind::parse(&args.device)?;
    let device = open_backend(backend)?;
    let on = DemoDevice {
        device: &device,
        name: backend.name(),
        list: &DeviceList::single(backend).to_string(),
        command_line: &crate::cli::command_line(),
    };
    let mut terminal = Terminal {
        bar: None,
        stop: crate::train_cmd::StopFlag::install(),
    };
    let result = run_demo(options, &args.out, args.force, on, &mut terminal);
    terminal.clear();
    Ok(result?)
}
