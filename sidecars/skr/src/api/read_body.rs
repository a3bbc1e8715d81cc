//! Reading a request body within the server's limits: a declared length over [`MAX_BODY`] is
//! refused before anything is read (no `100 Continue`), a body over [`UNMETERED`] bytes takes
//! what it holds out of the shared [`ByteBudget`] before it holds it (503 when it is spent),
//! and the body must be complete by the request's deadline (408). The buffer is zeroized when
//! dropped (bodies may carry bearer tokens).
//!
//! Bodies up to [`UNMETERED`] (every well-formed request is far smaller) are not charged, so
//! clients that stall large bodies cannot starve ordinary requests; their memory is bounded
//! by the connection cap instead (cap x 16 KiB).

use std::sync::Arc;
use std::time::Instant;

use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use zeroize::Zeroizing;

use super::body::MAX_BODY;
use super::failure::{Failure, ServiceError};
use crate::server::budget::{ByteBudget, Reservation};

/// Bodies up to this size are not charged to the budget; it is also the first capacity of a
/// body of unknown length (chunked), doubled as it grows.
pub const UNMETERED: usize = 16 * 1024;

/// A request body held in memory, with its share of the budget.
#[derive(Debug)]
pub struct HeldBody {
    /// The bytes.
    pub bytes: Zeroizing<Vec<u8>>,
    _reservation: Option<Reservation>,
}

/// Charges a buffer of `capacity` bytes: nothing up to [`UNMETERED`], all of it beyond.
fn charge(
    budget: &Arc<ByteBudget>,
    reservation: &mut Option<Reservation>,
    capacity: usize,
) -> Result<(), ServiceError> {
    if capacity <= UNMETERED {
        return Ok(());
    }
    match reservation {
        Some(r) => {
            let more = capacity.saturating_sub(r.bytes());
            if r.grow(more) {
                Ok(())
            } else {
                Err(busy(budget))
            }
        }
        None => {
            *reservation = Some(budget.reserve(capacity).ok_or_else(|| busy(budget))?);
            Ok(())
        }
    }
}

fn too_large() -> ServiceError {
    ServiceError::new(
        Failure::TooLarge,
        format!("request body is larger than {MAX_BODY} bytes"),
    )
}

fn busy(budget: &ByteBudget) -> ServiceError {
    ServiceError::new(
        Failure::Busy,
        format!(
            "server busy: request bodies in progress hold {} of {} bytes; retry shortly",
            budget.used(),
            budget.total()
        ),
    )
}

/// Reads `body` whole by `deadline`.
pub async fn read_body(
    mut body: Incoming,
    budget: &Arc<ByteBudget>,
    deadline: Instant,
) -> Result<HeldBody, ServiceError> {
    let declared = body.size_hint().exact();
    let first = match declared {
        Some(n) if n > MAX_BODY as u64 => return Err(too_large()),
        Some(n) => usize::try_from(n).map_err(|_| too_large())?,
        None => UNMETERED,
    };
    let mut reservation = None;
    charge(budget, &mut reservation, first)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(first));
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ServiceError::new(
                    Failure::BadRequest,
                    format!("reading the request body failed: {e}"),
                )
            })?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            let len = bytes.len().saturating_add(data.len());
            if len > MAX_BODY {
                return Err(too_large());
            }
            if len > bytes.capacity() {
                // Only bodies of unknown length grow; the budget pays for the new capacity
                // before it is allocated, and the old buffer is wiped, not just freed.
                let capacity = len.next_power_of_two().min(MAX_BODY);
                charge(budget, &mut reservation, capacity)?;
                let mut bigger = Zeroizing::new(Vec::with_capacity(capacity));
                bigger.extend_from_slice(&bytes);
                bytes = bigger;
            }
            bytes.extend_from_slice(&data);
        }
        Ok(())
    };
    match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(Ok(())) => Ok(HeldBody {
            bytes,
            _reservation: reservation,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ServiceError::new(
            Failure::TooSlow,
            format!(
                "the request did not arrive whole within {} s ({} bytes of the body received)",
                crate::server::REQUEST_DEADLINE.as_secs(),
                bytes.len()
            ),
        )),
    }
}
