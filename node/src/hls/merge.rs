//! An item's master playlist over the packages of all its profiles.
//!
//! Each profile's package is published in its own folder, `hls/{id}/{profile}/`. The item's
//! `master.m3u8` lists every variant of every package (a browser that cannot play HEVC skips
//! the HEVC profile's variants; a phone on a slow link takes the mobile profile's), and its
//! `package.json` sums them up for the API.

use super::playlist::MASTER_HEADER;
use super::{MANIFEST, MASTER, Package, write_atomic};
use std::cmp::Reverse;
use std::path::Path;
use std::sync::Mutex;

/// Packages of the same item can be published at once (two workers, two profiles).
static MERGING: Mutex<()> = Mutex::new(());

/// Rewrite `item_dir`'s master playlist and manifest from the packages of `profiles` found
/// there, and remove everything else in it (packages of removed profiles, an older layout).
/// While none of `profiles` has a package yet, the packages of removed profiles stay and are
/// served, so an item stays playable while it is made again. With no package at all, the
/// folder goes.
pub fn merge(item_dir: &Path, profiles: &[String]) -> std::io::Result<()> {
    let _merging = MERGING.lock().unwrap_or_else(|p| p.into_inner());
    let Ok(entries) = std::fs::read_dir(item_dir) else {
        return Ok(());
    };
    let mut names: Vec<String> = entries
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let wanted: Vec<&String> = profiles.iter().filter(|p| names.contains(p)).collect();
    let mut packages = read_packages(item_dir, wanted);
    if packages.is_empty() {
        // A package from before profiles had folders is the whole folder: it stays as it is
        // until a package of a current profile replaces it.
        if Package::read(item_dir).is_ok_and(|p| p.profiles.is_empty()) {
            return Ok(());
        }
        packages = read_packages(
            item_dir,
            names.iter().filter(|n| !is_merged_file(n)).collect(),
        );
    }
    for name in &names {
        let kept = profiles.contains(name)
            || packages.iter().any(|(p, _, _)| p == name)
            || (!packages.is_empty() && is_merged_file(name));
        if !kept {
            let path = item_dir.join(name);
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    if packages.is_empty() {
        let _ = std::fs::remove_dir(item_dir);
        return Ok(());
    }
    let masters: Vec<(&str, &str)> = packages
        .iter()
        .map(|(p, m, _)| (p.as_str(), m.as_str()))
        .collect();
    let master = master(&masters);
    let manifest = manifest(
        packages
            .iter()
            .map(|(profile, _, package)| (profile.as_str(), package.clone())),
    );
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    write_atomic(&item_dir.join(MANIFEST), &json)?;
    write_atomic(&item_dir.join(MASTER), master.as_bytes())
}

/// (folder, master playlist, manifest) of each of `folders` that holds a published package.
fn read_packages(item_dir: &Path, folders: Vec<&String>) -> Vec<(String, String, Package)> {
    folders
        .into_iter()
        .filter_map(|folder| {
            let dir = item_dir.join(folder);
            let master = std::fs::read_to_string(dir.join(MASTER)).ok()?;
            Some((folder.clone(), master, Package::read(&dir).ok()?))
        })
        .collect()
}

fn is_merged_file(name: &str) -> bool {
    [MASTER, MANIFEST].contains(&name)
}

/// One master over several: every rendition group and variant of each profile's master,
/// with URIs into the profile's folder and group ids made unique per profile; variants by
/// bandwidth, highest first.
fn master(masters: &[(&str, &str)]) -> String {
    let mut media = Vec::new();
    let mut variants = Vec::new();
    let mut iframes = Vec::new();
    for (profile, text) in masters {
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
                let uri = lines.next().unwrap_or_default();
                let bandwidth = attribute(attrs, "BANDWIDTH")
                    .and_then(|b| b.parse::<u64>().ok())
                    .unwrap_or(0);
                let inf = rewrite("#EXT-X-STREAM-INF:", attrs, profile);
                variants.push((bandwidth, format!("{inf}\n{profile}/{uri}")));
            } else if let Some(attrs) = line.strip_prefix("#EXT-X-MEDIA:") {
                media.push(rewrite("#EXT-X-MEDIA:", attrs, profile));
            } else if let Some(attrs) = line.strip_prefix("#EXT-X-I-FRAME-STREAM-INF:") {
                iframes.push(rewrite("#EXT-X-I-FRAME-STREAM-INF:", attrs, profile));
            }
        }
    }
    variants.sort_by_key(|(bandwidth, _)| Reverse(*bandwidth));
    let mut out = String::from(MASTER_HEADER);
    let lines = media
        .iter()
        .chain(variants.iter().map(|(_, v)| v))
        .chain(&iframes);
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `KEY=VALUE` pairs of an attribute list; quoted values keep their quotes.
fn attributes(list: &str) -> Vec<(&str, &str)> {
    let mut pairs = Vec::new();
    let mut rest = list;
    while let Some((key, after)) = rest.split_once('=') {
        let end = if let Some(quoted) = after.strip_prefix('"') {
            quoted.find('"').map_or(after.len(), |i| i + 2)
        } else {
            after.find(',').unwrap_or(after.len())
        };
        pairs.push((key.trim(), &after[..end]));
        rest = after[end..].trim_start_matches(',');
    }
    pairs
}

fn attribute<'a>(list: &'a str, key: &str) -> Option<&'a str> {
    attributes(list)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The attribute list with its URI moved into `profile`'s folder and its group ids made
/// `profile`'s own.
fn rewrite(tag: &str, list: &str, profile: &str) -> String {
    let pairs: Vec<String> = attributes(list)
        .into_iter()
        .map(|(key, value)| match key {
            "URI" => format!("{key}=\"{profile}/{}\"", value.trim_matches('"')),
            "GROUP-ID" | "AUDIO" | "SUBTITLES" => {
                format!("{key}=\"{profile}-{}\"", value.trim_matches('"'))
            }
            _ => format!("{key}={value}"),
        })
        .collect();
    format!("{tag}{}", pairs.join(","))
}

/// The item's manifest: every profile's variants (marked with their profile), the first
/// profile's audio and subtitle renditions (all profiles make them from the same source).
fn manifest<'a>(packages: impl Iterator<Item = (&'a str, Package)>) -> Package {
    let mut merged = Package::default();
    let packages: Vec<_> = packages.collect();
    let several = packages.len() > 1;
    for (profile, package) in packages {
        merged.duration_s = merged.duration_s.max(package.duration_s);
        merged
            .variants
            .extend(package.variants.into_iter().map(|mut v| {
                v.profile = Some(profile.to_owned());
                v
            }));
        if merged.profiles.is_empty() {
            merged.audio = package.audio;
            merged.subtitles = package.subtitles;
        }
        merged
            .warnings
            .extend(package.warnings.into_iter().map(|w| match several {
                true => format!("{profile}: {w}"),
                false => w,
            }));
        merged.profiles.push(profile.to_owned());
    }
    merged.variants.sort_by_key(|v| Reverse(v.bandwidth));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::{Rendition, Variant};

    const STANDARD: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"English, AUDIO=\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio0/index.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"aac\"\n\
720p/index.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,AUDIO=\"aac\"\n\
360p/index.m3u8\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=300000,CODECS=\"avc1.64001f\",RESOLUTION=1280x720,URI=\"720p/iframes.m3u8\"\n";

    const MOBILE: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"English\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio0/index.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=1000000,CODECS=\"hvc1.1.6.L93.B0,mp4a.40.2\",RESOLUTION=960x540,AUDIO=\"aac\"\n\
540p/index.m3u8\n";

    #[test]
    fn the_master_lists_every_profile_variant_in_its_folder() {
        let merged = master(&[("standard", STANDARD), ("mobile", MOBILE)]);
        let expected = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"standard-aac\",NAME=\"English, AUDIO=\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"standard/audio0/index.m3u8\"\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"mobile-aac\",NAME=\"English\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"mobile/audio0/index.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"standard-aac\"\n\
standard/720p/index.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=1000000,CODECS=\"hvc1.1.6.L93.B0,mp4a.40.2\",RESOLUTION=960x540,AUDIO=\"mobile-aac\"\n\
mobile/540p/index.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,AUDIO=\"standard-aac\"\n\
standard/360p/index.m3u8\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=300000,CODECS=\"avc1.64001f\",RESOLUTION=1280x720,URI=\"standard/720p/iframes.m3u8\"\n";
        assert_eq!(merged, expected);
    }

    fn package(dir: &Path, master: &str, height: u32, bandwidth: u64) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(MASTER), master).unwrap();
        let variant = Variant {
            rendition: Rendition {
                name: format!("{height}p"),
                width: height * 16 / 9,
                height,
                frame_rate: None,
                codecs: "avc1.64001f".into(),
                source: false,
            },
            bandwidth,
            average_bandwidth: bandwidth,
            profile: None,
        };
        let package = Package {
            duration_s: 6.0,
            variants: vec![variant],
            warnings: vec!["fell back to libx264".into()],
            ..Package::default()
        };
        std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&package).unwrap()).unwrap();
    }

    #[test]
    fn merging_keeps_the_wanted_packages_and_clears_the_rest() {
        let root = tempfile::tempdir().unwrap();
        let item = root.path().join("7");
        package(&item.join("standard"), STANDARD, 720, 3_000_000);
        package(&item.join("mobile"), MOBILE, 540, 1_200_000);
        package(&item.join("old"), MOBILE, 240, 300_000);
        std::fs::create_dir_all(item.join("720p")).unwrap(); // an older, single-package layout
        let wanted = [
            "mobile".to_string(),
            "standard".to_string(),
            "hevc".to_string(),
        ];
        merge(&item, &wanted).unwrap();

        let mut left: Vec<String> = std::fs::read_dir(&item)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["master.m3u8", "mobile", "package.json", "standard"]);
        let manifest = Package::read(&item).unwrap();
        assert_eq!(manifest.profiles, ["mobile", "standard"]);
        let heights: Vec<(u32, Option<&str>)> = manifest
            .variants
            .iter()
            .map(|v| (v.rendition.height, v.profile.as_deref()))
            .collect();
        assert_eq!(heights, [(720, Some("standard")), (540, Some("mobile"))]);
        assert_eq!(
            manifest.warnings,
            [
                "mobile: fell back to libx264",
                "standard: fell back to libx264"
            ]
        );
        let master = std::fs::read_to_string(item.join(MASTER)).unwrap();
        assert!(master.contains("\nmobile/540p/index.m3u8\n"), "{master}");

        // A library that names only a new profile keeps serving the old packages until the new
        // one's is published; then they go.
        merge(&item, &["hevc".to_string()]).unwrap();
        assert_eq!(
            Package::read(&item).unwrap().profiles,
            ["mobile", "standard"]
        );
        package(&item.join("hevc"), MOBILE, 540, 1_000_000);
        merge(&item, &["hevc".to_string()]).unwrap();
        assert_eq!(Package::read(&item).unwrap().profiles, ["hevc"]);
        assert!(!item.join("standard").exists());

        std::fs::remove_dir_all(item.join("hevc")).unwrap();
        merge(&item, &["hevc".to_string()]).unwrap();
        assert!(!item.exists(), "no package left, nothing to serve");
    }

    #[test]
    fn a_package_of_the_older_layout_stays_until_a_new_one_replaces_it() {
        let root = tempfile::tempdir().unwrap();
        let item = root.path().join("3");
        package(&item, STANDARD, 720, 3_000_000);
        std::fs::create_dir_all(item.join("720p")).unwrap();
        merge(&item, &["standard".to_string()]).unwrap();
        assert!(item.join("720p").is_dir() && item.join(MASTER).is_file());

        package(&item.join("standard"), STANDARD, 720, 3_000_000);
        merge(&item, &["standard".to_string()]).unwrap();
        assert!(!item.join("720p").exists());
        assert_eq!(Package::read(&item).unwrap().profiles, ["standard"]);
    }
}
