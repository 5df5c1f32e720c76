//! [`Series`]: the sample lines of one series, and the number formatting they share.

use std::io::Write as _;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The `le="..."}` text of the buckets of the last histogram written, so a family formats its bounds once
/// per scrape; the generated code shares one bounds array per family.
#[derive(Debug, Default)]
pub(super) struct LeText {
    bounds: Option<&'static [f64]>,
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl LeText {
    /// Makes the text match `bounds`: each bound as [`le_value`] spells it, then `+Inf`.
    fn update(&mut self, bounds: &'static [f64]) {
        if self.bounds.is_some_and(|known| ptr::eq(known, bounds)) {
            return;
        }
        self.text.clear();
        self.ends.clear();
        for bound in bounds {
            write!(self.text, "le=\"{}\"}} ", le_value(*bound))
                .expect("writing to a Vec cannot fail");
            self.ends.push(self.text.len());
        }
        self.text.extend_from_slice(b"le=\"+Inf\"} ");
        self.ends.push(self.text.len());
        self.bounds = Some(bounds);
    }

    fn get(&self, bucket: usize) -> &[u8] {
        let start = bucket.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.text[start..self.ends[bucket]]
    }
}

/// One series being written: the sample name and label text, and where to write. A [`Metric`] calls the
/// method for its kind.
#[derive(Debug)]
pub struct Series<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) name: &'a [u8],
    /// `a="x",b="y"`, without braces; empty for an unlabelled family.
    pub(super) labels: &'a [u8],
    pub(super) le: &'a mut LeText,
}

impl Series<'_> {
    /// `name_total{labels} value`.
    pub(crate) fn counter(&mut self, value: u64) {
        self.start(b"_total");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.out.push(b'\n');
    }

    /// `name{labels} value`.
    pub(crate) fn gauge(&mut self, value: i64) {
        self.start(b"");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.out.push(b'\n');
    }

    /// The cumulative `_bucket` lines (`le` last), then `_sum` and `_count`; `buckets` holds the
    /// non-cumulative counts of each bound and of `+Inf`, so `_count` always equals the `+Inf` bucket.
    pub(crate) fn histogram(&mut self, bounds: &'static [f64], buckets: &[AtomicU64], sum: f64) {
        self.le.update(bounds);
        let mut total = 0_u64;
        for (index, bucket) in buckets.iter().enumerate() {
            total += bucket.load(Relaxed);
            self.out.extend_from_slice(self.name);
            self.out.extend_from_slice(b"_bucket{");
            if !self.labels.is_empty() {
                self.out.extend_from_slice(self.labels);
                self.out.push(b',');
            }
            self.out.extend_from_slice(self.le.get(index));
            self.out
                .extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
            self.out.push(b'\n');
        }
        self.start(b"_sum");
        write_float(self.out, sum);
        self.out.push(b'\n');
        self.start(b"_count");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
        self.out.push(b'\n');
    }

    /// Writes `name<suffix>{labels} `, up to the value.
    fn start(&mut self, suffix: &[u8]) {
        self.out.extend_from_slice(self.name);
        self.out.extend_from_slice(suffix);
        if !self.labels.is_empty() {
            self.out.push(b'{');
            self.out.extend_from_slice(self.labels);
            self.out.push(b'}');
        }
        self.out.push(b' ');
    }
}

/// A bucket bound as Prometheus 3 normalises `le` on ingestion: Go's `strconv.FormatFloat(f, 'g', -1, 64)`
/// (shortest digits; exponent form, at least two exponent digits, when the decimal exponent is below -4 or
/// at least 6), plus `.0` when that has no `.` or `e`. Exposing the normalised text means the series a rule or a
/// dashboard selects with `le="1.0"` is the one Prometheus stored, whichever version scrapes it.
pub fn le_value(bound: f64) -> String {
    if bound.is_nan() {
        return "NaN".into();
    }
    if bound.is_infinite() {
        return if bound > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // `{:e}` gives the shortest digits that parse back, as Go's `-1` precision does: `d.ddde-5`.
    let scientific = format!("{bound:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let mut text = if (-4..6).contains(&exponent) {
        format!("{bound}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    };
    if !text.contains(['.', 'e']) {
        text.push_str(".0");
    }
    text
}

/// A sample value: the shortest text that parses back to `value`, and the spellings both formats use for
/// the values Rust has no literal for.
fn write_float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    } else if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value > 0.0 {
        out.extend_from_slice(b"+Inf");
    } else {
        out.extend_from_slice(b"-Inf");
    }
}
