//! Opening the backend a command runs on; a wgpu device names its adapter, and a software
//! one is flagged.

use std::sync::Once;

use burn::tensor::Device;
use scorelab_core::devices::ListedBackend;
use scorelab_core::{open_device, wgpu_adapter, AdapterDescription, BackendKind, DeviceList};

use crate::failure::CliResult;

static ANNOUNCED: Once = Once::new();

/// The line that names a wgpu adapter, and the warning for a software one.
pub fn describe_adapter(adapter: &AdapterDescription) -> (String, Option<String>) {
    let line = format!(
        "wgpu adapter: {} ({}, {})",
        adapter.name, adapter.kind, adapter.api
    );
    let warning = adapter.software.then(|| {
        format!(
            "warning: {} is a software renderer running on the CPU; results are correct but tens of times slower than --device cpu",
            adapter.name
        )
    });
    (line, warning)
}

/// Opens the device of `kind`; for wgpu, the adapter is named on stderr (once per process).
pub fn open_backend(kind: BackendKind) -> CliResult<Device> {
    let device = open_device(kind)?;
    if kind == BackendKind::Wgpu {
        announce_adapter();
    }
    Ok(device)
}

/// Names the opened wgpu adapter on stderr, and warns of a software one (once per process).
fn announce_adapter() {
    if let Some(adapter) = wgpu_adapter() {
        ANNOUNCED.call_once(|| {
            let (line, warning) = describe_adapter(&adapter);
            eprintln!("{line}");
            if let Some(warning) = warning {
                eprintln!("{warning}");
            }
        });
    }
}

/// The devices of a training command: `--devices LIST` when given (main device first), else
/// the one `--device` names; with the list as it is written into summaries.
pub fn open_training_devices(
    device: &str,
    devices: Option<&str>,
) -> CliResult<(Vec<Device>, DeviceList)> {
    let list = match devices {
        Some(text) => text.parse::<DeviceList>()?,
        None => DeviceList::single(BackendKind::parse(device)?),
    };
    let opened = list.open()?;
    if list.backend() == ListedBackend::Wgpu {
        announce_adapter();
    }
    Ok((opened, list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_software_adapter_is_named_and_flagged() {
        let adapter = AdapterDescription {
            name: "llvmpipe (LLVM 19.1.7, 256 bits)".into(),
            api: "Vulkan".into(),
            kind: "software renderer on the CPU".into(),
            software: true,
        };
        let (line, warning) = describe_adapter(&adapter);
        assert_eq!(
            line,
            "wgpu adapter: llvmpipe (LLVM 19.1.7, 256 bits) (software renderer on the CPU, Vulkan)"
        );
        assert!(warning.unwrap().contains("software renderer"));
        let gpu = AdapterDescription {
            name: "NVIDIA H200".into(),
            kind: "discrete GPU".into(),
            software: false,
            ..adapter
        };
        assert!(describe_adapter(&gpu).1.is_none());
    }
}
