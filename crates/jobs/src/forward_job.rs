//! The forward (noising) process of a 2-D dataset at chosen times, drawn side by side
//! (`scorelab forward`; Claustre, Fig. 1: ou forgets the data, cou keeps a biased final state),
//! with how far X_T still is from the prior sampling starts from.

use burn::tensor::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use scorelab_analysis::plot::{panels_png, scatter_png_in, Extent};
use scorelab_analysis::quality::{sliced_wasserstein2, DEFAULT_PROJECTIONS};
use scorelab_core::device::tensor_from_rows;
use scorelab_core::output::{file_names, OutputDir};
use scorelab_core::{Dataset, DatasetSpec, Sde};
use scorelab_train::Normalisation;

use crate::error::{JobError, Result};
use crate::options::{parse_list, DataOptions, SdeOptions};
use crate::train_job::POINTS_FOR_TRAINING;

/// Which data, which SDE, at which times, how many points (with the `clap` feature: the
/// flags of `forward`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct ForwardJob {
    #[cfg_attr(feature = "clap", command(flatten))]
    pub data: DataOptions,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub sde: SdeOptions,
    /// Times t at which the marginal X_t is drawn (comma-separated, 0 <= t <= T).
    #[cfg_attr(feature = "clap", arg(long, default_value = "0,0.25,0.5,1"))]
    pub times: String,
    /// Points drawn at each time (each from a uniformly chosen training point).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 2000))]
    pub n: usize,
    /// Seed of the training-set draw (unless --data-seed) and of the noise.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
}

/// A job with its data, SDE and times checked.
pub struct PreparedForward<'a> {
    job: &'a ForwardJob,
    times: Vec<f64>,
    spec: DatasetSpec,
    data: Dataset,
    model_space: Dataset,
    normalisation: Normalisation,
    sde: Sde,
}

/// `n` draws of X_t = α(t) x0 + c(t) + σ(t) z (DESIGN §2), x0 uniform over the rows of `data`
/// (model space), z standard normal.
fn marginal(data: &Dataset, sde: &Sde, t: f64, n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * data.dim);
    for _ in 0..n {
        let row = data.row(rng.random_range(0..data.n));
        out.extend(sde.perturb(row, t, rng));
    }
    out
}

impl ForwardJob {
    /// Loads the data, builds the SDE (in model space) and checks the times.
    pub fn prepare(&self) -> Result<PreparedForward<'_>> {
        let times = parse_list(&self.times, "⟨times⟩")?;
        if times.is_empty() {
            return Err(JobError::options("⟨times⟩ needs at least one time"));
        }
        if self.n == 0 {
            return Err(JobError::options("invalid parameter n: must be >= 1"));
        }
        let spec = self.data.spec(POINTS_FOR_TRAINING)?;
        let data = spec.load(self.data.data_seed.unwrap_or(self.seed))?;
        if data.dim != 2 {
            return Err(JobError::options(format!(
                "forward draws 2-D data; {} has dimension {}",
                data.name, data.dim
            )));
        }
        let normalisation = Normalisation::default_for(&data);
        let model_space = Dataset::from_points(
            data.name.clone(),
            normalisation.to_model(&data.points),
            data.dim,
        );
        let sde = self.sde.build(&model_space)?;
        let t_end = sde.t_end();
        if let Some(t) = times.iter().find(|&&t| !(0.0..=t_end).contains(&t)) {
            return Err(JobError::options(format!(
                "⟨times⟩: {t} is outside [0, T = {t_end}]"
            )));
        }
        Ok(PreparedForward {
            job: self,
            times,
            spec,
            data,
            model_space,
            normalisation,
            sde,
        })
    }
}

impl PreparedForward<'_> {
    /// Draws the marginals and the final state against the prior, writes forward.png,
    /// forward.npy and forward.json into `out`, and returns a line of the result.
    pub fn run(&self, out: &OutputDir) -> Result<String> {
        let (args, times, sde, spec, data) =
            (self.job, &self.times, &self.sde, &self.spec, &self.data);
        let (model_space, normalisation, t_end) =
            (&self.model_space, self.normalisation, sde.t_end());
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        let mut values = Vec::new();
        let mut rows = Vec::new();
        let mut marginals = Vec::new();
        for &t in times {
            let points = normalisation.to_data(&marginal(model_space, sde, t, args.n, &mut rng));
            let mean = |k: usize| {
                points
                    .iter()
                    .skip(k)
                    .step_by(2)
                    .map(|&v| v as f64)
                    .sum::<f64>()
                    / args.n as f64
            };
            rows.push(json!({ "t": t, "alpha": sde.alpha(t), "sigma": sde.sigma2(t).sqrt(), "mean": [mean(0), mean(1)] }));
            values.extend_from_slice(&points);
            marginals.push(points);
        }
        // one scale for every panel, so that spreading and contraction show
        let sets: Vec<&[f32]> = marginals.iter().map(|m| m.as_slice()).collect();
        let extent = Extent::of(&sets);
        let panels = times
            .iter()
            .zip(&marginals)
            .map(|(t, points)| {
                let title = format!("{} at t = {t}", sde.name());
                scatter_png_in(&title, points, &[], extent, 600)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        // How far X_T still is from the prior sampling starts from, against two prior draws.
        let device = Device::flex();
        let final_state = tensor_from_rows(
            &marginal(model_space, sde, t_end, args.n, &mut rng),
            args.n,
            2,
            &device,
        );
        let prior_a = tensor_from_rows(&sde.draw_prior(args.n, 2, &mut rng), args.n, 2, &device);
        let prior_b = tensor_from_rows(&sde.draw_prior(args.n, 2, &mut rng), args.n, 2, &device);
        let gap = sliced_wasserstein2(&final_state, &prior_a, DEFAULT_PROJECTIONS, args.seed)?;
        let floor = sliced_wasserstein2(&prior_b, &prior_a, DEFAULT_PROJECTIONS, args.seed)?;
        let written = file_names(&[
            out.write("forward.png", &panels_png(&panels, 2)?)?,
            out.write_npy(
                "forward.npy",
                &[times.len() as u64, args.n as u64, 2],
                &values,
            )?,
        ]);
        out.write_json(
            "forward.json",
            &json!({
                "command": "forward",
                "dataset": { "spec": spec, "n": data.n },
                "sde": sde,
                "times": rows,
                "final_state_vs_prior_sliced_w2": gap,
                "prior_vs_prior_sliced_w2": floor,
                "files": written,
            }),
        )?;
        Ok(format!(
        "{}: sliced W2 of X_T to the prior {gap:.4} (two prior draws: {floor:.4}), in model space",
        sde.name(),
    ))
    }
}
