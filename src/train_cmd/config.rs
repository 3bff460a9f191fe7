//! The run configuration of `train`: model, loss, optimiser and schedule from the flags.

use super::*;

const MODEL_NAMES: [&str; 2] = ["mlp", "unet"];

/// σ_d = √E[x²] over the coordinates of the normalised training points: the second moment
/// for which EDM's preconditioned training target has unit variance (read chunk by chunk).
fn root_mean_square(data: &Dataset, normalisation: Normalisation) -> f64 {
    let mut sum = 0.0f64;
    let Ok(()) = data
        .points
        .for_each_chunk(data.dim, STREAM_CHUNK_ROWS, |_, rows| {
            sum += normalisation
                .to_model(rows)
                .iter()
                .map(|&v| (v as f64).powi(2))
                .sum::<f64>();
            Ok::<(), std::convert::Infallible>(())
        });
    (sum / data.points.len().max(1) as f64).sqrt()
}

/// The run configuration described by the flags; `normalisation` maps the training points to
/// model space (for σ_data).
pub(super) fn train_config(
    args: &TrainArgs,
    sde: &scorelab_core::Sde,
    data: &Dataset,
    normalisation: Normalisation,
) -> CliResult<TrainConfig> {
    let dim = data.dim;
    let model = match args.model.as_str() {
        "unet" => {
            let image = data.image_shape.ok_or_else(|| {
                Failure::usage(format!(
                    "--model unet needs image data (e.g. --dataset mnist); {} is {}-dimensional point data",
                    data.name, dim
                ))
            })?;
            let mut config = UNetConfig::preset(&args.preset, image)?;
            if let Some(channels) = args.channels {
                config.channels = channels;
            }
            ModelConfig::Unet(config)
        }
        "mlp" => ModelConfig::Mlp(MlpConfig {
            dim,
            width: args.width,
            depth: args.depth,
            embedding: args.embedding,
            residual: args.residual,
        }),
        other => {
            return Err(Failure::usage(format!(
                "unknown model '{other}' (expected one of: {})",
                MODEL_NAMES.join(", ")
            )))
        }
    };
    let sigma_data = || {
        args.sigma_data
            .unwrap_or_else(|| root_mean_square(data, normalisation))
    };
    let parameterisation = Parameterisation::parse(&args.parameterisation, sigma_data)?;
    let mut loss = LossConfig::new(LossKind::parse(&args.loss)?, sde);
    loss.weighting = Weighting::parse(&args.weighting, sigma_data)?;
    if args.sigma_data.is_some()
        && parameterisation.name() != "edm"
        && loss.weighting.name() != "edm"
    {
        return Err(Failure::usage(
            "--sigma-data belongs to --param edm and --weighting edm",
        ));
    }
    loss.time_sampling = TimeSampling::parse(
        &args.t_sampling,
        (
            args.p_mean.unwrap_or(EDM_LOG_SIGMA.0),
            args.p_std.unwrap_or(EDM_LOG_SIGMA.1),
        ),
    )?;
    if loss.time_sampling == TimeSampling::Uniform
        && (args.p_mean.is_some() || args.p_std.is_some())
    {
        return Err(Failure::usage(
            "--p-mean and --p-std set the log-normal training times of --t-sampling log-normal",
        ));
    }
    if let Some(t_eps) = args.t_eps {
        loss.t_eps = t_eps;
    }
    loss.projections = args.projections;
    loss.projection = Projection::parse(&args.projection)?;
    loss.penalty = Penalty::parse(&args.penalty)?;
    loss.gamma = args.gamma;
    loss.divergence_probes = args
        .div_probes
        .unwrap_or(if dim <= EXACT_DIVERGENCE_MAX_DIM {
            0
        } else {
            1
        });
    if loss.kind == LossKind::Hyvarinen && dim > EXACT_DIVERGENCE_MAX_DIM {
        return Err(Failure::usage(format!(
            "--loss hyvarinen needs the exact divergence, {dim} JVPs per point for this data; use --loss ssm (sliced score matching estimates the same objective)"
        )));
    }
    Ok(TrainConfig {
        model,
        parameterisation,
        loss,
        adam: AdamConfig {
            lr: args.lr,
            warmup: args.warmup,
            grad_clip: args.grad_clip,
            ..AdamConfig::default()
        },
        ema_decay: args.ema_decay,
        batch_size: args.batch_size,
        steps: args.steps,
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        keep: args.keep,
        log_every: args.log_every,
    })
}
