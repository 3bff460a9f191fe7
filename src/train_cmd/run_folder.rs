//! The run folder of `train`: refusing an occupied one, and the loss picture.

use super::*;

/// The loss curve of a run's log.csv (`step,loss,...`): the logged values and their moving
/// average over about a fiftieth of the run, on a log axis when every loss is positive.
fn loss_png(log: &Path, title: &str) -> CliResult<Vec<u8>> {
    let text =
        fs::read_to_string(log).map_err(|e| Failure::runtime(format!("{}: {e}", log.display())))?;
    let (mut steps, mut losses) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let mut fields = line.split(',');
        if let (Some(step), Some(loss)) = (fields.next(), fields.next()) {
            if let (Ok(step), Ok(loss)) = (step.parse::<f64>(), loss.parse::<f64>()) {
                steps.push(step);
                losses.push(loss);
            }
        }
    }
    let log_y = losses.iter().all(|l| *l > 0.0);
    // 2h + 1 values: about a fiftieth of the log
    let half_window = losses.len() / 100;
    Ok(scorelab_analysis::plot::loss_curve_png(
        title,
        &steps,
        &losses,
        half_window,
        log_y,
    )?)
}

/// Writes loss.png beside the run's log (a run without a log yet gets none).
pub(super) fn write_loss_picture(out: &Path, loss: &str) -> CliResult<()> {
    let log = out.join(LOG_FILE);
    if !log.exists() {
        return Ok(());
    }
    let png = loss_png(&log, &format!("training loss ({loss})"))?;
    fs::write(out.join(LOSS_PICTURE), png)
        .map_err(|e| Failure::runtime(format!("{}: {e}", out.join(LOSS_PICTURE).display())))
}

/// Makes `out` ready for a new run: refuses a folder holding files unless --force, which
/// deletes the previous run's checkpoints and log.
pub(super) fn prepare_run_folder(out: &Path, force: bool) -> CliResult<()> {
    let io = |e: std::io::Error| Failure::runtime(format!("{}: {e}", out.display()));
    if out.exists() {
        if !out.is_dir() {
            return Err(Failure::usage(format!(
                "{} exists and is not a folder",
                out.display()
            )));
        }
        let occupied = fs::read_dir(out).map_err(io)?.next().is_some();
        if occupied && !force {
            return Err(Failure::usage(format!(
                "{} already exists and is not empty; continue it with --resume, or pass --force to start afresh there",
                out.display()
            )));
        }
        for (_, path) in list_checkpoints(out)? {
            fs::remove_dir_all(&path).map_err(io)?;
        }
        for name in [LOG_FILE, LOSS_PICTURE, EVAL_FILE] {
            let file = out.join(name);
            if file.exists() {
                fs::remove_file(file).map_err(io)?;
            }
        }
    }
    fs::create_dir_all(out).map_err(io)?;
    // a run folder must be writable before any work is done
    let probe = out.join(".write-test");
    fs::write(&probe, b"").map_err(io)?;
    fs::remove_file(&probe).map_err(io)?;
    Ok(())
}
