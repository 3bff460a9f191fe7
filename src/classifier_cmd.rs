//! `scorelab train-classifier`: trains the MNIST classifier whose features and predictions
//! measure sample quality (DESIGN §6), with a progress bar, and writes it as a folder
//! `model.bpk` + `meta.json`. Nothing is written before training ends, so an interrupted run
//! leaves no partial classifier behind.

use indicatif::{ProgressBar, ProgressStyle};

use scorelab_core::datasets::{load_mnist, MnistSplit};
use scorelab_core::BackendKind;
use scorelab_train::classifier::parameter_count;
use scorelab_train::{
    save_classifier, train_classifier, ClassifierConfig, ClassifierMeta, ClassifierProgress,
};

use crate::backend::open_backend;
use crate::cli::TrainClassifierArgs;
use crate::failure::{CliResult, Failure};
use scorelab_train::training_set::shipped_path;

pub fn run(args: &TrainClassifierArgs) -> CliResult<()> {
    let config = ClassifierConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        seed: args.seed,
    };
    config.validate()?;
    if args.n_train == Some(0) {
        return Err(Failure::usage("invalid parameter n-train: must be >= 1"));
    }
    let backend = BackendKind::parse(&args.device)?;
    if args.out.exists() {
        let occupied = !args.out.is_dir()
            || std::fs::read_dir(&args.out)
                .map(|mut entries| entries.next().is_some())
                .unwrap_or(true);
        if occupied && !args.force {
            return Err(Failure::usage(format!(
                "{} already exists; pass --force to replace it",
                args.out.display()
            )));
        }
    }
    let dir = shipped_path(&args.mnist_dir);
    let mut train = load_mnist(&dir, MnistSplit::Train)?;
    if let Some(n) = args.n_train {
        train = train.subset(n, args.seed);
    }
    let test = load_mnist(&dir, MnistSplit::Test)?;
    let device = open_backend(backend)?;
    eprintln!(
        "training the MNIST classifier on {} images for {} epochs (batch {}, lr {}, seed {}) on {}",
        train.n,
        config.epochs,
        config.batch_size,
        config.lr,
        config.seed,
        backend.name()
    );
    let bar = crate::progress::plain_when_not_a_terminal(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut on_step = |p: &ClassifierProgress| {
        if p.step == 1 {
            bar.set_length(p.steps);
        }
        bar.set_position(p.step);
        if p.step % 10 == 1 {
            bar.set_message(format!("epoch {}/{} loss {:.4}", p.epoch, p.epochs, p.loss));
        }
    };
    let result = train_classifier(&config, &train, &test, &device, &mut on_step);
    bar.finish_and_clear();
    let (model, report) = result?;
    let meta = ClassifierMeta::new(&config, &report, &crate::cli::command_line());
    save_classifier(&args.out, &model, &meta)?;
    println!(
        "test accuracy {:.2}% on {} test images; trained {} steps in {:.1} s ({} parameters); classifier {}",
        100.0 * report.test_accuracy,
        test.n,
        report.steps,
        report.train_seconds,
        parameter_count(&model),
        args.out.display()
    );
    Ok(())
}
