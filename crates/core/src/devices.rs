//! Device lists for data-parallel training (`--devices cpu:0,cpu:1`, `wgpu:all`, `cuda:all`).
//!
//! An entry is `KIND:INDEX` or `KIND:all`, with KIND one of `cpu` (flex), `ndarray`, `wgpu`
//! and, in builds with the `cuda` feature, `cuda`. The grammar leaves room for a node prefix
//! (`NODE/KIND:INDEX`) once burn carries collectives across processes (docs/scale.md); such an
//! entry is refused today with that explanation, so a later multi-node build keeps this flag.
//!
//! The CPU backends have one device each (burn's `FlexDevice` and `NdArrayDevice` are unit
//! devices), so `cpu:0,cpu:1` means two replicas sharing the machine's cores: it trains the
//! same model as one device and shows the overhead of the split.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::device::{open_device, BackendKind};
use crate::error::{CoreError, Result};

/// The backend kinds an entry may name.
pub const DEVICE_LIST_KINDS: [&str; 4] = ["cpu", "ndarray", "wgpu", "cuda"];

/// Which devices of a kind an entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSelector {
    Index(usize),
    All,
}

/// A device backend a list entry can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListedBackend {
    Flex,
    NdArray,
    Wgpu,
    Cuda,
}

impl ListedBackend {
    fn parse(name: &str) -> Result<Self> {
        match name {
            "cpu" | "flex" => Ok(ListedBackend::Flex),
            "ndarray" => Ok(ListedBackend::NdArray),
            "wgpu" | "gpu" => Ok(ListedBackend::Wgpu),
            "cuda" => Ok(ListedBackend::Cuda),
            other => Err(CoreError::UnknownName {
                kind: "device kind",
                name: other.to_string(),
                expected: DEVICE_LIST_KINDS.join(", "),
            }),
        }
    }

    /// The burn backend's name (flex, ndarray, wgpu, cuda), as `BackendKind::name` gives it.
    pub fn backend_name(self) -> &'static str {
        match self {
            ListedBackend::Flex => "flex",
            other => other.name(),
        }
    }

    /// The name used in lists.
    pub fn name(self) -> &'static str {
        match self {
            ListedBackend::Flex => "cpu",
            ListedBackend::NdArray => "ndarray",
            ListedBackend::Wgpu => "wgpu",
            ListedBackend::Cuda => "cuda",
        }
    }
}

/// One entry of a device list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceEntry {
    pub backend: ListedBackend,
    pub selector: DeviceSelector,
}

impl fmt::Display for DeviceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.selector {
            DeviceSelector::Index(i) => write!(f, "{}:{i}", self.backend.name()),
            DeviceSelector::All => write!(f, "{}:all", self.backend.name()),
        }
    }
}

/// A parsed `--devices` list: the first device it opens is the main device, which holds the
/// optimiser state and receives every replica's gradients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceList {
    pub entries: Vec<DeviceEntry>,
}

impl fmt::Display for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.entries.iter().map(|e| e.to_string()).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for DeviceList {
    type Err = CoreError;

    /// Parses `cpu:0,cpu:1`, `wgpu:all`, `cuda:0,cuda:1`; one backend per list.
    fn from_str(text: &str) -> Result<Self> {
        let invalid = |reason: String| CoreError::invalid("devices", reason);
        let mut entries = Vec::new();
        for item in text.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(invalid(format!("empty entry in {text:?}")));
            }
            if let Some((node, _)) = item.split_once('/') {
                return Err(invalid(format!(
                    "{item:?} names node {node:?}: training across machines needs collectives between processes, which burn 0.22 does not have (see docs/scale.md); list devices of this machine only"
                )));
            }
            let (kind, index) = item.split_once(':').ok_or_else(|| {
                invalid(format!(
                    "{item:?} is not KIND:INDEX or KIND:all (e.g. cpu:0)"
                ))
            })?;
            let backend = ListedBackend::parse(kind)?;
            let selector = match index {
                "all" => DeviceSelector::All,
                i => DeviceSelector::Index(i.parse().map_err(|_| {
                    invalid(format!("{item:?}: the index must be a number or `all`"))
                })?),
            };
            entries.push(DeviceEntry { backend, selector });
        }
        if entries.iter().any(|e| e.backend != entries[0].backend) {
            return Err(invalid(format!(
                "{text:?} mixes backends; every replica must run the same backend"
            )));
        }
        if entries.len() > 1 && entries.iter().any(|e| e.selector == DeviceSelector::All) {
            return Err(invalid(format!(
                "{text:?}: `all` stands alone (it already names every device of its kind)"
            )));
        }
        let mut seen = Vec::new();
        for e in &entries {
            if let DeviceSelector::Index(i) = e.selector {
                if seen.contains(&i) {
                    return Err(invalid(format!("{text:?} names {e} twice")));
                }
                seen.push(i);
            }
        }
        Ok(DeviceList { entries })
    }
}

impl DeviceList {
    /// A list of one device of `kind` (what `--device` alone means).
    pub fn single(kind: BackendKind) -> Self {
        let backend = match kind {
            BackendKind::Flex => ListedBackend::Flex,
            BackendKind::NdArray => ListedBackend::NdArray,
            BackendKind::Wgpu => ListedBackend::Wgpu,
        };
        DeviceList {
            entries: vec![DeviceEntry {
                backend,
                selector: DeviceSelector::Index(0),
            }],
        }
    }

    /// The backend every entry names.
    pub fn backend(&self) -> ListedBackend {
        self.entries[0].backend
    }

    /// Opens every device of the list, main device first. A CPU index opens another replica
    /// of the one CPU device; `cpu:all` means one replica per CPU backend device, i.e. one.
    pub fn open(&self) -> Result<Vec<Device>> {
        let mut devices = Vec::new();
        for entry in &self.entries {
            match entry.backend {
                ListedBackend::Flex => devices.push(open_device(BackendKind::Flex)?),
                ListedBackend::NdArray => devices.push(open_device(BackendKind::NdArray)?),
                ListedBackend::Wgpu => devices.extend(open_gpus(*entry)?),
                ListedBackend::Cuda => devices.extend(open_cuda(*entry)?),
            }
        }
        Ok(devices)
    }
}

/// Picks `selector` out of the enumerated devices of one kind.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn select(found: Vec<Device>, entry: DeviceEntry) -> Result<Vec<Device>> {
    match entry.selector {
        DeviceSelector::All if found.is_empty() => Err(CoreError::Device(format!(
            "{entry}: no {} device was found",
            entry.backend.name()
        ))),
        DeviceSelector::All => Ok(found),
        DeviceSelector::Index(i) => {
            let count = found.len();
            found.into_iter().nth(i).map(|d| vec![d]).ok_or_else(|| {
                CoreError::Device(format!(
                    "{entry}: this machine has {count} {} device(s), numbered from 0",
                    entry.backend.name()
                ))
            })
        }
    }
}

#[cfg(feature = "wgpu")]
fn open_gpus(entry: DeviceEntry) -> Result<Vec<Device>> {
    // the default adapter (opened and checked as for --device wgpu) is device 0 where the
    // machine has one adapter only, e.g. a software renderer
    let found: Vec<Device> = Device::enumerate(burn::tensor::DeviceType::Wgpu)
        .into_iter()
        .collect();
    if found.len() <= 1 {
        return select(vec![open_device(BackendKind::Wgpu)?], entry);
    }
    select(found, entry)
}

#[cfg(not(feature = "wgpu"))]
fn open_gpus(_entry: DeviceEntry) -> Result<Vec<Device>> {
    open_device(BackendKind::Wgpu).map(|d| vec![d])
}

#[cfg(feature = "cuda")]
fn open_cuda(entry: DeviceEntry) -> Result<Vec<Device>> {
    let found: Vec<Device> = Device::enumerate(burn::tensor::DeviceType::Cuda)
        .into_iter()
        .collect();
    select(found, entry)
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_entry: DeviceEntry) -> Result<Vec<Device>> {
    Err(CoreError::Device(
        "this build has no CUDA backend (build with --features cuda); use cpu or wgpu devices"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_print_back() {
        for text in ["cpu:0,cpu:1", "wgpu:all", "cuda:0,cuda:3", "ndarray:0"] {
            let list: DeviceList = text.parse().unwrap();
            assert_eq!(list.to_string(), text);
        }
        let list: DeviceList = "cpu:0, cpu:1".parse().unwrap();
        assert_eq!(list.entries.len(), 2);
        assert_eq!(list.backend(), ListedBackend::Flex);
    }

    #[test]
    fn bad_lists_are_refused_with_the_reason() {
        let reason = |text: &str| text.parse::<DeviceList>().unwrap_err().to_string();
        assert!(reason("cpu:0,wgpu:0").contains("mixes backends"));
        assert!(reason("cpu:0,cpu:0").contains("twice"));
        assert!(reason("cpu").contains("KIND:INDEX"));
        assert!(reason("cpu:x").contains("index"));
        assert!(reason("tpu:0").contains("tpu"));
        assert!(reason("wgpu:all,wgpu:0").contains("stands alone"));
        assert!(reason("node1/cuda:all").contains("docs/scale.md"));
        assert!(reason("cpu:0,").contains("empty"));
    }

    #[test]
    fn cpu_entries_open_one_replica_each() {
        let list: DeviceList = "cpu:0,cpu:1,cpu:2".parse().unwrap();
        let devices = list.open().unwrap();
        assert_eq!(devices.len(), 3);
        assert!(devices.iter().all(|d| *d == devices[0]));
    }
}
