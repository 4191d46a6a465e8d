//! `manofwar download`: one rendition of an item, with its audio, as one MP4 file for a laptop
//! or a train: the server's HLS segments remuxed (no re-encode) by FFmpeg's HLS demuxer from the
//! item's signed URL, written beside the output and renamed into place when whole.

use crate::cli::DownloadArgs;
use crate::ffi;
use anyhow::Context as _;
use ffmpeg_next as ff;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;

/// What to fetch: the chosen variant's playlist and its audio's, as absolute URLs.
#[derive(Debug, PartialEq)]
pub struct Choice {
    pub video: String,
    pub audio: Option<String>,
    /// The rendition's name (the playlist's folder), e.g. `720p`.
    pub name: String,
}

/// Pick a variant of `master` (served at `master_url`): the one named `wanted`, or the one of
/// the highest bandwidth; and the default audio of its group.
pub fn choose(master: &str, master_url: &str, wanted: Option<&str>) -> anyhow::Result<Choice> {
    let base = &master_url[..master_url.rfind('/').map_or(0, |i| i + 1)];
    let attr = |line: &str, key: &str| -> Option<String> {
        let at = line.find(&format!("{key}="))? + key.len() + 1;
        let rest = &line[at..];
        Some(match rest.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next()?.to_owned(),
            None => rest.split(',').next()?.to_owned(),
        })
    };
    // (bandwidth, name, uri, audio group) of each variant
    let mut variants = Vec::new();
    let mut lines = master.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("#EXT-X-STREAM-INF:") {
            continue;
        }
        let Some(uri) = lines.next().filter(|u| !u.starts_with('#')) else {
            continue;
        };
        let path = uri.split('?').next().unwrap_or(uri);
        let name = path.rsplit('/').nth(1).unwrap_or(path).to_owned();
        let bandwidth: u64 = attr(line, "BANDWIDTH")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        variants.push((bandwidth, name, uri.to_owned(), attr(line, "AUDIO")));
    }
    let names = || {
        let names: Vec<&str> = variants.iter().map(|v| v.1.as_str()).collect();
        names.join(", ")
    };
    let chosen = match wanted {
        Some(wanted) => variants.iter().find(|v| v.1 == wanted).with_context(|| {
            format!("the item has no rendition {wanted:?}; it has: {}", names())
        })?,
        None => variants
            .iter()
            .max_by_key(|v| v.0)
            .context("the master playlist lists no variant")?,
    };
    let audio = chosen.3.as_ref().and_then(|group| {
        let renditions: Vec<&str> = master
            .lines()
            .filter(|l| l.starts_with("#EXT-X-MEDIA:") && l.contains("TYPE=AUDIO"))
            .filter(|l| attr(l, "GROUP-ID").as_deref() == Some(group))
            .collect();
        let default = renditions.iter().find(|l| l.contains("DEFAULT=YES"));
        attr(default.or(renditions.first())?, "URI")
    });
    Ok(Choice {
        video: format!("{base}{}", chosen.2),
        audio: audio.map(|uri| format!("{base}{uri}")),
        name: chosen.1.clone(),
    })
}

pub fn run(args: DownloadArgs) -> anyhow::Result<()> {
    let server = args.server.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let get = |url: &str, token: Option<&str>| -> anyhow::Result<String> {
        let mut request = agent.get(url);
        if let Some(token) = token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let mut response = request
            .call()
            .with_context(|| format!("cannot reach {server}"))?;
        let text = response.body_mut().read_to_string()?;
        match response.status().as_u16() {
            200 => Ok(text),
            401 => anyhow::bail!("{url}: 401, the token is not valid (manofwar token create)"),
            404 => anyhow::bail!("{url}: no such item, or not yours to see"),
            status => anyhow::bail!("{url} answered {status}: {text}"),
        }
    };
    let item: serde_json::Value = serde_json::from_str(&get(
        &format!("{server}/api/v1/items/{}", args.item),
        args.token.as_deref(),
    )?)?;
    let title = item["title"].as_str().unwrap_or("the item").to_owned();
    let Some(hls) = item["hls_url"].as_str() else {
        anyhow::bail!(
            "{title} has no package yet (state: {}); try again once it is transcoded",
            item["state"].as_str().unwrap_or("unknown")
        );
    };
    let master_url = format!("{server}{hls}");
    let master = get(&master_url, None)?;
    let choice = choose(&master, &master_url, args.rendition.as_deref())?;
    let duration = item["duration_s"].as_f64().unwrap_or(0.0);
    eprintln!(
        "downloading {title} ({}) to {}",
        choice.name,
        args.output.display()
    );
    remux(&choice, duration, &args.output).with_context(|| {
        format!(
            "downloading {title} failed; nothing was written to {}",
            args.output.display()
        )
    })?;
    eprintln!("wrote {}", args.output.display());
    Ok(())
}

/// Copy the video playlist's and the audio playlist's packets into one MP4 at `output`,
/// interleaved by time, with the index at the front (plays while it downloads elsewhere).
fn remux(choice: &Choice, duration: f64, output: &Path) -> anyhow::Result<()> {
    ff::init().context("cannot start FFmpeg")?;
    ff::format::network::init();
    ffi::quiet_logs();
    let partial = output.with_extension("partial.mp4");
    let mut inputs = Vec::new();
    for url in std::iter::once(&choice.video).chain(&choice.audio) {
        inputs.push(ff::format::input(url).with_context(|| format!("cannot open {url}"))?);
    }
    let mut octx = ff::format::output_as(&partial, "mp4")
        .with_context(|| format!("cannot write {}", partial.display()))?;
    // (input, input stream) -> output stream, for the first video or audio stream of each.
    let mut map = Vec::new();
    for (i, ictx) in inputs.iter().enumerate() {
        let wanted = if i == 0 {
            ff::media::Type::Video
        } else {
            ff::media::Type::Audio
        };
        let stream = ictx.streams().best(wanted).with_context(|| {
            format!(
                "{} has no {wanted:?} stream",
                if i == 0 {
                    &choice.video
                } else {
                    choice.audio.as_ref().expect("input 1 is audio")
                }
            )
        })?;
        let mut ost = octx.add_stream(ff::encoder::find(ff::codec::Id::None))?;
        ost.set_parameters(stream.parameters());
        ffi::set_codec_tag(&mut ost, 0);
        map.push((stream.index(), stream.time_base(), map.len()));
    }
    let mut opts = ff::Dictionary::new();
    opts.set("movflags", "+faststart");
    octx.write_header_with(opts)?;
    let bar = ProgressBar::new((duration * 10.0) as u64).with_style(
        ProgressStyle::with_template("{bar:40} {percent:>3}% {elapsed} (~{eta} left)")
            .expect("a valid template"),
    );
    // The next packet of each input; write the earliest, then read that input's next.
    let mut next: Vec<Option<ff::Packet>> = Vec::new();
    for (i, ictx) in inputs.iter_mut().enumerate() {
        next.push(read(ictx, map[i].0)?);
    }
    let seconds =
        |p: &ff::Packet, tb: ff::Rational| p.dts().or(p.pts()).unwrap_or(0) as f64 * f64::from(tb);
    while let Some(i) = (0..next.len())
        .filter(|i| next[*i].is_some())
        .min_by(|a, b| {
            let t = |i: usize| seconds(next[i].as_ref().expect("filtered"), map[i].1);
            t(*a).total_cmp(&t(*b))
        })
    {
        let mut packet = next[i].take().expect("filtered");
        bar.set_position((seconds(&packet, map[i].1).max(0.0) * 10.0) as u64);
        let out_tb = octx.stream(map[i].2).expect("added above").time_base();
        packet.rescale_ts(map[i].1, out_tb);
        packet.set_position(-1);
        packet.set_stream(map[i].2);
        packet.write_interleaved(&mut octx)?;
        next[i] = read(&mut inputs[i], map[i].0)?;
    }
    octx.write_trailer()?;
    bar.finish_and_clear();
    std::fs::rename(&partial, output)
        .with_context(|| format!("cannot move {} to {}", partial.display(), output.display()))?;
    Ok(())
}

/// The next packet of stream `index`, or `None` at the end.
fn read(ictx: &mut ff::format::context::Input, index: usize) -> anyhow::Result<Option<ff::Packet>> {
    let mut packet = ff::Packet::empty();
    loop {
        match packet.read(ictx) {
            Ok(()) if packet.stream() == index => return Ok(Some(packet)),
            Ok(()) => continue,
            Err(ff::Error::Eof) => return Ok(None),
            Err(e) => return Err(e).context("reading the stream failed (did the server go away?)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"English\",DEFAULT=NO,URI=\"standard/audio1/index.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"Audio\",DEFAULT=YES,URI=\"standard/audio0/index.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,AUDIO=\"aac\"
standard/360p/index.m3u8?v=1
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,AUDIO=\"aac\"
standard/720p/index.m3u8?v=2
";

    #[test]
    fn the_named_or_the_best_variant_with_its_default_audio() {
        let url = "http://h:1/s/SIG/hls/7/master.m3u8";
        let best = choose(MASTER, url, None).unwrap();
        assert_eq!(best.name, "720p");
        assert_eq!(
            best.video,
            "http://h:1/s/SIG/hls/7/standard/720p/index.m3u8?v=2"
        );
        assert_eq!(
            best.audio.as_deref(),
            Some("http://h:1/s/SIG/hls/7/standard/audio0/index.m3u8")
        );
        assert_eq!(choose(MASTER, url, Some("360p")).unwrap().name, "360p");
        let missing = choose(MASTER, url, Some("4k")).unwrap_err().to_string();
        assert!(missing.contains("360p, 720p"), "{missing}");
        assert!(choose("#EXTM3U\n", url, None).is_err());
    }
}
