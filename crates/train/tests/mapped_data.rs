//! Training on a `.npy` file mapped from disk: the same run as on the same points in memory.

mod common;

use common::*;
use scorelab_core::datasets::{encode_npy, open_npy, Dataset};
use scorelab_core::{DatasetSpec, Sde};
use scorelab_train::config::{dataset_hash, points_hash};
use scorelab_train::loss::LossKind;
use scorelab_train::params::flatten;
use scorelab_train::{Mlp, Trainer};

fn trainer(data: &Dataset, spec: DatasetSpec) -> Trainer<Mlp> {
    let device = cpu().autodiff();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let config = train_config(small_mlp(4, true), LossKind::Dsm, &sde, 5);
    let net: Mlp = small_mlp(4, true).init(2, &device).unwrap();
    Trainer::new(config, sde, data, data_info(spec, 0, data), net, &device).unwrap()
}

#[test]
fn a_mapped_training_set_trains_exactly_as_the_same_points_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.npy");
    // 4-D points, written as [n, 1, 2, 2] images so that the [-1, 1] normalisation applies
    let pixels: Vec<f32> = (0..5000).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
    std::fs::write(&path, encode_npy(&[1250, 1, 2, 2], &pixels).unwrap()).unwrap();
    let mapped = open_npy(&path).unwrap();
    let mut in_memory = mapped.clone();
    in_memory.points = mapped.points.to_vec().into();
    assert!(mapped.points.is_mapped() && !in_memory.points.is_mapped());
    assert_eq!(dataset_hash(&mapped), points_hash(&pixels));

    let spec = DatasetSpec::Csv { path };
    let mut a = trainer(&mapped, spec.clone());
    let mut b = trainer(&in_memory, spec);
    for _ in 0..5 {
        assert_eq!(a.step().unwrap(), b.step().unwrap());
    }
    let weights = |t: &Trainer<Mlp>| -> Vec<f32> {
        flatten(&t.network())
            .into_iter()
            .flat_map(values::<1>)
            .collect()
    };
    assert_eq!(weights(&a), weights(&b));
}
