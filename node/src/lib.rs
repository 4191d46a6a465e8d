//! manofwar's data plane: scan media folders, probe, catalog, transcode to HLS and serve it.

pub mod auth;
pub mod catalog;
pub mod cli;
mod db;
pub mod download;
mod ffi;
pub mod hls;
pub mod http;
pub mod hub;
pub mod libraries;
pub mod live;
pub mod metrics;
pub mod names;
pub mod p2p;
pub mod probe;
pub mod profiles;
pub mod publish;
pub mod remote;
pub mod scan;
pub mod transcode;
pub mod up;
pub mod worker;
