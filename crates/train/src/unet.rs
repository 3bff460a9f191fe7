//! The U-Net score network for images (DESIGN §5), with forward-mode tangents through every
//! block: convolutions, GroupNorm, SiLU, down/up-sampling and self-attention.
//!
//! Layout for 1×28×28: conv_in → [level 0: 28×28] → stride-2 conv → [level 1: 14×14] → stride-2
//! conv → [level 2: 7×7] → middle (res, attention, res) → nearest ×2 + conv → … → GroupNorm,
//! SiLU, conv_out. 28 → 14 → 7 halves exactly (3×3 kernels, padding 1, stride 2), so the skip
//! connections line up without padding; any H, W divisible by 2^(levels−1) works.
//!
//! Tangents are batched like everywhere else: K directions for B images are one [K·B, C, H, W]
//! tensor, block k holding direction k for every image.

use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use scorelab_core::error::require_positive;
use scorelab_core::CoreError;

use crate::host_norm::group_norm_silu;
use crate::mlp::{
    require_at_most, silu, silu_with_slope, time_embedding, uniform_param, Dense, MAX_DEPTH,
    MAX_SIZE,
};
use crate::network::ScoreNetwork;

/// Multiplies each block of a [K·B, C, H, W] tangent by a per-image [B, C, H, W] factor.
fn scale_blocks4(tangent: Tensor<4>, factor: Tensor<4>) -> Tensor<4> {
    let [kb, c, h, w] = tangent.dims();
    let [b, _, _, _] = factor.dims();
    let k = kb / b;
    if k == 1 {
        return tangent * factor;
    }
    (tangent.reshape([k, b, c, h, w]) * factor.unsqueeze_dim::<5>(0)).reshape([kb, c, h, w])
}

/// A 2-D convolution with square kernel, stride and padding.
#[derive(Module, Debug)]
pub struct Conv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    pub stride: usize,
    #[module(skip)]
    pub padding: usize,
}

impl Conv {
    /// PyTorch's default initialisation, U(−k, k) with k = 1/√(in·kernel²); `scale` shrinks it.
    pub fn init(
        inputs: usize,
        outputs: usize,
        kernel: usize,
        stride: usize,
        scale: f32,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Self {
        let k = scale / ((inputs * kernel * kernel) as f32).sqrt();
        Self {
            weight: uniform_param([outputs, inputs, kernel, kernel], k, rng, device),
            bias: uniform_param([outputs], k, rng, device),
            stride,
            padding: kernel / 2,
        }
    }

    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new(
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        )
    }

    /// conv(x, W) + b, on [`crate::host_conv`] on the CPU.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, k, _] = self.weight.dims();
        if self.padding == k / 2 {
            return crate::host_conv::conv(x, self.weight.val(), self.bias.val(), self.stride);
        }
        conv2d(x, self.weight.val(), Some(self.bias.val()), self.options())
    }

    /// The convolution is affine in x: its tangent map is the convolution without bias.
    pub fn tangent(&self, v: Tensor<4>) -> Tensor<4> {
        conv2d(v, self.weight.val(), None, self.options())
    }
}

/// Group normalisation (Wu & He 2018) with a per-channel affine map.
#[derive(Module, Debug)]
pub struct GroupNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    #[module(skip)]
    pub groups: usize,
}

/// Quantities of the primal pass that the GroupNorm tangent needs.
struct NormCache {
    /// x̂ = (x − μ)/s as [B, G, n].
    xhat: Tensor<3>,
    /// 1/s as [B, G, 1].
    inv_std: Tensor<3>,
}

const GROUP_NORM_EPS: f64 = 1e-5;

impl GroupNorm {
    pub fn init(channels: usize, groups: usize, device: &Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
            groups,
        }
    }

    fn affine(&self, xhat: Tensor<4>) -> Tensor<4> {
        let c = self.gamma.dims()[0];
        xhat * self.gamma.val().reshape([1, c, 1, 1]) + self.beta.val().reshape([1, c, 1, 1])
    }

    fn normalise(&self, x: Tensor<4>) -> (Tensor<4>, NormCache) {
        let [b, c, h, w] = x.dims();
        let n = c / self.groups * h * w;
        let grouped = x.reshape([b, self.groups, n]);
        let mean = grouped.clone().mean_dim(2);
        let centred = grouped - mean;
        let var = centred.clone().square().mean_dim(2);
        let inv_std = (var + GROUP_NORM_EPS).sqrt().recip();
        let xhat = centred * inv_std.clone();
        let out = xhat.clone().reshape([b, c, h, w]);
        (out, NormCache { xhat, inv_std })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.affine(self.normalise(x).0)
    }

    /// SiLU(GN(x)): one fused pass on the CPU ([`crate::host_norm`]), tensor operations
    /// elsewhere.
    pub fn forward_silu(&self, x: Tensor<4>) -> Tensor<4> {
        let (gamma, beta) = (self.gamma.val(), self.beta.val());
        let eps = GROUP_NORM_EPS as f32;
        match group_norm_silu(&x, &gamma, &beta, self.groups, eps) {
            Some(y) => y,
            None => silu(self.forward(x)),
        }
    }

    /// (GN(x), J v) with dx̂ = (dx − mean dx − x̂ · mean(x̂ dx)) / s over each group.
    pub fn jvp(&self, x: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let [b, c, h, w] = x.dims();
        let [kb, _, _, _] = v.dims();
        let k = kb / b;
        let n = c / self.groups * h * w;
        let (xhat, cache) = self.normalise(x);
        let v = v.reshape([k, b, self.groups, n]);
        let xh = cache.xhat.unsqueeze_dim::<4>(0);
        let dv = v.clone() - v.clone().mean_dim(3) - xh.clone() * (xh * v).mean_dim(3);
        let dxhat = (dv * cache.inv_std.unsqueeze_dim::<4>(0)).reshape([kb, c, h, w]);
        let gamma = self.gamma.val().reshape([1, c, 1, 1]);
        (self.affine(xhat), dxhat * gamma)
    }
}

/// A residual block: GN → SiLU → conv → + Dense(SiLU(temb)) → GN → SiLU → conv, plus a 1×1
/// convolution on the skip path when the channel count changes.
#[derive(Module, Debug)]
pub struct ResBlock {
    pub norm1: GroupNorm,
    pub conv1: Conv,
    pub time: Dense,
    pub norm2: GroupNorm,
    pub conv2: Conv,
    pub skip: Option<Conv>,
}

impl ResBlock {
    pub fn init(
        inputs: usize,
        outputs: usize,
        time_dim: usize,
        groups: usize,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Self {
        Self {
            norm1: GroupNorm::init(inputs, groups, device),
            conv1: Conv::init(inputs, outputs, 3, 1, 1.0, rng, device),
            time: Dense::init(time_dim, outputs, rng, device),
            norm2: GroupNorm::init(outputs, groups, device),
            conv2: Conv::init(outputs, outputs, 3, 1, 1.0, rng, device),
            skip: (inputs != outputs).then(|| Conv::init(inputs, outputs, 1, 1, 1.0, rng, device)),
        }
    }

    fn time_shift(&self, temb: Tensor<2>) -> Tensor<4> {
        let shift = self.time.forward(temb);
        let [b, c] = shift.dims();
        shift.reshape([b, c, 1, 1])
    }

    /// `temb` is SiLU of the time embedding, [B, T].
    pub fn forward(&self, x: Tensor<4>, temb: Tensor<2>) -> Tensor<4> {
        let a = self.norm1.forward_silu(x.clone());
        let h = self.conv1.forward(a) + self.time_shift(temb);
        let a = self.norm2.forward_silu(h);
        let h = self.conv2.forward(a);
        match &self.skip {
            Some(skip) => skip.forward(x) + h,
            None => x + h,
        }
    }

    pub fn jvp(&self, x: Tensor<4>, v: Tensor<4>, temb: Tensor<2>) -> (Tensor<4>, Tensor<4>) {
        let (n, dn) = self.norm1.jvp(x.clone(), v.clone());
        let (a, slope) = silu_with_slope(n);
        let da = scale_blocks4(dn, slope);
        let h = self.conv1.forward(a) + self.time_shift(temb);
        let dh = self.conv1.tangent(da);
        let (n, dn) = self.norm2.jvp(h, dh);
        let (a, slope) = silu_with_slope(n);
        let da = scale_blocks4(dn, slope);
        let (h, dh) = (self.conv2.forward(a), self.conv2.tangent(da));
        match &self.skip {
            Some(skip) => (skip.forward(x) + h, skip.tangent(v) + dh),
            None => (x + h, v + dh),
        }
    }
}

/// Single-head self-attention over the pixels: x + W_o · softmax(QᵀK/√C) V after GroupNorm.
#[derive(Module, Debug)]
pub struct Attention {
    pub norm: GroupNorm,
    pub qkv: Dense,
    pub out: Dense,
}

impl Attention {
    pub fn init(channels: usize, groups: usize, rng: &mut impl Rng, device: &Device) -> Self {
        Self {
            norm: GroupNorm::init(channels, groups, device),
            qkv: Dense::init(channels, 3 * channels, rng, device),
            out: Dense::init(channels, channels, rng, device),
        }
    }

    /// [N, C, H, W] → [N·H·W, C] (pixels as rows).
    fn rows(x: Tensor<4>) -> Tensor<2> {
        let [n, c, h, w] = x.dims();
        x.reshape([n, c, h * w])
            .swap_dims(1, 2)
            .reshape([n * h * w, c])
    }

    /// [N·H·W, C] → [N, C, H, W].
    fn image(x: Tensor<2>, n: usize, h: usize, w: usize) -> Tensor<4> {
        let [_, c] = x.dims();
        x.reshape([n, h * w, c])
            .swap_dims(1, 2)
            .reshape([n, c, h, w])
    }

    /// Splits [N·P, 3C] into Q, K, V as [N, P, C].
    fn split(qkv: Tensor<2>, n: usize, p: usize) -> [Tensor<3>; 3] {
        let [_, c3] = qkv.dims();
        let c = c3 / 3;
        let qkv = qkv.reshape([n, p, c3]);
        [0, 1, 2].map(|i| qkv.clone().narrow(2, i * c, c))
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let p = h * w;
        let qkv = self.qkv.forward(Self::rows(self.norm.forward(x.clone())));
        let [q, k, v] = Self::split(qkv, b, p);
        let attn = softmax(q.matmul(k.swap_dims(1, 2)) / (c as f64).sqrt(), 2);
        let o = attn.matmul(v).reshape([b * p, c]);
        x + Self::image(self.out.forward(o), b, h, w)
    }

    /// Tangents: Ṡ = (Q̇Kᵀ + QK̇ᵀ)/√C, Ȧ = A ⊙ (Ṡ − Σ_j A Ṡ), Ȯ = Ȧ V + A V̇.
    pub fn jvp(&self, x: Tensor<4>, dx: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let [b, c, h, w] = x.dims();
        let [kb, _, _, _] = dx.dims();
        let k = kb / b;
        let p = h * w;
        let (n, dn) = self.norm.jvp(x.clone(), dx.clone());
        let qkv = self.qkv.forward(Self::rows(n));
        let dqkv = self.qkv.tangent(Self::rows(dn));
        let [q, kk, v] = Self::split(qkv, b, p);
        let [dq, dk, dv] = Self::split(dqkv, kb, p);
        let scale = 1.0 / (c as f64).sqrt();
        let attn = softmax(q.clone().matmul(kk.clone().swap_dims(1, 2)) * scale, 2);
        let o = attn.clone().matmul(v.clone()).reshape([b * p, c]);
        // repeat the primal quantities over the K tangent blocks
        let rep = |t: Tensor<3>| {
            let [_, r, s] = t.dims();
            t.unsqueeze_dim::<4>(0)
                .expand([k, b, r, s])
                .reshape([kb, r, s])
        };
        let (q, kk, v, a) = (rep(q), rep(kk), rep(v), rep(attn));
        let ds = (dq.matmul(kk.swap_dims(1, 2)) + q.matmul(dk.swap_dims(1, 2))) * scale;
        let da = a.clone() * (ds.clone() - (a.clone() * ds).sum_dim(2));
        let d_o = (da.matmul(v) + a.matmul(dv)).reshape([kb * p, c]);
        let y = x + Self::image(self.out.forward(o), b, h, w);
        let dy = dx + Self::image(self.out.tangent(d_o), kb, h, w);
        (y, dy)
    }
}

/// Nearest-neighbour ×2 upsampling (linear, so the same map applies to tangents).
pub fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1])
        .expand([n, c, h, 2, w, 2])
        .reshape([n, c, 2 * h, 2 * w])
}

/// Shape and width of the U-Net.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UNetConfig {
    /// Image shape [C, H, W].
    pub image: [usize; 3],
    /// Channels at the first level.
    pub channels: usize,
    /// Channel multiplier of each level (the number of levels; H and W must be divisible by
    /// 2^(levels − 1)).
    pub multipliers: Vec<usize>,
    /// Residual blocks per level.
    pub blocks: usize,
    /// GroupNorm groups (must divide every channel count).
    pub groups: usize,
    /// Self-attention at the lowest resolution.
    pub attention: bool,
    /// Size of the sinusoidal time embedding (even).
    pub embedding: usize,
}

/// Names accepted by [`UNetConfig::preset`].
pub const UNET_PRESETS: [&str; 3] = ["tiny", "small", "base"];

impl UNetConfig {
    /// Named sizes for 1×28×28 images: `tiny` trains on a CPU in minutes, `small` in an hour or
    /// two, `base` is for a GPU.
    pub fn preset(name: &str, image: [usize; 3]) -> Result<Self, CoreError> {
        let (channels, blocks, groups, attention) = match name {
            "tiny" => (16, 1, 4, false),
            "small" => (32, 1, 8, true),
            "base" => (64, 2, 8, true),
            other => {
                return Err(CoreError::UnknownName {
                    kind: "U-Net preset",
                    name: other.to_string(),
                    expected: UNET_PRESETS.join(", "),
                })
            }
        };
        Ok(Self {
            image,
            channels,
            multipliers: vec![1, 2, 2],
            blocks,
            groups,
            attention,
            embedding: 32,
        })
    }

    pub fn dim(&self) -> usize {
        self.image.iter().product()
    }

    pub fn validate(&self) -> Result<(), CoreError> {
        let [c, h, w] = self.image;
        for (name, v) in [
            ("image channels", c),
            ("image height", h),
            ("image width", w),
        ] {
            require_positive(name, v as f64)?;
        }
        require_positive("channels", self.channels as f64)?;
        require_positive("blocks", self.blocks as f64)?;
        require_positive("groups", self.groups as f64)?;
        for (name, value, limit) in [
            ("image channels", c, MAX_SIZE),
            ("image height", h, MAX_SIZE),
            ("image width", w, MAX_SIZE),
            ("channels", self.channels, 1 << 14),
            ("blocks", self.blocks, MAX_DEPTH),
            ("levels", self.multipliers.len(), 16),
            ("embedding", self.embedding, MAX_SIZE),
        ] {
            require_at_most(name, value, limit)?;
        }
        if self.multipliers.iter().any(|&m| m > 64) {
            return Err(CoreError::invalid("multipliers", "each must be at most 64"));
        }
        if self.multipliers.is_empty() || self.multipliers.contains(&0) {
            return Err(CoreError::invalid(
                "multipliers",
                "need at least one level, each with a positive multiplier",
            ));
        }
        let factor = 1 << (self.multipliers.len() - 1);
        if !h.is_multiple_of(factor) || !w.is_multiple_of(factor) {
            return Err(CoreError::invalid(
                "image",
                format!(
                    "{h}×{w} cannot be halved {} times exactly",
                    self.multipliers.len() - 1
                ),
            ));
        }
        for m in &self.multipliers {
            if !(self.channels * m).is_multiple_of(self.groups) {
                return Err(CoreError::invalid(
                    "groups",
                    format!(
                        "{} groups do not divide {} channels",
                        self.groups,
                        self.channels * m
                    ),
                ));
            }
        }
        if self.embedding == 0 || !self.embedding.is_multiple_of(2) {
            return Err(CoreError::invalid(
                "embedding",
                format!("must be a positive even number, got {}", self.embedding),
            ));
        }
        Ok(())
    }

    fn level_channels(&self) -> Vec<usize> {
        self.multipliers.iter().map(|m| m * self.channels).collect()
    }

    /// A freshly initialised U-Net; weights are drawn on the host from `seed`.
    pub fn init(&self, seed: u64, device: &Device) -> Result<UNet, CoreError> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let rng = &mut rng;
        let time_dim = 4 * self.channels;
        let levels = self.level_channels();
        let groups = self.groups;
        let conv_in = Conv::init(self.image[0], self.channels, 3, 1, 1.0, rng, device);
        let mut down = Vec::new();
        let mut downsample = Vec::new();
        let mut current = self.channels;
        for (l, &ch) in levels.iter().enumerate() {
            for _ in 0..self.blocks {
                down.push(ResBlock::init(current, ch, time_dim, groups, rng, device));
                current = ch;
            }
            if l + 1 < levels.len() {
                downsample.push(Conv::init(ch, ch, 3, 2, 1.0, rng, device));
            }
        }
        let mid1 = ResBlock::init(current, current, time_dim, groups, rng, device);
        let attention = self
            .attention
            .then(|| Attention::init(current, groups, rng, device));
        let mid2 = ResBlock::init(current, current, time_dim, groups, rng, device);
        let mut up = Vec::new();
        let mut upsample = Vec::new();
        for (l, &ch) in levels.iter().enumerate().rev() {
            for i in 0..self.blocks {
                let inputs = if i == 0 { current + ch } else { ch };
                up.push(ResBlock::init(inputs, ch, time_dim, groups, rng, device));
                current = ch;
            }
            if l > 0 {
                upsample.push(Conv::init(ch, ch, 3, 1, 1.0, rng, device));
            }
        }
        Ok(UNet {
            time1: Dense::init(self.embedding, time_dim, rng, device),
            time2: Dense::init(time_dim, time_dim, rng, device),
            conv_in,
            down,
            downsample,
            mid1,
            attention,
            mid2,
            up,
            upsample,
            norm_out: GroupNorm::init(self.channels, groups, device),
            // a small output layer starts the score near zero
            conv_out: Conv::init(self.channels, self.image[0], 3, 1, 0.1, rng, device),
            config: self.clone(),
        })
    }
}

/// The U-Net score network on flattened images.
#[derive(Module, Debug)]
pub struct UNet {
    pub time1: Dense,
    pub time2: Dense,
    pub conv_in: Conv,
    pub down: Vec<ResBlock>,
    pub downsample: Vec<Conv>,
    pub mid1: ResBlock,
    pub attention: Option<Attention>,
    pub mid2: ResBlock,
    pub up: Vec<ResBlock>,
    pub upsample: Vec<Conv>,
    pub norm_out: GroupNorm,
    pub conv_out: Conv,
    #[module(skip)]
    pub config: UNetConfig,
}

impl UNet {
    /// SiLU(MLP(embedding(t))), the input of every block's time projection.
    fn time(&self, t: Tensor<2>) -> Tensor<2> {
        let e = time_embedding(t, self.config.embedding);
        silu(self.time2.forward(silu(self.time1.forward(e))))
    }

    fn image(&self, x: Tensor<2>) -> Tensor<4> {
        let [n, _] = x.dims();
        let [c, h, w] = self.config.image;
        x.reshape([n, c, h, w])
    }

    /// Runs the network on images; with `Some(v)` also carries the tangents.
    fn run(
        &self,
        x: Tensor<4>,
        v: Option<Tensor<4>>,
        t: Tensor<2>,
    ) -> (Tensor<4>, Option<Tensor<4>>) {
        let temb = self.time(t);
        let blocks = self.config.blocks;
        let levels = self.config.multipliers.len();
        let conv =
            |c: &Conv, x: Tensor<4>, v: Option<Tensor<4>>| (c.forward(x), v.map(|v| c.tangent(v)));
        let res = |r: &ResBlock, x: Tensor<4>, v: Option<Tensor<4>>| match v {
            Some(v) => {
                let (y, dy) = r.jvp(x, v, temb.clone());
                (y, Some(dy))
            }
            None => (r.forward(x, temb.clone()), None),
        };
        let (mut h, mut dh) = conv(&self.conv_in, x, v);
        let mut skips = Vec::new();
        for l in 0..levels {
            for r in &self.down[l * blocks..(l + 1) * blocks] {
                (h, dh) = res(r, h, dh);
            }
            skips.push((h.clone(), dh.clone()));
            if l + 1 < levels {
                (h, dh) = conv(&self.downsample[l], h, dh);
            }
        }
        (h, dh) = res(&self.mid1, h, dh);
        if let Some(attention) = &self.attention {
            (h, dh) = match dh {
                Some(dv) => {
                    let (y, dy) = attention.jvp(h, dv);
                    (y, Some(dy))
                }
                None => (attention.forward(h), None),
            };
        }
        (h, dh) = res(&self.mid2, h, dh);
        for (i, l) in (0..levels).rev().enumerate() {
            let (skip, dskip) = skips.pop().expect("one skip per level");
            h = Tensor::cat(vec![h, skip], 1);
            dh = dh.zip(dskip).map(|(a, b)| Tensor::cat(vec![a, b], 1));
            for r in &self.up[i * blocks..(i + 1) * blocks] {
                (h, dh) = res(r, h, dh);
            }
            if l > 0 {
                (h, dh) = conv(&self.upsample[i], upsample2(h), dh.map(upsample2));
            }
        }
        let (h, dh) = match dh {
            Some(dv) => {
                let (n, dn) = self.norm_out.jvp(h, dv);
                let (a, slope) = silu_with_slope(n);
                (a, Some(scale_blocks4(dn, slope)))
            }
            None => (self.norm_out.forward_silu(h), None),
        };
        conv(&self.conv_out, h, dh)
    }
}

impl ScoreNetwork for UNet {
    fn dim(&self) -> usize {
        self.config.dim()
    }

    fn forward(&self, x: Tensor<2>, t: Tensor<2>) -> Tensor<2> {
        let [n, d] = x.dims();
        let (y, _) = self.run(self.image(x), None, t);
        y.reshape([n, d])
    }

    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<2>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [n, d] = x.dims();
        let [kn, _] = v.dims();
        let (y, dy) = self.run(self.image(x), Some(self.image(v)), t);
        (
            y.reshape([n, d]),
            dy.expect("tangents requested").reshape([kn, d]),
        )
    }
}
