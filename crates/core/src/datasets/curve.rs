//! Distance from a point to a parametrised plane curve, for on-manifold measurements.

/// Euclidean distance from (x, y) to {curve(t) : t ∈ [t_min, t_max]}: a search over 4,096
/// equal parameter steps, then golden-section refinement around the best grid point. Exact
/// to rounding wherever the nearest curve point is the unique local minimiser within one step.
pub fn distance_to_curve(
    curve: impl Fn(f64) -> (f64, f64),
    t_min: f64,
    t_max: f64,
    x: f64,
    y: f64,
) -> f64 {
    const GRID: usize = 4096;
    let dist2 = |t: f64| {
        let (cx, cy) = curve(t);
        (cx - x).powi(2) + (cy - y).powi(2)
    };
    let step = (t_max - t_min) / GRID as f64;
    let best = (0..=GRID)
        .map(|i| t_min + step * i as f64)
        .min_by(|a, b| dist2(*a).total_cmp(&dist2(*b)))
        .expect("non-empty grid");
    let (mut lo, mut hi) = ((best - step).max(t_min), (best + step).min(t_max));
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let a = hi - ratio * (hi - lo);
        let b = lo + ratio * (hi - lo);
        if dist2(a) < dist2(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    dist2(0.5 * (lo + hi)).min(dist2(best)).sqrt()
}
