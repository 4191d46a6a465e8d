//! `crdgen`: renders the CRDs the Helm chart ships and `docs/crd-reference.md` from the types.
//!
//! ```text
//! crdgen               write every generated file under the repository root
//! crdgen --check       exit 1 when a committed file differs from what the types generate
//! crdgen --stdout      print the three CRDs as one multi-document YAML stream
//! crdgen --docs        print the CRD reference (Markdown)
//! crdgen --root DIR    use DIR as the repository root (default: this crate's parent)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use manofwar_crds::crdgen;

enum Mode {
    Write,
    Check,
    Stdout,
    Docs,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut mode = Mode::Write;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => mode = Mode::Check,
            "--stdout" => mode = Mode::Stdout,
            "--docs" => mode = Mode::Docs,
            "--root" => match args.next() {
                Some(dir) => root = dir.into(),
                None => return usage("--root needs a directory"),
            },
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    match mode {
        Mode::Stdout => {
            for crd in crdgen::crds() {
                print!("---\n{}", crdgen::yaml(&crd));
            }
        }
        Mode::Docs => print!("{}", crdgen::reference_markdown(&crdgen::crds())),
        Mode::Check => {
            let stale = crdgen::stale(&root);
            for path in &stale {
                eprintln!("{} is stale: run `{}`", path.display(), crdgen::REGENERATE);
            }
            if !stale.is_empty() {
                return ExitCode::FAILURE;
            }
        }
        Mode::Write => match crdgen::write(&root) {
            Ok(paths) => paths.iter().for_each(|p| println!("wrote {}", p.display())),
            Err(error) => {
                eprintln!("crdgen: {error}");
                return ExitCode::FAILURE;
            }
        },
    }
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("crdgen: {problem}\nusage: crdgen [--check | --stdout | --docs] [--root DIR]");
    ExitCode::from(2)
}
