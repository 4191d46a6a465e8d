//! What each subcommand does, wired from the library's modules.

use super::{
    HubArgs, ScanArgs, ServeArgs, TokenCommand, TranscodeArgs, UpArgs, UserCommand, load_profile,
};
use crate::{probe, publish::Staging, transcode};
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::time::Instant;

pub use super::p2p::{coordinator, gateway, identity, pin};

pub fn up(args: UpArgs) -> anyhow::Result<()> {
    up_with(args, None, true)
}

fn up_with(
    args: UpArgs,
    remote: Option<crate::up::RemoteWorkers>,
    accounts: bool,
) -> anyhow::Result<()> {
    let profile = load_profile(args.profile.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(crate::up::run(args, profile, remote, accounts))
}

/// `up` without local transcoding by default, plus the remote workers' queue.
pub fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    args.up.workers.get_or_insert(0);
    let remote = match args.token.filter(|t| !t.is_empty()) {
        Some(token) => Some(crate::up::RemoteWorkers {
            token,
            lease: std::time::Duration::from_secs(args.lease_seconds.max(1)),
            profiles: args.profiles,
            private: args.private,
        }),
        None => {
            tracing::warn!("no --token: the work queue for transcode workers is disabled");
            None
        }
    };
    up_with(args.up, remote, false)
}

pub fn hub(args: HubArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(crate::hub::run(args))
}

pub fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add(args) => {
            let auth = crate::auth::Auth::open(&args.data)?;
            let password = read_password()?;
            let libraries = if args.libraries.is_empty() {
                vec!["*".to_owned()]
            } else {
                args.libraries
            };
            let user = auth.add_user(&args.name, args.role, &libraries, &password)?;
            let sees = if libraries == ["*"] {
                "every library".to_owned()
            } else {
                libraries.join(", ")
            };
            eprintln!(
                "added {} ({}), who sees {sees}",
                user.name,
                user.role.as_str()
            );
        }
        UserCommand::List { data } => {
            let auth = crate::auth::Auth::open(&data)?;
            println!("{:<24} {:<7} {:<9} LIBRARIES", "NAME", "ROLE", "STATE");
            for u in auth.store().users()? {
                let state = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:<24} {:<7} {:<9} {}",
                    u.name,
                    u.role.as_str(),
                    state,
                    u.libraries.join(",")
                );
            }
        }
    }
    Ok(())
}

pub fn token(command: TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Create(args) = command;
    let auth = crate::auth::Auth::open(&args.data)?;
    let (user, _) = auth.store().user_by_name(&args.user)?.ok_or_else(|| {
        anyhow::anyhow!(
            "no user named {:?} (manofwar user list --data {})",
            args.user,
            args.data.display()
        )
    })?;
    let allowed = user.role.scopes();
    let scopes = if args.scopes.is_empty() {
        allowed.clone()
    } else {
        args.scopes
    };
    if let Some(s) = scopes.iter().find(|s| !allowed.contains(s)) {
        anyhow::bail!(
            "a {} cannot have a token with the {} scope",
            user.role.as_str(),
            s.as_str()
        );
    }
    let (token, _) = auth.create_token(&user, &args.label, &scopes)?;
    println!("{token}");
    Ok(())
}

/// The password on standard input: its first line.
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as typed; pipe it in to hide it): ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        anyhow::bail!("no password on standard input (echo \"$PASSWORD\" | manofwar user add …)");
    }
    Ok(password)
}

pub fn probe(file: &Path) -> anyhow::Result<()> {
    let info = probe::probe(file)?;
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(())
}

pub fn scan(args: ScanArgs) -> anyhow::Result<()> {
    let catalog = match &args.data {
        Some(dir) => crate::catalog::Catalog::open(dir)?,
        None => crate::catalog::Catalog::in_memory()?,
    };
    let started = Instant::now();
    let mut report = crate::scan::Report::default();
    for root in &args.media {
        report += crate::scan::scan_root(&catalog, root)?;
    }
    let elapsed = started.elapsed();
    println!(
        "{:<5} {:<40} {:>6} {:>7} {:>9} {:<11} PATH",
        "ID", "TITLE", "YEAR", "EPISODE", "DURATION", "STATE"
    );
    for item in catalog.items()? {
        let episode = match (item.season, item.episode) {
            (Some(s), Some(e)) => format!("S{s:02}E{e:02}"),
            _ => String::new(),
        };
        println!(
            "{:<5} {:<40} {:>6} {:>7} {:>9} {:<11} {}",
            item.id,
            truncate(&item.title, 40),
            item.year.map(|y| y.to_string()).unwrap_or_default(),
            episode,
            item.duration_s.map(format_duration).unwrap_or_default(),
            item.state.as_str(),
            item.path,
        );
    }
    eprintln!("{report} in {:.2} s", elapsed.as_secs_f64());
    Ok(())
}

pub fn transcode(args: TranscodeArgs) -> anyhow::Result<()> {
    let profile = load_profile(args.profile.as_deref())?;
    let (input, output) = match (args.server, args.input, args.output) {
        (Some(server), _, _) => {
            let token = args.token.unwrap_or_default();
            let made = crate::profiles::Made::of(args.profile.as_deref(), &profile);
            let done = crate::remote::run(&server, &token, &profile, &made, &args.work_dir)?;
            println!("queue empty after {done} item(s)");
            return Ok(());
        }
        (None, Some(input), Some(output)) => (input, output),
        _ => anyhow::bail!("give --input and --output, or --server"),
    };
    transcode_file(&input, &output, &profile)
}

fn transcode_file(
    input: &Path,
    output: &Path,
    profile: &manofwar_crds::TranscodeProfileSpec,
) -> anyhow::Result<()> {
    let info = probe::probe(input)?;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => ".".into(),
    };
    let label = format!(
        ".{}.partial",
        output
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    let staging = Staging::new(&parent, &label)
        .with_context(|| format!("cannot create a staging folder in {}", parent.display()))?;
    let bar = ProgressBar::new(1000).with_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{wide_bar}] {percent:>3}% eta {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(
        input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let started = Instant::now();
    let package = transcode::run(input.into(), staging.path(), profile, &mut |f| {
        bar.set_position((f * 1000.0) as u64);
        Ok(())
    })
    .with_context(|| format!("transcoding {} failed", input.display()))?;
    bar.finish_and_clear();
    staging
        .publish(output)
        .with_context(|| format!("cannot move the package into {}", output.display()))?;
    let wall = started.elapsed().as_secs_f64();
    print_summary(
        output,
        &package,
        info.duration_s.unwrap_or(package.duration_s),
        wall,
    );
    Ok(())
}

fn print_summary(out: &Path, package: &crate::hls::Package, duration: f64, wall: f64) {
    println!("{}", out.join(crate::hls::MASTER).display());
    println!(
        "  {:<8} {:>11} {:>10} {:>10}  CODECS",
        "NAME", "RESOLUTION", "PEAK", "AVERAGE"
    );
    for v in &package.variants {
        let r = &v.rendition;
        println!(
            "  {:<8} {:>11} {:>10} {:>10}  {}",
            r.name,
            format!("{}x{}", r.width, r.height),
            format_rate(v.bandwidth),
            format_rate(v.average_bandwidth),
            r.codecs
        );
    }
    for a in &package.audio {
        let channels = if a.channels > 2 { "5.1" } else { "stereo" };
        let language = a.language.as_deref().unwrap_or("und");
        println!("  {}: AAC-LC {channels} ({language})", a.name);
    }
    for s in &package.subtitles {
        let language = s.language.as_deref().unwrap_or("und");
        println!("  {}: WebVTT subtitles ({language})", s.name);
    }
    for w in &package.warnings {
        println!("  warning: {w}");
    }
    println!(
        "  {} of video in {:.1} s ({:.2}x real time)",
        format_duration(duration),
        wall,
        duration / wall.max(0.001)
    );
}

fn format_rate(bps: u64) -> String {
    format!("{:.2} Mb/s", bps as f64 / 1e6)
}

fn format_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}
