//! A branch-free single-precision exp that the compiler vectorises (burn's CPU backend calls
//! libm once per element, in one thread), for the host kernels.

/// log2(e).
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// Adding and subtracting 1.5·2^23 rounds an f32 of magnitude < 2^22 to the nearest integer.
const ROUND: f32 = 12_582_912.0;
/// ln 2 split into a part with few mantissa bits and the remainder (Cody–Waite reduction).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// e^x for x ∈ [−87, 87] (clamped outside), as Cephes' expf: x = n ln 2 + r with n an integer
/// and |r| ≤ ½ ln 2, e^r by a degree-7 polynomial (relative error < 2e-7), 2^n from the
/// exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 87.0);
    // the low mantissa bits of n + 1.5·2^23 hold n as a two's-complement integer
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_65;
    let p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    let exponent = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127);
    let scale = f32::from_bits(exponent << 23);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_in_relative_terms() {
        for i in -870..=870 {
            let x = i as f32 * 0.1;
            let exact = (x as f64).exp();
            let relative = ((exp(x) as f64 - exact) / exact).abs();
            assert!(relative < 3e-7, "{x}: {relative}");
        }
    }
}
