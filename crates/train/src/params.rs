//! A module's parameters as an ordered list of flat vectors, and back.
//!
//! The visiting order of burn modules is fixed by their structure, so the i-th vector always
//! belongs to the same parameter; optimiser moments and EMA weights are kept in this form and
//! turned into a module of the same architecture only to be saved or used.

use std::collections::VecDeque;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Gradients, Tensor};

/// The parameters of `module` (without autodiff), flattened, in visiting order.
pub fn flatten<M: Module>(module: &M) -> Vec<Tensor<1>> {
    struct Collect(Vec<Tensor<1>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val().inner();
            let n = value.shape().num_elements();
            self.0.push(value.reshape([n]));
        }
    }
    let mut visitor = Collect(Vec::new());
    module.visit(&mut visitor);
    visitor.0
}

/// The gradients of `module`'s parameters, flattened, in visiting order (zeros where a
/// parameter received none).
pub fn flatten_grads<M: Module>(module: &M, grads: &mut Gradients) -> Vec<Tensor<1>> {
    flatten_gradients_params(module, &GradientsParams::from_module(grads, module))
}

/// [`flatten_grads`] of gradients already collected per parameter (what burn-train's
/// strategies pass around, e.g. after `GradientsParams::to_device`).
pub fn flatten_gradients_params<M: Module>(module: &M, grads: &GradientsParams) -> Vec<Tensor<1>> {
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: Vec<Tensor<1>>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val().inner();
            let n = value.shape().num_elements();
            let grad = self
                .grads
                .get::<D>(param.id)
                .unwrap_or_else(|| value.zeros_like());
            self.out.push(grad.reshape([n]));
        }
    }
    let mut visitor = Collect {
        grads,
        out: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

/// `module` with its parameters replaced, in visiting order, by `values` (reshaped). Parameters
/// that required gradients keep requiring them (on an autodiff device).
pub fn replace<M: Module>(module: M, values: Vec<Tensor<1>>) -> M {
    struct Replace(VecDeque<Tensor<1>>);
    impl ModuleMapper for Replace {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let flat = self.0.pop_front().expect("one value per parameter");
            let require_grad = tensor.is_require_grad();
            let autodiff = tensor.is_autodiff();
            let mut value = flat.reshape(tensor.shape());
            if autodiff {
                value = value.autodiff();
                if require_grad {
                    value = value.require_grad();
                }
            }
            Param::from_mapped_value(id, value, mapper)
        }
    }
    let mut mapper = Replace(values.into());
    let out = module.map(&mut mapper);
    debug_assert!(mapper.0.is_empty(), "as many values as parameters");
    out
}

/// Whether every parameter of `module` records gradients (lives on an autodiff device).
pub fn all_require_grad<M: Module>(module: &M) -> bool {
    struct Check(bool);
    impl ModuleVisitor for Check {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 &= param.val().is_require_grad();
        }
    }
    let mut visitor = Check(true);
    module.visit(&mut visitor);
    visitor.0
}
