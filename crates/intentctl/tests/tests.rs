//! All integration tests of `intentctl`, in one binary: the binary run as a marketer runs it.

// Commands, their output and exit codes.
mod cli;
// One test per defect found, named after it.
mod regression;
