//! Integration tests: the `mtpull` binary run on real folders.
//!
//! One test binary (faster to link than one per file); each area is a module.

mod sort;
#[path = "../../src/sort/testdata.rs"]
mod testdata;
mod util;
