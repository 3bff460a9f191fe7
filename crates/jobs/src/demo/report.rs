//! The demo's report: the summary numbers in words, the verdict and `report.md`.

use super::*;

/// A number of the report with three significant digits, in scientific notation below 1e-3
/// and from 1e4 on ("–" for a missing one).
pub(super) fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(0.0) => "0".into(),
        Some(x) if !x.is_finite() => format!("{x}"),
        Some(x) if x.abs() < 1e-3 || x.abs() >= 1e4 => format!("{x:.2e}"),
        Some(x) => {
            let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
            format!("{x:.decimals$}")
        }
        None => "–".into(),
    }
}

/// The report's opening paragraph: what the numbers say, in plain words.
pub(super) fn conclusion(summary: &Value) -> String {
    let m = &summary["memorization"];
    let get = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let model = get(&m["model"]["samples"]["memorised_fraction"]);
    let empirical = get(&m["empirical"]["samples"]["memorised_fraction"]);
    let fresh = get(&m["model"]["fresh"]["memorised_fraction"]);
    let d1_model = get(&m["model"]["samples"]["d1"]["mean"]);
    let d1_empirical = get(&m["empirical"]["samples"]["d1"]["mean"]);
    let d1_fresh = get(&m["model"]["fresh"]["d1"]["mean"]);
    let verdict = if (model - fresh).abs() <= (model - empirical).abs() {
        "The model generalises: like fresh data, its samples fall between the training points,          while the empirical score (the exact score of the smoothed training set) returns copies          of them."
    } else {
        "The model copies: its samples sit on training points much as the empirical score's do,          not between them like fresh data."
    };
    format!(
        "**In short.** {verdict} Of the model's samples {} count as copies of a training point,          against {} for the empirical score and {} for fresh data from the same distribution; a          model sample lies on average {} from its nearest training point, an empirical-score          sample {} and a fresh point {}.\n",
        percent(model),
        percent(empirical),
        percent(fresh),
        number(&json!(d1_model)),
        number(&json!(d1_empirical)),
        number(&json!(d1_fresh)),
    )
}

pub(super) fn percent(fraction: f64) -> String {
    format!("{:.1}%", 100.0 * fraction)
}

/// One line for each term of the report that is not common knowledge.
const TERMS: &str = "\
- **d1, d2**: the distance from a point to its nearest and second-nearest training point; a point is *memorised* when d1/d2 is below the threshold.
- **score gap**: the mean ‖s_θ − s_emp‖ of the model's score against the empirical score, along the model's reverse paths; **σ-scaled**: the same multiplied by the noise level σ(τ), which removes the 1/σ growth of every score near the data so that the gap is comparable across τ.
- **Novikov exponent**: ((1 + ε)²/4ε) ∫ ½ g² E‖s_θ − s_emp‖² dτ, the Kullback–Leibler divergence (Girsanov) between the path distributions of the two reverse SDEs with viscosity ε; 1 here, where ε = 1.
- **Li–Yau bound**: the divergence of the score of any data smoothed by Gaussian noise of variance σ² satisfies ∇·s ≥ −d/σ²; a point below it shows a score that no smoothed density can have.
- **sliced W2, energy distance**: distances between the samples and fresh data; the fresh-data row gives their value between two fresh draws (the floor of a perfect generator).
";

/// The last recorded values of each path series.
pub(super) fn path_summary(report: &PathReport) -> Value {
    let last = report.tau.len() - 1;
    let mut series = serde_json::Map::new();
    for s in &report.series {
        series.insert(
            s.label.clone(),
            json!({
                "mean_d1": s.mean_d1[last],
                "memorised_fraction": s.memorised_fraction[last],
                "li_yau_violations_max": s.divergence.as_ref().map(|d| d.violation_fraction.iter().copied().fold(0.0, f64::max)),
            }),
        );
    }
    json!({
        "tau": report.tau[last],
        "series": series,
        "score_gap": report.score_gap[last],
        "scaled_score_gap": report.scaled_score_gap[last],
        "gap_integral": report.gap_integral[last],
        "novikov": report.novikov.as_ref().map(|v| v[last]),
    })
}

pub(super) fn headline(summary: &Value) -> String {
    let m = &summary["memorization"];
    format!(
        "memorised fraction: model {}, empirical score {}, fresh data {}; mean d1: model {}, empirical {}, fresh {}",
        number(&m["model"]["samples"]["memorised_fraction"]),
        number(&m["empirical"]["samples"]["memorised_fraction"]),
        number(&m["model"]["fresh"]["memorised_fraction"]),
        number(&m["model"]["samples"]["d1"]["mean"]),
        number(&m["empirical"]["samples"]["d1"]["mean"]),
        number(&m["model"]["fresh"]["d1"]["mean"]),
    )
}

pub(super) fn report_markdown(
    args: &DemoOptions,
    plan: &Plan,
    spec: &DatasetSpec,
    summary: &Value,
    report: &PathReport,
) -> String {
    let m = &summary["memorization"];
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# scorelab demo: a learned score against the empirical score\n"
    );
    let _ = writeln!(
        md,
        "Training set: {} Swiss-roll points (noise {}, seed {}). An MLP ({}×3, SiLU, ε-parameterised) \
         was trained for {} steps of denoising score matching under the VP SDE. Both the model and \
         the empirical score of the same training set were sampled with Euler–Maruyama ({} steps, \
         quadratic grid, t_min = {:.0e}, one Tweedie denoising step) from the same noise \
         (seed {}). Fresh data is a new draw of {} points from the Swiss roll. Size: `{}`.\n",
        plan.n_train,
        match spec {
            DatasetSpec::Swissroll { noise, .. } => *noise,
            _ => 0.0,
        },
        args.seed,
        plan.width, plan.train_steps, plan.sampler_steps, plan.t_min,
        args.seed, plan.samples, args.size
    );
    let _ = writeln!(md, "{}", conclusion(summary));
    let _ = writeln!(md, "## Samples\n");
    let _ = writeln!(md, "| model | empirical score |\n| --- | --- |");
    let _ = writeln!(
        md,
        "| ![model](samples_model/samples.png) | ![empirical](samples_empirical/samples.png) |\n"
    );
    let _ = writeln!(md, "## Memorisation\n");
    let _ = writeln!(
        md,
        "A sample is memorised when d1/d2 < {:.3} (d1, d2: distances to its nearest and second-nearest \
         training point). Fresh data shows where a generalising model sits; on a one-dimensional \
         manifold even fresh points often sit much closer to one training point than to the next.\n",
        args.threshold
    );
    let _ = writeln!(
        md,
        "| points | memorised fraction | mean d1 | median d1 | mean distance to the spiral | sliced W2 to fresh data | energy distance to fresh data |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    let row = |name: &str, stats: &Value, manifold: &Value, quality: &Value| {
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            number(&stats["memorised_fraction"]),
            number(&stats["d1"]["mean"]),
            number(&stats["d1"]["median"]),
            number(&manifold["mean"]),
            number(&quality["sliced_w2"]),
            number(&quality["energy_distance"]),
        )
    };
    for (name, key) in [
        ("model samples", "model"),
        ("empirical-score samples", "empirical"),
    ] {
        let s = &m[key];
        let line = row(
            name,
            &s["samples"],
            &s["on_manifold"]["samples"],
            &s["quality"]["samples_vs_fresh"],
        );
        let _ = writeln!(md, "{line}");
    }
    let s = &m["model"];
    let fresh = row(
        "fresh data",
        &s["fresh"],
        &s["on_manifold"]["fresh"],
        &s["quality"]["noise_floor_fresh_vs_fresh"],
    );
    let _ = writeln!(md, "{fresh}\n");
    let _ = writeln!(
        md,
        "The quality columns of the fresh-data row compare two independent fresh draws: the noise \
         floor of a perfect generator at this sample size.\n"
    );
    let _ = writeln!(md, "![d1 histogram](d1_histogram.png)\n");
    let _ = writeln!(md, "## Along the reverse paths\n");
    let p = &summary["paths_at_t_min"];
    let _ = writeln!(
        md,
        "{} paths of each score from the same noise, measured at {} times. At τ = {:.1e}: mean d1 \
         model {}, empirical {}; score gap ‖s_θ − s_emp‖ = {} (σ-scaled {}); Novikov exponent \
         (the KL of the two reverse SDEs, ε = 1) ∫ ½ g² ‖s_θ − s_emp‖² dτ = {} (terms are defined \
         at the end). Largest fraction of points below the Li–Yau bound \
         ∇·s ≥ −d/σ²: model {}, empirical {}.\n",
        plan.paths,
        report.tau.len(),
        p["tau"].as_f64().unwrap_or(f64::NAN),
        number(&p["series"]["model"]["mean_d1"]),
        number(&p["series"]["empirical"]["mean_d1"]),
        number(&p["score_gap"]),
        number(&p["scaled_score_gap"]),
        number(&p["novikov"]),
        number(&p["series"]["model"]["li_yau_violations_max"]),
        number(&p["series"]["empirical"]["li_yau_violations_max"]),
    );
    for (file, caption) in [
        ("paths/paths_d1.png", "mean distance to the training set"),
        ("paths/paths_score_gap.png", "score gap"),
        ("paths/paths_novikov.png", "Novikov exponent"),
        ("paths/paths_li_yau.png", "Li–Yau violations"),
    ] {
        let _ = writeln!(md, "![{caption}]({file})\n");
    }
    let _ = writeln!(md, "## Training\n\n![loss](train/loss.png)\n");
    let _ = writeln!(md, "## Terms\n\n{TERMS}");
    let _ = writeln!(
        md,
        "Files: `train/` (checkpoints, log.csv), `samples_*/` (samples.npy, .csv, .png, summary.json), \
         `paths/` (paths.csv, paths.json), `summary.json` (every number above)."
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_numbers_have_three_significant_digits_in_one_format() {
        assert_eq!(number(&json!(7.45e-5)), "7.45e-5");
        assert_eq!(number(&json!(0.02)), "0.0200");
        assert_eq!(number(&json!(0.26403)), "0.264");
        assert_eq!(number(&json!(230.2326)), "230");
        assert_eq!(number(&json!(2.3e5)), "2.30e5");
        assert_eq!(number(&json!(-0.0064)), "-0.00640");
        assert_eq!(number(&json!(0.0)), "0");
        assert_eq!(number(&Value::Null), "–");
    }

    fn summary_with(model: f64, empirical: f64, fresh: f64) -> Value {
        let side = |f: f64| json!({ "memorised_fraction": f, "d1": { "mean": 0.01 } });
        json!({ "memorization": {
            "model": { "samples": side(model), "fresh": side(fresh) },
            "empirical": { "samples": side(empirical) },
        }})
    }

    #[test]
    fn the_conclusion_says_whether_the_model_copies() {
        let generalises = conclusion(&summary_with(0.055, 0.901, 0.300));
        assert!(
            generalises.contains("The model generalises"),
            "{generalises}"
        );
        assert!(generalises.contains("5.5%") && generalises.contains("90.1%"));
        let copies = conclusion(&summary_with(0.85, 0.901, 0.300));
        assert!(copies.contains("The model copies"), "{copies}");
    }
}
