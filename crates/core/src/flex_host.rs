//! Values of burn-flex tensors on the host and back, for the host kernels of this crate and of
//! scorelab-train: contiguous storage is read in place and new values become a tensor's storage
//! without a copy.

use burn::backend::flex::FlexTensor;
use burn::tensor::{Device, TensorData};

/// The values of a flex tensor of any rank: its own storage when it is contiguous f32, else a
/// contiguous f32 copy.
pub fn host_values(tensor: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => std::borrow::Cow::Borrowed(values),
        None => std::borrow::Cow::Owned(
            tensor
                .clone()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("float tensors convert to f32"),
        ),
    }
}

/// A flex tensor of `values` (the vector becomes its storage).
pub fn flex_tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Whether `device` is the flex backend, with or without autodiff. (burn compares the two
/// equal; which one a tensor is on shows in the type its primitive converts to.)
pub fn on_flex(device: &Device) -> bool {
    *device == Device::flex() || *device == Device::flex().autodiff()
}
