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

/// The adapter a wgpu device runs on, as the driver describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterDescription {
    /// The adapter's name ("NVIDIA H100", "llvmpipe (LLVM 19.1.7, 256 bits)").
    pub name: String,
    /// The graphics API it is driven through (Vulkan, Metal, ...).
    pub api: String,
    /// The kind of device: discrete, integrated, virtual, cpu or other.
    pub kind: String,
    /// Whether it is a software renderer running on the CPU (lavapipe, llvmpipe, WARP).
    pub software: bool,
}

#[cfg(feature = "wgpu")]
type OpenedWgpu = std::result::Result<(Device, AdapterDescription), String>;

/// The wgpu device of this process: burn initialises a wgpu runtime once, so it is opened
/// once and shared.
#[cfg(feature = "wgpu")]
static WGPU: std::sync::OnceLock<OpenedWgpu> = std::sync::OnceLock::new();

/// The adapter of the wgpu device opened by [`open_device`], if one was.
pub fn wgpu_adapter() -> Option<AdapterDescription> {
    #[cfg(feature = "wgpu")]
    {
        WGPU.get()
            .and_then(|opened| opened.as_ref().ok())
            .map(|(_, adapter)| adapter.clone())
    }
    #[cfg(not(feature = "wgpu"))]
    {
        None
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<Device> {
    let opened = WGPU.get_or_init(|| {
        // Initialisation may panic inside the driver stack; catch it with the message muted.
        let previous_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let probe = std::panic::catch_unwind(|| -> OpenedWgpu {
            let (device, setup) = Device::wgpu_options().init_with_setup().map_err(|e| {
                format!("no wgpu adapter (GPU or Vulkan driver) was found ({e}); use ⟨device⟩ cpu")
            })?;
            let info = setup.adapter.get_info();
            let kind = format!("{:?}", info.device_type);
            let adapter = AdapterDescription {
                name: info.name.clone(),
                api: format!("{:?}", info.backend),
                software: kind == "Cpu",
                kind: match kind.as_str() {
                    "DiscreteGpu" => "discrete GPU",
                    "IntegratedGpu" => "integrated GPU",
                    "VirtualGpu" => "virtual GPU",
                    "Cpu" => "software renderer on the CPU",
                    _ => "other",
                }
                .into(),
            };
            let value: Vec<f32> = Tensor::<1>::from_floats([1.0f32, 2.0], &device)
                .sum()
                .into_data()
                .try_to_vec()
                .unwrap_or_default();
            if value != [3.0] {
                return Err("the wgpu device computed a wrong result; use ⟨device⟩ cpu".into());
            }
            Ok((device, adapter))
        });
        std::panic::set_hook(previous_hook);
        probe.unwrap_or_else(|_| {
            Err("no wgpu adapter (GPU or Vulkan driver) was found; use ⟨device⟩ cpu".into())
        })
    });
    match opened {
        Ok((device, _)) => Ok(device.clone()),
        Err(message) => Err(CoreError::Device(message.clone())),
    }
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<Device> {
    Err(CoreError::Device(
        "this build has no wgpu backend (build with --features wgpu); use ⟨device⟩ cpu".into(),
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

/// Downloads any tensor as a flat row-major f32 vector (its own buffer, without a copy, when
/// it is f32 and this is its only handle).
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .expect("a float tensor converts to f32")
}
