//! Choosing the burn backend at run time (`--device cpu|flex|ndarray|wgpu`).

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{CoreError, Result};

/// The backends a user can name.
pub const DEVICE_NAMES: [&str; 4] = ["cpu", "flex", "ndarray", "wgpu"];

/// A backend choice. `cpu` is the faster of the two CPU backends (flex, measured).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Flex,
    NdArray,
    Wgpu,
}

impl BackendKind {
    /// Parses `cpu`, `flex`, `ndarray` or `wgpu`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cpu" | "flex" => Ok(BackendKind::Flex),
            "ndarray" => Ok(BackendKind::NdArray),
            "wgpu" | "gpu" => Ok(BackendKind::Wgpu),
            other => Err(CoreError::UnknownName {
                kind: "device",
                name: other.to_string(),
                expected: DEVICE_NAMES.join(", "),
            }),
        }
    }

    /// The name written into summaries.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::NdArray => "ndarray",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

/// Opens a device of the given kind and checks that it can run a tensor operation; a wgpu
/// device without an adapter is an error suggesting `--device cpu`, not a panic.
pub fn open_device(kind: BackendKind) -> Result<Device> {
    match kind {
        BackendKind::Flex => Ok(Device::flex()),
        #[allow(deprecated)]
        BackendKind::NdArray => Ok(Device::ndarray()),
        BackendKind::Wgpu => open_wgpu(),
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<Device> {
    // Device creation is lazy; the first operation finds out whether an adapter exists, and
    // burn panics if none does. Run a tiny probe with the panic caught and its message muted.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probe = std::panic::catch_unwind(|| {
        let device = Device::wgpu(Default::default());
        let value: Vec<f32> = Tensor::<1>::from_floats([1.0f32, 2.0], &device)
            .sum()
            .into_data()
            .try_to_vec()
            .unwrap_or_default();
        (device, value)
    });
    std::panic::set_hook(previous_hook);
    match probe {
        Ok((device, value)) if value == [3.0] => Ok(device),
        Ok(_) => Err(CoreError::Device(
            "the wgpu device computed a wrong result; use --device cpu".into(),
        )),
        Err(_) => Err(CoreError::Device(
            "no wgpu adapter (GPU or Vulkan driver) was found; use --device cpu".into(),
        )),
    }
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<Device> {
    Err(CoreError::Device(
        "this build has no wgpu backend (build with --features wgpu); use --device cpu".into(),
    ))
}

/// The environment variable that makes [`wgpu_for_tests`] fail instead of skipping.
pub const REQUIRE_WGPU_VAR: &str = "SCORELAB_REQUIRE_WGPU";

/// For test suites: the wgpu device, or `None` (after saying so) where no adapter exists —
/// unless `SCORELAB_REQUIRE_WGPU` is set, as in CI, where a missing adapter panics.
pub fn wgpu_for_tests() -> Option<Device> {
    match open_device(BackendKind::Wgpu) {
        Ok(device) => Some(device),
        Err(e) if std::env::var_os(REQUIRE_WGPU_VAR).is_some() => {
            panic!("{REQUIRE_WGPU_VAR} is set but the wgpu device failed: {e}")
        }
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// Uploads a row-major `rows × cols` f32 buffer as a 2-D tensor.
pub fn tensor_from_rows(data: &[f32], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(data.to_vec(), [rows, cols]), device)
}

/// Uploads a column of values as an `n × 1` tensor.
pub fn column(values: &[f64], device: &Device) -> Tensor<2> {
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    tensor_from_rows(&data, values.len(), 1, device)
}

/// Downloads any tensor as a flat row-major f32 vector.
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("a float tensor converts to f32")
}
