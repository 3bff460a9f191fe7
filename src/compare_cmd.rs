//! `scorelab analyze compare`: quality metrics between any two sample files, with a noise floor.

use serde_json::json;

use scorelab_analysis::compare::{compare_samples, compare_with};
use scorelab_analysis::frechet::frechet_distance;
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_train::classifier::{FEATURES, PIXELS};

use crate::analysis_io::{open, open_classifier, out_dir, read_samples};
use crate::cli::CompareArgs;
use crate::failure::{CliResult, Failure};

pub fn run(args: &CompareArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let (a, dim) = read_samples(&args.a)?;
    let (b, dim_b) = read_samples(&args.b)?;
    if dim != dim_b {
        return Err(Failure::runtime(format!(
            "{} has rows of dimension {dim} but {} of dimension {dim_b}",
            args.a.display(),
            args.b.display()
        )));
    }
    let (na, nb) = (a.len() / dim, b.len() / dim);
    let classifier = if dim == PIXELS {
        open_classifier(&args.classifier, &device)?
    } else {
        None
    };
    let a = tensor_from_rows(&a, na, dim, &device);
    let b = tensor_from_rows(&b, nb, dim, &device);
    let quality = compare_samples(&a, &b, args.seed)?;
    let frechet = classifier
        .map(|classifier| {
            compare_with(&a, &b, args.seed, |x, y| {
                let features = |t: &burn::tensor::Tensor<2>| to_vec(classifier.features(t.clone()));
                frechet_distance(&features(x), &features(y), FEATURES)
            })
        })
        .transpose()?;
    let out = out_dir(&args.output, "compare")?;
    let record = json!({
        "command": "analyze compare",
        "a": { "path": args.a, "n": na },
        "b": { "path": args.b, "n": nb },
        "dim": dim,
        "seed": args.seed,
        "noise_floor": "the metric between two halves of b (seeded split); a_half_vs_b_half is A at that size",
        "quality": quality,
        "classifier_frechet": frechet,
    });
    out.write_json("compare.json", &record)?;
    let line = |name: &str, full: f64, half: f64, floor: f64| {
        println!(
            "{name}: A vs B {full:.4}; at half size A vs B {half:.4}, noise floor B vs B {floor:.4}"
        )
    };
    line(
        "sliced W2",
        quality.a_vs_b.sliced_w2,
        quality.a_half_vs_b_half.sliced_w2,
        quality.noise_floor_b_half_vs_b_half.sliced_w2,
    );
    line(
        "energy distance",
        quality.a_vs_b.energy_distance,
        quality.a_half_vs_b_half.energy_distance,
        quality.noise_floor_b_half_vs_b_half.energy_distance,
    );
    if let Some(f) = &frechet {
        line(
            "classifier Fréchet distance",
            f.a_vs_b,
            f.a_half_vs_b_half,
            f.noise_floor_b_half_vs_b_half,
        );
    }
    println!("wrote {}", out.file("").display());
    Ok(())
}
