//! [`RequestId`]: kept from a valid incoming header or generated, and the extractor handlers take it with.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::response::IntoResponse;
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode};

use super::current_request_id;

/// The identifier of one request, shared by its logs, spans, response header and slow-query entries.
///
/// Always 1 to [`RequestId::MAX_LEN`] bytes of `[A-Za-z0-9._:-]`, so it is safe to log and to put in a
/// header as is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(pub(super) HeaderValue);

impl RequestId {
    /// The longest incoming ID kept; longer ones are replaced, so a client cannot bloat every log line.
    pub const MAX_LEN: usize = 128;

    /// A fresh ID: a hyphenated UUID v4, unique without a system call or a lock (see the
    /// [module documentation](super#cost)).
    pub fn generate() -> Self {
        let text = ID_BLOCK
            .try_with(|block| {
                let mut block = block.borrow_mut();
                if block.is_empty() {
                    *block = id_block(IDS_PER_BLOCK);
                }
                block.split_to(UUID_LEN)
            })
            // While the thread's locals are being destroyed: a block of one.
            .unwrap_or_else(|_| id_block(1));
        RequestId(HeaderValue::from_maybe_shared(text).expect("a UUID is a valid header value"))
    }

    /// The ID carried by an incoming header, if it is acceptable: non-empty, at most
    /// [`MAX_LEN`](Self::MAX_LEN) bytes, only ASCII letters, digits and `._:-`.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= Self::MAX_LEN
            && bytes
                .iter()
                .all(|&byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte));
        // Cloning a header that hyper parsed shares its buffer instead of copying it.
        valid.then(|| RequestId(value.clone()))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        // `parse` and `generate` admit ASCII only.
        self.0.to_str().expect("a request ID is printable ASCII")
    }

    /// The ID as a header value, for forwarding it to the services this request calls.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

/// A handler's request ID: `async fn handler(id: RequestId)`. It is the [`current_request_id`], so it is
/// there when the handler runs under [`HttpMetricsLayer`](super::HttpMetricsLayer); elsewhere extraction fails with a 500 that
/// says the layer is missing (a wiring mistake, as with a missing `Extension`).
impl<S: Sync> FromRequestParts<S> for RequestId {
    type Rejection = MissingRequestId;

    fn from_request_parts(
        _parts: &mut Parts,
        _state: &S,
    ) -> impl Future<Output = Result<Self, MissingRequestId>> + Send {
        // Read now: extraction runs inside the handler's future, which the layer polls with the ID current.
        std::future::ready(current_request_id().ok_or(MissingRequestId))
    }
}

/// The rejection of the [`RequestId`] extractor outside [`HttpMetricsLayer`](super::HttpMetricsLayer): a 500, since it is a
/// mistake in the service's wiring, not in the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingRequestId;

impl fmt::Display for MissingRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no request ID: the route is not wrapped by HttpMetricsLayer")
    }
}

impl std::error::Error for MissingRequestId {}

impl IntoResponse for MissingRequestId {
    fn into_response(self) -> Response<Body> {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// The length of a hyphenated UUID.
const UUID_LEN: usize = 36;

/// How many generated IDs share one allocation (2,304 bytes of text).
const IDS_PER_BLOCK: usize = 64;

/// The text of `count` fresh IDs, back to back, in one shared buffer: each ID is a reference-counted slice
/// of it, so generating one costs no allocation, and the buffer is freed with the last of its IDs.
fn id_block(count: usize) -> Bytes {
    let mut text = Vec::with_capacity(count * UUID_LEN);
    // During thread teardown the source may be gone: a fresh one then, still unique with probability
    // 1 - 2^-60 per pair of sources.
    let mut source = ID_SOURCE
        .try_with(Cell::get)
        .ok()
        .flatten()
        .unwrap_or_else(IdSource::seeded);
    for _ in 0..count {
        let uuid = uuid::Builder::from_random_bytes(source.next().to_be_bytes()).into_uuid();
        text.extend_from_slice(&hyphenated(uuid.as_u128()));
    }
    let _ = ID_SOURCE.try_with(|cell| cell.set(Some(source)));
    Bytes::from(text)
}

/// The low 62 bits: what a UUID v4's second half keeps once its variant bits are set.
const LOW_62: u64 = (1 << 62) - 1;

/// Where a thread's generated IDs come from: 128 random bits drawn once per thread (uuid's `fast-rng`,
/// seeded from the OS), and a counter.
///
/// The first half of every ID is the thread's random half; the second is the counter, masked to the 62 bits
/// a UUID v4 keeps there, XORed with the thread's random key and passed through [`mix62`], a bijection. So
/// the IDs of one thread never repeat (for 2^62 requests), two threads share a first half with probability
/// 2^-60, and successive IDs do not read as a sequence in logs. Unique, not secret: an ID is echoed to the
/// client and logged, and must never authorize anything.
#[derive(Clone, Copy)]
struct IdSource {
    high: u64,
    key: u64,
    count: u64,
}

impl IdSource {
    fn seeded() -> Self {
        let (high, key) = uuid::Uuid::new_v4().as_u64_pair();
        IdSource {
            high,
            key: key & LOW_62,
            count: 0,
        }
    }

    fn next(&mut self) -> u128 {
        let low = mix62(self.count ^ self.key);
        self.count = (self.count + 1) & LOW_62;
        (u128::from(self.high) << 64) | u128::from(low)
    }
}

/// A bijection of `0..2^62` onto itself that scatters neighbouring inputs: odd multipliers are invertible
/// modulo 2^62, and so is each xorshift of a 62-bit value.
fn mix62(mut x: u64) -> u64 {
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & LOW_62;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) & LOW_62;
    x ^ (x >> 29)
}

/// `uuid` as lowercase hyphenated text (8-4-4-4-12 hex digits), as `Uuid::hyphenated` writes it but
/// without a loop over the digits.
fn hyphenated(uuid: u128) -> [u8; UUID_LEN] {
    let high = hex_digits((uuid >> 64) as u64);
    let low = hex_digits(uuid as u64);
    let mut text = [b'-'; UUID_LEN];
    text[..8].copy_from_slice(&high[..8]);
    text[9..13].copy_from_slice(&high[8..12]);
    text[14..18].copy_from_slice(&high[12..]);
    text[19..23].copy_from_slice(&low[..4]);
    text[24..].copy_from_slice(&low[4..]);
    text
}

/// The 16 lowercase hex digits of `word`, most significant first, computed on all digits at once.
fn hex_digits(word: u64) -> [u8; 16] {
    const BYTES: u128 = u128::from_ne_bytes([1; 16]);
    // Spread the nibbles out, one per byte, keeping their order: halves, then quarters, and so on.
    let mut x = u128::from(word);
    x = (x | x << 32) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    x = (x | x << 16) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    x = (x | x << 8) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;
    // A byte holding 10 to 15 reaches 16 once 6 is added: those are the digits written as letters, which
    // start `b'a' - b'0' - 10` further than the others. No byte ever carries into the next.
    let letters = ((x + 6 * BYTES) >> 4) & BYTES;
    (x + u128::from(b'0') * BYTES + letters * u128::from(b'a' - b'0' - 10)).to_be_bytes()
}

thread_local! {
    /// Plain `Copy` state without a destructor, so every access after the first is a load and a store.
    static ID_SOURCE: Cell<Option<IdSource>> = const { Cell::new(None) };

    /// The text of the IDs this thread generated ahead (see [`id_block`]), not yet handed out.
    static ID_BLOCK: RefCell<Bytes> = const { RefCell::new(Bytes::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_text_is_uuid_formatting() {
        let samples = [0, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210]
            .into_iter()
            .chain((0..128).map(|shift| 1 << shift))
            .chain((0..1000).map(|_| uuid::Uuid::new_v4().as_u128()));
        for bits in samples {
            let expected = uuid::Uuid::from_u128(bits).hyphenated().to_string();
            assert_eq!(hyphenated(bits), expected.as_bytes(), "{bits:#x}");
        }
    }

    #[test]
    fn generated_ids_are_distinct_uuid_v4s() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            let id = RequestId::generate();
            let uuid = uuid::Uuid::parse_str(id.as_str()).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 4);
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
            assert!(seen.insert(uuid), "{id} repeated");
        }
    }

    #[test]
    fn the_counter_mix_is_injective_at_both_ends_of_its_range() {
        let mut seen = std::collections::HashSet::new();
        for count in (0..100_000).chain(LOW_62 - 100_000..=LOW_62) {
            let low = mix62(count);
            assert!(low <= LOW_62, "{count}");
            assert!(seen.insert(low), "{count} collides");
        }
    }
}
