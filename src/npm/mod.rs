//! The npm package's wasm core: `proto::Client` and the codec behind plain C-ABI exports.
