//! End-to-end tests of the `manofwar` binary: real FFmpeg, real SQLite, real HTTP, with
//! media generated at test time and the `ffprobe`/`ffmpeg` CLI as the independent judge.

mod support;

mod access;
mod bad_input;
mod cli;
mod crash;
mod faststart;
mod serve;
mod sources;
mod sso;
mod tracks;
mod watch;
mod workers;
