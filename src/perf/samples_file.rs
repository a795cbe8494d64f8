//! The samples file: every request a perf level measured, compact, on disk.
//!
//! One record per request, in the order requests finished: postcard (varints, so a
//! 300 µs request's time is 3 bytes) behind a length, times as whole nanoseconds, the start
//! and the iteration as differences from the previous record's; the stream is gzip'd
//! (flate2, fast level), so the fields that rarely change cost next to nothing. A plain
//! HTTP request takes about 6 bytes; a streamed answer about 3 more per token.
//!
//! Times are held at nanosecond resolution everywhere a sample is stored
//! (`SampleStore::push` rounds them), so a sample read back is the sample measured, to the
//! bit, and statistics computed from files (`hxrun merge`) equal the run's own.
//!
//! The gzip header's comment says what the file is and its format version; gzip members may
//! follow one another (a test's levels are written one after the other).

use super::result::Sample;
use crate::protocol::ServerFigures;
use chrono::{DateTime, Utc};
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize as DeriveSerialize};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The gzip comment of a samples file, and so its version.
pub(crate) const MAGIC: &str = "hxrun samples 2";
/// No record is longer than this (a request with millions of tokens would be): a corrupt
/// length is an error, never an allocation.
const MAX_RECORD: usize = 64 << 20;

/// Time values, seconds, as held: whole nanoseconds.
pub(crate) fn to_ns(secs: f64) -> u64 {
    (secs * 1e9).round() as u64
}

pub(crate) fn from_ns(ns: u64) -> f64 {
    std::time::Duration::from_nanos(ns).as_secs_f64()
}

/// Seconds rounded to the nanosecond, as a sample keeps them.
pub(crate) fn held(secs: f64) -> f64 {
    if secs.is_finite() && secs >= 0.0 { from_ns(to_ns(secs)) } else { secs }
}

/// One record; `L` is the inter-token gaps (written from a sample's seconds, read as
/// nanoseconds), `S` a string (borrowed when written, owned when read).
#[derive(DeriveSerialize, Deserialize)]
struct Record<L, S> {
    /// Microseconds since the previous record's start (the first: since the epoch).
    start_us: i64,
    /// Difference from the previous record's iteration.
    iter: i64,
    concurrency: u32,
    ok: bool,
    e2e_ns: u64,
    ttft_ns: Option<u64>,
    itl_ns: L,
    output_tokens: Option<u64>,
    input_tokens: Option<u64>,
    tokens_per_s: Option<f64>,
    error: Option<S>,
    server: Option<Server<S>>,
}

#[derive(DeriveSerialize, Deserialize)]
struct Server<S> {
    eval_count: Option<u64>,
    eval_duration_ns: Option<u64>,
    prompt_eval_count: Option<u64>,
    prompt_eval_duration_ns: Option<u64>,
    load_duration_ns: Option<u64>,
    total_duration_ns: Option<u64>,
    done_reason: Option<S>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    reported_tokens_per_s: Option<f64>,
}

/// Gaps in seconds, written as nanoseconds without a copy.
struct Nanos<'a>(&'a [f64]);

impl Serialize for Nanos<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for x in self.0 {
            seq.serialize_element(&to_ns(*x))?;
        }
        seq.end()
    }
}

fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Writes records to a file as they come.
pub(crate) struct Writer {
    out: GzEncoder<File>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    last_start: i64,
    last_iter: i64,
    pub(crate) count: usize,
}

impl Writer {
    pub(crate) fn new(file: File) -> Self {
        Writer {
            out: GzBuilder::new().comment(MAGIC).write(file, Compression::fast()),
            buf: Vec::with_capacity(64 * 1024),
            scratch: Vec::new(),
            last_start: 0,
            last_iter: 0,
            count: 0,
        }
    }

    pub(crate) fn push(&mut self, s: &Sample, error: Option<&str>) -> io::Result<()> {
        let start = micros(&s.started_at);
        let f = &s.server;
        let record = Record {
            start_us: start - self.last_start,
            iter: i64::from(s.iter) - self.last_iter,
            concurrency: s.concurrency,
            ok: s.ok,
            e2e_ns: to_ns(s.e2e),
            ttft_ns: s.ttft.map(to_ns),
            itl_ns: Nanos(&s.itl),
            output_tokens: s.output_tokens,
            input_tokens: s.input_tokens,
            tokens_per_s: s.tokens_per_s,
            error,
            server: (*f != ServerFigures::default()).then_some(Server {
                eval_count: f.eval_count,
                eval_duration_ns: f.eval_duration_ns,
                prompt_eval_count: f.prompt_eval_count,
                prompt_eval_duration_ns: f.prompt_eval_duration_ns,
                load_duration_ns: f.load_duration_ns,
                total_duration_ns: f.total_duration_ns,
                done_reason: f.done_reason.as_deref(),
                prompt_tokens: f.prompt_tokens,
                completion_tokens: f.completion_tokens,
                reported_tokens_per_s: f.reported_tokens_per_s,
            }),
        };
        (self.last_start, self.last_iter) = (start, i64::from(s.iter));
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        self.scratch = postcard::to_extend(&record, body).map_err(|e| io::Error::other(e.to_string()))?;
        let mut prefix = [0u8; 5];
        let n = put_varint(self.scratch.len() as u64, &mut prefix);
        self.buf.extend_from_slice(&prefix[..n]);
        self.buf.extend_from_slice(&self.scratch);
        self.count += 1;
        if self.buf.len() >= 60 * 1024 {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// The finished file, rewound by nobody: read it with `SampleFile`.
    pub(crate) fn finish(mut self) -> io::Result<SampleFile> {
        self.out.write_all(&self.buf)?;
        let file = self.out.finish()?;
        file.sync_data().ok();
        Ok(SampleFile { file })
    }
}

fn put_varint(mut v: u64, out: &mut [u8; 5]) -> usize {
    let mut i = 0;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = b;
            return i + 1;
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

/// A finished samples file (a temp file while the run lasts, or one read from a report).
#[derive(Debug)]
pub(crate) struct SampleFile {
    file: File,
}

impl SampleFile {
    /// A samples file a report names.
    pub(crate) fn open(path: &Path) -> io::Result<SampleFile> {
        // Any size (a long soak writes gigabytes, read as a stream), but a regular file.
        crate::files::check_regular(path, "samples file")?;
        let file = File::open(path)?;
        let mut head = flate2::read::GzDecoder::new(At { file: &file, pos: 0 });
        let mut byte = [0u8; 1];
        let _ = head.read(&mut byte);
        let comment =
            head.header().and_then(|h| h.comment()).map(|c| String::from_utf8_lossy(c).into_owned());
        match comment.as_deref() {
            Some(MAGIC) => Ok(SampleFile { file }),
            Some(other) if other.starts_with("hxrun samples") => Err(io::Error::other(format!(
                "{} is a samples file of another format ({other}); read it with the hxrun that wrote it",
                path.display()
            ))),
            _ => Err(io::Error::other(format!("{} is not an hxrun samples file", path.display()))),
        }
    }

    /// The compressed bytes, for copying into a report directory.
    pub(crate) fn copy_to(&self, out: &mut dyn Write) -> io::Result<u64> {
        io::copy(&mut At { file: &self.file, pos: 0 }, out)
    }

    /// Every sample, in the order they were written; a damaged file ends in an error.
    pub(crate) fn samples(&self) -> Samples<'_> {
        let raw = BufReader::with_capacity(64 * 1024, At { file: &self.file, pos: 0 });
        Samples { r: Some(member(raw)), buf: Vec::new(), last_start: 0, last_iter: 0, done: false }
    }
}

/// Reads a file from a position of its own (clones of a level read it independently).
pub(crate) struct At<'a> {
    pub(crate) file: &'a File,
    pub(crate) pos: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

type Member<'a> = BufReader<flate2::bufread::GzDecoder<BufReader<At<'a>>>>;

/// One gzip member (one writer's records, whose differences start from zero).
fn member(raw: BufReader<At<'_>>) -> Member<'_> {
    BufReader::with_capacity(64 * 1024, flate2::bufread::GzDecoder::new(raw))
}

pub(crate) struct Samples<'a> {
    r: Option<Member<'a>>,
    buf: Vec<u8>,
    last_start: i64,
    last_iter: i64,
    done: bool,
}

impl Samples<'_> {
    /// The next record's length; `None` at a clean end. At the end of a gzip member, the
    /// next member (another level's writer) starts its differences from zero again.
    fn length(&mut self) -> io::Result<Option<usize>> {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let mut b = [0u8; 1];
            let r = self.r.as_mut().expect("a reader until the end");
            if r.read(&mut b)? == 0 {
                if shift != 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                let mut raw = self.r.take().expect("just used").into_inner().into_inner();
                if raw.fill_buf()?.is_empty() {
                    return Ok(None);
                }
                (self.last_start, self.last_iter) = (0, 0);
                self.r = Some(member(raw));
                continue;
            }
            v |= u64::from(b[0] & 0x7f) << shift;
            if b[0] & 0x80 == 0 {
                return Ok(Some(v as usize));
            }
            shift += 7;
            if shift > 28 {
                return Err(io::Error::other("a record length is not a number"));
            }
        }
    }

    fn next_sample(&mut self) -> io::Result<Option<Sample>> {
        let Some(len) = self.length()? else { return Ok(None) };
        if len > MAX_RECORD {
            return Err(io::Error::other(format!("a record says it is {len} bytes long")));
        }
        self.buf.resize(len, 0);
        self.r.as_mut().expect("a reader until the end").read_exact(&mut self.buf)?;
        let r: Record<Vec<u64>, String> = postcard::from_bytes(&self.buf)
            .map_err(|e| io::Error::other(format!("a record does not decode: {e}")))?;
        self.last_start += r.start_us;
        self.last_iter += r.iter;
        let started_at = DateTime::<Utc>::from_timestamp_micros(self.last_start)
            .ok_or_else(|| io::Error::other("a record's start is out of range"))?;
        let mut s = Sample::bare(r.error, from_ns(r.e2e_ns));
        s.started_at = started_at;
        s.iter = u32::try_from(self.last_iter)
            .map_err(|_| io::Error::other("a record's iteration is out of range"))?;
        s.concurrency = r.concurrency;
        s.ok = r.ok;
        s.ttft = r.ttft_ns.map(from_ns);
        s.itl = r.itl_ns.into_iter().map(from_ns).collect();
        s.output_tokens = r.output_tokens;
        s.input_tokens = r.input_tokens;
        s.tokens_per_s = r.tokens_per_s;
        if let Some(f) = r.server {
            s.server = ServerFigures {
                eval_count: f.eval_count,
                eval_duration_ns: f.eval_duration_ns,
                prompt_eval_count: f.prompt_eval_count,
                prompt_eval_duration_ns: f.prompt_eval_duration_ns,
                load_duration_ns: f.load_duration_ns,
                total_duration_ns: f.total_duration_ns,
                done_reason: f.done_reason,
                prompt_tokens: f.prompt_tokens,
                completion_tokens: f.completion_tokens,
                reported_tokens_per_s: f.reported_tokens_per_s,
            };
        }
        Ok(Some(s))
    }
}

impl Iterator for Samples<'_> {
    type Item = io::Result<Sample>;
    fn next(&mut self) -> Option<io::Result<Sample>> {
        if self.done {
            return None;
        }
        let next = self.next_sample().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(i: u32) -> Sample {
        let d = |ns: u64| Duration::from_nanos(ns).as_secs_f64();
        let mut s = Sample::bare(
            (i % 7 == 3).then(|| format!("HTTP 500: boom {i}")),
            d(250_000 + u64::from(i) * 977),
        );
        s.started_at =
            DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000 + i64::from(i) * 333).unwrap();
        s.iter = i + 1;
        s.concurrency = 64;
        if i.is_multiple_of(2) {
            s.ttft = Some(d(40_000_000 + u64::from(i)));
            s.itl = (0..5).map(|k| d(9_999_999 + k * 1_234_567)).collect();
            s.output_tokens = Some(6);
            s.tokens_per_s = Some(101.234_567_8 + f64::from(i));
            s.server.eval_count = Some(6);
            s.server.eval_duration_ns = Some(59_000_000);
            s.server.done_reason = Some("stop".into());
        }
        s
    }

    fn write(samples: &[Sample]) -> SampleFile {
        let mut w = Writer::new(tempfile::tempfile().unwrap());
        for s in samples {
            w.push(s, s.error.as_deref()).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn samples_read_back_equal_to_the_bit() {
        let written: Vec<Sample> = (0..5000).map(sample).collect();
        let file = write(&written);
        let back: Vec<Sample> = file.samples().map(Result::unwrap).collect();
        assert_eq!(back.len(), written.len());
        for (a, b) in written.iter().zip(&back) {
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
            assert_eq!(a.e2e.to_bits(), b.e2e.to_bits());
            assert_eq!(
                a.itl.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                b.itl.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn files_written_one_after_the_other_read_as_one() {
        let (first, second): (Vec<Sample>, Vec<Sample>) = (0..300).map(sample).partition(|s| s.iter <= 120);
        let mut bytes = Vec::new();
        write(&first).copy_to(&mut bytes).unwrap();
        write(&second).copy_to(&mut bytes).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("levels.hxs");
        std::fs::write(&path, &bytes).unwrap();
        let back: Vec<Sample> = SampleFile::open(&path).unwrap().samples().map(Result::unwrap).collect();
        let starts = |v: &[Sample]| v.iter().map(|s| (s.started_at, s.iter)).collect::<Vec<_>>();
        assert_eq!(starts(&back), starts(&[first, second].concat()));
    }

    #[test]
    fn nanosecond_values_survive_the_round_trip_at_every_magnitude() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Up to about 11 days, in nanoseconds.
            let secs = Duration::from_nanos(x % (1 << 50)).as_secs_f64();
            assert_eq!(held(secs).to_bits(), secs.to_bits(), "{secs}");
        }
    }

    #[test]
    fn a_plain_request_costs_a_few_bytes() {
        let mut w = Writer::new(tempfile::tempfile().unwrap());
        let n = 100_000u32;
        let mut x = 12345u64;
        for i in 0..n {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let mut s = Sample::bare(None, Duration::from_nanos(200_000 + (x >> 40) % 300_000).as_secs_f64());
            s.started_at =
                DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000 + i64::from(i) * 6).unwrap();
            s.iter = i + 1;
            s.concurrency = 64;
            w.push(&s, None).unwrap();
        }
        let file = w.finish().unwrap();
        let bytes = file.copy_to(&mut io::sink()).unwrap();
        let per = bytes as f64 / f64::from(n);
        assert!(per <= 16.0, "{per:.1} bytes per request");
        assert_eq!(file.samples().count(), n as usize);
    }

    #[test]
    fn a_cut_or_foreign_file_is_an_error_not_a_panic() {
        let file = write(&(0..100).map(sample).collect::<Vec<_>>());
        let mut bytes = Vec::new();
        file.copy_to(&mut bytes).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.hxs");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let f = SampleFile::open(&cut).unwrap();
        let results: Vec<io::Result<Sample>> = f.samples().collect();
        assert!(results.last().unwrap().is_err(), "a cut file ends in an error");
        assert!(results.len() < 100);
        let foreign = dir.path().join("x.hxs");
        std::fs::write(&foreign, b"timestamp,model\n").unwrap();
        let err = SampleFile::open(&foreign).unwrap_err().to_string();
        assert!(err.contains("not an hxrun samples file"), "{err}");
    }
}
