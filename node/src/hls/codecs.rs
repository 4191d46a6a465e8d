//! RFC 6381 CODECS strings from encoder or stream extradata.

/// `avc1.PPCCLL` from H.264 extradata, in avcC or Annex B form.
pub fn avc1_codecs(extradata: &[u8]) -> String {
    let sps = if extradata.first() == Some(&1) && extradata.len() >= 4 {
        Some(extradata[1..4].to_vec())
    } else {
        annexb_nal(extradata, |header| header & 0x1f == 7).map(|nal| nal[1..].to_vec())
    };
    match sps {
        Some(p) if p.len() >= 3 => format!("avc1.{:02x}{:02x}{:02x}", p[0], p[1], p[2]),
        _ => "avc1.640028".to_owned(),
    }
}

/// `hvc1.P.C.TL.B…` from HEVC extradata (hvcC, or Annex B with an SPS).
pub fn hvc1_codecs(extradata: &[u8]) -> String {
    // profile_tier_level: space/tier/profile (1), compatibility (4), constraints (6), level (1).
    let ptl: Option<Vec<u8>> = if extradata.first() == Some(&1) && extradata.len() >= 13 {
        Some(extradata[1..13].to_vec())
    } else {
        annexb_nal(extradata, |h| (h >> 1) & 0x3f == 33)
            .map(|nal| unescape(&nal))
            .filter(|sps| sps.len() >= 15)
            .map(|sps| sps[3..15].to_vec())
    };
    let Some(p) = ptl else {
        return "hvc1.1.6.L120.90".to_owned();
    };
    let space = ["", "A", "B", "C"][usize::from(p[0] >> 6)];
    let tier = if p[0] & 0x20 != 0 { 'H' } else { 'L' };
    let compat = u32::from_be_bytes([p[1], p[2], p[3], p[4]]).reverse_bits();
    let mut constraints: Vec<u8> = p[5..11].to_vec();
    while constraints.last() == Some(&0) {
        constraints.pop();
    }
    let mut s = format!("hvc1.{space}{}.{compat:X}.{tier}{}", p[0] & 0x1f, p[11]);
    for b in constraints {
        s.push_str(&format!(".{b:X}"));
    }
    s
}

/// `av01.P.LLT.DD` from an av1C box; a 1080p-safe default otherwise.
pub fn av01_codecs(extradata: &[u8], height: u32) -> String {
    if extradata.len() >= 3 && extradata[0] == 0x81 {
        let profile = extradata[1] >> 5;
        let level = extradata[1] & 0x1f;
        let tier = if extradata[2] & 0x80 != 0 { 'H' } else { 'M' };
        let depth = if extradata[2] & 0x40 != 0 {
            if extradata[2] & 0x20 != 0 { 12 } else { 10 }
        } else {
            8
        };
        return format!("av01.{profile}.{level:02}{tier}.{depth:02}");
    }
    let level = match height {
        0..=720 => 5,    // 3.1
        721..=1080 => 8, // 4.0
        _ => 12,         // 5.0
    };
    format!("av01.0.{level:02}M.08")
}

/// The first Annex B NAL unit whose header byte matches.
fn annexb_nal(data: &[u8], matches: impl Fn(u8) -> bool) -> Option<Vec<u8>> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts.iter().enumerate().find_map(|(n, &s)| {
        let end = starts.get(n + 1).map_or(data.len(), |&next| next - 3);
        let nal = data.get(s..end)?;
        (!nal.is_empty() && matches(nal[0])).then(|| nal.to_vec())
    })
}

/// Drop emulation-prevention bytes (00 00 03 → 00 00).
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc1_from_annex_b_and_avcc() {
        let annexb = [
            0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0, 1, 0x68, 0xee,
        ];
        assert_eq!(avc1_codecs(&annexb), "avc1.64001f");
        assert_eq!(avc1_codecs(&[1, 0x4d, 0x40, 0x28, 0xff]), "avc1.4d4028");
    }

    #[test]
    fn hvc1_from_hvcc() {
        // Main profile, compatibility flags 0x60000000, constraints 0x90, level 4.0 (120).
        let hvcc = [1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 120];
        assert_eq!(hvc1_codecs(&hvcc), "hvc1.1.6.L120.90");
    }

    #[test]
    fn hvc1_from_annex_b_sps() {
        // SPS NAL header 0x42 0x01, then vps id/max sub layers byte, then the same PTL.
        let sps = [
            0, 0, 0, 1, 0x42, 0x01, 0x01, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xaa,
        ];
        assert_eq!(hvc1_codecs(&sps), "hvc1.1.6.L93.90");
    }

    #[test]
    fn av01_from_av1c() {
        assert_eq!(av01_codecs(&[0x81, 0x08, 0x0c, 0], 1080), "av01.0.08M.08");
        assert_eq!(av01_codecs(&[], 720), "av01.0.05M.08");
    }
}
