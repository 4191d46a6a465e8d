//! Titles, years, seasons and episodes parsed from file names.

use std::path::Path;

/// What a file name says about its content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub title: String,
    pub year: Option<i32>,
    pub season: Option<i32>,
    pub episode: Option<i32>,
}

/// Parse `Movie Name (2019).mkv`, `Show Name S01E02.mkv`, `show.name.s01e02.720p.mkv`, …
pub fn parse(path: &Path) -> Parsed {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let words = normalise(&stem);
    if let Some((at, season, episode)) = find_episode(&words) {
        return Parsed {
            title: title_of(&words[..at]),
            season: Some(season),
            episode: Some(episode),
            ..Parsed::default()
        };
    }
    if let Some((at, year)) = find_year(&words) {
        return Parsed {
            title: title_of(&words[..at]),
            year: Some(year),
            ..Parsed::default()
        };
    }
    Parsed {
        title: title_of(&words),
        ..Parsed::default()
    }
}

/// Split on spaces, dots and underscores (dots are word separators in scene-style names).
fn normalise(stem: &str) -> Vec<String> {
    stem.split([' ', '.', '_'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn title_of(words: &[String]) -> String {
    let title = words.join(" ");
    let title = title.trim_matches(|c: char| c == '-' || c == '(' || c == '[' || c.is_whitespace());
    title.to_owned()
}

/// `S01E02` or `1x02`, as a word; returns its position.
fn find_episode(words: &[String]) -> Option<(usize, i32, i32)> {
    words.iter().enumerate().find_map(|(i, w)| {
        let w = w.to_ascii_lowercase();
        let (s, e) = if let Some(rest) = w.strip_prefix('s') {
            rest.split_once('e')?
        } else {
            w.split_once('x')?
        };
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 3 && x.bytes().all(|b| b.is_ascii_digit());
        if !(digits(s) && digits(e)) {
            return None;
        }
        Some((i, s.parse().ok()?, e.parse().ok()?))
    })
}

/// A plausible year, bare or in brackets, not as the first word (`1917 (2019)` is a title).
fn find_year(words: &[String]) -> Option<(usize, i32)> {
    words.iter().enumerate().skip(1).rev().find_map(|(i, w)| {
        let y = w.trim_matches(|c| matches!(c, '(' | ')' | '[' | ']'));
        let year: i32 = (y.len() == 4).then(|| y.parse().ok())??;
        (1900..=2100).contains(&year).then_some((i, year))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> Parsed {
        parse(Path::new(name))
    }

    #[test]
    fn movie_with_year() {
        let m = p("/media/Movie Name (2019).mkv");
        assert_eq!(
            (m.title.as_str(), m.year, m.season),
            ("Movie Name", Some(2019), None)
        );
    }

    #[test]
    fn scene_style_movie() {
        let m = p("The.Big.Film.2004.1080p.BluRay.x264.mkv");
        assert_eq!((m.title.as_str(), m.year), ("The Big Film", Some(2004)));
    }

    #[test]
    fn show_episode() {
        let e = p("Show S01E02.mkv");
        assert_eq!(
            (e.title.as_str(), e.season, e.episode),
            ("Show", Some(1), Some(2))
        );
        let e = p("my_show.s10e120.720p.mkv");
        assert_eq!(
            (e.title.as_str(), e.season, e.episode),
            ("my show", Some(10), Some(120))
        );
        let e = p("Other Show - 3x07.mp4");
        assert_eq!(
            (e.title.as_str(), e.season, e.episode),
            ("Other Show", Some(3), Some(7))
        );
    }

    #[test]
    fn title_that_is_a_year() {
        let m = p("1917 (2019).mp4");
        assert_eq!((m.title.as_str(), m.year), ("1917", Some(2019)));
        let m = p("2001.mp4");
        assert_eq!((m.title.as_str(), m.year), ("2001", None));
    }

    #[test]
    fn plain_name() {
        let m = p("holiday clip.mov");
        assert_eq!(
            m,
            Parsed {
                title: "holiday clip".into(),
                ..Parsed::default()
            }
        );
    }
}
