//! Fixes applied to decoded frames before the ladder: deinterlacing (yadif) and the rotation
//! a phone's display matrix asks for (transpose), through a libavfilter graph.

use super::Error;
use ffmpeg_next as ff;

pub struct Filter {
    graph: ff::filter::Graph,
}

/// The filter chain a source needs, if any.
pub fn chain(rotation: f64, interlaced: bool) -> Option<String> {
    let mut steps = Vec::new();
    if interlaced {
        steps.push("yadif=mode=send_frame".to_owned());
    }
    match rotation.round() as i64 {
        90 => steps.push("transpose=clock".into()),
        180 => steps.push("hflip,vflip".into()),
        270 => steps.push("transpose=cclock".into()),
        _ => {}
    }
    (!steps.is_empty()).then(|| steps.join(","))
}

impl Filter {
    pub fn new(decoder: &ff::decoder::Video, tb: ff::Rational, spec: &str) -> Result<Self, Error> {
        let mut graph = ff::filter::Graph::new();
        let sar = decoder.aspect_ratio();
        let sar = if sar.numerator() > 0 {
            sar
        } else {
            ff::Rational::new(1, 1)
        };
        let args = format!(
            "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
            decoder.width(),
            decoder.height(),
            ff::ffi::AVPixelFormat::from(decoder.format()) as i32,
            tb.numerator(),
            tb.denominator(),
            sar.numerator(),
            sar.denominator()
        );
        let buffer = ff::filter::find("buffer").ok_or(Error::MissingEncoder("buffer filter"))?;
        let sink =
            ff::filter::find("buffersink").ok_or(Error::MissingEncoder("buffersink filter"))?;
        graph
            .add(&buffer, "in", &args)
            .map_err(Error::codec("filter graph"))?;
        graph
            .add(&sink, "out", "")
            .map_err(Error::codec("filter graph"))?;
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(spec))
            .map_err(Error::codec("filter graph"))?;
        graph.validate().map_err(Error::codec("filter graph"))?;
        Ok(Self { graph })
    }

    /// Push a frame (or `None` at the end) and collect what comes out.
    pub fn run(
        &mut self,
        frame: Option<&ff::frame::Video>,
    ) -> Result<Vec<ff::frame::Video>, Error> {
        let mut src = self.graph.get("in").expect("source was added");
        match frame {
            Some(f) => src.source().add(f).map_err(Error::codec("filter graph"))?,
            None => src.source().flush().map_err(Error::codec("filter graph"))?,
        }
        let mut out = Vec::new();
        let mut sink = self.graph.get("out").expect("sink was added");
        loop {
            let mut f = ff::frame::Video::empty();
            if sink.sink().frame(&mut f).is_err() {
                break;
            }
            out.push(f);
        }
        Ok(out)
    }
}
