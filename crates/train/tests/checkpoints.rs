//! Checkpoints and the training loop: round trip, bit-for-bit resume, damaged files, NaN stop.

mod common;

use std::fs;
use std::path::Path;

use burn::module::Module;

use common::*;
use scorelab_core::{ScoreFn, Sde, Times};
use scorelab_train::checkpoint::{
    self, list_checkpoints, resolve, resolve_checkpoint, EMA_FILE, META_FILE,
};
use scorelab_train::loss::LossKind;
use scorelab_train::network::host_tensor;
use scorelab_train::params::flatten;
use scorelab_train::trainer::LOG_FILE;
use scorelab_train::{load_score, run, Mlp, Observer, RunOutcome, TrainError, Trainer};

struct Quiet;
impl Observer for Quiet {}

/// Stops the run once `at` steps have been taken.
struct StopAt(u64, u64);
impl Observer for StopAt {
    fn on_step(&mut self, r: &scorelab_train::StepReport) {
        self.1 = r.step;
    }
    fn interrupted(&self) -> bool {
        self.1 >= self.0
    }
}

fn new_trainer(steps: u64, kind: LossKind) -> Trainer<Mlp> {
    let device = cpu().autodiff();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let (_, data, spec) = gaussian_data(300, 1);
    let mut config = train_config(small_mlp(2, true), kind, &sde, steps);
    config.checkpoint_every = 4;
    config.keep = 2;
    let net: Mlp = small_mlp(2, true).init(3, &device).unwrap();
    Trainer::new(config, sde, &data, data_info(spec, 1, &data), net, &device).unwrap()
}

fn all_values(net: &Mlp) -> Vec<f32> {
    flatten(net).into_iter().flat_map(values).collect()
}

#[test]
fn checkpoint_round_trip_gives_the_same_score() {
    let dir = tempfile::tempdir().unwrap();
    let mut trainer = new_trainer(10, LossKind::Dsm);
    let outcome = run(&mut trainer, dir.path(), &mut Quiet).unwrap();
    let RunOutcome::Finished(path) = outcome else {
        panic!("finished expected")
    };
    assert_eq!(path, dir.path().join("ckpt-00000010"));
    // keep = 2: steps 8 and 10 remain
    let kept: Vec<u64> = list_checkpoints(dir.path())
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(kept, vec![8, 10]);
    let log = fs::read_to_string(dir.path().join(LOG_FILE)).unwrap();
    assert_eq!(log.lines().count(), 11, "header + one line per step");

    let device = cpu();
    let (score, meta) = load_score(dir.path(), &device).unwrap();
    assert_eq!(meta.step, 10);
    let x = host_tensor(vec![0.1, 0.2, -0.5, 1.0, 2.0, -1.0], 3, 2, &device);
    let t = Times::Each(vec![0.1, 0.5, 0.9]);
    let loaded = values(score.score(x.clone(), &t));
    let direct = scorelab_train::NetworkScore::new(
        trainer.ema_network(),
        meta.sde.clone(),
        meta.parameterisation(),
    );
    assert_eq!(loaded, values(direct.score(x, &t)));
}

#[test]
fn resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    for kind in [LossKind::Dsm, LossKind::Ssm] {
        let straight_dir = tempfile::tempdir().unwrap();
        let mut straight = new_trainer(12, kind);
        run(&mut straight, straight_dir.path(), &mut Quiet).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let mut first = new_trainer(12, kind);
        let outcome = run(&mut first, dir.path(), &mut StopAt(6, 0)).unwrap();
        assert!(matches!(outcome, RunOutcome::Interrupted(_)));
        drop(first);

        let ckpt = resolve(dir.path()).unwrap();
        let meta = checkpoint::read_meta(&ckpt).unwrap();
        assert_eq!(meta.step, 6);
        let device = cpu().autodiff();
        let (_, data, _) = gaussian_data(300, 1);
        let template: Mlp = small_mlp(2, true).init(0, &device).unwrap();
        let mut resumed =
            Trainer::resume(&ckpt, &meta, meta.train.clone(), &data, template, &device).unwrap();
        run(&mut resumed, dir.path(), &mut Quiet).unwrap();

        assert_eq!(
            all_values(&straight.network()),
            all_values(&resumed.network()),
            "{kind:?} weights"
        );
        assert_eq!(
            all_values(&straight.ema_network()),
            all_values(&resumed.ema_network()),
            "{kind:?} EMA"
        );
        let log = |d: &Path| fs::read_to_string(d.join(LOG_FILE)).unwrap();
        assert_eq!(
            log(straight_dir.path()),
            log(dir.path()),
            "{kind:?} loss log"
        );
    }
}

#[test]
fn damaged_checkpoints_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut trainer = new_trainer(4, LossKind::Dsm);
    run(&mut trainer, dir.path(), &mut Quiet).unwrap();
    let ckpt = resolve(dir.path()).unwrap();
    let device = cpu();
    let message = |e: TrainError| e.to_string();

    // truncated weights
    let model = ckpt.join(EMA_FILE);
    let bytes = fs::read(&model).unwrap();
    fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let err = message(
        load_score(&ckpt, &device)
            .err()
            .expect("truncated weights must fail"),
    );
    assert!(err.contains("model.bpk"), "{err}");

    // missing weights
    fs::remove_file(&model).unwrap();
    let err = message(load_score(&ckpt, &device).err().unwrap());
    assert!(
        err.contains("model.bpk") && err.contains("missing"),
        "{err}"
    );
    fs::write(&model, &bytes).unwrap();
    assert!(load_score(&ckpt, &device).is_ok());

    // meta.json: unknown version, missing field, garbage, absent
    let meta_path = ckpt.join(META_FILE);
    let meta = fs::read_to_string(&meta_path).unwrap();
    fs::write(
        &meta_path,
        meta.replace("\"version\": 1", "\"version\": 99"),
    )
    .unwrap();
    let err = message(load_score(&ckpt, &device).err().unwrap());
    assert!(err.contains("version 99"), "{err}");
    let mut value: serde_json::Value = serde_json::from_str(&meta).unwrap();
    value.as_object_mut().unwrap().remove("sde");
    fs::write(&meta_path, value.to_string()).unwrap();
    let err = message(load_score(&ckpt, &device).err().unwrap());
    assert!(err.contains("meta.json") && err.contains("sde"), "{err}");
    fs::write(&meta_path, "{ not json").unwrap();
    let err = message(load_score(&ckpt, &device).err().unwrap());
    assert!(err.contains("meta.json") && err.contains("JSON"), "{err}");
    fs::remove_file(&meta_path).unwrap();
    let err = message(load_score(&ckpt, &device).err().unwrap());
    assert!(err.contains("not a checkpoint"), "{err}");

    // weights of another architecture
    let other = tempfile::tempdir().unwrap();
    let mut trainer = new_trainer(4, LossKind::Dsm);
    run(&mut trainer, other.path(), &mut Quiet).unwrap();
    let ckpt = resolve(other.path()).unwrap();
    let meta_path = ckpt.join(META_FILE);
    let meta = fs::read_to_string(&meta_path).unwrap();
    fs::write(&meta_path, meta.replace("\"width\": 16", "\"width\": 8")).unwrap();
    let err = message(load_score(&ckpt, &device).err().unwrap());
    assert!(
        err.contains("model.bpk") && err.contains("does not match"),
        "{err}"
    );
}

#[test]
fn non_finite_loss_stops_with_the_step_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut trainer = new_trainer(50, LossKind::Dsm);
    trainer.config.adam.lr = 1e30;
    trainer.config.checkpoint_every = 1;
    let err = run(&mut trainer, dir.path(), &mut Quiet).expect_err("must diverge");
    let TrainError::NonFinite { step, .. } = &err else {
        panic!("unexpected error {err}")
    };
    let message = err.to_string();
    assert!(message.contains(&format!("step {step}")), "{message}");
    let kept = list_checkpoints(dir.path()).unwrap();
    let (last, path) = kept.last().expect("earlier checkpoints are kept");
    assert_eq!(*last, step - 1);
    assert!(path.join(META_FILE).exists());
    // the state in memory is the last good one
    assert_eq!(trainer.step_count(), step - 1);
    let _ = trainer.network().valid();
}

#[test]
fn a_network_without_autodiff_is_refused() {
    let device = cpu();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let (_, data, spec) = gaussian_data(50, 1);
    let config = train_config(small_mlp(2, false), LossKind::Dsm, &sde, 3);
    let net: Mlp = small_mlp(2, false).init(3, &device).unwrap();
    let err = Trainer::new(config, sde, &data, data_info(spec, 1, &data), net, &device)
        .err()
        .expect("plain device must be refused");
    assert!(err.to_string().contains("autodiff"), "{err}");
}

/// A run folder resolves to its newest checkpoint that is complete and undamaged, naming the
/// newer ones it passed over; a step picks one; a folder that is both a checkpoint and a run is
/// refused.
#[test]
fn run_folders_resolve_to_the_newest_valid_checkpoint_or_a_chosen_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut trainer = new_trainer(8, LossKind::Dsm);
    run(&mut trainer, dir.path(), &mut Quiet).unwrap();
    let (older, newest) = (
        dir.path().join("ckpt-00000004"),
        dir.path().join("ckpt-00000008"),
    );
    let clean = resolve_checkpoint(dir.path(), None).unwrap();
    assert_eq!(
        (clean.dir.clone(), clean.skipped.len()),
        (newest.clone(), 0)
    );

    // a flipped bit in the newest raw weights: the older checkpoint is used, and said so
    let weights = newest.join(checkpoint::WEIGHTS_FILE);
    let mut bytes = fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&weights, &bytes).unwrap();
    let fallback = resolve_checkpoint(dir.path(), None).unwrap();
    assert_eq!(fallback.dir, older);
    assert_eq!(fallback.skipped.len(), 1);
    assert_eq!(fallback.skipped[0].0, newest);
    assert!(
        fallback.skipped[0].1.contains("SHA-256"),
        "{:?}",
        fallback.skipped
    );
    // an emptied newest checkpoint is passed over the same way
    fs::remove_file(newest.join(EMA_FILE)).unwrap();
    assert_eq!(resolve(dir.path()).unwrap(), older);

    // a chosen step, and a step that is not there
    assert_eq!(resolve_checkpoint(dir.path(), Some(4)).unwrap().dir, older);
    let err = resolve_checkpoint(dir.path(), Some(5))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no checkpoint at step 5") && err.contains("4, 8"),
        "{err}"
    );

    // nothing usable at all
    fs::remove_file(older.join(EMA_FILE)).unwrap();
    let err = resolve(dir.path()).unwrap_err().to_string();
    assert!(err.contains("none of its 2 checkpoints is usable"), "{err}");

    // both a flat checkpoint and ckpt-* folders
    fs::copy(older.join(META_FILE), dir.path().join(META_FILE)).unwrap();
    let err = resolve(dir.path()).unwrap_err().to_string();
    assert!(err.contains("holds both"), "{err}");
}
