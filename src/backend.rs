//! Opening the backend a command runs on; a wgpu device names its adapter, and a software
//! one is flagged.

use std::sync::Once;

use burn::tensor::Device;
use scorelab_core::{open_device, wgpu_adapter, AdapterDescription, BackendKind};

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
    Ok(device)
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
